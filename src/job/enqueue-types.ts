/**
 * The enqueue functions — what `client.enqueue` / `enqueueMany` and a handler's `ctx.enqueue` /
 * `ctx.enqueueMany` are — with their options and results. Declared here, beside the job
 * definition that types them, so that job/ needs nothing from client/.
 */
import type { JobDefinition } from './define-job.js';
import type { Priority } from './input-bounds.js';
import type { Job } from './job-view.js';
import type { SchemaInput, StandardSchema } from './schema.js';
import type { StoreTransaction } from '../store/types.js';

/** Options of one enqueue. Everything defaults from the job definition. */
export interface EnqueueOptions {
  /** Run no earlier than this many ms from now (store time), 0 … `MAX_DELAY_MS` (100 years). Not with `runAt`. */
  delayMs?: number;
  /** Run no earlier than this instant (1970 … 9999). Not with `delayMs`. */
  runAt?: Date;
  /**
   * Higher runs first: an integer from −1 000 000 to 1 000 000 or `critical` (1000), `high` (100),
   * `normal` (0), `low` (−100); default the job's priority (itself default 0).
   */
  priority?: Priority;
  /** Queue to run on; default the job's queue. */
  queue?: string;
  /** Total attempts, ≥ 1; default the job's `retry.attempts` (3). */
  maxAttempts?: number;
  /** De-duplication key (1–256 characters): while a job of this name with this key is not finished, enqueue returns it instead of a new one. */
  key?: string;
  /** Per-attempt time limit in ms for this job only; default the job's, else the queue's. */
  timeoutMs?: number;
  /**
   * Its per-key concurrency key (1–256 characters, or a number), instead of the one the job's
   * `concurrencyKey` rule takes from the payload. Only for jobs defined with such a rule.
   */
  concurrencyKey?: string | number;
  /** Its per-key rate limit's key, instead of the one the job's `rateLimit.key` takes from the payload. Only for jobs with a per-key `rateLimit`. */
  rateKey?: string | number;
  /**
   * Ids of jobs this one waits for (at most 10 000): it stays `waiting` until every one of them
   * completed. An id that names no job refuses the enqueue (`UNKNOWN_DEPENDENCY`).
   */
  dependsOn?: readonly string[];
  /** When a dependency ends dead or cancelled: `cancel` this job (default), `run` it anyway, or `wait` for a retry. */
  onDependencyFailure?: 'cancel' | 'run' | 'wait';
  /**
   * At most one job of this name per `key` (1–256 characters) in any `perMs` ms: while one was
   * created within the window, enqueue returns it (`inserted: false`) instead of a new one.
   * Not with `key`, `debounce` or `dependsOn`.
   */
  throttle?: { key: string; perMs: number };
  /**
   * Debounce by `key`: while a job of this name with this key has not started, enqueue replaces
   * its payload and moves it to `delayMs` from now (`inserted: false`), but never past
   * `maxDelayMs` after its first enqueue (default: no cap); else a new job runs `delayMs` from
   * now. Not with `delayMs`/`runAt` (it sets the run time), `key`, `throttle` or `dependsOn`.
   */
  debounce?: { key: string; delayMs: number; maxDelayMs?: number };
  /** The caller's open transaction (a `pg.PoolClient` after BEGIN on PostgreSQL): the job exists only if it commits. */
  tx?: StoreTransaction;
}

/** Options of `enqueueMany`: shared by every item, plus a per-item de-duplication key. */
export interface EnqueueManyOptions<Payload = unknown> extends Omit<EnqueueOptions, 'key'> {
  /** De-duplication key of each item (see `EnqueueOptions.key`); return undefined for none. */
  keyOf?: (payload: Payload, index: number) => string | undefined;
}

/**
 * A flow: a job and the jobs it waits for (`children`, each a flow itself), inserted in one
 * transaction. Every job waits for its direct children; leaves start at once. A fan-in after a
 * fan-out is one call: `{ job: summary, data, children: users.map((u) => ({ job: perUser, data: u })) }`.
 */
export interface FlowNode {
  /** A job definition, or a registered job's name. */
  job: JobDefinition<StandardSchema, unknown> | string;
  data: unknown;
  /** Enqueue options for this job (not `tx`: give it to `flow` itself). */
  options?: Omit<EnqueueOptions, 'tx'>;
  children?: readonly FlowNode[];
}

/** A flow as inserted: each job with its children's results, in the order given. */
export interface FlowResult {
  job: Job;
  inserted: boolean;
  children: FlowResult[];
}

/** What an enqueue did: the job (new, or the existing one with the same key) and whether it is new. */
export interface EnqueueResult<Payload = unknown> {
  job: Job<Payload>;
  /** False when a job with the same key was already waiting or running (nothing was inserted). */
  inserted: boolean;
}

/** Enqueueing: typed by a job definition, or by a registered job's name. */
export interface JobEnqueuer {
  /** Enqueues one job; the payload is typed by the job's schema. Validates everything before writing. */
  enqueue<S extends StandardSchema, R>(job: JobDefinition<S, R>, payload: SchemaInput<S>, options?: EnqueueOptions): Promise<EnqueueResult<SchemaInput<S>>>;
  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<EnqueueResult>;
  /** Enqueues many jobs of one kind in one store transaction; one invalid item means nothing is written. */
  enqueueMany<S extends StandardSchema, R>(
    job: JobDefinition<S, R>,
    payloads: readonly SchemaInput<S>[],
    options?: EnqueueManyOptions<SchemaInput<S>>,
  ): Promise<EnqueueResult<SchemaInput<S>>[]>;
  enqueueMany(name: string, payloads: readonly unknown[], options?: EnqueueManyOptions): Promise<EnqueueResult[]>;
}
