/**
 * The Store interface: the only door between Nightshift's core and persistence.
 *
 * Rules every implementation follows (the conformance suite in `src/store/conformance/` checks them):
 * - Methods are named noun-first and take one params object. Domain types only: no SQL, no driver
 *   handles (except the opaque `tx` a caller hands in for transactional enqueue).
 * - Ids are decimal strings (SQLite integer rowids and PostgreSQL bigints both fit).
 * - Payloads, results and inputs cross this boundary as JSON *text*. The core serializes and
 *   validates before writing and parses after reading, so a corrupt row never crashes a store call.
 * - Time: a store has one clock. By default it is the database's own time (`now()` on PostgreSQL,
 *   the host clock on SQLite); tests inject a `clock` at construction to control it. Every
 *   "is it due yet" decision is made with that clock, never with the caller's.
 * - Finishing writes (`jobFinishMany`) and heartbeats are fenced: they apply only while the job
 *   is still `running` under the lease token given; anything else is reported back, not applied.
 */
import type { AlertStore } from './alert-types.js';

/** Where a job is in its life cycle. See the README's "Job life cycle" section. */
export type JobState =
  | 'scheduled' // run_at in the future
  | 'available' // ready to be claimed
  | 'running' // claimed under a lease
  | 'retryable' // failed an attempt, waits for run_at to be retried
  | 'completed'
  | 'dead' // no attempts left, unrecoverable error, or corrupt row
  | 'cancelled'
  | 'waiting'; // dependencies not done yet (see JobInsert.dependsOn)

export const JOB_STATES: readonly JobState[] = [
  'scheduled',
  'available',
  'running',
  'retryable',
  'completed',
  'dead',
  'cancelled',
  'waiting',
];

/** States a job never leaves on its own. */
export const FINAL_STATES: readonly JobState[] = ['completed', 'dead', 'cancelled'];

/** States in which a job with a de-duplication key blocks another enqueue with the same key. */
export const KEY_BLOCKING_STATES: readonly JobState[] = ['scheduled', 'available', 'running', 'retryable', 'waiting'];

/** An error as recorded on an attempt and on the job. */
export interface ErrorRecord {
  /** Error class name, e.g. `TypeError`, `JobTimeoutError`. */
  name: string;
  message: string;
  stack: string | null;
  /** Stable machine-readable kind: `error`, `timeout`, `unrecoverable`, `lease_expired`, `corrupt`, `released`, … */
  kind: string;
}

/** A job to insert. Everything has been validated and defaulted by the core. */
export interface JobInsert {
  name: string;
  queue: string;
  /** Serialized JSON payload. */
  payload: string;
  /** Higher runs first. 0 … 1 000 000. */
  priority: number;
  /** Total attempts allowed, ≥ 1. */
  maxAttempts: number;
  /** When it may first run. `null` means "now" by the store's clock. */
  runAt: Date | null;
  /** De-duplication key, unique among jobs of the same name in a key-blocking state. */
  key: string | null;
  /** Per-job timeout in ms, overriding the job/queue default; null to inherit. */
  timeoutMs: number | null;
  /** Set when a cron tick created the job. */
  scheduleId: string | null;
  /** Free-form metadata (serialized JSON object), e.g. `{"fireAt": "…"}` for cron jobs. */
  meta: string | null;
  /**
   * Per-key concurrency: jobs of the same queue with the same key run at most `concurrencyLimit`
   * at once across every worker, for claims that ask for it (`JobFetchParams.perKeyConcurrency`).
   * Both set or both absent/null; the limit is an integer ≥ 1.
   */
  concurrencyKey?: string | null;
  concurrencyLimit?: number | null;
  /**
   * Jobs this one waits for: ids of stored jobs (`dependsOn`) and positions of earlier items of
   * the same `jobInsertMany` (`dependsOnItems`, for a flow inserted in one call). The job is
   * `waiting` until every one of them completed. An unknown id or a position that is not an
   * earlier item refuses the whole insert (`UNKNOWN_DEPENDENCY`), storing nothing.
   */
  dependsOn?: readonly string[];
  dependsOnItems?: readonly number[];
  /**
   * When a dependency ends `dead` or `cancelled`: `cancel` the job (the default; its error names
   * the dependency, and jobs waiting on it follow the same way), `run` it as if the dependency
   * had completed, or `wait` (until the dependency is retried and completes).
   */
  onDependencyFailure?: DependencyFailurePolicy;
  /**
   * At most one job of this name per `key` in any `perMs` window: when one was created within
   * the last `perMs` ms (store clock, any state), the insert returns it (`inserted: false`).
   * Not with `key`, `debounce` or dependencies.
   */
  throttle?: { key: string; perMs: number };
  /**
   * Debounce by `key`: when a job of this name with this debounce key has not started yet, the
   * insert replaces its payload and moves its run time to `delayMs` from now (but never past
   * `maxDelayMs` after that job was first enqueued), returning it (`inserted: false`); else a new
   * job runs `delayMs` from now. `runAt` is ignored. Not with `key`, `throttle` or dependencies.
   */
  debounce?: { key: string; delayMs: number; maxDelayMs: number | null };
  /**
   * A rate limit per key: jobs of the queue with this key start at most `max` times in any
   * `perMs` ms (plus `rateWindowMarginMs(perMs)`), for claims that ask for it
   * (`JobFetchParams.perKeyRate`).
   */
  rateKey?: { key: string; max: number; perMs: number };
}

/**
 * Which jobs a prune applies to: only these names or queues, and never these (each absent: no
 * restriction; an empty `names`/`queues` list selects nothing). For retention per job and queue.
 */
export interface PruneScope {
  names?: string[];
  queues?: string[];
  exceptNames?: string[];
  exceptQueues?: string[];
}

/** What a waiting job does when a dependency ends dead or cancelled (see `JobInsert`). */
export type DependencyFailurePolicy = 'cancel' | 'run' | 'wait';
export const DEPENDENCY_FAILURE_POLICIES: readonly DependencyFailurePolicy[] = ['cancel', 'run', 'wait'];

/** What `Store.jobSettleStranded` changed. */
export interface StrandedSettleResult {
  /** Jobs that left `waiting`: now available, or scheduled when their runAt is later. */
  released: string[];
  /** Jobs cancelled: stranded ones, and the jobs waiting on those in turn. */
  cancelled: string[];
  /** Queues that got a job due now (a worker of theirs should claim again). */
  queues: string[];
}

/** The lease a worker holds on a running job. */
export interface Lease {
  owner: string;
  token: string;
  expiresAt: Date;
}

/** A job as stored. */
export interface JobRecord {
  id: string;
  name: string;
  queue: string;
  /** Serialized JSON payload, exactly as stored (may be corrupt if written by hand). */
  payload: string;
  state: JobState;
  priority: number;
  /** Attempts started so far (the running attempt included). */
  attempt: number;
  maxAttempts: number;
  runAt: Date;
  createdAt: Date;
  /** When the current or last attempt started. */
  attemptedAt: Date | null;
  /** When the job reached a final state. */
  finishedAt: Date | null;
  key: string | null;
  timeoutMs: number | null;
  lease: Lease | null;
  lastError: ErrorRecord | null;
  /** Serialized JSON result of the completed attempt. */
  result: string | null;
  /** Serialized JSON progress reported by the running handler. */
  progress: string | null;
  scheduleId: string | null;
  meta: string | null;
  /**
   * Its per-key concurrency key and limit (see `JobInsert.concurrencyKey`), or null. A record
   * from a claim that does not apply per-key limits may leave them null (SQLite reads fewer
   * columns on that hot path); `jobGet` and `jobList` always give them.
   */
  concurrencyKey: string | null;
  concurrencyLimit: number | null;
}

/** How an attempt ended. `running` is the attempt in progress (derived from the job row). */
export type AttemptOutcome =
  | 'running'
  | 'completed'
  | 'failed' // will be retried
  | 'dead' // failed with no retry left
  | 'snoozed'
  | 'cancelled'
  | 'released' // given back on shutdown; does not count as an attempt
  | 'lost'; // lease expired and the rescuer took the job back

/** One execution of a job: the execution history that CLI, API and dashboard show. */
export interface AttemptRecord {
  jobId: string;
  /** 1-based attempt number. */
  attempt: number;
  workerId: string;
  startedAt: Date;
  finishedAt: Date | null;
  /** finishedAt − startedAt, ms; null while running. */
  durationMs: number | null;
  outcome: AttemptOutcome;
  error: ErrorRecord | null;
  /** Serialized JSON result. */
  result: string | null;
}

/**
 * How a running job's attempt finished, as handed to `jobFinishMany`. The core hands in only
 * storable values (text without NUL or unpaired surrogates, error texts cut to their maxima,
 * delays that are whole numbers of ms in 0 … 100 years: see `job/input-bounds.ts`). Delays are
 * relative: the store adds them to its own clock, so a worker whose clock is off cannot move a
 * retry or a snooze (the rule delayed enqueues and cron ticks follow too).
 */
export type JobFinish =
  | { outcome: 'completed'; result: string | null }
  /** Failed; retried `retryDelayMs` after the store's now (state `retryable`). */
  | { outcome: 'failed'; error: ErrorRecord; retryDelayMs: number }
  /** Failed for good (attempts exhausted, unrecoverable, corrupt row): state `dead`. */
  | { outcome: 'dead'; error: ErrorRecord }
  /** Run again `delayMs` after the store's now without using an attempt: state `scheduled`, attempt count given back. */
  | { outcome: 'snoozed'; delayMs: number }
  /** The handler cancelled its own job: state `cancelled`. */
  | { outcome: 'cancelled'; reason: string }
  /**
   * Given back unstarted (shutdown, or a claim that came too late to start): state `available`,
   * attempt count given back. `rateRefund`: the job never started, so the rate-limit counts its
   * claim took come back too — the queue's (`queue`) and its rate key's (`key`, when it has one):
   * the store writes a claim of −1 dated at the attempt's start (the claim), which leaves the
   * window no later than the claim it cancels.
   */
  | { outcome: 'released'; rateRefund?: { queue: boolean; key: boolean } };

export interface JobFinishItem {
  id: string;
  /** The lease token the worker claimed the job with: the fence. */
  token: string;
  finish: JobFinish;
  /**
   * The handler started this many ms after the claim (a job claimed ahead waited for a slot):
   * the store moves the attempt's start (`attemptedAt`, the attempt row's `startedAt`) that much
   * later, so an attempt's start is when its handler started. Whole ms, 0 … 100 years; absent: 0.
   */
  startDelayMs?: number;
}

export interface JobFinishResult {
  /** Ids whose write applied. */
  applied: string[];
  /** Ids whose write was refused because the job was no longer running under that token. */
  rejected: string[];
  /**
   * Jobs that waited on one this write ended `dead` or `cancelled` and were cancelled with it
   * (their `onDependencyFailure` says so), with the jobs waiting on those in turn; in no
   * particular order. Absent when there are none (nearly always).
   */
  cancelledDependents?: string[];
}

/** What `Store.jobFetch` claims: see there. */
export interface JobFetchParams {
  queue: string;
  /** Most jobs to claim; 0 claims nothing. */
  limit: number;
  /** Who claims: the lease owner (a worker id). */
  owner: string;
  /** How long the lease lasts without a heartbeat, ms. */
  leaseMs: number;
  /** Claim only these jobs, due or not, paused queue or not (see `Store.jobFetch`). */
  ids?: readonly string[];
  /**
   * A limit across every worker on the store: claim at most this many minus the jobs of `queue`
   * running now (whoever runs them), counted inside the claim and serialized with every other
   * limited claim of the queue, so concurrent claims never take the queue above it. An integer
   * ≥ 1; not applied to a claim by `ids`.
   */
  globalConcurrency?: number;
  /**
   * Hold jobs with a `concurrencyKey` to their `concurrencyLimit`: a job is claimed only while
   * fewer jobs of its queue with its key are running (whoever runs them) than its limit, and one
   * claim takes no more of a key than that leaves room for. Keys are served in claim order among
   * the jobs each may still start, so a key with thousands waiting does not hold back the others.
   * Counted inside the claim like `globalConcurrency`; not applied to a claim by `ids`.
   */
  perKeyConcurrency?: boolean;
  /**
   * A rate limit across every worker: claim only while fewer than `max` jobs of `queue` were
   * claimed under this limit in the last `perMs` ms (plus `rateWindowMarginMs(perMs)`, so that jobs
   * claimed together and started a moment later still fall within one window), counted inside
   * the claim and serialized like `globalConcurrency`. Not applied to a claim by `ids`.
   */
  rateLimit?: { max: number; perMs: number };
  /**
   * Hold jobs with a `rateKey` to their key's limit: a claim takes a keyed job only while fewer
   * than its `max` jobs of its queue and key were claimed in its window, ranking the due jobs of
   * each key in claim order like `perKeyConcurrency` (which it combines with). Not by `ids`.
   */
  perKeyRate?: boolean;
  /**
   * Called by the store at once before it takes the claim's time for its rate-limit counts (a
   * limited claim: after any lock it waits for, before the clock it records is read), so never
   * after that time. The worker measures from there how late a claimed job would start.
   */
  onClaimTime?: () => void;
}

/**
 * How much longer than `perMs` a rate limit's window is, ms (see `JobFetchParams.rateLimit`): 1 %
 * of `perMs`, at least 10 ms. A job claimed under a limit starts when the claim's answer reaches
 * its worker; one whose answer took longer than this margin is given back unstarted (the claim's
 * count stays in the window), so a margin that grows with the window keeps that rare for the
 * long windows of small limits (3 a minute), where one lost start costs most.
 */
export function rateWindowMarginMs(perMs: number): number {
  return Math.max(10, Math.ceil(perMs / 100));
}

/** `rateWindowMarginMs` in SQL over an integer expression of `perMs`; `max` is the dialect's two-argument maximum (SQLite MAX, PostgreSQL greatest). */
export function rateWindowMarginSql(perMs: string, max: 'MAX' | 'greatest'): string {
  return `${max}(10, ((${perMs}) + 99) / 100)`;
}

/** The states `Store.jobRetry` makes available again: ended, waiting for a retry, or scheduled. */
export const RETRIABLE_STATES: readonly JobState[] = ['completed', 'dead', 'cancelled', 'retryable', 'scheduled'];

/** What `Store.jobRescueExpired` took back. */
export interface RescueResult {
  /** Ids of the jobs that became `retryable` (due now). */
  retried: string[];
  /** Ids of the jobs that became `dead` (no attempts left). */
  dead: string[];
  /** Every rescued job as the rescue left it (state, lastError, attempt and attemptedAt of the lost attempt). */
  jobs: JobRecord[];
  /** Jobs cancelled because a job they waited on was rescued to `dead` (as `JobFinishResult.cancelledDependents`). */
  cancelledDependents: string[];
}

export interface JobListFilter {
  states?: JobState[];
  queues?: string[];
  names?: string[];
  /** Case-insensitive substring of the job name. */
  nameContains?: string;
  /**
   * Text search: a job matches when its name contains `search`, or its de-duplication key does
   * (both case-insensitive substrings, `%` and `_` taken literally), or when `search` is a job id
   * (`isJobId`, store/job-ids.ts) equal to the job's id. Case folding is the database's: both stores
   * fold ASCII letters; PostgreSQL folds other letters too. Empty: no filter. Like the other fields,
   * it is applied while walking the jobs newest first, so a page costs at most a scan down to the
   * `limit`-th match; no index serves substrings, and no count of all matches is taken.
   */
  search?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Jobs created by this schedule (exact id). */
  scheduleId?: string;
  /**
   * Jobs whose last error has one of these kinds (`ErrorRecord.kind`: `error`, `timeout`,
   * `unrecoverable`, `lease_expired`, `dependency_failed`, …); a job without an error never
   * matches. An empty list matches nothing.
   */
  errorKinds?: string[];
}

export interface JobListParams {
  filter?: JobListFilter;
  /** Page size; default 50, max 1000. */
  limit?: number;
  /** Opaque cursor returned by the previous page. Newest jobs come first. */
  cursor?: string | null;
  /**
   * A page with a filter looks at this many ids below its start at most (default 100,000, see
   * store/job-list-window.ts), so no page walks the whole table. It may then hold fewer jobs than
   * `limit`, even none, with a `nextCursor` to go on from.
   */
  scanIds?: number;
}

export interface JobListPage {
  jobs: JobRecord[];
  /** Cursor for the next page, null when this is the last (a short or empty page may have one). */
  nextCursor: string | null;
}

export interface QueueStats {
  queue: string;
  counts: Record<JobState, number>;
}

export interface JobStats {
  queues: QueueStats[];
  totals: Record<JobState, number>;
}

/** What an enqueue did: inserted a new job, or found an existing one with the same key. */
export interface JobInsertResult {
  job: JobRecord;
  inserted: boolean;
}

// ---------------------------------------------------------------------------------------------
// Schedules

/** Where a schedule came from: a YAML file (reconciled on start), code, or the API. */
export type ScheduleSource = 'file' | 'code' | 'api';

/** What to do when a tick comes while the previous run of the schedule is not finished. */
export type OverlapPolicy = 'allow' | 'skip' | 'queue';

export interface ScheduleInput {
  id: string;
  jobName: string;
  /** Cron expression, validated by the core. */
  cron: string;
  /** IANA time zone, e.g. `America/New_York`. */
  timezone: string;
  enabled: boolean;
  description: string | null;
  /** Serialized JSON job input. */
  input: string;
  /** Missed ticks to run after downtime; 0 skips them. */
  catchUp: number;
  overlap: OverlapPolicy;
  source: ScheduleSource;
  /** Queue/priority/maxAttempts overrides for the jobs it creates (serialized JSON object), or null. */
  jobOptions: string | null;
}

export interface ScheduleRecord extends ScheduleInput {
  createdAt: Date;
  updatedAt: Date;
  /** The fire time the scheduler will claim next; null when paused or it never fires again. */
  nextRunAt: Date | null;
  /** The last fire time that was claimed. */
  lastRunAt: Date | null;
  /** Id of the job created by the last claimed tick. */
  lastJobId: string | null;
}

export interface ScheduleListFilter {
  enabled?: boolean;
  idContains?: string;
  cron?: string;
  source?: ScheduleSource;
  createdAfter?: Date;
  createdBefore?: Date;
}

/** One claimed cron tick: the unique (scheduleId, fireAt) row and the job it created (if any). */
export interface ScheduleTick {
  scheduleId: string;
  fireAt: Date;
  claimedAt: Date;
  /** Null when the tick was claimed but skipped (overlap policy `skip`). */
  jobId: string | null;
  /** `enqueued`, `skipped_overlap`, `manual` … */
  status: string;
}

// ---------------------------------------------------------------------------------------------
// The interface

/** An opaque, store-specific transaction handle (a `pg.PoolClient` inside BEGIN for PostgreSQL). */
export type StoreTransaction = unknown;

export interface Store extends AlertStore {
  /** `sqlite` or `postgres`; for logs and diagnostics only — the core never branches on it. */
  readonly kind: string;

  /** Creates or upgrades tables. Idempotent and safe when several processes call it at once. */
  migrate(): Promise<void>;
  /** Releases connections and listeners. Idempotent. */
  close(): Promise<void>;
  /** The store's current time (see "Time" above). */
  timeNow(): Promise<Date>;

  /**
   * Inserts jobs in one transaction (one statement per batch where the database allows). A job
   * whose `key` matches an existing job of the same name in a key-blocking state is not inserted;
   * the existing job is returned with `inserted: false`. Results are in input order.
   * `tx`, when given, makes the insert part of the caller's transaction.
   *
   * `flow: true` says the jobs are one flow whose root is the last job (the jobs before it are
   * what it waits for): when the root's key is held by a job of another insert, nothing of the
   * flow is stored and the result is that job alone (`[{ job, inserted: false }]`), decided
   * inside the insert's transaction, so that two inserts of one keyed flow racing each other
   * store one flow between them.
   */
  jobInsertMany(params: { jobs: JobInsert[]; tx?: StoreTransaction; flow?: boolean }): Promise<JobInsertResult[]>;

  /**
   * Claims up to `limit` due jobs of `queue` (state available/scheduled/retryable, run_at ≤ now,
   * queue not paused), highest priority first, then oldest run_at, then lowest id. Each claimed job
   * becomes `running`, its attempt count goes up by one, and it gets a fresh lease token owned by
   * `owner` expiring after `leaseMs`. Two concurrent calls never claim the same job.
   *
   * `ids` restricts the claim to those jobs (still of `queue`, still in a claimable state, at most
   * `limit`), and is a request to run them now: their run_at and a pause of their queue are not
   * checked, and a job claimed before its run_at gets the claim's time as its run_at.
   * `nightshift run` uses it to claim the one job it enqueued (held back by a future run_at so
   * that no worker claims it first) on the job's own queue. Ids that do not exist, are
   * of another queue, running or finished are skipped. An empty list claims nothing. Such a claim
   * is as atomic as any other: a job is claimed once, by this call or by a concurrent one.
   */
  jobFetch(params: JobFetchParams): Promise<JobRecord[]>;

  /** Records how attempts ended (fenced by token) and appends them to the attempt history. */
  jobFinishMany(params: { items: JobFinishItem[] }): Promise<JobFinishResult>;

  /**
   * Extends the leases of running jobs by `leaseMs` from now (fenced by token), optionally storing
   * progress. Returns the ids still held; a missing id means the lease is lost.
   */
  jobHeartbeat(params: { items: { id: string; token: string; progress?: string | null }[]; leaseMs: number }): Promise<{ held: string[] }>;

  /**
   * Takes back up to `limit` running jobs whose lease expired by the store's clock (their worker
   * crashed, stalled or lost the database). What to write is the caller's: `error` is stored,
   * exactly as given, as the job's lastError and on its attempt, recorded as `lost` (the core's
   * rescuer hands in one record for every store). The store applies the one rule the caller cannot
   * without reading each row: a job with attempts left (attempt < maxAttempts) becomes `retryable`,
   * due now; one without becomes `dead`, finished now. Fenced like a finish: a job that completed
   * or heartbeated meanwhile is left alone. Returns the rescued jobs' ids by what became of them,
   * and the rescued jobs as the rescue left them (the core reports each lost attempt as a
   * failure: events, metrics, the feed).
   */
  jobRescueExpired(params: { limit: number; error: ErrorRecord }): Promise<RescueResult>;

  jobGet(params: { id: string }): Promise<JobRecord | null>;
  /** Every attempt of a job, oldest first, the running one included. */
  jobAttempts(params: { id: string }): Promise<AttemptRecord[]>;
  jobList(params: JobListParams): Promise<JobListPage>;
  /**
   * Cancels a job in a non-final state (a running one loses its lease). Null if not found. The
   * jobs waiting on it are settled as its end decides (`onDependencyFailure`); the ids of those
   * this cancelled (and of the jobs waiting on them in turn) are appended to
   * `cancelledDependents` when the caller passes an array, so the core can tell of them.
   */
  jobCancel(params: { id: string; reason: string; cancelledDependents?: string[] }): Promise<JobRecord | null>;
  /**
   * Makes a job in a final or retryable/scheduled state (`RETRIABLE_STATES`) available now. Grants
   * one more attempt when the job had used them all. Leaves any other job as it is and returns it
   * unchanged: a running one (its worker has it), an available one (it would only lose its place
   * in line), a waiting one (it would run before the jobs it waits for). Null if not found.
   */
  jobRetry(params: { id: string }): Promise<JobRecord | null>;
  jobStats(): Promise<JobStats>;
  /**
   * Deletes the jobs among `ids` that are in a final state (completed, dead, cancelled), with
   * their attempts; others are left alone. Returns the ids deleted. Deleted ids are never handed
   * out again. Added with the HTTP API's delete; both stores implement it.
   */
  jobDelete(params: { ids: string[] }): Promise<{ deleted: string[] }>;
  /**
   * Deletes final-state jobs finished before `finishedBefore`, with their attempts, at most
   * `limit`; restricted by `scope` (per job or queue retention). Returns how many.
   */
  jobPrune(params: { finishedBefore: Date; states: JobState[]; limit: number; scope?: PruneScope }): Promise<{ deleted: number }>;
  /**
   * Clears the stored result of completed jobs finished before `finishedBefore` (a result's time
   * to live, `keepResult`), at most `limit`, restricted by `scope`. The job and its attempt
   * history stay. Returns how many results were cleared. Added with per-job retention.
   */
  jobResultPrune(params: { finishedBefore: Date; limit: number; scope?: PruneScope }): Promise<{ cleared: number }>;

  /** Stops/starts claims from a queue (enqueues are still accepted). */
  queuePause(params: { queue: string }): Promise<void>;
  /**
   * Holds `queue` for `forMs` from the store's now: no claim of the queue (except by ids) takes
   * a job until then. A later hold that ends sooner does not shorten it. For a handler's
   * `RateLimitedError` (the remote side said "slow down"). Added with rate limits. With `jobId`
   * of a job that has a per-key rate limit (`JobInsert.rateKey`), only its key is held instead:
   * the key's window is filled until the hold ends, for claims that apply per-key rate limits.
   */
  queueHold(params: { queue: string; forMs: number; jobId?: string }): Promise<void>;
  /**
   * How long, in ms from the store's now, until a claim of `queue` under `rateLimit` can take a
   * job: 0 when the window has room and no hold is on; else until the oldest claims leave the
   * window, or the hold ends, whichever is later. With `perKeyRate`, also at most until the
   * first per-key claim leaves its key's window (some key then has room again). Lets a worker
   * sleep instead of polling.
   */
  queueRateWait(params: { queue: string; rateLimit?: { max: number; perMs: number }; perKeyRate?: boolean }): Promise<number>;
  /**
   * For a job with a per-key rate limit (`JobInsert.rateKey`): its key, and how long (ms from the
   * store's now) until its key's window has room for it (0: now). Null for a job without one or
   * an unknown id. For "why isn't this job running?".
   */
  jobRateWait(params: { id: string }): Promise<{ key: string; waitMs: number } | null>;
  /**
   * A rate-limited job whose handler may have started later than half the window's margin after
   * its claim (the worker's `StartBy.moveAfter`: a late claim answer, a slow validation, a paused
   * process): its claim's rate-limit counts move to now — a claim of −1 dated at the attempt's
   * start (the claim) and one of +1 dated now, for the queue's limit (`queue`) and its rate key's (`key`, when it has one) — so
   * that the window counts the job from when it really started, and later claims leave a full
   * window between its start and theirs. Applied only while the job runs under `token`.
   */
  jobRateLateStart(params: { id: string; token: string; queue: boolean; key: boolean }): Promise<{ moved: boolean }>;
  queueResume(params: { queue: string }): Promise<void>;
  queuePausedList(): Promise<string[]>;
  /** The paused queues with when each was paused (pausing a paused queue keeps its first time), by queue. */
  queuePausedSince(): Promise<{ queue: string; pausedAt: Date }[]>;

  /**
   * Registers a wake-up listener called (with queue names) when jobs may have become claimable
   * at once: an insert of a due job, a finish that is `released` or `failed`/`snoozed` with a
   * delay of 0, `jobRetry`, a `jobRescueExpired` that retries, `queueResume`. Listeners hear
   * these writes from this store and from every other process on the same database, shortly
   * after they commit (PostgreSQL: LISTEN/NOTIFY; SQLite: a cheap check for other connections'
   * commits). Calls may be repeated or spurious (a woken worker may find nothing to claim).
   * Returns an unsubscribe function: once it is called, that listener is never called again, not
   * even in a wake-up already under way; calling it twice is harmless. Best effort: workers also poll.
   */
  jobAvailableListen(listener: (queues: string[]) => void): () => void;

  /**
   * Creates or replaces schedules by id, in one transaction. Keeps lastRunAt/lastJobId of existing
   * ones. A call naming one id twice is refused whole with a `DUPLICATE_SCHEDULE` ValidationError
   * naming the id, and stores nothing (`store/schedule-ids.ts`).
   */
  scheduleUpsertMany(params: { schedules: ScheduleInput[] }): Promise<ScheduleRecord[]>;
  scheduleGet(params: { id: string }): Promise<ScheduleRecord | null>;
  scheduleList(params: { filter?: ScheduleListFilter }): Promise<ScheduleRecord[]>;
  scheduleDelete(params: { ids: string[] }): Promise<{ deleted: number }>;
  /** Sets `nextRunAt` (computed by the core) and/or `enabled` without touching the rest. */
  scheduleUpdateNext(params: { id: string; nextRunAt: Date | null; enabled?: boolean }): Promise<void>;
  /**
   * Claims the tick `(scheduleId, fireAt)` exactly once across every process: inserts the unique
   * tick row and, when `job` is given, the job, in one transaction, then advances the schedule's
   * lastRunAt/lastJobId and nextRunAt — unless a later tick was already claimed: lastRunAt never
   * moves backwards (a claim older than the last one records its tick and job but leaves the
   * schedule's bookkeeping alone). Returns null when the tick was already claimed, or when its
   * fire time is at or before the newest tick `scheduleTickPrune` deleted for this schedule id:
   * its row may be gone, so the store refuses the whole range rather than fire a tick twice.
   */
  scheduleTickClaim(params: {
    scheduleId: string;
    fireAt: Date;
    nextRunAt: Date | null;
    job: JobInsert | null;
    status: string;
  }): Promise<{ tick: ScheduleTick; job: JobRecord | null } | null>;
  /** Ticks of a schedule, newest first. */
  scheduleTickList(params: { scheduleId: string; limit: number }): Promise<ScheduleTick[]>;
  /**
   * Deletes up to `limit` claimed ticks, oldest claim first, so tick history does not grow forever
   * (a seconds-level schedule claims 86 400 a day). A tick is deleted only when both its claim time
   * and its fire time are before `claimedBefore`, and never when it is the newest tick (by fire
   * time) of its schedule id, so history and `lastRunAt` always have their last tick. Returns how
   * many rows went; call again while `deleted === limit`.
   *
   * Exactly-once still holds after a delete: in the same transaction the store records, per
   * schedule id, the newest fire time it pruned, and `scheduleTickClaim` refuses any fire time at
   * or before it — also after the schedule is deleted and re-created under the same id. Callers
   * choose `claimedBefore` well beyond the scheduler's grace and catch-up windows (the pruner keeps
   * 7 days by default), because a fire time below that mark can never be claimed, even one that
   * never was. Added with tick retention; both stores implement it.
   */
  scheduleTickPrune(params: { claimedBefore: Date; limit: number }): Promise<{ deleted: number }>;
  /** Whether the schedule has a job in a non-final state (for the overlap policy). */
  scheduleHasActiveJob(params: { scheduleId: string }): Promise<boolean>;

  // -- The process registry: every process on the store says it is alive. Added with the HTTP API.

  /**
   * Records that process `id` is alive now (store clock), with its description; creates the row
   * on the first beat (keeping `firstSeenAt` after that). Also deletes rows not seen for
   * `forgetAfterMs`, so crashed processes do not pile up.
   */
  processHeartbeat(params: { id: string; info: string; forgetAfterMs: number }): Promise<void>;
  /** Processes whose last beat is within `seenWithinMs` of the store's now, by id. */
  processList(params: { seenWithinMs: number }): Promise<ProcessRecord[]>;
  /** Forgets a process (a clean stop). */
  processRemove(params: { id: string }): Promise<void>;

  // -- The event feed: job and schedule lifecycle events every process can read. Added with SSE.

  /**
   * Appends batches of events in one transaction, a row per batch, in order (see
   * store/event-batches.ts: the core builds a batch, `EventBatchBuilder` or `encodeEvents`, and
   * the store keeps its bytes as they are). Each event gets the next id — the feed's cursor,
   * increasing with commit order: a reader that has seen id N never later finds a new event with
   * an id ≤ N (how each store guarantees it is written next to its statement); ids are not
   * contiguous between batches — and `at` from the store's clock. Appends of one store instance
   * are stored in the order they were asked for, also when several are under way at once. An
   * empty list writes nothing; a list with anything that is not a batch (`isEventBatch`) writes
   * nothing and rejects with a `ValidationError`.
   */
  eventAppend(params: { batches: readonly EventBatch[] }): Promise<void>;
  /**
   * How many events this store would rather take per `eventAppend` while events arrive fast: the
   * event feed writer's default flush size (it also flushes every 100 ms, whatever it holds).
   * A description of what an append costs here, not a rule: SQLite 1000 (a local write, made
   * with the next job finish when one is coming; larger batches measured no cheaper),
   * PostgreSQL 5000 (a transaction of several round trips and a commit, whatever its size:
   * fewer, larger appends cost a busy worker much less).
   */
  readonly eventAppendSize: number;
  /**
   * Events with an id above `afterId` (`'0'`: from the oldest kept), oldest first, at most
   * `limit`, restricted by `filter` (each list, when given, must contain the event's type, queue
   * or job name; an event without a queue or name never matches a list of them).
   */
  eventList(params: { afterId: string; limit: number; filter?: EventListFilter }): Promise<EventRecord[]>;
  /**
   * Where the feed stands: the newest id (null when no event was ever appended or all were
   * pruned and none came since — then `'0'` is a safe cursor) and the highest id pruned so far
   * (null: none). A reader whose cursor is below `prunedThroughId` may have missed events.
   */
  eventBounds(): Promise<{ newestId: string | null; prunedThroughId: string | null }>;
  /**
   * Deletes whole appends older than `before` (store clock), oldest first, while their events add
   * up to at most `limit` (and always the oldest one, however large), and raises the
   * pruned-through mark to the highest id deleted. Returns how many events went; call again
   * while it is above 0.
   */
  eventPrune(params: { before: Date; limit: number }): Promise<{ deleted: number }>;

  // -- Activity statistics: per-minute counters each process adds to. Added with /api/stats.

  /**
   * Adds each delta to the row of the store's current minute (store clock, floored to the minute)
   * for its (queue, name), creating the row on first use, all in one transaction. Counters add up
   * across processes and calls; `durationBuckets`/`waitBuckets` must have `STATS_BUCKET_COUNT`
   * entries (the core decides what each bucket means). Callers send one delta per (queue, name)
   * per call, sorted by queue then name (so concurrent writers lock rows in the same order).
   */
  statsAdd(params: { deltas: StatsDelta[] }): Promise<void>;
  /**
   * The counters of the minutes from `since` on, summed per (bucket, queue, name). Buckets are
   * `bucketMs` long (a positive integer; a bucket longer than the window gives one bucket) and
   * start at `since`: a minute `m` counts in the bucket starting at
   * `since + floor((m - since) / bucketMs) * bucketMs`. Rows by bucket start, then queue, then
   * name; a bucket without activity has no row. `countersOnly` sums the counters alone (enqueued
   * … timeouts) and leaves the run-time and wait sums and histograms 0: a chart of counts reads a
   * tenth of the columns.
   */
  statsList(params: { since: Date; bucketMs: number; countersOnly?: boolean }): Promise<StatsRow[]>;
  /** Deletes the minutes before `before`. Returns how many rows went. */
  statsPrune(params: { before: Date }): Promise<{ deleted: number }>;
  /**
   * Folds the rows whose minute is in [`from`, `to`) into one row per (slot, queue, name), the slot
   * being the minute floored to `resolutionMs` (counters and buckets summed), in one transaction
   * that also keeps concurrent rollups apart. Idempotent: rows already at that resolution stay as
   * they are. Returns how many rows the range holds afterwards.
   */
  statsRollup(params: { from: Date; to: Date; resolutionMs: number }): Promise<{ rows: number }>;
  /**
   * Per queue with pending jobs (available, scheduled or retryable): the earliest `runAt` among
   * them, found through the claim index without reading the backlog (one seek per queue and
   * priority). The core turns it into lag: how long the oldest due job has waited.
   */
  jobQueueOldest(): Promise<{ queue: string; oldestRunAt: Date }[]>;
  /**
   * For each of `names`, its newest `limit` jobs that ended `completed` or `dead` (by finish
   * time, then id), newest first, with each one's last error. Served by an index over finished
   * jobs by name, so a name with no such job costs one index probe, not a walk of the table.
   * For `consecutiveFailures` alerts. Names with none are absent from the answer; the order
   * between names is the store's own.
   */
  jobNewestFinished(params: { names: string[]; limit: number }): Promise<FinishedOutcome[]>;
  /**
   * How many jobs of job `id`'s queue a claim would take before it right now: due (run_at ≤ the
   * store's now), pending, and earlier in claim order (higher priority; same priority and earlier
   * run_at; same both and lower id). Counts at most `limit` (two index range scans bounded by the
   * answer). Null when there is no such job. For "why isn't this job running?".
   */
  jobAhead(params: { id: string; limit: number }): Promise<number | null>;
  /**
   * The running jobs of `queue` with concurrency key `concurrencyKey` (see `JobInsert`), longest
   * running first, at most `limit`: who holds a key's slots. Added with per-key concurrency, for
   * "why isn't this job running?".
   */
  jobKeyHolders(params: { queue: string; concurrencyKey: string; limit: number }): Promise<JobRecord[]>;
  /**
   * The jobs `id` depends on (see `JobInsert.dependsOn`), lowest id first, with whether each edge
   * is settled (the dependency completed, or failed under the `run` policy). Empty for a job
   * without dependencies or an unknown id; a dependency pruned since is left out. For a parent
   * reading its children's results, and for "why is this job waiting?".
   */
  jobDependencies(params: { id: string }): Promise<{ job: JobRecord; settled: boolean }[]>;
  /**
   * Repairs waiting jobs that nothing would ever release (the rescuer calls it on each pass):
   * - a job whose unsettled dependency already ended (completed, dead or cancelled) — its finish
   *   committed but its dependents were not settled, e.g. the process died in between: the end
   *   is applied as the finish would have (release, cancel naming the dependency, or keep
   *   waiting under `wait` for a dead or cancelled one);
   * - a job whose unsettled dependency no longer exists (pruned or deleted while the job waited
   *   on it): under `run` it counts as settled; under `cancel` and `wait` the job is cancelled
   *   with `dependencyDeletedError()` (store/job-dependencies.ts decides both).
   * Cancellations reach the jobs waiting on the cancelled ones, as any cancellation does.
   * Looks at no more than `limit` ended dependencies and `limit` jobs with a deleted one per call
   * (what cascades from them is not counted). Reads only waiting jobs and their edges, never the whole
   * jobs table: with nothing stranded it costs an index walk over the waiting jobs. Idempotent,
   * and safe while finishes and other repairs run. Wakes listeners of queues that got a job due
   * now, like any release. Returns the jobs it moved out of `waiting` (released: now available
   * or scheduled; cancelled) and the queues that got a job due now. Added with flows.
   */
  jobSettleStranded(params: { limit: number }): Promise<StrandedSettleResult>;

  // -- API tokens: only their SHA-256 digests are stored. Added with the HTTP API's token commands.

  /**
   * Stores a new token (its digest, never the token). Returns null, storing nothing, when a token
   * that is not revoked already has this name.
   */
  tokenInsert(params: { token: ApiTokenInsert }): Promise<ApiTokenRecord | null>;
  /** Every token, revoked ones included, oldest first. */
  tokenList(): Promise<ApiTokenRecord[]>;
  /** Revokes the token named `name` (store clock). Returns it, or null when no unrevoked token has that name. */
  tokenRevoke(params: { name: string }): Promise<ApiTokenRecord | null>;
}

export interface ApiTokenInsert {
  /** Names the token in lists and logs: what it is for (`ci`, `python-bot`). */
  name: string;
  /** `read`, `enqueue` or `admin` (decided by the core). */
  scope: string;
  /** Lowercase hex SHA-256 digest of the token. */
  sha256: string;
}

export interface ApiTokenRecord extends ApiTokenInsert {
  createdAt: Date;
  revokedAt: Date | null;
}

/** One live process as the registry keeps it. `info` is the core's JSON description of the process. */
/** How many histogram buckets a stats row has (the core's bounds plus one for "above the last"). */
export const STATS_BUCKET_COUNT = 17;

/** Activity of one (queue, job name) counted by one process since its last flush. */
export interface StatsDelta {
  queue: string;
  name: string;
  enqueued: number;
  /** Attempts that completed. */
  completed: number;
  /** Attempts that failed and will be retried. */
  failed: number;
  /** Attempts that failed for good (the job is dead). */
  dead: number;
  cancelled: number;
  /** Failed attempts (retried or dead) that ended because they ran past their timeout. */
  timeouts: number;
  /** Run times of finished attempts, counted per histogram bucket (`STATS_BUCKET_COUNT` entries). */
  durationBuckets: number[];
  durationSumMs: number;
  /** Time from due to started, per started attempt, per bucket (`STATS_BUCKET_COUNT` entries). */
  waitBuckets: number[];
  waitSumMs: number;
}

/** One bucket of `statsList`: the sums of the minutes it covers. */
export interface StatsRow extends StatsDelta {
  start: Date;
}

export interface ProcessRecord {
  id: string;
  /** Serialized JSON (host, pid, version, roles, queues, running jobs …), written by the core. */
  info: string;
  /** When this id first heartbeat, by the store's clock. */
  firstSeenAt: Date;
  /** Its latest heartbeat, by the store's clock. */
  lastSeenAt: Date;
}

/** A batch of feed events ready to store: its event count (1 to 10 000) and its bytes (store/event-batches.ts, format 3). */
export interface EventBatch {
  readonly count: number;
  readonly bytes: Uint8Array;
}

/** One event to append to the feed. The core writes small `data`: ids, states, error kinds, never payloads. */
export interface EventInsert {
  /** `job:completed`, `schedule:fired`, `queue:paused` … (see the README's "Events"). */
  type: string;
  queue: string | null;
  jobName: string | null;
  jobId: string | null;
  /**
   * The event's details as `JSON.stringify` of an object writes them (the core's serializer):
   * stores may keep it as a JSON value and read it back with `JSON.stringify`, which gives the
   * same text. Text that is not `{…}` is kept as a string.
   */
  data: string;
}

/** An event as the feed keeps it. */
export interface EventRecord extends EventInsert {
  /** The cursor: decimal, increasing in commit order. */
  id: string;
  /** When it was appended, by the store's clock. */
  at: Date;
}

export interface EventListFilter {
  types?: string[];
  queues?: string[];
  names?: string[];
}

/** A store's clock: returns the current time in ms since the epoch. Injected by tests. */
export type Clock = () => number;

/** One finished job in `jobNewestFinished`'s answer. */
export interface FinishedOutcome {
  name: string;
  state: 'completed' | 'dead';
  lastError: ErrorRecord | null;
}
