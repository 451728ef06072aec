import type { Logger } from 'pino';
import type { JobEnqueuer } from './enqueue-types.js';
import { ValidationError } from '../errors.js';
import { assertValidMs, parsePriority, type Priority } from './input-bounds.js';
import { assertValidName } from './names.js';
import { checkPerKeyOptions, checkRateLimitOption, type ConcurrencyKeyRule, type PerKeyConcurrency, type PerKeyRate } from './concurrency-key.js';
import type { Duration } from './duration.js';
import { parseRetention, type KeepOptions, type RetentionMs } from './retention.js';
import type { HandlerOutcome } from './outcomes.js';
import { assertValidRetryPolicy, type RetryPolicy } from './retry-policy.js';
import { anyPayload, type SchemaInput, type SchemaOutput, type StandardSchema } from './schema.js';

/** What a handler gets besides its payload. */
export interface JobContext {
  /** The job's id. */
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  /** 1-based number of this attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** A pino child logger with `jobId`, `job`, `queue` and `attempt` fields. */
  readonly log: Logger;
  /**
   * Fires when the handler should stop: timeout (reason `JobTimeoutError`), cancellation or lost
   * lease (`LeaseLostError`), worker shutdown past its grace period (`ShutdownError`). Pass it to
   * fetch(), child processes and anything else that accepts one.
   */
  readonly signal: AbortSignal;
  /** The worker clock's current time (injectable in tests). */
  now(): Date;
  /** Extends the lease now. Workers also heartbeat on their own every `leaseMs / 3`. */
  heartbeat(): Promise<void>;
  /** Records progress (any JSON value, e.g. a percentage); stored with the next heartbeat. */
  progress(value: unknown): void;
  /** Emits a job-specific event (`job:event`) to this process's listeners (`nightshift.events`); it is not written to the cluster-wide event feed. */
  publish(event: string, data?: unknown): void;
  /**
   * Enqueues a follow-up job on the store this worker runs on: same signature, typing and checks
   * as `client.enqueue` (pass a job definition for a typed payload, or a registered job's name).
   * The job exists once the promise resolves, whatever happens to this attempt afterwards; a
   * handler that may run twice (retries, at-least-once) passes a `key` to enqueue it only once.
   */
  readonly enqueue: JobEnqueuer['enqueue'];
  /**
   * Enqueues many jobs of one kind in one store transaction (a fan-out): same as
   * `client.enqueueMany`. Use `keyOf` so that a retried parent does not enqueue its children twice.
   */
  readonly enqueueMany: JobEnqueuer['enqueueMany'];
  /**
   * The jobs this one depends on (its children in a flow, or its `dependsOn`), lowest id first,
   * each with its state and parsed result (`undefined` when the stored result does not parse).
   * A dependency deleted or pruned since is left out.
   */
  childResults(): Promise<ChildResult[]>;
}

/** One dependency of a job as `ctx.childResults()` gives it. */
export interface ChildResult {
  id: string;
  name: string;
  /** `completed`, or `dead` / `cancelled` when the job runs under `onDependencyFailure: 'run'`. */
  state: string;
  result: unknown;
}

/** A job handler: returns a JSON-serializable result, or a typed outcome (`snooze`, `cancel`). */
export type JobHandler<Payload, Result> = (payload: Payload, ctx: JobContext) => Promise<Result | HandlerOutcome> | Result | HandlerOutcome;

/** Options of `defineJob`. */
export interface JobOptions<S extends StandardSchema, Result> {
  /** Unique job name: 1–128 of `A–Z a–z 0–9 _ - . : /`. */
  name: string;
  /** Queue the job runs on; default `default`. */
  queue?: string;
  /**
   * Payload schema (zod or any Standard Schema). Enqueue validates against it, and so does the
   * worker before the handler runs. Optional: without one the payload is any JSON value, typed
   * `unknown` or by `defineJob<Payload>(…)` (see `SchemalessJobOptions`).
   */
  schema: S;
  /** Attempts and backoff; default 3 attempts, exponential from 1 s. */
  retry?: RetryPolicy;
  /** Per-attempt time limit in ms; default: the queue's `timeoutMs`, else 5 minutes. */
  timeoutMs?: number;
  /**
   * Default priority of its jobs, higher runs first: an integer from −1 000 000 to 1 000 000 or
   * `critical` (1000), `high` (100), `normal` (0), `low` (−100); default `normal` (0).
   */
  priority?: Priority;
  /** Human description for `nightshift list` and the dashboard. */
  description?: string;
  /**
   * Per-key concurrency: jobs of this kind with the same key run at most `perKey` at once on
   * their queue, across every worker (e.g. one sync per organisation). A top-level payload field
   * whose value is a string or number (`'orgId'`), or a function of the payload; an enqueue may
   * give the key instead (`concurrencyKey` option). A missing or empty key is an enqueue error.
   */
  concurrencyKey?: ConcurrencyKeyRule<SchemaInput<S>>;
  /** Jobs of one key running at once; default 1 (one at a time per key). Needs `concurrencyKey`. */
  perKey?: number;
  /**
   * A rate limit per key, across every worker: jobs of this kind with the same key start at most
   * `max` times in any `perMs` ms (e.g. three calls a minute per organisation). `key` is a
   * payload field or a function of the payload, as for `concurrencyKey`; an enqueue may give it
   * (`rateKey` option). A rate limit for a whole queue goes in the queue's options.
   */
  rateLimit?: { max: number; perMs: number; key: ConcurrencyKeyRule<SchemaInput<S>> };
  /**
   * How long its finished jobs are kept, by state, instead of the queue's or the runtime's
   * retention: `{ completed: '1h', dead: '30d' }` (ms, or a whole number with ms/s/m/h/d).
   */
  keep?: KeepOptions;
  /** How long a completed job of this kind keeps its result (the job stays for `keep.completed`). */
  keepResult?: Duration;
  handler: JobHandler<SchemaOutput<S>, Result>;
}

/**
 * Options of `defineJob` without a schema: the payload is any JSON-serializable value (still
 * size-checked), typed `Payload` (default `unknown`) without a check at run time.
 */
export interface SchemalessJobOptions<Payload, Result> extends Omit<JobOptions<StandardSchema<Payload, Payload>, Result>, 'schema'> {
  schema?: undefined;
  handler: JobHandler<Payload, Result>;
}

/** A defined job: pass it to `enqueue` for a typed payload, and to the worker to run it. */
export interface JobDefinition<S extends StandardSchema = StandardSchema, Result = unknown> {
  readonly name: string;
  readonly queue: string;
  readonly schema: S;
  readonly retry: RetryPolicy | undefined;
  readonly timeoutMs: number | undefined;
  /** Default priority of its jobs as a number (a name given to `defineJob` is resolved). */
  readonly priority: number;
  readonly description: string | undefined;
  /** Its per-key concurrency rule (`concurrencyKey` / `perKey`), or null. */
  readonly perKey: PerKeyConcurrency | null;
  /** Its own retention (`keep` / `keepResult`) in ms, or null. */
  readonly retention: RetentionMs | null;
  /** Its per-key rate limit (`rateLimit`), or null. */
  readonly rateLimit: PerKeyRate | null;
  readonly handler: JobHandler<SchemaOutput<S>, Result>;
  /** Phantom field carrying the enqueue type; never set at run time. */
  readonly __input?: SchemaInput<S>;
}

/** Any job definition, whatever its payload type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: handlers of any payload type
export type AnyJobDefinition = JobDefinition<StandardSchema<any, any>, unknown>;

/** Default queue name. */
export const DEFAULT_QUEUE = 'default';
/**
 * Defines a job. The schema types both `enqueue` (its input) and the handler (its output):
 *
 * ```ts
 * const sendEmail = defineJob({
 *   name: 'email.send',
 *   schema: z.object({ to: z.string().email() }),
 *   handler: async ({ to }, ctx) => { … },
 * });
 * ```
 */
export function defineJob<S extends StandardSchema, Result = unknown>(options: JobOptions<S, Result>): JobDefinition<S, Result>;
/**
 * Defines a job without a schema: the payload is any JSON value, typed `Payload` (default
 * `unknown`), e.g. `defineJob<{ userId: number }>({ name: 'sync', handler: async ({ userId }) => … })`.
 */
export function defineJob<Payload = unknown, Result = unknown>(options: SchemalessJobOptions<Payload, Result>): JobDefinition<StandardSchema<Payload, Payload>, Result>;
export function defineJob(options: JobOptions<StandardSchema, unknown> | SchemalessJobOptions<unknown, unknown>): AnyJobDefinition {
  assertValidName('job name', options?.name);
  const queue = options.queue ?? DEFAULT_QUEUE;
  assertValidName('queue name', queue);
  const schema = options.schema ?? anyPayload();
  if (typeof schema !== 'object' || schema === null || !('~standard' in schema)) {
    throw new ValidationError('INVALID_OPTION', `job "${options.name}": schema must be a zod schema or another Standard Schema (or left out: any JSON payload)`);
  }
  if (typeof options.handler !== 'function') {
    throw new ValidationError('INVALID_OPTION', `job "${options.name}": handler must be a function`);
  }
  assertValidRetryPolicy(options.name, options.retry);
  if (options.timeoutMs !== undefined) assertValidMs(options.timeoutMs, `job "${options.name}": timeoutMs`, true);
  const priority = parsePriority(options.priority ?? 0, `job "${options.name}"`);
  const perKey = checkPerKeyOptions(options.name, options.concurrencyKey, options.perKey);
  const retention = parseRetention(`job "${options.name}"`, options.keep, options.keepResult);
  const rateLimit = checkRateLimitOption(options.name, options.rateLimit);
  return Object.freeze({
    name: options.name,
    queue,
    schema,
    retry: options.retry,
    timeoutMs: options.timeoutMs,
    priority,
    description: options.description,
    perKey,
    retention,
    rateLimit,
    handler: options.handler,
  });
}
