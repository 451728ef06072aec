/**
 * The embedded SQLite store (better-sqlite3): the default store, zero setup, one file.
 *
 * Concurrency model. better-sqlite3 is synchronous, so within one process every store call runs
 * to completion before the next starts. Several processes may open the same file; the file is in
 * WAL mode (readers never block the writer), and every transaction that reads and then writes
 * starts with BEGIN IMMEDIATE. Why: a deferred transaction reads from a snapshot and only asks for
 * the write lock at its first write; if another process committed in between, SQLite refuses the
 * upgrade with SQLITE_BUSY_SNAPSHOT, which busy_timeout does not wait out. IMMEDIATE takes the
 * single write lock first (waiting up to busy_timeout), so what the transaction reads is the
 * latest committed state and stays so until it commits: a claim can never pick a job another
 * process has just claimed.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, ValidationError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import { createSilentLogger } from '../../observe/logger.js';
import type {
  AttemptRecord,
  Clock,
  ErrorRecord,
  FinishedOutcome,
  JobFetchParams,
  JobFinishItem,
  JobFinishResult,
  JobInsert,
  JobInsertResult,
  JobListPage,
  JobListParams,
  JobRecord,
  JobState,
  PruneScope,
  JobStats,
  RescueResult,
  StatsDelta,
  StatsRow,
  EventBatch,
  EventListFilter,
  EventRecord,
  ProcessRecord,
  ApiTokenInsert,
  ApiTokenRecord,
  ScheduleInput,
  ScheduleListFilter,
  ScheduleRecord,
  ScheduleTick,
  Store,
  StoreTransaction,
  StrandedSettleResult,
} from '../types.js';
import { prepareStatements, type PreparedStatements, type SqliteContext } from './sqlite-context.js';
import { ChangeWatch } from './sqlite-change-watch.js';
import { mapSqliteError, sqliteErrorCode } from './sqlite-errors.js';
import { cancelJob, deleteJobs, jobStats, listJobs, parseId, pruneJobs, pruneResults, retryJob } from './sqlite-job-admin.js';
import { appendEventBatches, eventBounds, listEvents, pruneEvents } from './sqlite-events.js';
import { finishJobs } from './sqlite-job-finish.js';
import { heartbeatJobs, rescueExpiredJobs } from './sqlite-job-leases.js';
import { JobInserter, queuesMadeAvailable } from './sqlite-job-insert.js';
import { InsertBatch } from './sqlite-insert-batch.js';
import { EventRider } from './sqlite-event-rider.js';
import { migrateSqlite } from './sqlite-migrations.js';
import { claimKeyedInTwo, claimRated, holdQueue, jobRateWait, rateLateStart, rateWait, type RatedClaim } from './sqlite-rate-limits.js';
import { groupCommitJob } from '../group-commit.js';
import { checkEventBatches } from '../event-batches.js';
import { insertToken, listTokens, revokeToken } from './sqlite-tokens.js';
import { addSilence, listAlerts, listSilences, openAlert, pruneAlerts, removeSilence, resolveAlert } from './sqlite-alerts.js';
import type { AlertEpisodeRecord, AlertListFilter, AlertOpenParams, AlertSilenceRecord } from '../alert-types.js';
import { addStats, jobsAhead, listStats, newestFinished, pruneStats, queueOldest, rollupStats } from './sqlite-stats.js';
import {
  attemptFromRow,
  CLAIMED_ID,
  CLAIMED_PRIORITY,
  CLAIMED_RUN_AT,
  completedAttemptFromJob,
  jobFromClaimValues,
  jobFromRow,
  runningAttemptFromJob,
  type AttemptRow,
  type ClaimedValues,
  type JobRow,
} from './sqlite-rows.js';
import {
  claimTick,
  deleteSchedules,
  getSchedule,
  listSchedules,
  listTicks,
  pruneTicks,
  scheduleHasActiveJob,
  updateScheduleNext,
  upsertSchedules,
} from './sqlite-schedules.js';

/** Options of `createSqliteStore`. */
export interface SqliteStoreOptions {
  /** Database file path; the file and its folder are created if missing. `:memory:` works for a single-connection store. */
  path: string;
  /** The store's clock in ms since the epoch; default `Date.now`. Every timestamp and due-check uses it. */
  clock?: Clock;
  /** How long a write waits for another process's lock before failing with a retryable StoreError; default 5000 ms. */
  busyTimeoutMs?: number;
  /** Where to log listener and wake-up failures; default a silent logger. */
  logger?: Logger;
  /**
   * While `jobAvailableListen` has listeners, how often to check whether another process
   * committed jobs, so listeners hear about them without waiting for the workers' poll; default
   * 20 ms (idle cost: well under 1 % of a core). Each check is one `PRAGMA data_version` call.
   * 0 turns cross-process wake-ups off.
   */
  changePollIntervalMs?: number;
}

/** WAL frames between automatic checkpoints (≈ 40 MiB with 4 KiB pages). */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;
/** Size the WAL file is truncated back to after a checkpoint, bytes. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** Creates a SQLite store on `options.path`. Call `migrate()` before using it. */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  return new SqliteStore(options);
}

/** A flag to sleep on synchronously (Atomics.wait): the store opens in a constructor. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Switches the connection to WAL. When several processes open a fresh file at once, SQLite can
 * answer SQLITE_BUSY to the switch at once, without its busy handler (waiting there could
 * deadlock), so the switch is tried again after short pauses until `busyTimeoutMs` has passed.
 */
function enableWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (let pauseMs = 2; ; pauseMs = Math.min(pauseMs * 2, 50)) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if (sqliteErrorCode(error)?.startsWith('SQLITE_BUSY') !== true || Date.now() + pauseMs > deadline) throw error;
      Atomics.wait(PAUSE, 0, 0, pauseMs);
    }
  }
}

class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly eventAppendSize = 1000;
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly listeners = new Set<(queues: string[]) => void>();
  private readonly changeWatch: ChangeWatch;
  private prepared: PreparedStatements | null = null;
  private closed = false;
  /** Inserters on callers' connections (transactional enqueue), one per connection. */
  private readonly foreignInserters = new WeakMap<Database.Database, JobInserter>();
  private readonly ctx: SqliteContext;
  private readonly claimTx: (params: ClaimParams) => ClaimedValues[];
  private readonly claimIdsTx: (params: ClaimParams & { ids: string }) => ClaimedValues[];
  private readonly claimLimitedTx: (params: ClaimParams & { global: number }) => ClaimedValues[];
  private readonly claimKeyedTx: (params: ClaimParams & { global: number | null; perKeyRate: boolean }) => ClaimedValues[];
  private readonly claimRatedTx: (params: ClaimParams, rate: { max: number; perMs: number }, limits: { global: number | null; perKey: boolean; perKeyRate: boolean }) => ClaimedValues[];
  private readonly insertTx: (jobs: readonly JobInsert[], now: number, flow?: boolean) => JobInsertResult[];
  /** One-job enqueues of one event-loop turn, committed together (sqlite-insert-batch.ts). */
  private readonly insertBatch: InsertBatch;

  constructor(options: SqliteStoreOptions) {
    if (typeof options.path !== 'string' || options.path === '') {
      throw new ValidationError('INVALID_OPTION', 'createSqliteStore: `path` must be a non-empty file path (e.g. "./nightshift.db")');
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new ValidationError('INVALID_OPTION', `createSqliteStore: \`busyTimeoutMs\` must be a non-negative integer of ms, got ${String(busyTimeoutMs)}`);
    }
    const changePollIntervalMs = options.changePollIntervalMs ?? 20;
    if (!Number.isInteger(changePollIntervalMs) || changePollIntervalMs < 0) {
      throw new ValidationError(
        'INVALID_OPTION',
        `createSqliteStore: \`changePollIntervalMs\` must be a non-negative integer of ms (0 turns it off), got ${String(changePollIntervalMs)}`,
      );
    }
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? createSilentLogger();
    try {
      // A fresh app's `./data/nightshift.db`: the folder is part of the path the user chose.
      if (options.path !== ':memory:' && !options.path.startsWith('file:')) mkdirSync(dirname(resolve(options.path)), { recursive: true });
      this.db = new Database(options.path, { timeout: busyTimeoutMs });
      // busy_timeout first: switching to WAL needs a lock another opening process may hold.
      this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      enableWal(this.db, busyTimeoutMs);
      // NORMAL in WAL mode: a commit survives a process crash; only a power loss may lose the last commits.
      this.db.pragma('synchronous = NORMAL');
      // A checkpoint fsyncs the WAL and the database file; at the default (every 1000 pages, a
      // few hundred small commits) those fsyncs cost more wall time than the commits themselves.
      // Checkpointing every ~40 MiB of WAL instead makes them rare, and since a page written by
      // many commits is copied once, cheaper in total. journal_size_limit truncates the WAL back
      // after a checkpoint if a long reader made it grow beyond that.
      this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    } catch (error) {
      throw mapSqliteError(error, `opening ${options.path}`);
    }
    const statements = (): PreparedStatements => (this.prepared ??= prepareStatements(this.db));
    const inserter = new JobInserter(this.db);
    this.ctx = {
      db: this.db,
      statements,
      inserter,
      now: () => this.clock(),
      notify: (queues) => this.notify(queues),
      eventRider: new EventRider<EventBatch>({ append: (batches) => this.run('eventAppend', () => appendEventBatches(this.ctx, batches)) }),
    };
    // The claim is one UPDATE … WHERE id IN (SELECT … ORDER BY … LIMIT n) RETURNING, run under
    // BEGIN IMMEDIATE (see the module comment): the write lock is held from before the SELECT
    // until commit, so no other connection can claim the same rows, and the snapshot is current.
    const claim = this.db.transaction((params: ClaimParams) => statements().jobClaim.all(params) as ClaimedValues[]);
    this.claimTx = (params) => claim.immediate(params);
    // Claims by id take the same lock: a queue claim on another connection waits for it, then sees the rows running.
    const claimLimited = this.db.transaction((params: ClaimParams & { global: number }) => statements().jobClaimLimited.all(params) as ClaimedValues[]);
    this.claimLimitedTx = (params) => claimLimited.immediate(params);
    const claimKeyed = this.db.transaction((params: ClaimParams & { global: number | null; perKeyRate: boolean }) => claimKeyedInTwo(statements(), params));
    this.claimKeyedTx = (params) => claimKeyed.immediate(params);
    const claimRatedInTx = this.db.transaction((params: ClaimParams, rate: { max: number; perMs: number }, limits: { global: number | null; perKey: boolean; perKeyRate: boolean }) =>
      claimRated(this.ctx, params, rate, limits),
    );
    this.claimRatedTx = (params, rate, limits) => claimRatedInTx.immediate(params, rate, limits);
    const claimIds = this.db.transaction((params: ClaimParams & { ids: string }) => statements().jobClaimIds.all(params) as ClaimedValues[]);
    this.claimIdsTx = (params) => claimIds.immediate(params);
    // IMMEDIATE: the de-duplication check reads before it writes.
    const insert = this.db.transaction((jobs: readonly JobInsert[], now: number, flow: boolean) => inserter.insert(jobs, now, flow));
    this.insertTx = (jobs, now, flow = false) => insert.immediate(jobs, now, flow);
    this.insertBatch = new InsertBatch({
      insertAll: (jobs) => this.run('jobInsertMany', () => this.insertTx(jobs, this.clock())),
      insertOne: (job) => this.run('jobInsertMany', () => inserter.insert([job], this.clock())[0]!),
      onInserted: (results) => this.notify(queuesMadeAvailable(results)),
      failsEveryJob: (error) => this.closed || (error instanceof StoreError && error.retryable),
    });
    this.changeWatch = new ChangeWatch({
      intervalMs: changePollIntervalMs,
      dataVersion: () => (statements().dataVersion.get() as { data_version: number }).data_version,
      pendingQueues: () => (statements().pendingQueues.all() as { queue: string }[]).map((row) => row.queue),
      onChange: (queues) => this.notify(queues),
      onError: (error) => this.logger.warn({ err: error }, 'could not check the database for jobs from other processes; workers will still poll'),
    });
  }

  async migrate(): Promise<void> {
    this.run('migrate', () => {
      migrateSqlite(this.db);
      this.prepared ??= prepareStatements(this.db);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Enqueues gathered for this turn's commit, and feed appends waiting for a finish, are
    // written before the connection goes.
    this.insertBatch.flush();
    this.ctx.eventRider.flush();
    this.closed = true;
    this.changeWatch.stop();
    this.listeners.clear();
    this.db.close();
  }

  async timeNow(): Promise<Date> {
    return new Date(this.clock());
  }

  async jobInsertMany(params: { jobs: JobInsert[]; tx?: StoreTransaction; flow?: boolean }): Promise<JobInsertResult[]> {
    const { jobs } = params;
    if (jobs.length === 0) return [];
    const only = groupCommitJob(jobs, params.tx);
    if (only !== null) {
      // One job that cannot conflict (nothing to read before the write): committed with the
      // other such enqueues of this event-loop turn, in one transaction (sqlite-insert-batch.ts).
      if (this.closed) throw mapSqliteError(new Error('the store is closed; create a new one'), 'jobInsertMany');
      return [await this.insertBatch.add(only)];
    }
    const results = this.run('jobInsertMany', () => {
      const now = this.clock();
      if (params.tx !== undefined && params.tx !== null) {
        // The caller's connection and open transaction: commit and rollback are theirs.
        return this.inserterFor(params.tx).insert(jobs, now, params.flow === true);
      }
      return this.insertTx(jobs, now, params.flow === true);
    });
    this.notify(queuesMadeAvailable(results));
    return results;
  }

  async jobFetch(params: JobFetchParams): Promise<JobRecord[]> {
    if (params.limit <= 0) return [];
    let ids: string | undefined;
    if (params.ids !== undefined) {
      // Ids that are not integers cannot name a job: leave them out rather than compare text to integers.
      const numeric = params.ids.map(parseId).filter((id): id is number => id !== null);
      if (numeric.length === 0) return [];
      ids = JSON.stringify(numeric);
    }
    params.onClaimTime?.();
    const now = this.clock();
    const claim: ClaimParams = {
      queue: params.queue,
      limit: Math.floor(params.limit),
      owner: params.owner,
      token: randomUUID(),
      now,
      expiresAt: now + params.leaseMs,
    };
    const global = params.globalConcurrency;
    const rows = this.run('jobFetch', () => {
      if (ids !== undefined) return this.claimIdsTx({ ...claim, ids });
      const perKeyRate = params.perKeyRate === true;
      if (params.rateLimit !== undefined) return this.claimRatedTx(claim, params.rateLimit, { global: global ?? null, perKey: params.perKeyConcurrency === true || perKeyRate, perKeyRate });
      if (params.perKeyConcurrency === true || perKeyRate) return this.claimKeyedTx({ ...claim, global: global ?? null, perKeyRate });
      if (global !== undefined) return this.claimLimitedTx({ ...claim, global });
      return this.claimTx(claim);
    });
    // RETURNING gives rows in no particular order; hand them out in claim order.
    rows.sort((a, b) => b[CLAIMED_PRIORITY] - a[CLAIMED_PRIORITY] || a[CLAIMED_RUN_AT] - b[CLAIMED_RUN_AT] || a[CLAIMED_ID] - b[CLAIMED_ID]);
    const jobs = new Array<JobRecord>(rows.length);
    for (let i = 0; i < rows.length; i++) jobs[i] = jobFromClaimValues(rows[i] as ClaimedValues, claim);
    return jobs;
  }

  async jobFinishMany(params: { items: JobFinishItem[] }): Promise<JobFinishResult> {
    if (params.items.length === 0) return { applied: [], rejected: [] };
    const { result, madeAvailable } = this.run('jobFinishMany', () => finishJobs(this.ctx, params.items));
    this.notify(madeAvailable);
    return result;
  }

  async jobHeartbeat(params: { items: { id: string; token: string; progress?: string | null }[]; leaseMs: number }): Promise<{ held: string[] }> {
    if (params.items.length === 0) return { held: [] };
    return { held: this.run('jobHeartbeat', () => heartbeatJobs(this.ctx, params.items, params.leaseMs)) };
  }

  async jobRescueExpired(params: { limit: number; error: ErrorRecord }): Promise<RescueResult> {
    const { retried, dead, jobs, cancelledDependents, queues } = this.run('jobRescueExpired', () => rescueExpiredJobs(this.ctx, params.limit, params.error));
    this.notify(queues);
    return { retried, dead, jobs, cancelledDependents };
  }

  async jobGet(params: { id: string }): Promise<JobRecord | null> {
    const id = parseId(params.id);
    if (id === null) return null;
    const row = this.run('jobGet', () => this.ctx.statements().jobGet.get({ id }) as JobRow | undefined);
    return row === undefined ? null : jobFromRow(row);
  }

  async jobAttempts(params: { id: string }): Promise<AttemptRecord[]> {
    const id = parseId(params.id);
    if (id === null) return [];
    return this.run('jobAttempts', () => {
      const statements = this.ctx.statements();
      // One read transaction so the finished attempts and the running one come from the same snapshot.
      return this.db.transaction(() => {
        const attempts = (statements.attemptList.all({ id }) as AttemptRow[]).map(attemptFromRow);
        const job = statements.jobGet.get({ id }) as JobRow | undefined;
        if (job === undefined) return attempts;
        // The current attempt lives in the job row while it runs, and stays there once it completed.
        const current = runningAttemptFromJob(job) ?? completedAttemptFromJob(job);
        // A process of an earlier version also wrote the completed attempt as a row: report it once.
        const recorded = current !== null && attempts.some((a) => a.attempt === current.attempt && a.outcome === current.outcome);
        if (current !== null && !recorded) attempts.push(current);
        return attempts;
      })();
    });
  }

  async jobList(params: JobListParams): Promise<JobListPage> {
    return this.run('jobList', () => listJobs(this.ctx, params));
  }

  async jobCancel(params: { id: string; reason: string; cancelledDependents?: string[] }): Promise<JobRecord | null> {
    const id = parseId(params.id);
    if (id === null) return null;
    return this.run('jobCancel', () => cancelJob(this.ctx, id, params.reason, params.cancelledDependents));
  }

  async jobRetry(params: { id: string }): Promise<JobRecord | null> {
    const id = parseId(params.id);
    if (id === null) return null;
    const job = this.run('jobRetry', () => retryJob(this.ctx, id));
    if (job !== null && job.state === 'available') this.notify([job.queue]);
    return job;
  }

  async jobStats(): Promise<JobStats> {
    return this.run('jobStats', () => jobStats(this.ctx));
  }

  async tokenInsert(params: { token: ApiTokenInsert }): Promise<ApiTokenRecord | null> {
    return this.run('tokenInsert', () => insertToken(this.db, params.token, this.clock()));
  }

  async tokenList(): Promise<ApiTokenRecord[]> {
    return this.run('tokenList', () => listTokens(this.db));
  }

  async tokenRevoke(params: { name: string }): Promise<ApiTokenRecord | null> {
    return this.run('tokenRevoke', () => revokeToken(this.db, params.name, this.clock()));
  }

  async processHeartbeat(params: { id: string; info: string; forgetAfterMs: number }): Promise<void> {
    const now = this.clock();
    this.run('processHeartbeat', () =>
      this.ctx.db
        .transaction(() => {
          const statements = this.ctx.statements();
          statements.processUpsert.run({ id: params.id, info: params.info, now });
          statements.processForget.run({ before: now - params.forgetAfterMs });
        })
        .immediate(),
    );
  }

  async processList(params: { seenWithinMs: number }): Promise<ProcessRecord[]> {
    const rows = this.run('processList', () => this.ctx.statements().processList.all({ since: this.clock() - params.seenWithinMs })) as {
      id: string;
      info: string;
      first_seen_at: number;
      last_seen_at: number;
    }[];
    return rows.map((row) => ({ id: row.id, info: row.info, firstSeenAt: new Date(row.first_seen_at), lastSeenAt: new Date(row.last_seen_at) }));
  }

  async processRemove(params: { id: string }): Promise<void> {
    this.run('processRemove', () => this.ctx.statements().processRemove.run({ id: params.id }));
  }

  async eventAppend(params: { batches: readonly EventBatch[] }): Promise<void> {
    // Possibly written with the next job finish (sqlite-event-rider.ts); resolves once committed either way.
    return this.run('eventAppend', () => {
      checkEventBatches(params.batches);
      return this.ctx.eventRider.add(params.batches);
    });
  }

  async eventList(params: { afterId: string; limit: number; filter?: EventListFilter }): Promise<EventRecord[]> {
    return this.run('eventList', () => listEvents(this.ctx, params));
  }

  async eventBounds(): Promise<{ newestId: string | null; prunedThroughId: string | null }> {
    return this.run('eventBounds', () => eventBounds(this.ctx));
  }

  async eventPrune(params: { before: Date; limit: number }): Promise<{ deleted: number }> {
    return this.run('eventPrune', () => pruneEvents(this.ctx, params));
  }

  async statsAdd(params: { deltas: StatsDelta[] }): Promise<void> {
    this.run('statsAdd', () => addStats(this.ctx, params.deltas));
  }

  async statsList(params: { since: Date; bucketMs: number; countersOnly?: boolean }): Promise<StatsRow[]> {
    return this.run('statsList', () => listStats(this.ctx, params));
  }

  async statsPrune(params: { before: Date }): Promise<{ deleted: number }> {
    return this.run('statsPrune', () => pruneStats(this.ctx, params.before));
  }

  async alertOpen(params: AlertOpenParams & { jobs: JobInsert[] }): Promise<{ episode: AlertEpisodeRecord; opened: boolean; jobs: JobRecord[] }> {
    return this.run('alertOpen', () => openAlert(this.ctx, params));
  }

  async alertResolve(params: { key: string; jobs: JobInsert[] }): Promise<{ episode: AlertEpisodeRecord | null; jobs: JobRecord[] }> {
    return this.run('alertResolve', () => resolveAlert(this.ctx, params));
  }

  async alertList(params: { filter?: AlertListFilter; limit: number }): Promise<AlertEpisodeRecord[]> {
    return this.run('alertList', () => listAlerts(this.ctx, params));
  }

  async alertSilenceAdd(params: { rule: string; subject: string | null; until: Date; reason: string | null }): Promise<AlertSilenceRecord> {
    return this.run('alertSilenceAdd', () => addSilence(this.ctx, params));
  }

  async alertSilenceList(params: { activeOnly: boolean }): Promise<AlertSilenceRecord[]> {
    return this.run('alertSilenceList', () => listSilences(this.ctx, params));
  }

  async alertSilenceRemove(params: { id: string }): Promise<boolean> {
    return this.run('alertSilenceRemove', () => removeSilence(this.ctx, params.id));
  }

  async alertPrune(params: { before: Date }): Promise<{ deleted: number }> {
    return this.run('alertPrune', () => pruneAlerts(this.ctx, params.before));
  }

  async statsRollup(params: { from: Date; to: Date; resolutionMs: number }): Promise<{ rows: number }> {
    return this.run('statsRollup', () => rollupStats(this.ctx, params));
  }

  async jobAhead(params: { id: string; limit: number }): Promise<number | null> {
    const id = parseId(params.id);
    if (id === null) return null;
    return this.run('jobAhead', () => jobsAhead(this.ctx, id, params.limit));
  }

  async jobDependencies(params: { id: string }): Promise<{ job: JobRecord; settled: boolean }[]> {
    const id = parseId(params.id);
    if (id === null) return [];
    return this.run('jobDependencies', () =>
      this.ctx.inserter.deps.dependencies(id).map((row) => ({ job: jobFromRow(row as unknown as JobRow), settled: row.dep_resolved === 1 })),
    );
  }

  async jobSettleStranded(params: { limit: number }): Promise<StrandedSettleResult> {
    const result = this.run('jobSettleStranded', () =>
      this.ctx.db.transaction(() => this.ctx.inserter.deps.settleStranded(params.limit, this.ctx.now())).immediate(),
    );
    this.notify(result.queues);
    return result;
  }

  async jobKeyHolders(params: { queue: string; concurrencyKey: string; limit: number }): Promise<JobRecord[]> {
    const limit = Math.max(0, Math.floor(params.limit));
    if (limit === 0) return [];
    return this.run('jobKeyHolders', () =>
      (this.ctx.statements().jobKeyHolders.all({ queue: params.queue, key: params.concurrencyKey, limit }) as JobRow[]).map(jobFromRow),
    );
  }

  async jobQueueOldest(): Promise<{ queue: string; oldestRunAt: Date }[]> {
    return this.run('jobQueueOldest', () => queueOldest(this.ctx));
  }

  async jobNewestFinished(params: { names: string[]; limit: number }): Promise<FinishedOutcome[]> {
    const limit = Math.max(0, Math.floor(params.limit));
    if (limit === 0 || params.names.length === 0) return [];
    return this.run('jobNewestFinished', () => newestFinished(this.ctx, params.names, limit));
  }

  async jobDelete(params: { ids: string[] }): Promise<{ deleted: string[] }> {
    const ids = params.ids.map(parseId).filter((id): id is number => id !== null);
    return { deleted: this.run('jobDelete', () => deleteJobs(this.ctx, ids)).map(String) };
  }

  async jobResultPrune(params: { finishedBefore: Date; limit: number; scope?: PruneScope }): Promise<{ cleared: number }> {
    return { cleared: this.run('jobResultPrune', () => pruneResults(this.ctx, params.finishedBefore, params.limit, params.scope)) };
  }

  async jobPrune(params: { finishedBefore: Date; states: JobState[]; limit: number; scope?: PruneScope }): Promise<{ deleted: number }> {
    return { deleted: this.run('jobPrune', () => pruneJobs(this.ctx, params.finishedBefore, params.states, params.limit, params.scope)) };
  }

  async queueHold(params: { queue: string; forMs: number; jobId?: string }): Promise<void> {
    this.run('queueHold', () => holdQueue(this.ctx, params.queue, params.forMs, params.jobId === undefined ? null : parseId(params.jobId)));
  }

  async queueRateWait(params: { queue: string; rateLimit?: { max: number; perMs: number }; perKeyRate?: boolean }): Promise<number> {
    return this.run('queueRateWait', () => rateWait(this.ctx, params.queue, params.rateLimit, params.perKeyRate === true));
  }

  async jobRateLateStart(params: { id: string; token: string; queue: boolean; key: boolean }): Promise<{ moved: boolean }> {
    const id = parseId(params.id);
    if (id === null) return { moved: false };
    return { moved: this.run('jobRateLateStart', () => rateLateStart(this.ctx, id, params.token, params.queue, params.key)) };
  }

  async jobRateWait(params: { id: string }): Promise<{ key: string; waitMs: number } | null> {
    const id = parseId(params.id);
    if (id === null) return null;
    return this.run('jobRateWait', () => jobRateWait(this.ctx, id));
  }

  async queuePause(params: { queue: string }): Promise<void> {
    this.run('queuePause', () => this.ctx.statements().queuePause.run({ queue: params.queue, now: this.clock() }));
  }

  async queueResume(params: { queue: string }): Promise<void> {
    const info = this.run('queueResume', () => this.ctx.statements().queueResume.run({ queue: params.queue }));
    if (info.changes > 0) this.notify([params.queue]);
  }

  async queuePausedSince(): Promise<{ queue: string; pausedAt: Date }[]> {
    const rows = this.run('queuePausedSince', () => this.ctx.statements().queuePausedSince.all() as { queue: string; paused_at: number }[]);
    return rows.map((row) => ({ queue: row.queue, pausedAt: new Date(row.paused_at) }));
  }

  async queuePausedList(): Promise<string[]> {
    return this.run('queuePausedList', () => (this.ctx.statements().queuePausedList.all() as { queue: string }[]).map((row) => row.queue));
  }

  jobAvailableListen(listener: (queues: string[]) => void): () => void {
    this.listeners.add(listener);
    if (!this.closed) this.changeWatch.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.changeWatch.stop();
    };
  }

  async scheduleUpsertMany(params: { schedules: ScheduleInput[] }): Promise<ScheduleRecord[]> {
    if (params.schedules.length === 0) return [];
    return this.run('scheduleUpsertMany', () => upsertSchedules(this.ctx, params.schedules));
  }

  async scheduleGet(params: { id: string }): Promise<ScheduleRecord | null> {
    return this.run('scheduleGet', () => getSchedule(this.ctx, params.id));
  }

  async scheduleList(params: { filter?: ScheduleListFilter }): Promise<ScheduleRecord[]> {
    return this.run('scheduleList', () => listSchedules(this.ctx, params.filter));
  }

  async scheduleDelete(params: { ids: string[] }): Promise<{ deleted: number }> {
    return this.run('scheduleDelete', () => ({ deleted: deleteSchedules(this.ctx, params.ids) }));
  }

  async scheduleUpdateNext(params: { id: string; nextRunAt: Date | null; enabled?: boolean }): Promise<void> {
    this.run('scheduleUpdateNext', () => updateScheduleNext(this.ctx, params.id, params.nextRunAt, params.enabled));
  }

  async scheduleTickClaim(params: {
    scheduleId: string;
    fireAt: Date;
    nextRunAt: Date | null;
    job: JobInsert | null;
    status: string;
  }): Promise<{ tick: ScheduleTick; job: JobRecord | null } | null> {
    return this.run('scheduleTickClaim', () => claimTick(this.ctx, params));
  }

  async scheduleTickList(params: { scheduleId: string; limit: number }): Promise<ScheduleTick[]> {
    return this.run('scheduleTickList', () => listTicks(this.ctx, params.scheduleId, params.limit));
  }

  async scheduleTickPrune(params: { claimedBefore: Date; limit: number }): Promise<{ deleted: number }> {
    return { deleted: this.run('scheduleTickPrune', () => pruneTicks(this.ctx, params.claimedBefore, params.limit)) };
  }

  async scheduleHasActiveJob(params: { scheduleId: string }): Promise<boolean> {
    return this.run('scheduleHasActiveJob', () => scheduleHasActiveJob(this.ctx, params.scheduleId));
  }

  /** Runs a synchronous database operation, mapping driver errors to StoreError. */
  private run<T>(operation: string, fn: () => T): T {
    if (this.closed) throw mapSqliteError(new Error('the store is closed; create a new one'), operation);
    try {
      return fn();
    } catch (error) {
      throw mapSqliteError(error, operation);
    }
  }

  private notify(queues: Iterable<string>): void {
    if (this.listeners.size === 0) return;
    const list = [...queues];
    if (list.length === 0) return;
    for (const listener of [...this.listeners]) {
      // Unsubscribed by a listener called before it in this round: never called again.
      if (!this.listeners.has(listener)) continue;
      try {
        listener(list);
      } catch (error) {
        this.logger.warn({ err: error }, 'a jobAvailable listener threw; ignoring it');
      }
    }
  }

  /**
   * The insert statements for a caller's transaction. On SQLite the transaction handle is the
   * caller's better-sqlite3 `Database` (same file, already migrated) with a transaction open.
   */
  private inserterFor(tx: StoreTransaction): JobInserter {
    if (!(tx instanceof Database) || !tx.open) {
      throw new ValidationError('INVALID_OPTION', 'jobInsertMany: `tx` must be an open better-sqlite3 Database on the same file, inside a transaction (db.transaction(...))');
    }
    if (!tx.inTransaction) {
      throw new ValidationError('INVALID_OPTION', 'jobInsertMany: `tx` has no open transaction; call enqueue from inside db.transaction(...)');
    }
    let inserter = this.foreignInserters.get(tx);
    if (inserter === undefined) {
      inserter = new JobInserter(tx);
      this.foreignInserters.set(tx, inserter);
    }
    return inserter;
  }
}

/** What a claim binds: the queue, how many, the owner, the batch token, now and the lease's end. */
type ClaimParams = RatedClaim;

