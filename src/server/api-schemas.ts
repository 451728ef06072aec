/**
 * The shapes of the HTTP API, as zod schemas: the one source for request validation (through
 * fastify-type-provider-zod) and for the OpenAPI document (`/api/openapi.json`, generated from the
 * same schemas). Bounds come from job/input-bounds.ts, so the API refuses what the library does.
 */
import { z } from 'zod';
import { MAX_DELAY_MS, MAX_INT32, MAX_KEY_LENGTH, MAX_PRIORITY, MAX_REASON_LENGTH, MIN_PRIORITY, PRIORITY_ACCEPTED, PRIORITY_NAMES, type PriorityName } from '../job/input-bounds.js';
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../job/names.js';
import { DEFAULT_BUCKET, TIMESERIES_BUCKETS, TIMESERIES_WINDOWS, type TimeseriesBucket, type TimeseriesWindow } from '../observe/stats-report.js';
import { MAX_CATCH_UP } from '../scheduler/schedule-definition.js';
import { RUN_STATS_JOB_LOOKUPS, RUN_STATS_TICK_LIMIT } from '../scheduler/schedule-manager.js';
import { isJobId, MAX_JOB_ID } from '../store/job-ids.js';
import { JOB_STATES } from '../store/types.js';

/** Largest number of jobs in one `POST /api/jobs/bulk`. */
export const MAX_BULK_JOBS = 10_000;
/** Largest page of `GET /api/jobs`. */
export const MAX_PAGE = 1000;
/** Largest request body of the routes that enqueue many jobs at once (bulk, flows), bytes: many payloads, each within the payload limit. */
export const BULK_BODY_LIMIT = 32 * 1024 * 1024;
/** Most jobs, counting every node, in one `POST /api/flows` (the library allows more; see client/flow.ts). */
export const MAX_FLOW_REQUEST_JOBS = 10_000;
/** Deepest nesting of children in one `POST /api/flows`: the root is level 0, its children level 1. */
export const MAX_FLOW_REQUEST_DEPTH = 20;

const name = (what: string) =>
  z
    .string()
    .min(1)
    .max(NAME_MAX_LENGTH)
    .regex(NAME_PATTERN, `${what} uses only A-Z a-z 0-9 _ - . : / and starts with a letter or digit`);

export const jobStateSchema = z.enum(JOB_STATES as [string, ...string[]]);
/** Whether decimal `digits` are at most MAX_JOB_ID (leading zeros aside; the route then answers whether such a job exists). */
function withinJobIdRange(digits: string): boolean {
  const significant = digits.replace(/^0+/, '');
  return significant.length < 19 || (significant.length === 19 && BigInt(significant) <= MAX_JOB_ID);
}
/**
 * A job id in a path or a body: decimal digits, at most MAX_JOB_ID (2^63 − 1; store/job-ids.ts).
 * A larger number is refused as out of range, saying so, rather than called not decimal.
 */
export const jobIdSchema = z
  .string()
  .regex(/^[0-9]+$/, 'a job id is a decimal number')
  .refine((id) => !/^[0-9]+$/.test(id) || withinJobIdRange(id), `out of range: job ids go up to ${MAX_JOB_ID} (2^63 − 1)`);
/** A schedule id in a path, a body or a job filter: the rule of every name (job/names.ts). */
export const scheduleIdSchema = name('schedule id');

/**
 * A priority in a request: an integer or a name (job/input-bounds.ts `PRIORITY_NAMES`), handed on
 * as its number. The OpenAPI document shows both forms; an error names every accepted value.
 */
const prioritySchema = (() => {
  const error = `must be ${PRIORITY_ACCEPTED}`;
  const names = Object.keys(PRIORITY_NAMES) as [PriorityName, ...PriorityName[]];
  return z
    .union([z.number({ error }).int({ error }).min(MIN_PRIORITY, { error }).max(MAX_PRIORITY, { error }), z.enum(names, { error })], { error })
    .transform((value) => (typeof value === 'number' ? value : PRIORITY_NAMES[value]))
    .describe(
      `higher runs first: an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} or a name, ${Object.entries(PRIORITY_NAMES)
        .map(([name, number]) => `${name} = ${number}`)
        .join(', ')}`,
    );
})();

/** Options shared by single and bulk enqueue and by each node of a flow (the library's `EnqueueOptions`). */
const enqueueOptionFields = {
  queue: name('queue').optional(),
  delayMs: z.number().min(0).max(MAX_DELAY_MS).optional(),
  runAt: z.iso.datetime({ offset: true }).optional().describe('ISO 8601 instant; not with delayMs'),
  priority: prioritySchema.optional(),
  maxAttempts: z.number().int().min(1).max(MAX_INT32).optional(),
  timeoutMs: z.number().int().min(1).max(MAX_INT32).optional(),
  dependsOn: z.array(jobIdSchema).max(10_000).optional().describe('ids of jobs this one waits for: it stays waiting until every one completed'),
  onDependencyFailure: z.enum(['cancel', 'run', 'wait']).optional().describe('when a dependency ends dead or cancelled: cancel this job (default), run it anyway, or wait for a retry'),
  throttle: z
    .object({ key: z.string().min(1).max(MAX_KEY_LENGTH), perMs: z.number().int().min(1).max(MAX_DELAY_MS) })
    .strict()
    .optional()
    .describe('at most one job of this name per key in any perMs window: an enqueue within it answers 200 with the existing job'),
  debounce: z
    .object({ key: z.string().min(1).max(MAX_KEY_LENGTH), delayMs: z.number().int().min(0).max(MAX_DELAY_MS), maxDelayMs: z.number().int().min(0).max(MAX_DELAY_MS).optional() })
    .strict()
    .optional()
    .describe('while a job of this name and key has not started, replace its data and move it to delayMs from now (never past maxDelayMs after its first enqueue); answers 200 with that job'),
  rateKey: z.union([z.string().min(1).max(MAX_KEY_LENGTH), z.number()]).optional().describe("per-key rate limit: the key, for a job defined with a per-key rateLimit (instead of the one its rule takes from the payload)"),
  concurrencyKey: z.union([z.string().min(1).max(MAX_KEY_LENGTH), z.number()]).optional().describe("per-key concurrency: the key, for a job defined with a concurrencyKey rule (instead of the one the rule takes from the payload)"),
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
  concurrencyKey: z.string().nullable().describe('per-key concurrency: jobs of the queue with this key run at most `concurrencyLimit` at once'),
  concurrencyLimit: z.number().nullable(),
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
/** A bulk enqueue's reply: every job in full, in the order of the items. */
export const bulkEnqueueFullReplySchema = z
  .object({ jobs: z.array(enqueueReplySchema), inserted: z.number() })
  .describe('every job in full, in the order of the items (the default)');
/**
 * The same reply without the jobs' fields, for `Prefer: return=minimal`: a client that only needs
 * the ids is sent about 30 bytes a job instead of several hundred.
 */
export const bulkEnqueueMinimalReplySchema = z
  .object({ jobs: z.array(z.object({ id: z.string(), inserted: z.boolean() })), inserted: z.number() })
  .describe('with `Prefer: return=minimal`: each job\'s id and whether it was inserted, in the order of the items');
export const bulkEnqueueReplySchema = z.union([bulkEnqueueFullReplySchema, bulkEnqueueMinimalReplySchema]);

/**
 * One node of `POST /api/flows`, and the whole body: a job and the jobs it waits for, nested (the
 * library's `FlowNode`). Recursive, so it is registered with an id: the OpenAPI document shows it
 * as the component `FlowNodeInput`, which refers to itself for `children`. The size and depth
 * bounds are checked on the parsed body before this schema runs (routes/flows.ts), so a tree too
 * deep for a recursive parse never reaches it.
 */
export const flowNodeBodySchema = z
  .strictObject({
    name: name('job name'),
    data: z.unknown().optional().describe("the job's payload; validated against the job's schema"),
    options: z
      .strictObject({ key: z.string().min(1).max(MAX_KEY_LENGTH).optional().describe('de-duplication key'), ...enqueueOptionFields })
      .optional()
      .describe('the options of `POST /api/jobs`; dependsOn adds dependencies beyond the children'),
    get children(): z.ZodOptional<z.ZodArray<typeof flowNodeBodySchema>> {
      return z
        .array(flowNodeBodySchema)
        .max(MAX_FLOW_REQUEST_JOBS)
        .optional()
        .describe(`jobs this one waits for, each a node of the same shape; inserted before it, and it stays waiting until every one completed`);
    },
  })
  .meta({
    id: 'FlowNode',
    description: `a job and the jobs it waits for; at most ${MAX_FLOW_REQUEST_JOBS} jobs in all and ${MAX_FLOW_REQUEST_DEPTH} levels of children`,
  });

/** The reply of `POST /api/flows`: each job of the flow with its children's replies, in the order given. */
export const flowReplySchema = z
  .object({
    job: jobViewSchema,
    inserted: z.boolean().describe('false when a job with the same key was already waiting or running'),
    get children(): z.ZodArray<typeof flowReplySchema> {
      return z.array(flowReplySchema);
    },
  })
  .meta({ id: 'FlowResult' });

/**
 * Query parameters that may be given more than once (`?state=dead&state=cancelled`): the lists.
 * Any other parameter sent twice is refused with "give it once" by the one query check of every
 * route (request-rules.ts), which asks `isRepeatableParam` — rather than each field failing on
 * the array the querystring parser makes of it ("expected number, received NaN").
 */
const repeatable = new WeakSet<z.ZodType>();

/** Marks a query parameter schema as one that takes a value more than once (see `repeatable`). */
export function repeatableParam<T extends z.ZodType>(schema: T): T {
  repeatable.add(schema);
  return schema;
}

/** Whether a query field (possibly wrapped: optional, default, described, refined, piped) was marked by `repeatableParam`. */
export function isRepeatableParam(field: z.ZodType): boolean {
  let schema: z.core.$ZodType | undefined = field;
  while (schema !== undefined) {
    if (repeatable.has(schema as z.ZodType)) return true;
    const def = schema._zod.def as { innerType?: z.core.$ZodType; in?: z.core.$ZodType; type: string };
    schema = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  }
  return false;
}

/** A list in a query string: comma-separated, repeated (`?state=a&state=b`), or both. */
const csv = (item: z.ZodType<string, string>) =>
  repeatableParam(
    z
      .union([z.string(), z.array(z.string())])
      .transform((value) => (Array.isArray(value) ? value : [value]).flatMap((part) => part.split(',')).map((part) => part.trim()).filter(Boolean))
      .pipe(z.array(item)),
  );

/**
 * A page cursor: the `nextCursor` of the previous page, the id of the last row it showed. Checked
 * here, so that a mistyped one is a 400 naming `cursor` on every list (the library's stores
 * refuse it too for jobs, but an alert history page would be silently empty).
 */
export const pageCursorSchema = z
  .string()
  .refine(isJobId, { message: 'not a cursor this list returned: pass the nextCursor of the previous page, or leave cursor out to start from the newest' })
  .describe('the `nextCursor` of the previous page');

/** Filters of `GET /api/jobs` and of the bulk retry/cancel/delete actions. */
export const jobFilterFields = {
  state: csv(jobStateSchema).optional().describe('one state or several, comma-separated'),
  queue: csv(name('queue')).optional(),
  name: csv(name('job name')).optional(),
  search: z
    .string()
    .max(200)
    .optional()
    .describe('text search: a case-insensitive part of the job name or of its de-duplication key, or the exact job id (`%` and `_` match themselves)'),
  createdAfter: z.iso.datetime({ offset: true }).optional(),
  createdBefore: z.iso.datetime({ offset: true }).optional(),
  scheduleId: scheduleIdSchema.optional().describe('only jobs created by this schedule'),
  errorKind: csv(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'an error kind: lower-case letters, digits and _'))
    .optional()
    .describe('jobs whose last error is of this kind (timeout, error, unrecoverable, lease_expired, dependency_failed, …); comma-separated for several'),
};

export const jobListQuerySchema = z
  .object({
    ...jobFilterFields,
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
    cursor: pageCursorSchema.optional(),
  })
  .strict();

export const jobListReplySchema = z.object({
  jobs: z.array(jobViewSchema),
  nextCursor: z
    .string()
    .nullable()
    .describe('The next page: pass it as `cursor`. A filtered page looks at 100,000 job ids at most, so it can be short, even empty, and still have one; null ends the list.'),
});

/**
 * Body of the bulk actions (`POST /api/jobs/retry|cancel|delete`): the list's filter, at least
 * one field of it — an empty filter would select every job, which must be asked for explicitly
 * (e.g. with every state). An empty `search` filters nothing (as in the list), so it does not
 * count: a script that passes a blank search box must not act on every job.
 */
export const bulkActionBodySchema = z
  .object({ ...jobFilterFields, reason: z.string().max(MAX_REASON_LENGTH).optional().describe('cancel only') })
  .strict()
  .refine((body) => Object.entries(body).some(([key, value]) => key !== 'reason' && value !== undefined && !(key === 'search' && value === '')), {
    message: 'give at least one filter field (state, queue, name, search, createdAfter, createdBefore, scheduleId, errorKind)',
  });

export const bulkActionReplySchema = z.object({
  changed: z.number().describe('jobs the action changed'),
  skipped: z.number().describe('jobs selected that it left alone (running, key taken, already final…)'),
  more: z.boolean().describe('more jobs matched than one call handles (100 000); call again'),
});
export const drainBodySchema = z.object({ reason: z.string().max(MAX_REASON_LENGTH).optional() }).strict().nullish();

export const idParamsSchema = z.object({ id: jobIdSchema });
export const queueParamsSchema = z.object({ name: name('queue') });

// nullish: a POST without a body reaches the validator as null.
export const cancelBodySchema = z
  .object({ reason: z.string().max(MAX_REASON_LENGTH).optional() })
  .strict()
  .nullish();

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
  consumers: z.number().describe('live processes whose worker consumes this queue (process registry)'),
  concurrency: z.number().describe('their configured concurrency, added up; 0 means no live worker consumes the queue'),
  running: z.number().describe('handlers of this queue running in them at their last heartbeat'),
  lagMs: z.number().describe('how long the oldest due job of the queue has waited to start, ms (0: none is due)'),
  completedLastMinute: z.number().describe('attempts completed in the minute rows overlapping the last 60 s (current and previous minute)'),
  failedLastMinute: z.number().describe('attempts failed (retried or dead) in the minute rows overlapping the last 60 s'),
  completedLastHour: z.number(),
  failedLastHour: z.number(),
});

export const jobWhyReplySchema = z.object({
  jobId: z.string(),
  state: z.string(),
  queue: z.string(),
  code: z
    .enum(['running', 'finished', 'scheduled', 'waiting', 'queue_paused', 'no_worker', 'concurrency_limit', 'key_busy', 'rate_limited', 'queued'])
    .describe('running: a worker runs it; finished; scheduled: not due until `until`; waiting: on dependencies; queue_paused; no_worker: no live process consumes its queue; concurrency_limit: its queue runs `limit` jobs across the cluster already; key_busy: its concurrency key runs `limit` jobs already (`heldBy`); rate_limited: no room in its rate limit, or held, until `until`; queued: due, `ahead` jobs first'),
  message: z.string(),
  until: z.string().nullable().describe('scheduled: when it becomes due; running: when its lease expires; rate_limited: when the next slot opens'),
  ahead: z.number().nullable().describe('queued: due jobs of its queue before it in claim order (counted up to 10 000)'),
  aheadCapped: z.boolean(),
  workerId: z.string().nullable(),
  limit: z.number().optional().describe('concurrency_limit: the queue\'s global concurrency limit'),
  runningInQueue: z.number().optional().describe('concurrency_limit: jobs of the queue running now'),
  heldBy: z.array(z.string()).optional().describe('key_busy: ids of the running jobs holding its key'),
  waitingOn: z.array(z.string()).optional().describe('waiting: ids of its dependencies not settled yet (at most 20)'),
  rateKey: z.string().optional().describe('rate_limited by its per-key rate limit: the key'),
});

const distributionSchema = z.object({
  count: z.number(),
  avg: z.number().nullable(),
  p50: z.number().nullable().describe('estimated from a histogram: linear within the bucket that holds it'),
  p95: z.number().nullable(),
});

export const activitySummarySchema = z.object({
  enqueued: z.number(),
  runs: z.number().describe('attempts that ended: completed + failed'),
  completed: z.number(),
  failed: z.number().describe('failed attempts: retried + dead'),
  retried: z.number(),
  dead: z.number(),
  cancelled: z.number(),
  timeouts: z.number().describe('failed attempts that ran past their timeout'),
  successRate: z.number().nullable().describe('completed / runs; null without runs'),
  durationMs: distributionSchema.describe('run time of ended attempts, ms'),
  waitMs: distributionSchema.describe('from due (run_at) to started, ms'),
});

const activityWindowsSchema = z.object({ lastHour: activitySummarySchema, lastDay: activitySummarySchema });

export const statsReplySchema = z.object({
  generatedAt: z.string(),
  totals: activityWindowsSchema,
  queues: z.array(activityWindowsSchema.extend({ queue: z.string() })),
  jobs: z.array(activityWindowsSchema.extend({ name: z.string() })),
});

/**
 * The query of `GET /api/stats/timeseries`. The bucket's bounds for the window are checked here, as
 * every other query field is, so that a bad combination is a 400 INVALID_REQUEST naming `bucket`;
 * the library checks the same (`readTimeseries`, INVALID_OPTION) for its own callers.
 */
export const timeseriesQuerySchema = z
  .strictObject({
    window: z.enum(Object.keys(TIMESERIES_WINDOWS) as [TimeseriesWindow, ...TimeseriesWindow[]]).default('1h'),
    bucket: z
      .enum(Object.keys(TIMESERIES_BUCKETS) as [TimeseriesBucket, ...TimeseriesBucket[]])
      .optional()
      .describe('default and finest: 1m for 1h, 15m for 24h, 1h for 7d; at most the window'),
    queue: z.string().min(1).max(256).optional(),
  })
  .superRefine(({ window, bucket }, ctx) => {
    if (bucket === undefined) return;
    const finest = DEFAULT_BUCKET[window];
    if (TIMESERIES_BUCKETS[bucket] < TIMESERIES_BUCKETS[finest]) {
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: `a ${window} window takes buckets of ${finest} or more (older minutes are kept rolled up), got ${bucket}` });
    } else if (TIMESERIES_BUCKETS[bucket] > TIMESERIES_WINDOWS[window]) {
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: `bucket ${bucket} is longer than the window ${window}` });
    }
  });

const timeseriesPointsSchema = z.object({
  enqueued: z.array(z.number()),
  completed: z.array(z.number()),
  failed: z.array(z.number()).describe('failed attempts (retried or dead)'),
  dead: z.array(z.number()),
});

export const timeseriesReplySchema = z.object({
  window: z.string(),
  bucket: z.string(),
  bucketMs: z.number(),
  buckets: z.array(z.string()).describe('start of each bucket (UTC, aligned to the bucket size), oldest first; the last is still filling'),
  total: timeseriesPointsSchema,
  queues: z.array(timeseriesPointsSchema.extend({ queue: z.string() })),
});

export const queueListReplySchema = z.object({ queues: z.array(queueViewSchema) });
export const queueActionReplySchema = z.object({ queue: z.string(), paused: z.boolean() });

export const processViewSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number(),
  version: z.string(),
  roles: z.array(z.string()).describe('worker, scheduler, api'),
  queues: z
    .array(z.object({ queue: z.string(), concurrency: z.number(), busy: z.number(), globalConcurrency: z.number().nullable().optional().describe('the queue\'s limit across every worker, as this process applies it; null: none'), rateLimit: z.object({ max: z.number(), perMs: z.number() }).nullable().optional().describe('the queue\'s rate limit as this process applies it; null: none') }))
    .describe('queues its worker consumes'),
  runningJobIds: z.array(z.string()),
  startedAt: z.string(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
});
export const processListReplySchema = z.object({ workers: z.array(processViewSchema) });

export const errorReplySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export const healthReplySchema = z.object({ status: z.string(), uptime: z.number(), timestamp: z.string(), version: z.string() });
export const readyReplySchema = z.object({ status: z.string(), reason: z.string().optional() });

// ---------------------------------------------------------------------------------------------
// Schedules: request fields named as in a YAML schedule file (docs/scheduling.md). Only their form
// is checked here; the cron expression, the time zone, the job and the input are checked by the
// schedule manager, which answers INVALID_CRON, INVALID_TIMEZONE, UNKNOWN_JOB or INVALID_PAYLOAD.

export const scheduleParamsSchema = z.object({ id: scheduleIdSchema.describe('the schedule id; a `/` in it is sent as %2F') });
const scheduleSourceSchema = z.enum(['file', 'code', 'api']);
const overlapSchema = z.enum(['allow', 'skip', 'queue']);

const scheduleBodyFields = {
  jobId: name('job name').describe('name of the job each tick enqueues'),
  schedule: z.string().max(1000).describe('cron expression: 5 fields (minute first), 6 (seconds first), or @hourly / @daily / @weekly / @monthly / @yearly'),
  timezone: z.string().max(200).optional().describe('IANA time zone the cron fields are read in; default UTC'),
  enabled: z.boolean().optional().describe('default true; a disabled schedule is kept but never fires'),
  description: z.string().nullable().optional(),
  input: z.unknown().optional().describe("payload of each job it creates, checked against the job's schema; default {}"),
  catchUp: z.number().int().min(0).max(MAX_CATCH_UP).optional().describe('missed ticks to run after downtime; default 0'),
  overlap: overlapSchema.optional().describe('what a tick does while the previous run is unfinished; default allow'),
  queue: name('queue').optional().describe("queue of the jobs it creates; default the job's"),
  priority: prioritySchema.optional(),
  maxAttempts: z.number().int().min(1).max(MAX_INT32).optional(),
  timeoutMs: z.number().int().min(1).max(MAX_INT32).optional(),
};

export const scheduleCreateBodySchema = z
  .object({ id: scheduleIdSchema.optional().describe('unique schedule id; default the jobId'), ...scheduleBodyFields })
  .strict();

// nullish, as every body whose fields are all optional: a PATCH without a body changes nothing.
export const scheduleUpdateBodySchema = z
  .object({ ...scheduleBodyFields, jobId: scheduleBodyFields.jobId.optional(), schedule: scheduleBodyFields.schedule.optional() })
  .strict()
  .nullish()
  .describe('the fields to change; the id cannot change');

export const scheduleTriggerBodySchema = z
  .object({ input: z.unknown().optional().describe("run with this input instead of the schedule's") })
  .strict()
  .nullish()
  .describe('optional: a POST without a body runs the schedule with its own input');

const yesNo = z.enum(['true', 'false']).transform((value) => value === 'true');

export const scheduleListQuerySchema = z
  .object({
    enabled: yesNo.optional().describe('true: only firing schedules; false: only paused ones'),
    search: z.string().max(200).optional().describe('case-insensitive part of the schedule id'),
    cron: z.string().max(1000).optional().describe('exact cron expression, as stored'),
    source: scheduleSourceSchema.optional().describe('file (a YAML schedule file), code (the config) or api'),
    createdAfter: z.iso.datetime({ offset: true }).optional(),
    createdBefore: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const scheduleHistoryQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional().describe('default 20') }).strict();

const lastOutcomeSchema = z
  .object({ jobId: z.string(), state: jobStateSchema, attempt: z.number(), finishedAt: z.string().nullable(), error: errorRecordSchema.nullable() })
  .nullable()
  .describe('the job the newest tick created, as it is now; null before the first run or once that job was pruned');

/** A schedule as every surface shows it (scheduler/schedule-json.ts). */
export const scheduleViewSchema = z.object({
  id: z.string(),
  jobName: z.string(),
  cron: z.string(),
  timezone: z.string(),
  enabled: z.boolean(),
  paused: z.boolean(),
  description: z.string().nullable(),
  input: z.unknown(),
  catchUp: z.number(),
  overlap: overlapSchema,
  source: scheduleSourceSchema,
  jobOptions: z.object({ queue: z.string().optional(), priority: z.number().optional(), maxAttempts: z.number().optional(), timeoutMs: z.number().optional() }),
  createdAt: z.string(),
  updatedAt: z.string(),
  nextRunAt: z.string().nullable(),
  lastRunAt: z.string().nullable(),
  lastJobId: z.string().nullable(),
  lastOutcome: lastOutcomeSchema,
});

export const scheduleDetailsViewSchema = scheduleViewSchema.extend({
  upcoming: z.array(z.string()).describe('the next 5 fire times; empty while paused'),
});

export const scheduleListReplySchema = z.object({ schedules: z.array(scheduleViewSchema) });
export const scheduleDeleteReplySchema = z.object({ id: z.string(), deleted: z.boolean() });

const tickSchema = z.object({ scheduleId: z.string(), fireAt: z.string(), claimedAt: z.string(), status: z.string() });
export const scheduleTriggerReplySchema = z.object({ job: jobViewSchema, tick: tickSchema });

export const scheduleHistoryEntrySchema = z.object({
  fireAt: z.string(),
  claimedAt: z.string(),
  status: z.string().describe('enqueued, catch_up, queued, manual, skipped_overlap or invalid_input'),
  jobId: z.string().nullable(),
  jobState: jobStateSchema.nullable(),
  durationMs: z.number().nullable().describe("the job's last attempt, start to finish; null until it finished"),
  error: errorRecordSchema.nullable(),
  job: z
    .object({
      id: z.string(),
      state: jobStateSchema,
      attempt: z.number(),
      maxAttempts: z.number(),
      createdAt: z.string(),
      attemptedAt: z.string().nullable(),
      finishedAt: z.string().nullable(),
      lastError: errorRecordSchema.nullable(),
      result: z.unknown(),
    })
    .nullable()
    .describe('the job the tick created; null when none was created or it was pruned'),
});

export const scheduleHistoryReplySchema = z.object({ history: z.array(scheduleHistoryEntrySchema) });

export const scheduleRunStatsSchema = z.object({
  id: z.string(),
  jobName: z.string(),
  enabled: z.boolean(),
  lastRunAt: z.string().nullable().describe('fire time of the newest claimed tick (cron, caught-up or manual)'),
  nextRunAt: z.string().nullable().describe('the fire time the scheduler claims next; null while paused'),
  lastOutcome: lastOutcomeSchema,
  runs: z.number().describe('ticks whose fire time is in the window that created a job (enqueued, catch_up, queued, manual), whatever became of the job'),
  skipped: z.number().describe('ticks whose fire time is in the window that created no job (skipped_overlap, invalid_input)'),
  failures: z.number().describe('of the failuresChecked newest runs in the window, those whose job is dead now; a run still being retried, or whose job was pruned, is not counted'),
  failuresChecked: z.number().describe(`how many runs were looked up for failures: runs, but at most ${RUN_STATS_JOB_LOOKUPS}`),
  capped: z.boolean().describe(`${RUN_STATS_TICK_LIMIT} ticks were read and all were in the window: runs and skipped count only the newest ${RUN_STATS_TICK_LIMIT} and are lower bounds`),
});

export const scheduleStatsReplySchema = z.object({
  now: z.string().describe("the store's time the window ends at"),
  windowStart: z.string().describe('now minus 24 hours'),
  summary: z.object({ total: z.number(), enabled: z.number(), paused: z.number() }),
  schedules: z.array(scheduleRunStatsSchema),
});

const alertDeliverySchema = z.object({
  jobId: z.string(),
  channel: z.string(),
  kind: z.enum(['fired', 'resolved']),
  state: z.string().describe('the delivery job: completed = delivered; retryable = a failed attempt, retried with backoff; dead = gave up'),
  attempts: z.number(),
  lastError: z.string().nullable(),
  deliveredAt: z.string().nullable(),
});

export const alertEpisodeSchema = z.object({
  id: z.string(),
  rule: z.string(),
  severity: z.string(),
  subject: z.object({ kind: z.string(), name: z.string() }),
  openedAt: z.string(),
  lastSeenAt: z.string(),
  resolvedAt: z.string().nullable(),
  status: z.string().describe('delivered, throttled, silenced or undelivered (no channel of the alert was configured in the evaluating process: nothing sent)'),
  measured: z.string(),
  threshold: z.string(),
  lastError: z.object({ name: z.string(), message: z.string() }).nullable(),
  deliveries: z.array(alertDeliverySchema),
});

export const alertHistoryQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  severity: z.enum(['critical', 'high', 'medium', 'low', 'info']).optional(),
  rule: z.string().min(1).max(200).optional(),
  jobId: z.string().min(1).max(256).optional().describe('the job name the alerts are about'),
  cursor: pageCursorSchema.optional(),
});

/** Body of `POST /api/alerts/test`: every field optional, so no body at all is accepted too (nullish, as `cancelBodySchema`). */
export const alertTestBodySchema = z
  .strictObject({ channel: z.string().min(1).max(100).optional().describe('one channel; absent: every configured one') })
  .nullish();

export const alertSilenceSchema = z.object({ id: z.string(), rule: z.string(), subject: z.string().nullable(), until: z.string(), reason: z.string().nullable(), createdAt: z.string() });

export const alertSilenceBodySchema = z.strictObject({
  rule: z.string().min(1).max(200),
  subject: z.string().min(1).max(256).nullable().optional().describe('the job, queue or schedule it silences; absent: every subject of the rule'),
  forSeconds: z.number().int().min(1).max(90 * 86_400),
  reason: z.string().max(2000).nullable().optional(),
});
