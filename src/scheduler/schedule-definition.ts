/**
 * A schedule as users write it — in YAML (`schedules:`) or in code — and its validation into the
 * store's `ScheduleInput`. Every check happens here, before anything is written: unknown keys,
 * cron, time zone, job name, queue, priority and the input against the job's schema.
 */
import { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import { assertValidMs, isStorableText, MAX_INT32, parsePriority, PRIORITY_ACCEPTED, type Priority } from '../job/input-bounds.js';
import { assertValidName } from '../job/names.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, serializePayload } from '../job/payload.js';
import { DEFAULT_ATTEMPTS } from '../job/retry-policy.js';
import { validatePayload } from '../job/schema.js';
import type { OverlapPolicy, ScheduleInput, ScheduleSource } from '../store/types.js';
import { parseCron } from './cron-expression.js';
import { DEFAULT_TIMEZONE, normalizeTimeZone } from './time-zone.js';

/** Most missed ticks a schedule may catch up after downtime. */
export const MAX_CATCH_UP = 1000;

/**
 * One schedule as users write it: an entry of `schedules:` in a YAML file, an entry of the code
 * config's `schedules: [...]` (there named `ScheduleEntry`, the same type), or the argument of
 * `scheduleManager.create()`. Only `jobId` and `schedule` are required.
 */
export interface ScheduleDefinition {
  /** Unique schedule id (a name: `A–Z a–z 0–9 _ - . : /`, at most 128 characters). Default: `jobId`. */
  id?: string;
  /** Name of the job each tick enqueues: a job of the app, or the built-in `http` / `command`. */
  jobId: string;
  /** Cron expression with 5 fields (minute first) or 6 (seconds first), or an alias such as `@daily`. */
  schedule: string;
  /** Whether the schedule fires. Default true; a disabled schedule is kept but never fires. */
  enabled?: boolean;
  /** IANA zone the cron fields are read in, e.g. `Europe/Amsterdam`. Default `UTC`. */
  timezone?: string;
  /** Shown by the CLI and the dashboard. Default none. */
  description?: string | null;
  /** Payload of each job the schedule creates, checked against the job's schema. Default `{}`. */
  input?: unknown;
  /** Missed ticks to run after downtime, the most recent ones (0 … 1000). Default 0: skip them. */
  catchUp?: number;
  /** What a tick does while the previous run is unfinished: `allow` (default), `skip` or `queue`. */
  overlap?: OverlapPolicy;
  /** Queue of the jobs it creates. Default: the job's queue. */
  queue?: string;
  /**
   * Priority of the jobs it creates, higher runs first: an integer from −1 000 000 to 1 000 000 or
   * `critical` (1000), `high` (100), `normal` (0), `low` (−100). Default: the job's.
   */
  priority?: Priority;
  /** Attempts of the jobs it creates (≥ 1). Default: the job's `retry.attempts`, else 3. */
  maxAttempts?: number;
  /** Per-attempt time limit of the jobs it creates, in ms. Default: the job's, else the queue's. */
  timeoutMs?: number;
}

/**
 * The runtime check of a `ScheduleDefinition` (see there for each field). Unknown keys are
 * rejected so that a typo (`timzone:`) is an error rather than a silently ignored setting.
 */
export const scheduleDefinitionSchema = z
  .object({
    id: z.string().optional(),
    jobId: z.string(),
    schedule: z.string(),
    enabled: z.boolean().optional(),
    timezone: z.string().optional(),
    description: z
      .string()
      .refine(isStorableText, 'must not contain NUL characters or unpaired UTF-16 surrogates (no store can keep them unchanged)')
      .nullable()
      .optional(),
    input: z.unknown().optional(),
    catchUp: z.number().int().min(0).max(MAX_CATCH_UP).optional(),
    overlap: z.enum(['allow', 'skip', 'queue']).optional(),
    queue: z.string().optional(),
    // Range and names are checked by parsePriority (resolveJobOptions), whose message names them.
    priority: z
      .custom<Priority>((value) => typeof value === 'number' || typeof value === 'string', { error: `must be ${PRIORITY_ACCEPTED}` })
      .optional(),
    maxAttempts: z.number().int().min(1).max(MAX_INT32).optional(),
    timeoutMs: z.number().int().min(1).max(MAX_INT32).optional(),
  })
  .strict();

// The interface (documented, readable in editors) and the schema (checked at run time) must accept
// the same shape; this fails to compile as soon as one gains a field the other lacks.
type MutuallyAssignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Keys are compared too: an optional field present on one side only is assignable both ways.
type SameShape<A, B> = MutuallyAssignable<A, B> extends true ? MutuallyAssignable<keyof A, keyof B> : false;
const scheduleShapesMatch: SameShape<ScheduleDefinition, z.input<typeof scheduleDefinitionSchema>> = true;
void scheduleShapesMatch;

/** Job overrides a schedule applies to the jobs it creates; stored as `ScheduleInput.jobOptions`. */
export interface ScheduleJobOptions {
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number;
}

/** Job definitions by name, as the scheduler and the schedule manager look them up. */
export type JobRegistry = ReadonlyMap<string, AnyJobDefinition>;

/** Builds a registry from job definitions; two jobs with one name are an error. */
export function createJobRegistry(jobs: readonly AnyJobDefinition[] | JobRegistry): JobRegistry {
  if (jobs instanceof Map) return jobs;
  const registry = new Map<string, AnyJobDefinition>();
  for (const job of jobs as readonly AnyJobDefinition[]) {
    if (registry.has(job.name) && registry.get(job.name) !== job) {
      throw new ValidationError('INVALID_OPTION', `two different jobs are named "${job.name}"; job names must be unique`);
    }
    registry.set(job.name, job);
  }
  return registry;
}

/** Throws `UNKNOWN_JOB` naming `where` and listing the known jobs. */
export function requireJob(registry: JobRegistry, name: string, where: string): AnyJobDefinition {
  const job = registry.get(name);
  if (job !== undefined) return job;
  const known = [...registry.keys()].sort();
  throw new ValidationError(
    'UNKNOWN_JOB',
    `${where}: unknown job ${JSON.stringify(name)}; known jobs: ${known.length > 0 ? known.join(', ') : '(none registered)'}`,
    { issues: [{ path: where, message: `unknown job ${JSON.stringify(name)}` }] },
  );
}

function prefixed(error: unknown, where: string): never {
  if (error instanceof ValidationError) {
    const message = error.message.startsWith(where) ? error.message : `${where}: ${error.message}`;
    throw new ValidationError(error.code, message, {
      cause: error.cause,
      issues: error.issues.map((issue) => ({ path: issue.path.startsWith(where) ? issue.path : `${where}${issue.path ? `.${issue.path}` : ''}`, message: issue.message })),
    });
  }
  throw error;
}

/** Options of `resolveScheduleDefinition`. */
export interface ResolveScheduleOptions {
  jobs: JobRegistry;
  /** Where the schedule comes from; stored with it. */
  source: ScheduleSource;
  /** Names the schedule in error messages, e.g. `schedules[2]`; default `schedule`. */
  where?: string;
  /** Largest serialized input, bytes; default 1 MiB (`DEFAULT_MAX_PAYLOAD_BYTES`). */
  maxPayloadBytes?: number;
}

/**
 * Validates a definition and returns the `ScheduleInput` to store. Throws a `ValidationError`
 * whose code says what is wrong (`INVALID_CRON`, `INVALID_TIMEZONE`, `UNKNOWN_JOB`,
 * `INVALID_PAYLOAD`, `INVALID_NAME`, `INVALID_OPTION`) and whose message and issue paths name the
 * field, prefixed with `where`.
 */
export async function resolveScheduleDefinition(definition: unknown, options: ResolveScheduleOptions): Promise<ScheduleInput> {
  const where = options.where ?? 'schedule';
  const parsed = scheduleDefinitionSchema.safeParse(definition);
  if (!parsed.success) {
    const issues: ValidationIssue[] = parsed.error.issues.map((issue) => ({
      path: [where, ...issue.path.map(String)].join('.'),
      message: issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}` : issue.message,
    }));
    throw new ValidationError('INVALID_OPTION', `${where}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { issues });
  }
  const value = parsed.data;
  const id = value.id ?? value.jobId;
  try {
    assertValidName('schedule id', id);
  } catch (error) {
    prefixed(error, `${where}.id`);
  }
  const cron = parseCron(value.schedule, `${where}.schedule`);
  const timezone = normalizeTimeZone(value.timezone ?? DEFAULT_TIMEZONE, `${where}.timezone`);
  const job = requireJob(options.jobs, value.jobId, `${where}.jobId`);
  const jobOptions = resolveJobOptions(value, `${where}`);
  const input = value.input === undefined ? {} : value.input;
  try {
    await validatePayload(job.name, job.schema, input);
  } catch (error) {
    prefixed(error, `${where}.input`);
  }
  let serialized: string;
  try {
    serialized = serializePayload(input, options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
  } catch (error) {
    prefixed(error, `${where}.input`);
  }
  return {
    id,
    jobName: job.name,
    cron: cron.source,
    timezone,
    enabled: value.enabled ?? true,
    description: value.description ?? null,
    input: serialized,
    catchUp: value.catchUp ?? 0,
    overlap: (value.overlap ?? 'allow') satisfies OverlapPolicy,
    source: options.source,
    jobOptions: Object.keys(jobOptions).length === 0 ? null : JSON.stringify(jobOptions),
  };
}

function resolveJobOptions(value: z.output<typeof scheduleDefinitionSchema>, where: string): ScheduleJobOptions {
  const options: ScheduleJobOptions = {};
  if (value.queue !== undefined) {
    try {
      assertValidName('queue name', value.queue);
    } catch (error) {
      prefixed(error, `${where}.queue`);
    }
    options.queue = value.queue;
  }
  if (value.priority !== undefined) {
    try {
      options.priority = parsePriority(value.priority, `${where}.priority`);
    } catch (error) {
      // The issue path lets a schedule file point at the priority's own line.
      const message = (error as ValidationError).message;
      throw new ValidationError('INVALID_OPTION', message, { cause: error, issues: [{ path: `${where}.priority`, message }] });
    }
  }
  if (value.maxAttempts !== undefined) options.maxAttempts = value.maxAttempts;
  if (value.timeoutMs !== undefined) {
    assertValidMs(value.timeoutMs, `${where}.timeoutMs`, true);
    options.timeoutMs = value.timeoutMs;
  }
  return options;
}

/** Reads a stored schedule's `jobOptions` back; a corrupt value counts as no overrides. */
export function parseScheduleJobOptions(text: string | null): ScheduleJobOptions {
  if (text === null) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as ScheduleJobOptions) : {};
  } catch {
    return {};
  }
}

/** Queue, priority and attempts of the jobs a schedule creates, job defaults filled in. */
export function scheduleJobDefaults(job: AnyJobDefinition, options: ScheduleJobOptions): { queue: string; priority: number; maxAttempts: number; timeoutMs: number | null } {
  return {
    queue: options.queue ?? job.queue,
    priority: options.priority ?? job.priority,
    maxAttempts: options.maxAttempts ?? job.retry?.attempts ?? DEFAULT_ATTEMPTS,
    timeoutMs: options.timeoutMs ?? null,
  };
}
