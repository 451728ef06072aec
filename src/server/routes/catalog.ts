/** `/api/definitions` and `/api/queues`: what jobs exist, and each queue's counts and pause state. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Client } from '../../client/client.js';
import type { AnyJobDefinition } from '../../job/define-job.js';
import { bulkActionReplySchema, definitionListReplySchema, drainBodySchema, errorReplySchema, processListReplySchema, queueActionReplySchema, queueListReplySchema, queueParamsSchema } from '../api-schemas.js';
import type { RouteGuard } from '../route-guard.js';

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 404: errorReplySchema, 409: errorReplySchema, 503: errorReplySchema };

/** The payload's JSON Schema: from a zod schema; `{}` (anything) for a job without one; null when it cannot be told. */
function payloadJsonSchema(job: AnyJobDefinition): unknown {
  const vendor = job.schema['~standard'].vendor;
  if (vendor === 'nightshift') return {};
  if (vendor !== 'zod') return null;
  try {
    return z.toJSONSchema(job.schema as unknown as z.ZodType, { io: 'input', unrepresentable: 'any' });
  } catch {
    return null;
  }
}

export function catalogRoutes(app: FastifyInstance, client: Client, guard: RouteGuard): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  // Built once: definitions do not change while the server runs.
  let definitions: z.output<typeof definitionListReplySchema> | null = null;
  api.get(
    '/definitions',
    { onRequest: guard('read'), schema: { summary: 'Registered jobs and their payload JSON Schema', tags: ['definitions'], response: { 200: definitionListReplySchema, ...errors } } },
    async () =>
      (definitions ??= {
        definitions: client.definitions().map((job) => ({
          name: job.name,
          queue: job.queue,
          description: job.description ?? null,
          priority: job.priority,
          timeoutMs: job.timeoutMs ?? null,
          retry: { attempts: job.retry?.attempts ?? null, backoff: typeof job.retry?.backoff === 'function' ? 'custom' : (job.retry?.backoff ?? null) },
          payloadSchema: payloadJsonSchema(job),
        })),
      }),
  );

  api.get(
    '/workers',
    {
      onRequest: guard('read'),
      schema: {
        summary: 'Every live Nightshift process on the store: roles, queues with concurrency and busy slots, running jobs (a process that stopped beating drops out within a minute)',
        tags: ['workers'],
        response: { 200: processListReplySchema, ...errors },
      },
    },
    async () => ({ workers: await client.processes() }),
  );

  api.get(
    '/queues',
    { onRequest: guard('read'), schema: { summary: 'Every queue: counts by state, paused', tags: ['queues'], response: { 200: queueListReplySchema, ...errors } } },
    async () => ({ queues: await client.queues() }),
  );

  api.post(
    '/queues/:name/pause',
    {
      onRequest: guard('admin'),
      schema: { summary: 'Stop every worker on the store from claiming jobs of this queue', tags: ['queues'], params: queueParamsSchema, response: { 200: queueActionReplySchema, ...errors } },
    },
    async (request) => {
      await client.pauseQueue(request.params.name);
      return { queue: request.params.name, paused: true };
    },
  );

  api.post(
    '/queues/:name/drain',
    {
      onRequest: guard('admin'),
      schema: {
        summary: 'Cancel every job of the queue that has not started (running jobs go on); returns how many',
        tags: ['queues'],
        params: queueParamsSchema,
        body: drainBodySchema,
        response: { 200: bulkActionReplySchema, ...errors },
      },
    },
    async (request) => client.drainQueue(request.params.name, request.body?.reason),
  );

  api.post(
    '/queues/:name/resume',
    {
      onRequest: guard('admin'),
      schema: { summary: 'Let workers claim jobs of this queue again', tags: ['queues'], params: queueParamsSchema, response: { 200: queueActionReplySchema, ...errors } },
    },
    async (request) => {
      await client.resumeQueue(request.params.name);
      return { queue: request.params.name, paused: false };
    },
  );
}
