/** `/api/definitions` and `/api/queues`: what jobs exist, and each queue's counts and pause state. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Client } from '../../client/client.js';
import type { AnyJobDefinition } from '../../job/define-job.js';
import { definitionListReplySchema, errorReplySchema, queueActionReplySchema, queueListReplySchema, queueParamsSchema } from '../api-schemas.js';
import type { RouteGuard } from '../route-guard.js';

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 503: errorReplySchema };

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
    { preHandler: guard('read'), schema: { summary: 'Registered jobs and their payload JSON Schema', tags: ['definitions'], response: { 200: definitionListReplySchema, ...errors } } },
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
    '/queues',
    { preHandler: guard('read'), schema: { summary: 'Every queue: counts by state, paused', tags: ['queues'], response: { 200: queueListReplySchema, ...errors } } },
    async () => ({ queues: await client.queues() }),
  );

  api.post(
    '/queues/:name/pause',
    {
      preHandler: guard('admin'),
      schema: { summary: 'Stop every worker on the store from claiming jobs of this queue', tags: ['queues'], params: queueParamsSchema, response: { 200: queueActionReplySchema, ...errors } },
    },
    async (request) => {
      await client.pauseQueue(request.params.name);
      return { queue: request.params.name, paused: true };
    },
  );

  api.post(
    '/queues/:name/resume',
    {
      preHandler: guard('admin'),
      schema: { summary: 'Let workers claim jobs of this queue again', tags: ['queues'], params: queueParamsSchema, response: { 200: queueActionReplySchema, ...errors } },
    },
    async (request) => {
      await client.resumeQueue(request.params.name);
      return { queue: request.params.name, paused: false };
    },
  );
}
