/** `/api/jobs`: enqueue (one, bulk), list with filters, one job with its attempts, retry, cancel. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { BulkActionResult, Client, JobFilter, ListParams } from '../../client/client.js';
import type { EnqueueOptions } from '../../client/enqueue-options.js';
import { jobDetailsToJson, jobToJson } from '../../client/job-json.js';
import type { JobState } from '../../store/types.js';
import {
  BULK_BODY_LIMIT,
  bulkActionBodySchema,
  bulkActionReplySchema,
  bulkEnqueueBodySchema,
  bulkEnqueueReplySchema,
  cancelBodySchema,
  enqueueBodySchema,
  enqueueReplySchema,
  errorReplySchema,
  idParamsSchema,
  jobDetailsViewSchema,
  jobWhyReplySchema,
  jobListQuerySchema,
  jobListReplySchema,
  jobViewSchema,
  MAX_BULK_JOBS,
} from '../api-schemas.js';
import type { RouteGuard } from '../route-guard.js';

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 404: errorReplySchema, 409: errorReplySchema, 413: errorReplySchema, 503: errorReplySchema };

/** The library's enqueue options from the API's option fields (`enqueueOptionFields`); `key` is the caller's. */
export function enqueueOptions(body: {
  queue?: string | undefined;
  delayMs?: number | undefined;
  runAt?: string | undefined;
  priority?: number | undefined;
  maxAttempts?: number | undefined;
  timeoutMs?: number | undefined;
  dependsOn?: string[] | undefined;
  onDependencyFailure?: 'cancel' | 'run' | 'wait' | undefined;
  concurrencyKey?: string | number | undefined;
  rateKey?: string | number | undefined;
  throttle?: { key: string; perMs: number } | undefined;
  debounce?: { key: string; delayMs: number; maxDelayMs?: number | undefined } | undefined;
}): EnqueueOptions {
  const options: EnqueueOptions = {};
  if (body.queue !== undefined) options.queue = body.queue;
  if (body.delayMs !== undefined) options.delayMs = body.delayMs;
  if (body.runAt !== undefined) options.runAt = new Date(body.runAt);
  if (body.priority !== undefined) options.priority = body.priority;
  if (body.maxAttempts !== undefined) options.maxAttempts = body.maxAttempts;
  if (body.timeoutMs !== undefined) options.timeoutMs = body.timeoutMs;
  if (body.dependsOn !== undefined) options.dependsOn = body.dependsOn;
  if (body.onDependencyFailure !== undefined) options.onDependencyFailure = body.onDependencyFailure;
  if (body.concurrencyKey !== undefined) options.concurrencyKey = body.concurrencyKey;
  if (body.rateKey !== undefined) options.rateKey = body.rateKey;
  if (body.throttle !== undefined) options.throttle = body.throttle;
  if (body.debounce !== undefined) options.debounce = body.debounce.maxDelayMs === undefined ? { key: body.debounce.key, delayMs: body.debounce.delayMs } : { key: body.debounce.key, delayMs: body.debounce.delayMs, maxDelayMs: body.debounce.maxDelayMs };
  return options;
}

/**
 * Whether a `Prefer` header (RFC 7240: preferences separated by commas, each possibly with
 * parameters after `;`, names and the `return` values compared without case; several headers
 * arrive joined by commas) asks for `return=minimal`. Preferences the route does not know are
 * ignored, as the RFC says.
 */
function prefersMinimal(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  return text.split(',').some((preference) => {
    const [token] = preference.split(';');
    const [name, value] = token!.split('=').map((part) => part.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
    return name === 'return' && value === 'minimal';
  });
}

/** The client's filter from the API's filter fields (query string or bulk body). */
function filterOf(fields: {
  state?: string[] | undefined;
  queue?: string[] | undefined;
  name?: string[] | undefined;
  search?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
  scheduleId?: string | undefined;
  errorKind?: string[] | undefined;
}): JobFilter {
  const filter: JobFilter = {};
  if (fields.state) filter.state = fields.state as JobState[];
  if (fields.queue) filter.queue = fields.queue;
  if (fields.name) filter.job = fields.name;
  if (fields.search) filter.search = fields.search;
  if (fields.createdAfter) filter.createdAfter = new Date(fields.createdAfter);
  if (fields.createdBefore) filter.createdBefore = new Date(fields.createdBefore);
  if (fields.scheduleId !== undefined) filter.scheduleId = fields.scheduleId;
  if (fields.errorKind) filter.errorKind = fields.errorKind;
  return filter;
}

export function jobsRoutes(app: FastifyInstance, client: Client, guard: RouteGuard): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/jobs',
    {
      onRequest: guard('enqueue'),
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
      onRequest: guard('enqueue'),
      bodyLimit: BULK_BODY_LIMIT,
      schema: {
        summary: `Enqueue up to ${MAX_BULK_JOBS} jobs of one kind in one transaction`,
        description:
          'Answers every job in full, in the order of the items. With the header `Prefer: return=minimal` it answers only each job\'s id and whether it was inserted (and `Preference-Applied: return=minimal`): about 30 bytes a job instead of several hundred, for a client that needs no more.',
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
      const inserted = results.filter((r) => r.inserted).length;
      if (prefersMinimal(request.headers.prefer)) {
        reply.header('preference-applied', 'return=minimal');
        return reply.code(201).send({ jobs: results.map((result) => ({ id: result.job.id, inserted: result.inserted })), inserted });
      }
      return reply.code(201).send({ jobs: results.map((result) => ({ job: jobToJson(result.job), inserted: result.inserted })), inserted });
    },
  );

  api.get(
    '/jobs',
    {
      onRequest: guard('read'),
      schema: { summary: 'List jobs, newest first, with filters and a cursor', tags: ['jobs'], querystring: jobListQuerySchema, response: { 200: jobListReplySchema, ...errors } },
    },
    async (request) => {
      const query = request.query as z.output<typeof jobListQuerySchema>;
      const params: ListParams = filterOf(query);
      if (query.limit !== undefined) params.limit = query.limit;
      if (query.cursor !== undefined) params.cursor = query.cursor;
      const page = await client.list(params);
      return { jobs: page.jobs.map(jobToJson), nextCursor: page.nextCursor };
    },
  );

  api.get(
    '/jobs/:id',
    {
      onRequest: guard('read'),
      schema: { summary: 'One job with every attempt', tags: ['jobs'], params: idParamsSchema, response: { 200: jobDetailsViewSchema, ...errors } },
    },
    async (request) => jobDetailsToJson(await client.get(request.params.id)),
  );

  api.get(
    '/jobs/:id/why',
    {
      onRequest: guard('read'),
      schema: {
        summary: "Why isn't this job running? One reason from the store's state now: scheduled until, queue paused, no live worker, queue at its global concurrency limit, jobs ahead of it, or running/finished",
        tags: ['jobs'],
        params: idParamsSchema,
        response: { 200: jobWhyReplySchema, ...errors },
      },
    },
    async (request) => {
      const why = await client.why(request.params.id);
      return { ...why, until: why.until?.toISOString() ?? null };
    },
  );

  api.delete(
    '/jobs/:id',
    {
      onRequest: guard('admin'),
      schema: { summary: 'Delete a finished job and its attempts', tags: ['jobs'], params: idParamsSchema, response: { 204: z.null().describe('deleted'), ...errors } },
    },
    async (request, reply) => {
      await client.delete(request.params.id);
      return reply.code(204).send(null);
    },
  );

  const bulk = (path: string, summary: string, action: (filter: JobFilter, reason: string | undefined) => Promise<BulkActionResult>) =>
    api.post(
      path,
      { onRequest: guard('admin'), schema: { summary, tags: ['jobs'], body: bulkActionBodySchema, response: { 200: bulkActionReplySchema, ...errors } } },
      async (request) => {
        const body = request.body as z.output<typeof bulkActionBodySchema>;
        return action(filterOf(body), body.reason);
      },
    );
  bulk('/jobs/retry', 'Retry every job the filter selects that is not running', (filter) => client.retryMany(filter));
  bulk('/jobs/cancel', 'Cancel every job the filter selects that has not finished', (filter, reason) => client.cancelMany(filter, reason ?? 'cancelled through the API'));
  bulk('/jobs/delete', 'Delete every finished job the filter selects', (filter) => client.deleteMany(filter));

  api.post(
    '/jobs/:id/retry',
    {
      onRequest: guard('admin'),
      schema: { summary: 'Run a finished, failed or scheduled job again now (409 while it runs, is available or waits for its dependencies)', tags: ['jobs'], params: idParamsSchema, response: { 200: jobViewSchema, ...errors } },
    },
    async (request) => jobToJson(await client.retry(request.params.id)),
  );

  api.post(
    '/jobs/:id/cancel',
    {
      onRequest: guard('admin'),
      schema: { summary: 'Cancel a job that has not finished', tags: ['jobs'], params: idParamsSchema, body: cancelBodySchema, response: { 200: jobViewSchema, ...errors } },
    },
    async (request) => jobToJson(await client.cancel(request.params.id, request.body?.reason ?? 'cancelled through the API')),
  );
}
