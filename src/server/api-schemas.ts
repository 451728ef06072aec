/**
 * The shapes of the HTTP API, as zod schemas: the one source for request validation (through
 * fastify-type-provider-zod) and for the OpenAPI document (`/api/openapi.json`, generated from the
 * same schemas). Bounds come from job/input-bounds.ts, so the API refuses what the library does.
 */
import { z } from 'zod';
import { MAX_DELAY_MS, MAX_INT32, MAX_KEY_LENGTH, MAX_PRIORITY, MAX_REASON_LENGTH } from '../job/input-bounds.js';
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../job/names.js';
import { JOB_STATES } from '../store/types.js';

/** Largest number of jobs in one `POST /api/jobs/bulk`. */
export const MAX_BULK_JOBS = 10_000;
/** Largest page of `GET /api/jobs`. */
export const MAX_PAGE = 1000;

const name = (what: string) =>
  z
    .string()
    .min(1)
    .max(NAME_MAX_LENGTH)
    .regex(NAME_PATTERN, `${what} uses only A-Z a-z 0-9 _ - . : / and starts with a letter or digit`);

export const jobStateSchema = z.enum(JOB_STATES as [string, ...string[]]);
export const jobIdSchema = z.string().regex(/^[0-9]{1,20}$/, 'a job id is a decimal number');

/** Options shared by single and bulk enqueue (the library's `EnqueueOptions`). */
const enqueueOptionFields = {
  queue: name('queue').optional(),
  delayMs: z.number().min(0).max(MAX_DELAY_MS).optional(),
  runAt: z.iso.datetime({ offset: true }).optional().describe('ISO 8601 instant; not with delayMs'),
  priority: z.number().int().min(0).max(MAX_PRIORITY).optional(),
  maxAttempts: z.number().int().min(1).max(MAX_INT32).optional(),
  timeoutMs: z.number().int().min(1).max(MAX_INT32).optional(),
};

export const enqueueBodySchema = z
  .object({
    name: name('job name'),
    data: z.unknown().optional().describe("the job's payload; validated against the job's schema"),
    key: z.string().min(1).max(MAX_KEY_LENGTH).optional().describe('de-duplication key'),
    ...enqueueOptionFields,
  })
  .strict();

export const bulkEnqueueBodySchema = z
  .object({
    name: name('job name'),
    items: z
      .array(z.object({ data: z.unknown().optional(), key: z.string().min(1).max(MAX_KEY_LENGTH).optional() }).strict())
      .min(1)
      .max(MAX_BULK_JOBS),
    ...enqueueOptionFields,
  })
  .strict();

const errorRecordSchema = z.object({ name: z.string(), message: z.string(), stack: z.string().nullable(), kind: z.string() });

/** A job as every surface shows it. The lease token (the fence of finishing writes) is never shown. */
export const jobViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  queue: z.string(),
  state: jobStateSchema,
  priority: z.number(),
  attempt: z.number(),
  maxAttempts: z.number(),
  runAt: z.string(),
  createdAt: z.string(),
  attemptedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  key: z.string().nullable(),
  timeoutMs: z.number().nullable(),
  lease: z.object({ owner: z.string(), expiresAt: z.string() }).nullable(),
  lastError: errorRecordSchema.nullable(),
  scheduleId: z.string().nullable(),
  meta: z.unknown(),
  payload: z.unknown(),
  result: z.unknown(),
  progress: z.unknown(),
  parseErrors: z.array(z.object({ field: z.string(), message: z.string() })),
});

export const attemptViewSchema = z.object({
  jobId: z.string(),
  attempt: z.number(),
  workerId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  outcome: z.string(),
  error: errorRecordSchema.nullable(),
  result: z.unknown(),
  resultError: z.string().nullable(),
});

export const jobDetailsViewSchema = jobViewSchema.extend({ attempts: z.array(attemptViewSchema) });

export const enqueueReplySchema = z.object({ job: jobViewSchema, inserted: z.boolean() });
export const bulkEnqueueReplySchema = z.object({ jobs: z.array(enqueueReplySchema), inserted: z.number() });

const csv = (item: z.ZodType<string, string>) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((part) => part.trim()).filter(Boolean))
    .pipe(z.array(item));

/** Filters of `GET /api/jobs` and of the bulk retry/cancel/delete actions. */
export const jobFilterFields = {
  state: csv(jobStateSchema).optional().describe('one state or several, comma-separated'),
  queue: csv(name('queue')).optional(),
  name: csv(name('job name')).optional(),
  search: z.string().max(200).optional().describe('case-insensitive part of the job name'),
  createdAfter: z.iso.datetime({ offset: true }).optional(),
  createdBefore: z.iso.datetime({ offset: true }).optional(),
};

export const jobListQuerySchema = z
  .object({
    ...jobFilterFields,
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const jobListReplySchema = z.object({ jobs: z.array(jobViewSchema), nextCursor: z.string().nullable() });

export const idParamsSchema = z.object({ id: jobIdSchema });
export const queueParamsSchema = z.object({ name: name('queue') });

export const cancelBodySchema = z
  .object({ reason: z.string().max(MAX_REASON_LENGTH).optional() })
  .strict()
  .optional();

export const definitionViewSchema = z.object({
  name: z.string(),
  queue: z.string(),
  description: z.string().nullable(),
  priority: z.number(),
  timeoutMs: z.number().nullable(),
  retry: z.object({ attempts: z.number().nullable(), backoff: z.unknown() }),
  payloadSchema: z.unknown().describe('JSON Schema of the payload, when the job has a zod schema; null otherwise'),
});

export const definitionListReplySchema = z.object({ definitions: z.array(definitionViewSchema) });

export const queueViewSchema = z.object({
  name: z.string(),
  paused: z.boolean(),
  counts: z.record(z.string(), z.number()),
});

export const queueListReplySchema = z.object({ queues: z.array(queueViewSchema) });
export const queueActionReplySchema = z.object({ queue: z.string(), paused: z.boolean() });

export const errorReplySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export const healthReplySchema = z.object({ status: z.string(), uptime: z.number(), timestamp: z.string(), version: z.string() });
export const readyReplySchema = z.object({ status: z.string(), reason: z.string().optional() });
