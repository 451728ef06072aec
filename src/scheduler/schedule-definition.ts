/**
 * A schedule as users write it — in YAML (`schedules:`) or in code — and its validation into the
 * store's `ScheduleInput`. Every check happens here, before anything is written: unknown keys,
 * cron, time zone, job name, queue, priority and the input against the job's schema.
 */
import { z } from 'zod';
import { ValidationError, type NightshiftErrorCode } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import { assertValidMs, isStorableText, MAX_INT32, parsePriority, PRIORITY_ACCEPTED, type Priority } from '../job/input-bounds.js';
import { assertValidName } from '../job/names.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, serializePayload } from '../job/payload.js';
import { DEFAULT_ATTEMPTS } from '../job/retry-policy.js';
import { validatePayload } from '../job/schema.js';
import { scheduleInputRefusals } from '../jobs/schedule-input-checks.js';
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

/**
 * `error` as a problem of the field at `path`: its message starts with the path, and its issues
 * name fields under it (so a schedule file can point at each one's line). Errors that are not
 * `ValidationError`s are bugs, not problems of the definition: they are thrown.
 */
function asProblem(error: unknown, path: string): ValidationError {
  if (!(error instanceof ValidationError)) throw error;
  const message = error.message.startsWith(path) ? error.message : `${path}: ${error.message}`;
  const issues =
    error.issues.length === 0
      ? [{ path, message }]
      : error.issues.map((issue) => ({ path: issue.path.startsWith(path) ? issue.path : `${path}${issue.path ? `.${issue.path}` : ''}`, message: issue.message }));
  return new ValidationError(error.code, message, { cause: error.cause ?? error, issues });
}

/** A problem of the field at `path`, with one issue naming it. */
function problemAt(code: NightshiftErrorCode, path: string, message: string): ValidationError {
  return new ValidationError(code, `${path}: ${message}`, { issues: [{ path, message }] });
}

/** Fields a definition may have, for "did you mean" hints on unknown ones. */
const KNOWN_FIELDS = Object.keys(scheduleDefinitionSchema.shape);

/** The known field `key` is most likely a typo of (two edits away at most, one for short names), or undefined. */
function likelyField(key: string): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, index) => index);
    for (let i = 1; i <= a.length; i++) {
      let diagonal = row[0] as number;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const above = row[j] as number;
        row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
        diagonal = above;
      }
    }
    return row[b.length] as number;
  };
  let best: { field: string; edits: number } | undefined;
  for (const field of KNOWN_FIELDS) {
    const edits = distance(key, field);
    if (edits <= (field.length > 4 ? 2 : 1) && (best === undefined || edits < best.edits)) best = { field, edits };
  }
  return best?.field;
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

/** What `checkScheduleDefinition` found. */
export interface ScheduleDefinitionCheck {
  /** The schedule's id (its `id`, else its `jobId`) when it is a valid name, else null: for duplicate checks. */
  id: string | null;
  /** The schedule to store; null when there is any problem. */
  input: ScheduleInput | null;
  /**
   * Every problem found, in the order of the checks. Each is a `ValidationError` whose code says
   * what is wrong (`INVALID_CRON`, `INVALID_TIMEZONE`, `UNKNOWN_JOB`, `INVALID_PAYLOAD`,
   * `INVALID_NAME`, `INVALID_OPTION`), whose message starts with the field's path (`schedules[2].timezone: …`)
   * and whose first issue names that field (or the payload field under `input`).
   */
  problems: ValidationError[];
}

/**
 * Checks every field of a definition — not only up to the first problem — and returns the
 * `ScheduleInput` to store, or all the problems found. Fields are checked independently: an
 * unknown field, a bad cron expression, an unknown zone and an unknown job in one entry are four
 * problems. The input is checked against the job's schema only when the job is known, and, for
 * a built-in job with an allow-list, against that list (jobs/schedule-input-checks.ts): a schedule
 * whose every run would be refused is not stored.
 */
export async function checkScheduleDefinition(definition: unknown, options: ResolveScheduleOptions): Promise<ScheduleDefinitionCheck> {
  const where = options.where ?? 'schedule';
  const problems: ValidationError[] = [];
  const attempt = <T>(path: string, check: () => T): T | undefined => {
    try {
      return check();
    } catch (error) {
      problems.push(asProblem(error, path));
      return undefined;
    }
  };

  const parsed = scheduleDefinitionSchema.safeParse(definition);
  // Top-level fields the schema refused (wrong type, out of range): not checked any further.
  const refused = new Set<string>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        // One problem per unknown field, at the field itself: a typo points at its own line.
        for (const key of issue.keys) {
          const hint = likelyField(key);
          problems.push(problemAt('INVALID_OPTION', `${where}.${key}`, `unknown field ${JSON.stringify(key)}${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`));
        }
        continue;
      }
      const field = issue.path[0];
      if (field !== undefined) refused.add(String(field));
      problems.push(problemAt('INVALID_OPTION', [where, ...issue.path.map(String)].join('.'), issue.message));
    }
  }
  const raw: Record<string, unknown> = typeof definition === 'object' && definition !== null && !Array.isArray(definition) ? (definition as Record<string, unknown>) : {};
  // A field's value when it is there and of its type (the schema checked the type).
  const text = (key: string): string | undefined => (!refused.has(key) && typeof raw[key] === 'string' ? (raw[key] as string) : undefined);
  const present = (key: string): boolean => !refused.has(key) && raw[key] !== undefined;

  const jobId = text('jobId');
  const idText = raw.id !== undefined ? text('id') : jobId;
  const id = idText === undefined ? undefined : attempt(`${where}.id`, () => (assertValidName('schedule id', idText), idText));
  const scheduleText = text('schedule');
  const cron = scheduleText === undefined ? undefined : attempt(`${where}.schedule`, () => parseCron(scheduleText, `${where}.schedule`));
  const timezone = refused.has('timezone') ? undefined : attempt(`${where}.timezone`, () => normalizeTimeZone(text('timezone') ?? DEFAULT_TIMEZONE, `${where}.timezone`));
  const job = jobId === undefined ? undefined : attempt(`${where}.jobId`, () => requireJob(options.jobs, jobId, `${where}.jobId`));
  const jobOptions = resolveJobOptions(raw, refused, where, problems);

  const inputValue = present('input') ? raw.input : {};
  let serialized: string | undefined;
  if (job !== undefined && !refused.has('input')) {
    let checked: unknown;
    let valid = true;
    try {
      checked = await validatePayload(job.name, job.schema, inputValue);
    } catch (error) {
      valid = false;
      payloadProblems(error, `${where}.input`, job.name, problems);
    }
    if (valid) {
      const refusals = scheduleInputRefusals(job, checked);
      for (const refusal of refusals) {
        problems.push(problemAt('INVALID_PAYLOAD', refusal.path === '' ? `${where}.input` : `${where}.input.${refusal.path}`, refusal.message));
      }
      if (refusals.length === 0) serialized = attempt(`${where}.input`, () => serializePayload(inputValue, options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES));
    }
  }

  if (problems.length > 0 || !parsed.success || id === undefined || cron === undefined || timezone === undefined || job === undefined || serialized === undefined) {
    return { id: id ?? null, input: null, problems };
  }
  const value = parsed.data;
  return {
    id,
    input: {
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
    },
    problems,
  };
}

/**
 * Validates a definition and returns the `ScheduleInput` to store. Throws a `ValidationError`
 * whose code says what is wrong (`INVALID_CRON`, `INVALID_TIMEZONE`, `UNKNOWN_JOB`,
 * `INVALID_PAYLOAD`, `INVALID_NAME`, `INVALID_OPTION`) and whose message and issue paths name the
 * field, prefixed with `where`. With several problems, the code is the first one's, and the
 * message and issues list them all (see `checkScheduleDefinition`).
 */
export async function resolveScheduleDefinition(definition: unknown, options: ResolveScheduleOptions): Promise<ScheduleInput> {
  const { input, problems } = await checkScheduleDefinition(definition, options);
  if (input !== null) return input;
  const [first] = problems;
  if (first === undefined) throw new Error('checkScheduleDefinition returned neither a schedule nor a problem');
  if (problems.length === 1) throw first;
  throw new ValidationError(first.code, problems.map((problem) => problem.message).join('; '), {
    cause: first,
    issues: problems.flatMap((problem) => [...problem.issues]),
  });
}

/**
 * Problems of an input the job's schema refused: one per field the schema names (each with its
 * own path, so a file points at its line), or the error as one problem.
 */
function payloadProblems(error: unknown, path: string, jobName: string, problems: ValidationError[]): void {
  if (error instanceof ValidationError && error.code === 'INVALID_PAYLOAD' && error.issues.length > 0) {
    for (const issue of error.issues) {
      const at = issue.path === '' ? path : `${path}.${issue.path}`;
      problems.push(problemAt('INVALID_PAYLOAD', at, `invalid payload for job "${jobName}": ${issue.message}`));
    }
    return;
  }
  problems.push(asProblem(error, path));
}

/** The job overrides of a definition (`queue`, `priority`, `maxAttempts`, `timeoutMs`), each checked; problems are added to `problems`. */
function resolveJobOptions(raw: Record<string, unknown>, refused: ReadonlySet<string>, where: string, problems: ValidationError[]): ScheduleJobOptions {
  const options: ScheduleJobOptions = {};
  const given = (key: string): unknown => (refused.has(key) ? undefined : raw[key]);
  const queue = given('queue');
  if (typeof queue === 'string') {
    try {
      assertValidName('queue name', queue);
      options.queue = queue;
    } catch (error) {
      problems.push(asProblem(error, `${where}.queue`));
    }
  }
  const priority = given('priority');
  if (priority !== undefined) {
    try {
      options.priority = parsePriority(priority, `${where}.priority`);
    } catch (error) {
      problems.push(asProblem(error, `${where}.priority`));
    }
  }
  const maxAttempts = given('maxAttempts');
  if (typeof maxAttempts === 'number') options.maxAttempts = maxAttempts;
  const timeoutMs = given('timeoutMs');
  if (timeoutMs !== undefined) {
    try {
      assertValidMs(timeoutMs, `${where}.timeoutMs`, true);
      options.timeoutMs = timeoutMs;
    } catch (error) {
      problems.push(asProblem(error, `${where}.timeoutMs`));
    }
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
