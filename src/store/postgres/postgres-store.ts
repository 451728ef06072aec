import pg from 'pg';
import type { Logger } from 'pino';
import { ConfigError, StoreError } from '../../errors.js';
import { createSilentLogger } from '../../observe/logger.js';
import { isJobId } from '../job-ids.js';
import { checkEventBatches } from '../event-batches.js';
import type { Clock, JobInsert, JobInsertResult, Store } from '../types.js';
import { jobStatements } from './job-statements.js';
import { runMigrations } from './migrations.js';
import { NotificationListener } from './notification-listener.js';
import { toStoreError } from './pg-errors.js';
import { addSilence, alertStatements, listAlerts, listSilences, openAlert, pruneAlerts, removeSilence, resolveAlert, type PgAlertContext } from './postgres-alerts.js';
import { jobsAhead, newestFinished, queueOldest, statsAdd, statsRollup, statsList, statsPrune, statsStatements, type PgStatsContext } from './postgres-stats.js';
import { appendEvents, eventBounds, eventStatements, listEvents, pruneEvents, type PgEventContext } from './postgres-events.js';
import { insertToken, listTokens, revokeToken, tokenStatements, type PgTokenContext } from './postgres-tokens.js';
import { processHeartbeat, processList, processRemove, processStatements, type PgProcessContext } from './postgres-processes.js';
import {
  asTransaction,
  availableQueues,
  cancelJob,
  fetchJobs,
  finishJobs,
  getJob,
  heartbeatJobs,
  insertFlow,
  insertJobs,
  jobAttempts,
  jobStats,
  holdQueue,
  pruneResults,
  jobDependencies,
  jobRateWait,
  keyHolders,
  rateLateStart,
  rateWait,
  listJobs,
  notifyOthers,
  pruneJobs,
  deleteJobs,
  rescueExpired,
  retryJob,
  run,
  type PgJobContext,
} from './postgres-jobs.js';
import { settleStranded } from './postgres-stranded-dependents.js';
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
} from './postgres-schedules.js';
import { DEFAULT_SCHEMA, schemaNames } from './schema-name.js';
import { PgInsertBatch } from './postgres-insert-batch.js';
import { groupCommitJob } from '../group-commit.js';
import { tickStatements } from './tick-statements.js';

/** Options of `createPostgresStore`. */
export interface PostgresStoreOptions {
  /**
   * `postgres://user:pass@host:5432/db`. Ignored when `pool` is given. Without either, node-postgres
   * reads the PG* environment variables (PGHOST, PGUSER, …).
   */
  connectionString?: string;
  /**
   * An existing pool to use instead of creating one. The store never ends a pool it did not
   * create; `close()` only detaches from it. The store's own pool turns PostgreSQL's JIT off for
   * its sessions (`options: '-c jit=off'`, see `sessionOptions`); consider the same for yours.
   */
  pool?: pg.Pool;
  /** Schema holding Nightshift's tables (created by `migrate()`); default `nightshift`. */
  schema?: string;
  /**
   * Open a LISTEN connection for instant wake-ups; default true. Set false behind a
   * transaction-mode pooler (PgBouncer `pool_mode = transaction`), where LISTEN does not work;
   * workers then rely on polling (and wake-ups from their own process).
   */
  listen?: boolean;
  /** Connections in the pool the store creates; default 10. Ignored when `pool` is given. */
  poolSize?: number;
  /**
   * While listeners are registered but notifications cannot arrive (`listen: false`, or the LISTEN
   * connection is reconnecting), the store checks for due jobs this often and wakes the listeners
   * for their queues; default 1 000 ms. It also checks once each time LISTEN takes effect (at
   * first and after a reconnect), since notifications sent before that reached nobody.
   */
  pollIntervalMs?: number;
  /**
   * Longest wait to open a connection, or for a free one while all `poolSize` are busy, in ms;
   * default 10 000. The LISTEN connection uses it too (also when `pool` is given).
   */
  connectTimeoutMs?: number;
  /**
   * Longest wait for the answer to one statement, in ms; default 30 000; 0 waits forever. A
   * statement with no answer by then (a network that drops packets without closing the
   * connection, a hung server or pooler) fails with a retryable `StoreError` and its connection is
   * discarded, so a worker never waits forever on a dead socket: TCP keepalive does not notice a
   * peer that still acknowledges packets but never answers. Nightshift's own statements take
   * milliseconds; a wait for a lock (two processes migrating at once) counts too. Sets
   * node-postgres' `query_timeout`; ignored when `pool` is given (set it on your pool).
   */
  queryTimeoutMs?: number;
  /**
   * How long the server keeps a session of this store that sits inside a transaction waiting for
   * the client, in ms; default 60 000; 0 leaves the server's setting. A worker cut off in the
   * middle of a transaction (claim sent, COMMIT lost) would otherwise hold those job rows locked
   * until the server's own TCP keepalive gives up, which takes hours by default. Sets
   * `idle_in_transaction_session_timeout` on the store's connections; ignored when `pool` is given.
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * How often the LISTEN connection proves it is alive with a round trip (`SELECT 1`), in ms;
   * default 30 000; 0 never checks. Without an answer within `queryTimeoutMs` (30 000 ms when
   * that is 0) the connection is replaced: reconnect, LISTEN again, check once for due jobs. An
   * idle LISTEN connection reads nothing, so without this check a silent network failure would
   * leave workers without wake-ups, on polling alone, until TCP keepalive noticed, if ever.
   */
  listenCheckIntervalMs?: number;
  /** Test clock (ms since the epoch). Default: the database's `now()`. */
  clock?: Clock;
  /** pino logger; default silent. */
  logger?: Logger;
}

/** Default connections in the store's own pool. */
export const DEFAULT_POOL_SIZE = 10;
/** Default interval of the store's due-job check while notifications are unavailable, ms. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** Default longest wait for a connection, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default longest wait for the answer to one statement, ms. */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
/** Default `idle_in_transaction_session_timeout` of the store's sessions, ms. */
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
/** Default interval of the LISTEN connection's liveness check, ms. */
export const DEFAULT_LISTEN_CHECK_INTERVAL_MS = 30_000;

/**
 * The `options` startup parameter of the store's own connections: `jit = off`, then `PGOPTIONS`
 * (which node-postgres reads only when no `options` is given, so it is passed on here; a setting
 * there wins over ours). PostgreSQL's JIT compiles a statement whose estimated cost passes
 * `jit_above_cost`. The oldest-due-job read (`jobQueueOldest`: a skip scan whose recursive steps
 * the planner over-estimates) qualifies at any size, and with 20,000 jobs queued its compiling
 * took 35 ms for a statement that ran in under 1 ms; it is part of every alert pass, of
 * `GET /api/queues` and of the queue-lag metric. An alert pass over 20,000 jobs took 185 ms the
 * first time and 27–126 ms after with the JIT on, 58 ms and 7–20 ms with it off. Nightshift's
 * statements are short; none gains from it.
 */
export function sessionOptions(pgOptions: string | undefined): string {
  return pgOptions === undefined || pgOptions.trim() === '' ? '-c jit=off' : `-c jit=off ${pgOptions}`;
}

/** The settings of the pool the store creates (when no `pool` is given), its timeouts resolved. */
export function storePoolConfig(
  options: Pick<PostgresStoreOptions, 'connectionString' | 'poolSize'>,
  timeouts: { connectTimeoutMs: number; queryTimeoutMs: number; idleInTransactionTimeoutMs: number },
  pgOptions: string | undefined = process.env.PGOPTIONS,
): pg.PoolConfig {
  const { connectTimeoutMs, queryTimeoutMs, idleInTransactionTimeoutMs } = timeouts;
  return {
    ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    application_name: 'nightshift',
    // Fail a checkout instead of hanging forever when the server is gone.
    connectionTimeoutMillis: connectTimeoutMs,
    // Fail a statement whose answer never comes (see `queryTimeoutMs`); pg-errors.ts classifies
    // it as retryable, and the pool discards the connection (any failed query releases its
    // client with the error, which destroys it), so the next call gets a fresh one.
    ...(queryTimeoutMs > 0 ? { query_timeout: queryTimeoutMs } : {}),
    ...(idleInTransactionTimeoutMs > 0 ? { idle_in_transaction_session_timeout: idleInTransactionTimeoutMs } : {}),
    options: sessionOptions(pgOptions),
    // TCP keepalive, so a connection to a host that vanished without closing the socket (network
    // partition, VM frozen) errors out even while idle. It cannot see a peer whose kernel still
    // acknowledges (a hung server or middlebox): the query timeout and the LISTEN check cover that.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

function assertInteger(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new ConfigError(`postgres store: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

/**
 * Creates a PostgreSQL store: many workers on many machines, claims with `FOR UPDATE SKIP LOCKED`,
 * wake-ups over LISTEN/NOTIFY, and enqueue inside the caller's own transaction
 * (`jobInsertMany({ jobs, tx: client })`). Call `migrate()` before use.
 */
export function createPostgresStore(options: PostgresStoreOptions = {}): Store {
  const names = schemaNames(options.schema ?? DEFAULT_SCHEMA);
  assertInteger('poolSize', options.poolSize, 1);
  assertInteger('pollIntervalMs', options.pollIntervalMs, 1);
  assertInteger('connectTimeoutMs', options.connectTimeoutMs, 1);
  assertInteger('queryTimeoutMs', options.queryTimeoutMs, 0);
  assertInteger('idleInTransactionTimeoutMs', options.idleInTransactionTimeoutMs, 0);
  assertInteger('listenCheckIntervalMs', options.listenCheckIntervalMs, 0);
  const logger = (options.logger ?? createSilentLogger()).child({ store: 'postgres', schema: names.schema });
  const clock = options.clock;
  const listen = options.listen ?? true;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const idleInTransactionTimeoutMs = options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS;
  const listenCheckIntervalMs = options.listenCheckIntervalMs ?? DEFAULT_LISTEN_CHECK_INTERVAL_MS;

  const ownsPool = options.pool === undefined;
  const pool =
    options.pool ??
    new pg.Pool(storePoolConfig(options, { connectTimeoutMs, queryTimeoutMs, idleInTransactionTimeoutMs }));
  // An idle pooled connection that dies (server restart, pg_terminate_backend) emits 'error' on the
  // pool; unhandled, that would crash the process. The pool drops the client and opens a new one
  // on the next checkout, so logging is all there is to do.
  const onPoolError = (error: Error) => logger.warn({ err: error }, 'postgres store: idle connection lost; it will be replaced');
  pool.on('error', onPoolError);

  const listeners = new Set<(queues: string[]) => void>();
  const wake = (queues: string[]) => {
    for (const listener of [...listeners]) {
      // Unsubscribed by a listener called before it in this round: never called again.
      if (!listeners.has(listener)) continue;
      try {
        listener(queues);
      } catch (error) {
        logger.error({ err: error }, 'postgres store: jobAvailable listener threw');
      }
    }
  };
  const ctx: PgJobContext = {
    pool,
    names,
    sql: jobStatements(names),
    ticks: tickStatements(names),
    logger,
    now: () => (clock ? new Date(clock()) : null),
    wake,
  };

  let closed = false;
  /** Settles once the last event append asked for has (see `eventAppend`). */
  let eventAppendTail: Promise<void> = Promise.resolve();
  let notifications: NotificationListener | null = null;
  let pollTimer: NodeJS.Timeout | null = null;

  /** Wakes listeners for every queue with due jobs (a skip scan over the pending-jobs index). */
  const pollDueQueues = async (): Promise<void> => {
    if (closed || listeners.size === 0) return;
    try {
      const { rows } = await pool.query<{ queue: string }>(
        `WITH RECURSIVE queues AS (
           (SELECT queue FROM ${names.quoted}.jobs WHERE state IN ('available', 'scheduled', 'retryable') ORDER BY queue LIMIT 1)
           UNION ALL
           SELECT (SELECT j.queue FROM ${names.quoted}.jobs j
                   WHERE j.state IN ('available', 'scheduled', 'retryable') AND j.queue > q.queue ORDER BY j.queue LIMIT 1)
           FROM queues q WHERE q.queue IS NOT NULL
         )
         SELECT q.queue FROM queues q
         WHERE q.queue IS NOT NULL AND EXISTS (
           SELECT 1 FROM ${names.quoted}.jobs j
           WHERE j.queue = q.queue AND j.state IN ('available', 'scheduled', 'retryable') AND j.run_at <= coalesce($1::timestamptz, now()))`,
        [ctx.now()],
      );
      if (rows.length > 0) wake(rows.map((row) => row.queue));
    } catch (error) {
      logger.debug({ err: error }, 'postgres store: due-queue check failed');
    }
  };
  const notificationsUnavailable = () => !listen || notifications?.state !== 'listening';
  const schedulePoll = () => {
    if (closed || pollTimer || listeners.size === 0) return;
    pollTimer = setTimeout(() => {
      pollTimer = null;
      const next = notificationsUnavailable() ? pollDueQueues() : Promise.resolve();
      void next.finally(schedulePoll);
    }, pollIntervalMs);
    pollTimer.unref();
  };

  const startNotifications = () => {
    if (!listen || notifications || closed) return;
    notifications = new NotificationListener({
      connection: (pool as pg.Pool & { options: pg.PoolConfig }).options,
      channel: names.channel,
      logger,
      connectTimeoutMs,
      checkIntervalMs: listenCheckIntervalMs,
      checkTimeoutMs: queryTimeoutMs > 0 ? queryTimeoutMs : DEFAULT_QUERY_TIMEOUT_MS,
      onNotification: (payload) => wake(payload === '' ? [] : payload.split(',')),
      // Jobs committed before LISTEN took effect sent their NOTIFY to nobody: on the first
      // subscription (the listener was registered before LISTEN ran) as after a reconnect.
      onSubscribed: () => {
        void pollDueQueues();
      },
    });
    notifications.start();
  };

  /** Runs an operation and maps whatever the driver throws (pg-errors.ts). */
  const guard = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    // Not the driver's "cannot use a pool after calling end", which reads as a lost connection.
    if (closed) throw new StoreError(`postgres store: ${operation} failed: the store is closed; create a new one`, { retryable: false });
    try {
      return await fn();
    } catch (error) {
      throw toStoreError(error, operation);
    }
  };

  const tokens: PgTokenContext = { pool, sql: tokenStatements(names), now: () => (clock ? new Date(clock()) : null) };
  const processes: PgProcessContext = { pool, sql: processStatements(names), now: () => (clock ? new Date(clock()) : null) };
  const events: PgEventContext = { pool, sql: eventStatements(names), now: () => (clock ? new Date(clock()) : null) };
  const alerts: PgAlertContext = { pool, sql: alertStatements(names), jobs: ctx, now: () => (clock ? new Date(clock()) : null) };
  const stats: PgStatsContext = { pool, sql: statsStatements(names), now: () => (clock ? new Date(clock()) : null) };

  // One-job enqueues that cannot conflict share statements while one is under way (postgres-insert-batch.ts).
  /** Inserts jobs on the pool (each statement its own transaction) and wakes this process's workers for the queues they made due. */
  const insertAndWake = async (jobs: JobInsert[], flow = false): Promise<JobInsertResult[]> => {
    const results = await (flow ? insertFlow(ctx, pool, jobs) : insertJobs(ctx, pool, jobs));
    const queues = availableQueues(results);
    if (queues.length > 0) wake(queues);
    return results;
  };
  const insertBatch = new PgInsertBatch({
    insertAll: (jobs) => guard('enqueue', () => insertAndWake([...jobs])),
    failsEveryJob: (error) => closed || (error instanceof StoreError && error.retryable),
  });

  const store: Store = {
    kind: 'postgres',
    eventAppendSize: 5000,

    async migrate() {
      await runMigrations(pool, names, { logger });
    },

    async close() {
      if (closed) return;
      // Enqueues already asked for are written (or fail) before the pool goes.
      await insertBatch.close();
      closed = true;
      listeners.clear();
      if (pollTimer) clearTimeout(pollTimer);
      pollTimer = null;
      await notifications?.stop();
      notifications = null;
      if (ownsPool) await pool.end().catch(() => undefined);
      // Keep a handler on our own pool: a client may still report an error while closing.
      if (!ownsPool) pool.off('error', onPoolError);
    },

    timeNow() {
      if (clock) return Promise.resolve(new Date(clock()));
      return guard('read the time', async () => {
        const { rows } = await run<{ now: Date }>(pool, ctx.sql.timeNow, []);
        return rows[0]?.now ?? new Date();
      });
    },

    jobInsertMany({ jobs, tx, flow }) {
      const only = groupCommitJob(jobs, tx);
      // One job that cannot conflict: sent with the other such enqueues that arrive while a
      // shared insert is under way (postgres-insert-batch.ts).
      if (only !== null) return insertBatch.add(only).then((result) => [result]);
      return guard('enqueue', async () => {
        if (jobs.length === 0) return [];
        if (tx !== undefined && tx !== null) {
          // Inside the caller's transaction: the NOTIFY from the insert trigger is delivered at
          // their COMMIT (and dropped on ROLLBACK), so no in-process wake-up here.
          return flow === true ? insertFlow(ctx, asTransaction(tx), jobs) : insertJobs(ctx, asTransaction(tx), jobs);
        }
        return insertAndWake(jobs, flow === true);
      });
    },

    jobFetch(params) {
      return guard(`fetch jobs from queue ${params.queue}`, () => fetchJobs(ctx, params));
    },
    jobFinishMany({ items }) {
      return guard('record finished jobs', () => finishJobs(ctx, items));
    },
    jobHeartbeat(params) {
      return guard('heartbeat', () => heartbeatJobs(ctx, params));
    },
    jobRescueExpired({ limit, error }) {
      return guard('rescue expired leases', () => rescueExpired(ctx, limit, error));
    },
    jobGet({ id }) {
      return guard(`read job ${id}`, () => getJob(ctx, id));
    },
    jobSettleStranded({ limit }) {
      return guard('settle stranded dependents', () => settleStranded(ctx, limit));
    },
    jobAttempts({ id }) {
      return guard(`read attempts of job ${id}`, () => jobAttempts(ctx, id));
    },
    jobList(params) {
      return guard('list jobs', () => listJobs(ctx, params));
    },
    jobCancel({ id, reason, cancelledDependents }) {
      return guard(`cancel job ${id}`, () => cancelJob(ctx, id, reason, cancelledDependents));
    },
    jobRetry({ id }) {
      return guard(`retry job ${id}`, () => retryJob(ctx, id));
    },
    jobStats() {
      return guard('read job stats', () => jobStats(ctx));
    },
    tokenInsert(params) {
      return guard('store an API token', () => insertToken(tokens, params.token));
    },

    tokenList() {
      return guard('list API tokens', () => listTokens(tokens));
    },

    tokenRevoke(params) {
      return guard('revoke an API token', () => revokeToken(tokens, params.name));
    },

    processHeartbeat(params) {
      return guard('record a process heartbeat', () => processHeartbeat(processes, params));
    },

    processList(params) {
      return guard('list processes', () => processList(processes, params));
    },

    processRemove(params) {
      return guard('remove a process', () => processRemove(processes, params));
    },

    eventAppend(params) {
      // One after another: appends under way at once would each take a pooled connection, and
      // could reach the feed's lock (and so their ids) in another order than they were asked.
      const append = eventAppendTail.then(() =>
        guard('append events', () => {
          checkEventBatches(params.batches);
          return appendEvents(events, params.batches);
        }),
      );
      eventAppendTail = append.then(
        () => undefined,
        () => undefined,
      );
      return append;
    },

    eventList(params) {
      return guard('list events', () => listEvents(events, params));
    },

    eventBounds() {
      return guard('read the event feed bounds', () => eventBounds(events));
    },

    eventPrune(params) {
      return guard('prune events', () => pruneEvents(events, params));
    },

    statsAdd(params) {
      return guard('add to the stats', () => statsAdd(stats, params.deltas));
    },

    statsList(params) {
      return guard('read the stats', () => statsList(stats, params));
    },

    statsPrune(params) {
      return guard('prune the stats', () => statsPrune(stats, params.before));
    },

    alertOpen(params) {
      return guard('open an alert', () => openAlert(alerts, params));
    },

    alertResolve(params) {
      return guard('resolve an alert', () => resolveAlert(alerts, params));
    },

    alertList(params) {
      return guard('list alerts', () => listAlerts(alerts, params));
    },

    alertSilenceAdd(params) {
      return guard('add a silence', () => addSilence(alerts, params));
    },

    alertSilenceList(params) {
      return guard('list silences', () => listSilences(alerts, params));
    },

    alertSilenceRemove(params) {
      return guard('remove a silence', () => removeSilence(alerts, params.id));
    },

    alertPrune(params) {
      return guard('prune alerts', () => pruneAlerts(alerts, params.before));
    },

    statsRollup(params) {
      return guard('roll up the stats', () => statsRollup(stats, params));
    },

    jobAhead(params) {
      // The shared id rule, here: the stats module's own check is narrower (18 digits).
      if (!isJobId(params.id)) return Promise.resolve(null);
      return guard('count the jobs ahead', () => jobsAhead(stats, params));
    },

    queueHold(params) {
      return guard(`hold queue ${params.queue}`, () => holdQueue(ctx, params));
    },

    async jobRateLateStart(params) {
      return { moved: await guard(`move the rate-limit claim of job ${params.id} to its late start`, () => rateLateStart(ctx, params)) };
    },

    jobRateWait(params) {
      return guard('read when a job\'s rate key has room', () => jobRateWait(ctx, params.id));
    },

    queueRateWait(params) {
      return guard(`read when queue ${params.queue} has room`, () => rateWait(ctx, params));
    },

    jobResultPrune(params) {
      return guard('clear old results', () => pruneResults(ctx, params));
    },

    jobDependencies(params) {
      return guard('read the dependencies of a job', () => jobDependencies(ctx, params.id));
    },

    jobKeyHolders(params) {
      const limit = Math.max(0, Math.floor(params.limit));
      if (limit === 0) return Promise.resolve([]);
      return guard('read the jobs holding a concurrency key', () => keyHolders(ctx, { ...params, limit }));
    },

    jobQueueOldest() {
      return guard('read the oldest pending job per queue', () => queueOldest(stats));
    },

    jobNewestFinished(params) {
      const limit = Math.max(0, Math.floor(params.limit));
      if (limit === 0 || params.names.length === 0) return Promise.resolve([]);
      return guard('read the newest finished jobs by name', () => newestFinished(stats, params.names, limit));
    },

    jobDelete(params) {
      return guard('delete jobs', () => deleteJobs(ctx, params.ids));
    },

    jobPrune(params) {
      return guard('prune jobs', () => pruneJobs(ctx, params));
    },

    queuePause({ queue }) {
      return guard(`pause queue ${queue}`, async () => {
        await run(pool, ctx.sql.queuePause, [ctx.now(), queue]);
      });
    },
    queueResume({ queue }) {
      return guard(`resume queue ${queue}`, async () => {
        const result = await run(pool, ctx.sql.queueResume, [queue]);
        if ((result.rowCount ?? 0) > 0) {
          wake([queue]);
          // Workers of other processes (a resume from the CLI, a daemon working the queue).
          await notifyOthers(ctx, [queue]);
        }
      });
    },
    queuePausedSince() {
      return guard('list paused queues', async () => {
        const { rows } = await run<{ queue: string; paused_at: Date }>(pool, ctx.sql.queuePausedSince, []);
        return rows.map((row) => ({ queue: row.queue, pausedAt: row.paused_at }));
      });
    },

    queuePausedList() {
      return guard('list paused queues', async () => {
        const { rows } = await run<{ queue: string }>(pool, ctx.sql.queuePausedList, []);
        return rows.map((row) => row.queue);
      });
    },

    jobAvailableListen(listener) {
      listeners.add(listener);
      startNotifications();
      schedulePoll();
      return () => {
        listeners.delete(listener);
      };
    },

    scheduleUpsertMany({ schedules }) {
      return guard('upsert schedules', () => upsertSchedules(ctx, schedules));
    },
    scheduleGet({ id }) {
      return guard(`read schedule ${id}`, () => getSchedule(ctx, id));
    },
    scheduleList({ filter }) {
      return guard('list schedules', () => listSchedules(ctx, filter));
    },
    scheduleDelete({ ids }) {
      return guard('delete schedules', () => deleteSchedules(ctx, ids));
    },
    scheduleUpdateNext(params) {
      return guard(`update schedule ${params.id}`, () => updateScheduleNext(ctx, params));
    },
    scheduleTickClaim(params) {
      return guard(`claim tick of schedule ${params.scheduleId}`, () => claimTick(ctx, params));
    },
    scheduleTickList({ scheduleId, limit }) {
      return guard(`list ticks of schedule ${scheduleId}`, () => listTicks(ctx, scheduleId, limit));
    },
    scheduleTickPrune(params) {
      return guard('prune schedule ticks', () => pruneTicks(ctx, params));
    },
    scheduleHasActiveJob({ scheduleId }) {
      return guard(`check active jobs of schedule ${scheduleId}`, () => scheduleHasActiveJob(ctx, scheduleId));
    },
  };
  return store;
}
