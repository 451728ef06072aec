/** `/api/jobs`: enqueue (one, bulk), list with filters, one job with its attempts, retry, cancel. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Client, ListParams } from '../../client/client.js';
import type { EnqueueOptions } from '../../client/enqueue-options.js';
import { jobDetailsToJson, jobToJson } from '../../client/job-json.js';
import type { JobState } from '../../store/types.js';
import {
  bulkEnqueueBodySchema,
  bulkEnqueueReplySchema,
  cancelBodySchema,
  enqueueBodySchema,
  enqueueReplySchema,
  errorReplySchema,
  idParamsSchema,
  jobDetailsViewSchema,
  jobListQuerySchema,
  jobListReplySchema,
  jobViewSchema,
  MAX_BULK_JOBS,
} from '../api-schemas.js';
import type { RouteGuard } from '../route-guard.js';

/** Request bodies of bulk enqueue may be this large (many payloads, each within the payload limit). */
const BULK_BODY_LIMIT = 32 * 1024 * 1024;

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 404: errorReplySchema, 409: errorReplySchema, 413: errorReplySchema, 503: errorReplySchema };

function enqueueOptions(body: { queue?: string | undefined; delayMs?: number | undefined; runAt?: string | undefined; priority?: number | undefined; maxAttempts?: number | undefined; timeoutMs?: number | undefined }): EnqueueOptions {
  const options: EnqueueOptions = {};
  if (body.queue !== undefined) options.queue = body.queue;
  if (body.delayMs !== undefined) options.delayMs = body.delayMs;
  if (body.runAt !== undefined) options.runAt = new Date(body.runAt);
  if (body.priority !== undefined) options.priority = body.priority;
  if (body.maxAttempts !== undefined) options.maxAttempts = body.maxAttempts;
  if (body.timeoutMs !== undefined) options.timeoutMs = body.timeoutMs;
  return options;
}

export function jobsRoutes(app: FastifyInstance, client: Client, guard: RouteGuard): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/jobs',
    {
      preHandler: guard('enqueue'),
      schema: { summary: 'Enqueue one job', tags: ['jobs'], body: enqueueBodySchema, response: { 200: enqueueReplySchema, 201: enqueueReplySchema, ...errors } },
    },
    async (request, reply) => {
      const body = request.body;
      const options = enqueueOptions(body);
      if (body.key !== undefined) options.key = body.key;
      const result = await client.enqueue(body.name, body.data ?? null, options);
      return reply.code(result.inserted ? 201 : 200).send({ job: jobToJson(result.job), inserted: result.inserted });
    },
  );

  api.post(
    '/jobs/bulk',
    {
      preHandler: guard('enqueue'),
      bodyLimit: BULK_BODY_LIMIT,
      schema: {
        summary: `Enqueue up to ${MAX_BULK_JOBS} jobs of one kind in one transaction`,
        tags: ['jobs'],
        body: bulkEnqueueBodySchema,
        response: { 201: bulkEnqueueReplySchema, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const keys = body.items.map((item) => item.key);
      const results = await client.enqueueMany(
        body.name,
        body.items.map((item) => item.data ?? null),
        { ...enqueueOptions(body), keyOf: (_payload, index) => keys[index] },
      );
      return reply.code(201).send({ jobs: results.map((result) => ({ job: jobToJson(result.job), inserted: result.inserted })), inserted: results.filter((r) => r.inserted).length });
    },
  );

  api.get(
    '/jobs',
    {
      preHandler: guard('read'),
      schema: { summary: 'List jobs, newest first, with filters and a cursor', tags: ['jobs'], querystring: jobListQuerySchema, response: { 200: jobListReplySchema, ...errors } },
    },
    async (request) => {
      const query = request.query as z.output<typeof jobListQuerySchema>;
      const params: ListParams = {};
      if (query.state) params.state = query.state as JobState[];
      if (query.queue) params.queue = query.queue;
      if (query.name) params.job = query.name;
      if (query.search) params.nameContains = query.search;
      if (query.createdAfter) params.createdAfter = new Date(query.createdAfter);
      if (query.createdBefore) params.createdBefore = new Date(query.createdBefore);
      if (query.limit !== undefined) params.limit = query.limit;
      if (query.cursor !== undefined) params.cursor = query.cursor;
      const page = await client.list(params);
      return { jobs: page.jobs.map(jobToJson), nextCursor: page.nextCursor };
    },
  );

  api.get(
    '/jobs/:id',
    {
      preHandler: guard('read'),
      schema: { summary: 'One job with every attempt', tags: ['jobs'], params: idParamsSchema, response: { 200: jobDetailsViewSchema, ...errors } },
    },
    async (request) => jobDetailsToJson(await client.get(request.params.id)),
  );

  api.post(
    '/jobs/:id/retry',
    {
      preHandler: guard('admin'),
      schema: { summary: 'Run a finished, failed or waiting job again now', tags: ['jobs'], params: idParamsSchema, response: { 200: jobViewSchema, ...errors } },
    },
    async (request) => jobToJson(await client.retry(request.params.id)),
  );

  api.post(
    '/jobs/:id/cancel',
    {
      preHandler: guard('admin'),
      schema: { summary: 'Cancel a job that has not finished', tags: ['jobs'], params: idParamsSchema, body: cancelBodySchema, response: { 200: jobViewSchema, ...errors } },
    },
    async (request) => jobToJson(await client.cancel(request.params.id, request.body?.reason ?? 'cancelled through the API')),
  );
}
