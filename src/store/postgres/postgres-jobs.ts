import pg from 'pg';
import type { Logger } from 'pino';
import { StateError, StoreError, ValidationError } from '../../errors.js';
import {
  FINAL_STATES,
  JOB_STATES,
  type AttemptRecord,
  type ErrorRecord,
  type JobFetchParams,
  type JobFinish,
  type JobFinishItem,
  type JobFinishResult,
  type JobInsert,
  type JobInsertResult,
  type JobListPage,
  type JobListParams,
  type JobRecord,
  type JobState,
  type PruneScope,
  type JobStats,
  type QueueStats,
  type RescueResult,
} from '../types.js';
import { isJobId } from '../job-ids.js';
import { rateRoomAt, rateWindowMs } from '../rate-window.js';
import { cursorAfter, isFiltered, listWindow, type JobListWindow } from '../job-list-window.js';
import { dependencyIds, hasDependencies, planDependencies } from '../job-dependencies.js';
import { isThrottledOrDebounced } from '../debounce.js';
import type { JobStatements, Statement } from './job-statements.js';
import { jobColumns, runningAttempt, toAttemptRecord, toJobRecord, type AttemptRow, type JobRow } from './rows.js';
import type { SchemaNames } from './schema-name.js';
import type { TickStatements } from './tick-statements.js';
import { inTransaction, inTransactionOrRollback, Rollback } from './transaction.js';

/** node-postgres's own timestamptz parser, so a text-cast timestamp reads exactly like a typed one. */
const parseTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (value: string) => Date;

/** Anything that runs queries: the pool, a pooled client, or a caller's client inside BEGIN. */
export interface Queryable {
  query: pg.ClientBase['query'];
}

/** What the job operations need from the store. */
export interface PgJobContext {
  readonly pool: pg.Pool;
  readonly names: SchemaNames;
  readonly sql: JobStatements;
  /** Tick retention statements (tick-statements.ts). */
  readonly ticks: TickStatements;
  readonly logger: Logger;
  /** Value of `$1`: the injected clock's time, or null for the database's now(). */
  now(): Date | null;
  /** Wakes this process's jobAvailableListen listeners. */
  wake(queues: string[]): void;
}

/** Runs a statement, prepared when it has a name. */
export async function run<R extends pg.QueryResultRow>(db: Queryable, statement: Statement, values: unknown[]): Promise<pg.QueryResult<R>> {
  return db.query<R>(statement.name ? { name: statement.name, text: statement.text, values } : { text: statement.text, values });
}

/** The error recorded on a cancelled job, carrying the reason. */
export function cancelledError(reason: string): ErrorRecord {
  return { name: 'JobCancelled', message: reason, stack: null, kind: 'cancelled' };
}

/** Accepts the caller's `tx`: a pg Client or PoolClient on which they ran BEGIN. */
export function asTransaction(tx: unknown): Queryable {
  if (typeof tx === 'object' && tx !== null && typeof (tx as { query?: unknown }).query === 'function') {
    return tx as Queryable;
  }
  throw new ValidationError(
    'INVALID_OPTION',
    'tx must be a pg Client or PoolClient on which you ran BEGIN (postgres store); got ' + (tx === null ? 'null' : typeof tx),
  );
}

/** Due jobs the per-key claim ranks first (see `fetchKeyed`). */
const KEYED_CLAIM_PROBE = 500;

/** How many times an insert is re-tried when a conflicting key disappears between two statements. */
const KEY_RACE_ROUNDS = 5;

/**
 * Inserts jobs with one INSERT per batch. When a key is taken, a second statement reads the job
 * holding it; should that job finish in between (its key no longer blocks), the input is inserted
 * again, a bounded number of times.
 */
export async function insertJobs(ctx: PgJobContext, db: Queryable, jobs: JobInsert[]): Promise<JobInsertResult[]> {
  if (jobs.some((job) => job.rateKey !== undefined)) return insertWithRateKeys(ctx, db, jobs);
  if (jobs.some(hasDependencies)) return insertWithDependencies(ctx, db, jobs);
  if (jobs.some(isThrottledOrDebounced)) return insertThrottled(ctx, db, jobs);
  if (jobs.every((job) => job.key === null)) return insertUnkeyedJobs(ctx, db, jobs);
  const results: (JobInsertResult | undefined)[] = new Array(jobs.length);
  let pending = jobs.map((job, index) => ({ job, index }));
  for (let round = 0; round < KEY_RACE_ROUNDS && pending.length > 0; round++) {
    const batch = pending;
    const { rows } = await run<JobRow & { ord: number }>(db, ctx.sql.insert, [
      ctx.now(),
      batch.map((p) => p.job.name),
      batch.map((p) => p.job.queue),
      batch.map((p) => p.job.payload),
      batch.map((p) => p.job.priority),
      batch.map((p) => p.job.maxAttempts),
      batch.map((p) => p.job.runAt),
      batch.map((p) => p.job.key),
      batch.map((p) => p.job.timeoutMs),
      batch.map((p) => p.job.scheduleId),
      batch.map((p) => p.job.meta),
      batch.map((p) => p.job.concurrencyKey ?? null),
      batch.map((p) => p.job.concurrencyLimit ?? null),
    ]);
    const conflicts: typeof batch = [];
    for (const row of rows) {
      const entry = batch[row.ord - 1];
      if (!entry) continue;
      if (row.id === null) conflicts.push(entry);
      else results[entry.index] = { job: toJobRecord(row), inserted: true };
    }
    if (conflicts.length === 0) {
      pending = [];
      break;
    }
    const existing = await run<JobRow>(db, ctx.sql.selectByKeys, [conflicts.map((c) => c.job.name), conflicts.map((c) => c.job.key)]);
    const byKey = new Map(existing.rows.map((row) => [`${row.name}\u0000${row.key}`, toJobRecord(row)]));
    pending = [];
    for (const entry of conflicts) {
      const job = byKey.get(`${entry.job.name}\u0000${entry.job.key}`);
      if (job) results[entry.index] = { job, inserted: false };
      else pending.push(entry);
    }
  }
  if (pending.length > 0) {
    throw new StoreError('postgres store: enqueue kept racing with jobs finishing under the same key; retry the enqueue', {
      retryable: true,
    });
  }
  return results as JobInsertResult[];
}

/**
 * Inserts a batch without de-duplication keys: one statement that reads back only id, state and
 * created_at; the rest of each record is what was bound (see `insertUnkeyed`).
 */
async function insertUnkeyedJobs(ctx: PgJobContext, db: Queryable, jobs: JobInsert[]): Promise<JobInsertResult[]> {
  // Both statements return one row shaped alike (insertOne's id list has one element).
  const statement = jobs.length === 1 ? ctx.sql.insertOne : ctx.sql.insertUnkeyed;
  const one = (values: unknown[]) => (jobs.length === 1 ? values[0] : values);
  const { rows } = await run<{ ids: string | null; states: string | null; created_at: string }>(db, statement, [
    ctx.now(),
    one(jobs.map((job) => job.name)),
    one(jobs.map((job) => job.queue)),
    one(jobs.map((job) => job.payload)),
    one(jobs.map((job) => job.priority)),
    one(jobs.map((job) => job.maxAttempts)),
    one(jobs.map((job) => job.runAt)),
    one(jobs.map((job) => job.timeoutMs)),
    one(jobs.map((job) => job.scheduleId)),
    one(jobs.map((job) => job.meta)),
    one(jobs.map((job) => job.concurrencyKey ?? null)),
    one(jobs.map((job) => job.concurrencyLimit ?? null)),
  ]);
  const ids = rows[0]?.ids?.split(',') ?? [];
  const states = rows[0]?.states ?? '';
  if (ids.length !== jobs.length || states.length !== jobs.length) {
    throw new StoreError(`postgres store: inserting ${jobs.length} jobs returned ${ids.length} ids instead of one per job`, { retryable: false });
  }
  const createdAtMs = parseTimestamptz(rows[0]!.created_at).getTime();
  return jobs.map((job, index) => ({
    inserted: true,
    job: {
      id: ids[index]!,
      name: job.name,
      queue: job.queue,
      payload: job.payload,
      state: states[index] === 'a' ? 'available' : 'scheduled',
      priority: job.priority,
      attempt: 0,
      maxAttempts: job.maxAttempts,
      runAt: new Date(job.runAt ? job.runAt.getTime() : createdAtMs),
      createdAt: new Date(createdAtMs),
      attemptedAt: null,
      finishedAt: null,
      key: null,
      timeoutMs: job.timeoutMs,
      lease: null,
      lastError: null,
      result: null,
      progress: null,
      scheduleId: job.scheduleId,
      meta: job.meta,
      concurrencyKey: job.concurrencyKey ?? null,
      concurrencyLimit: job.concurrencyLimit ?? null,
    },
  }));
}

/** Queues that received available jobs, for wake-ups. */
export function availableQueues(results: JobInsertResult[]): string[] {
  return [...new Set(results.filter((r) => r.inserted && r.job.state === 'available').map((r) => r.job.queue))];
}

function sortForClaim(a: JobRecord, b: JobRecord): number {
  return b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || Number(BigInt(a.id) - BigInt(b.id));
}

export async function fetchJobs(ctx: PgJobContext, params: JobFetchParams): Promise<JobRecord[]> {
  if (params.limit <= 0) return [];
  const claim = [ctx.now(), params.queue, params.owner, params.leaseMs, params.limit];
  let rows: JobRow[];
  const perKeyRate = params.perKeyRate === true;
  if (params.ids === undefined && (params.globalConcurrency !== undefined || params.perKeyConcurrency === true || params.rateLimit !== undefined || perKeyRate)) {
    const global = params.globalConcurrency;
    const rate = params.rateLimit;
    const statement = params.perKeyConcurrency === true || perKeyRate ? ctx.sql.fetchKeyed : global !== undefined ? ctx.sql.fetchLimited : ctx.sql.fetch;
    // The lock's key names the schema and the queue: limited claims of other queues, or of the
    // same queue name in another schema, do not wait on each other (a hash collision only makes them wait).
    rows = await inTransaction(ctx.pool, async (client) => {
      await run(client, ctx.sql.fetchLock, [`${ctx.names.schema}:${params.queue}`]);
      // Every rate-limit count below is recorded at the server's clock when its statement runs: after this.
      params.onClaimTime?.();
      if (rate !== undefined && statement !== ctx.sql.fetchKeyed) {
        // The queue's rate limit alone (or with its global limit): one statement (see fetchRated).
        return (await run<JobRow>(client, ctx.sql.fetchRated, [ctx.now(), params.queue, params.owner, params.leaseMs, params.limit, rate.max, rateWindowMs(rate.perMs), global ?? null])).rows;
      }
      let limit = params.limit;
      if (rate !== undefined) {
        const { rows: used } = await run<{ n: number }>(client, ctx.sql.rateUsed, [ctx.now(), params.queue, rateWindowMs(rate.perMs)]);
        limit = Math.min(limit, rate.max - (used[0]?.n ?? 0));
      }
      let claimed: JobRow[] = [];
      if (limit > 0) {
        const args = [ctx.now(), params.queue, params.owner, params.leaseMs, limit];
        if (statement === ctx.sql.fetchKeyed) {
          // What a step took of each rate key goes into the log at once: the next step counts it.
          const logged = async (rows: JobRow[]): Promise<JobRow[]> => {
            if (perKeyRate && rows.length > 0) await run(client, ctx.sql.rateKeyLog, [ctx.now(), rows.map((row) => row.id)]);
            return rows;
          };
          // A short prefix ranked first; every due job only when it found too few (see fetchKeyed).
          claimed = await logged((await run<JobRow>(client, statement, [...args, global ?? null, Math.max(KEYED_CLAIM_PROBE, limit * 50)])).rows);
          if (claimed.length < limit) {
            const rest = [ctx.now(), params.queue, params.owner, params.leaseMs, limit - claimed.length, global ?? null, null];
            claimed = claimed.concat(await logged((await run<JobRow>(client, statement, rest)).rows));
          }
          if (perKeyRate) await run(client, ctx.sql.rateKeyForget, [ctx.now(), params.queue]);
        } else {
          claimed = (await run<JobRow>(client, statement, statement === ctx.sql.fetch ? args : [...args, global ?? null])).rows;
        }
      }
      if (rate !== undefined) {
        if (claimed.length > 0) await run(client, ctx.sql.rateLog, [ctx.now(), params.queue, claimed.length]);
        await run(client, ctx.sql.rateForget, [ctx.now(), params.queue, rateWindowMs(rate.perMs)]);
      }
      return claimed;
    });
  } else if (params.ids === undefined) {
    ({ rows } = await run<JobRow>(ctx.pool, ctx.sql.fetch, claim));
  } else {
    // Ids that name no job are left out (they would make the ::bigint cast fail the statement).
    const ids = params.ids.filter(isJobId);
    if (ids.length === 0) return [];
    ({ rows } = await run<JobRow>(ctx.pool, ctx.sql.fetchIds, [...claim, ids]));
  }
  // RETURNING order is unspecified; hand jobs out in claim order.
  return rows.map(toJobRecord).sort(sortForClaim);
}

/** Holds the job's rate key when it has one, else the queue (see `Store.queueHold`). */
export async function holdQueue(ctx: PgJobContext, params: { queue: string; forMs: number; jobId?: string }): Promise<void> {
  if (params.jobId !== undefined && isJobId(params.jobId)) {
    const held = await run(ctx.pool, ctx.sql.rateKeyHold, [ctx.now(), params.jobId, params.forMs]);
    if ((held.rowCount ?? 0) > 0) return;
  }
  await run(ctx.pool, ctx.sql.queueHold, [ctx.now(), params.queue, params.forMs]);
}

/** See `Store.queueRateWait`; the decision is the shared one (rate-window.ts). */
export async function rateWait(ctx: PgJobContext, params: { queue: string; rateLimit?: { max: number; perMs: number }; perKeyRate?: boolean }): Promise<number> {
  const [hold, window] = await Promise.all([
    run<{ until: Date | null; now: Date }>(ctx.pool, ctx.sql.queueHoldUntil, [ctx.now(), params.queue]),
    params.rateLimit === undefined
      ? Promise.resolve({ rows: [] as { at: Date; n: number }[] })
      : run<{ at: Date; n: number }>(ctx.pool, ctx.sql.rateWindow, [ctx.now(), params.queue, rateWindowMs(params.rateLimit.perMs)]),
  ]);
  const now = hold.rows[0]!.now.getTime();
  let at = params.rateLimit === undefined ? now : rateRoomAt(window.rows.map((row) => ({ at: row.at.getTime(), n: row.n })), params.rateLimit.max, params.rateLimit.perMs, now);
  if (params.perKeyRate === true && at <= now) {
    // Some key is full: wake when the first per-key claim leaves its window (that key has room).
    const next = (await run<{ at: Date | null }>(ctx.pool, ctx.sql.rateKeyNextFree, [ctx.now(), params.queue])).rows[0]?.at ?? null;
    if (next !== null) at = next.getTime();
  }
  return Math.max(at, hold.rows[0]!.until?.getTime() ?? now) - now;
}

/** Wakes this process's and every other process's workers of `queues` (none: nothing). */
export async function wakeQueues(ctx: PgJobContext, queues: Iterable<string>): Promise<void> {
  const list = [...new Set(queues)];
  if (list.length === 0) return;
  ctx.wake(list);
  await notifyOthers(ctx, list);
}

/** Applies the end of dependencies `ids` (`hows`: completed, dead, cancelled) to the jobs waiting on them; returns the queues that got a due job. */
async function settleDependents(ctx: PgJobContext, db: Queryable, ids: string[], hows: string[]): Promise<Set<string>> {
  const { rows } = await settleRetried<{ queue: string }>(ctx, db, ctx.sql.depSettle, [ctx.now(), ids, hows]);
  return new Set(rows.map((row) => row.queue));
}

/**
 * `settleDependents` on the pool, adding the ids of the jobs it cancelled (with those waiting on
 * them in turn) to `cancelled`; returns the queues that got a job due now, as `settleDependents`.
 */
async function settleDependentsCounting(ctx: PgJobContext, ids: string[], hows: string[], cancelled: string[]): Promise<Set<string>> {
  const queues = new Set<string>();
  for (const row of await settleDependentsChanges(ctx, ids, hows)) {
    if (row.state === 'cancelled') cancelled.push(row.id);
    else if (row.state === 'available') queues.add(row.queue);
  }
  return queues;
}

/** `settleDependents` on the pool, telling each job it moved out of `waiting`: its new state (available, scheduled or cancelled) and queue. */
export async function settleDependentsChanges(ctx: PgJobContext, ids: string[], hows: string[]): Promise<{ id: string; state: JobState; queue: string }[]> {
  if (ids.length === 0) return [];
  return (await settleRetried<{ id: string; state: JobState; queue: string }>(ctx, ctx.pool, ctx.sql.depSettleChanges, [ctx.now(), ids, hows])).rows;
}

async function settleRetried<R extends pg.QueryResultRow>(ctx: PgJobContext, db: Queryable, statement: Statement, values: unknown[]): Promise<pg.QueryResult<R>> {
  // Two settles may lock the same waiting jobs in different orders (a parent of children that
  // finish in several processes): PostgreSQL aborts one with a deadlock, and since the function
  // is idempotent, running it again is the fix. On the caller's transaction an abort cannot be
  // retried here; it fails the caller's statement as any deadlock would.
  for (let attempt = 1; ; attempt++) {
    try {
      return await run<R>(db, statement, values);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (db !== ctx.pool || attempt >= 5 || (code !== '40P01' && code !== '40001')) throw error;
    }
  }
}

/**
 * Inserts a batch in which some jobs name dependencies (a flow), in one transaction (the
 * caller's, or one of its own): runs of jobs without dependencies go through the usual batch
 * insert; each job with dependencies is planned from its dependencies' states (locked FOR
 * SHARE: see depStates) and inserted alone, then its edges.
 */
async function insertWithDependencies(ctx: PgJobContext, db: Queryable, jobs: JobInsert[]): Promise<JobInsertResult[]> {
  const work = async (client: Queryable): Promise<JobInsertResult[]> => {
    const results: JobInsertResult[] = new Array<JobInsertResult>(jobs.length);
    const ids: (string | null)[] = new Array<string | null>(jobs.length).fill(null);
    let segment: number[] = [];
    const flush = async () => {
      if (segment.length === 0) return;
      const inserted = await insertJobs(ctx, client, segment.map((index) => jobs[index]!));
      inserted.forEach((result, k) => {
        results[segment[k]!] = result;
        ids[segment[k]!] = result.job.id;
      });
      segment = [];
    };
    for (let index = 0; index < jobs.length; index++) {
      const job = jobs[index]!;
      if (!hasDependencies(job)) {
        segment.push(index);
        continue;
      }
      await flush();
      const depIds = dependencyIds(job, index, ids);
      const states = await run<{ id: string; state: JobState }>(client, ctx.sql.depStates, [depIds]);
      const plan = planDependencies(job, depIds, new Map(states.rows.map((row) => [row.id, row.state])));
      const { rows } = await run<JobRow>(client, ctx.sql.insertDependent, [
        ctx.now(), job.name, job.queue, job.payload, job.priority, job.maxAttempts, job.runAt, job.key, job.timeoutMs, job.scheduleId, job.meta,
        job.concurrencyKey ?? null, job.concurrencyLimit ?? null, plan.state === null ? 0 : plan.pending, plan.state === null ? null : 'waiting', plan.policy,
      ]);
      let row = rows[0];
      if (row === undefined) {
        // The key is taken: the job holding it is the answer, as for any keyed insert.
        const existing = await run<JobRow>(client, ctx.sql.selectByKeys, [[job.name], [job.key]]);
        if (!existing.rows[0]) throw new StoreError(`postgres store: the job holding key ${JSON.stringify(job.key)} of "${job.name}" finished meanwhile; retry the enqueue`, { retryable: true });
        results[index] = { job: toJobRecord(existing.rows[0]), inserted: false };
        ids[index] = existing.rows[0].id;
        continue;
      }
      await run(client, ctx.sql.depEdges, [row.id, plan.edges.map((edge) => edge.id), plan.edges.map((edge) => edge.settled)]);
      if (plan.failed) {
        await settleDependents(ctx, client, [plan.failed.id], [plan.failed.state]);
        row = (await run<JobRow>(client, ctx.sql.get, [row.id])).rows[0]!;
      }
      results[index] = { job: toJobRecord(row), inserted: true };
      ids[index] = row.id;
    }
    await flush();
    return results;
  };
  return db === ctx.pool ? inTransaction(ctx.pool, work) : work(db);
}

/**
 * A flow (`Store.jobInsertMany` with `flow: true`): the jobs, unless its root (the last job) has
 * a key that a job of another insert holds; then nothing is stored and the result is that job.
 * A look first answers the common case (a flow posted again) without writing. Under READ
 * COMMITTED the look cannot see an insert that commits after it, so the flow is inserted inside a
 * transaction of its own, or a savepoint of the caller's, and rolled back when its root came
 * back as another insert's job (the key's unique index made the insert wait for that one).
 */
export async function insertFlow(ctx: PgJobContext, db: Queryable, jobs: JobInsert[]): Promise<JobInsertResult[]> {
  const root = jobs[jobs.length - 1];
  if (jobs.length < 2 || root === undefined || root.key === null) return insertJobs(ctx, db, jobs);
  const held = (await run<JobRow>(db, ctx.sql.selectByKeys, [[root.name], [root.key]])).rows[0];
  if (held) return [{ job: toJobRecord(held), inserted: false }];
  /** The root's result when another insert's job holds its key, else null. */
  const heldElsewhere = (results: JobInsertResult[]): JobInsertResult | null => {
    const last = results[results.length - 1]!;
    if (last.inserted || results.some((result) => result.inserted && result.job.id === last.job.id)) return null;
    return last;
  };
  if (db === ctx.pool) {
    return inTransactionOrRollback(ctx.pool, async (client) => {
      const results = await insertJobs(ctx, client, jobs);
      const other = heldElsewhere(results);
      return other === null ? results : new Rollback([other]);
    });
  }
  await db.query('SAVEPOINT nightshift_flow');
  const results = await insertJobs(ctx, db, jobs);
  const other = heldElsewhere(results);
  if (other !== null) await db.query('ROLLBACK TO SAVEPOINT nightshift_flow');
  await db.query('RELEASE SAVEPOINT nightshift_flow');
  return other === null ? results : [other];
}

/**
 * Jobs with a per-key rate limit: inserted as any job, then given their key, in one transaction
 * (the caller's or one of its own) so that no claim sees such a job without its key.
 */
async function insertWithRateKeys(ctx: PgJobContext, db: Queryable, jobs: JobInsert[]): Promise<JobInsertResult[]> {
  const work = async (client: Queryable): Promise<JobInsertResult[]> => {
    const results = await insertJobs(ctx, client, jobs.map(({ rateKey: _rateKey, ...job }) => job));
    for (const [index, result] of results.entries()) {
      const rate = jobs[index]!.rateKey;
      if (rate !== undefined && result.inserted) await run(client, ctx.sql.jobSetRateKey, [result.job.id, rate.key, rate.max, rate.perMs]);
    }
    return results;
  };
  return db === ctx.pool ? inTransaction(ctx.pool, work) : work(db);
}

/**
 * Throttled and debounced jobs, one at a time, in one transaction (the caller's or its own):
 * each takes its key's advisory lock (see keyLock), then meets the job it finds or inserts one.
 */
async function insertThrottled(ctx: PgJobContext, db: Queryable, jobs: JobInsert[]): Promise<JobInsertResult[]> {
  const work = async (client: Queryable): Promise<JobInsertResult[]> => {
    const results: JobInsertResult[] = [];
    for (const job of jobs) {
      const { throttle, debounce, ...plain } = job;
      if (throttle) {
        await run(client, ctx.sql.keyLock, [`${ctx.names.schema}:throttle:${job.name}:${throttle.key}`]);
        const existing = await run<JobRow>(client, ctx.sql.throttled, [ctx.now(), job.name, throttle.key, throttle.perMs]);
        if (existing.rows[0]) {
          results.push({ job: toJobRecord(existing.rows[0]), inserted: false });
          continue;
        }
        const [result] = await insertJobs(ctx, client, [plain]);
        await run(client, ctx.sql.setThrottleKey, [result!.job.id, throttle.key]);
        results.push(result!);
      } else if (debounce) {
        await run(client, ctx.sql.keyLock, [`${ctx.names.schema}:debounce:${job.name}:${debounce.key}`]);
        const pending = await run<{ id: string }>(client, ctx.sql.debounced, [job.name, debounce.key]);
        if (pending.rows[0]) {
          const moved = await run<JobRow>(client, ctx.sql.debounceMove, [ctx.now(), pending.rows[0].id, job.payload, debounce.delayMs]);
          results.push({ job: toJobRecord(moved.rows[0]!), inserted: false });
          continue;
        }
        const [result] = await insertJobs(ctx, client, [{ ...plain, runAt: null }]);
        const placed = await run<JobRow>(client, ctx.sql.setDebounce, [ctx.now(), result!.job.id, debounce.key, debounce.maxDelayMs, debounce.delayMs]);
        results.push({ job: toJobRecord(placed.rows[0]!), inserted: true });
      } else {
        results.push(...(await insertJobs(ctx, client, [plain])));
      }
    }
    return results;
  };
  return db === ctx.pool ? inTransaction(ctx.pool, work) : work(db);
}

export async function jobDependencies(ctx: PgJobContext, id: string): Promise<{ job: JobRecord; settled: boolean }[]> {
  if (!isJobId(id)) return [];
  const { rows } = await run<JobRow & { dep_resolved: boolean }>(ctx.pool, ctx.sql.dependencies, [id]);
  return rows.map((row) => ({ job: toJobRecord(row), settled: row.dep_resolved }));
}

/** See `Store.jobRateWait`; the decision is the shared one (rate-window.ts). */
export async function jobRateWait(ctx: PgJobContext, id: string): Promise<{ key: string; waitMs: number } | null> {
  if (!isJobId(id)) return null;
  const { rows } = await run<{ key: string; max: number; per_ms: number; now: Date; claims: [number, number][] }>(ctx.pool, ctx.sql.jobRateWindow, [ctx.now(), id]);
  const row = rows[0];
  if (!row) return null;
  const now = row.now.getTime();
  return { key: row.key, waitMs: rateRoomAt(row.claims.map(([at, n]) => ({ at, n })), row.max, row.per_ms, now) - now };
}

/** `Store.jobRateLateStart`: moves the running job's rate-limit counts from its claim to now. */
export async function rateLateStart(ctx: PgJobContext, params: { id: string; token: string; queue: boolean; key: boolean }): Promise<boolean> {
  if (!isJobId(params.id) || (!params.queue && !params.key)) return false;
  const { rowCount } = await run(ctx.pool, ctx.sql.rateLateStart, [ctx.now(), params.id, params.token, params.queue, params.key]);
  return (rowCount ?? 0) > 0;
}

/** Running jobs of a queue holding a concurrency key, longest running first. */
export async function keyHolders(ctx: PgJobContext, params: { queue: string; concurrencyKey: string; limit: number }): Promise<JobRecord[]> {
  const { rows } = await run<JobRow>(ctx.pool, ctx.sql.keyHolders, [params.queue, params.concurrencyKey, params.limit]);
  return rows.map(toJobRecord);
}

export async function finishJobs(ctx: PgJobContext, items: JobFinishItem[]): Promise<JobFinishResult> {
  if (items.length === 0) return { applied: [], rejected: [] };
  // Items whose id names no job are rejected without reaching the ::bigint cast (no row vouches for them).
  const writes = items.filter((item) => isJobId(item.id));
  const rows = writes.length === 0 ? [] : await writeFinishes(ctx, writes);
  const applied = appliedMatcher(rows);
  // Queues of jobs claimable at once again: released, or failed/snoozed without a delay. Woken
  // here and in every other process (workers there may have free slots for them).
  const finishes = new Map(writes.map((item) => [`${item.id}\u0000${item.token}`, item.finish]));
  const requeued = new Set<string>();
  const parents: { id: string; outcome: string }[] = [];
  for (const row of rows) {
    const finish = finishes.get(`${row.id}\u0000${row.token}`);
    if (finish !== undefined && claimableAtOnce(finish)) requeued.add(row.queue);
    if (row.has_dependents && (row.outcome === 'completed' || row.outcome === 'dead' || row.outcome === 'cancelled')) parents.push(row);
  }
  // Jobs waiting on the ones that ended. A statement of its own, after the finish committed (the
  // finish keeps its fast, asynchronously committed single statement for the jobs nobody waits
  // for); settle_dependents is idempotent, and new edges cannot slip in between (see depStates).
  // Should this process die in between, the rescuer's jobSettleStranded settles them instead.
  const cancelledDependents: string[] = [];
  if (parents.length > 0) {
    for (const queue of await settleDependentsCounting(ctx, parents.map((p) => p.id), parents.map((p) => p.outcome), cancelledDependents)) requeued.add(queue);
  }
  await refundRates(ctx, rows, finishes);
  if (requeued.size > 0) {
    ctx.wake([...requeued]);
    await notifyOthers(ctx, [...requeued]);
  }
  const outcome = items.map((item) => applied(item));
  return {
    applied: items.filter((_, index) => outcome[index]).map((item) => item.id),
    rejected: items.filter((_, index) => !outcome[index]).map((item) => item.id),
    ...(cancelledDependents.length > 0 ? { cancelledDependents } : {}),
  };
}

/** A row the fenced finish wrote. */
interface FinishedRow {
  id: string;
  token: string;
  queue: string;
  outcome: string;
  has_dependents: boolean;
  /** A release's claim time (the attempt's start), else null. */
  released_claim: Date | null;
}

/**
 * Gives back the rate-limit counts of releases that ask for it (see `JobFinish`), for the rows
 * the finish applied. A statement of its own after the finish: rare, and a refund lost to a
 * crash in between only keeps the window fuller than it is.
 */
async function refundRates(ctx: PgJobContext, rows: FinishedRow[], finishes: Map<string, JobFinish>): Promise<void> {
  const ids: string[] = [];
  const ats: Date[] = [];
  const byQueue: boolean[] = [];
  const byKey: boolean[] = [];
  for (const row of rows) {
    const finish = finishes.get(`${row.id}\u0000${row.token}`);
    const refund = finish?.outcome === 'released' ? finish.rateRefund : undefined;
    if (refund === undefined || row.released_claim === null || (!refund.queue && !refund.key)) continue;
    ids.push(row.id);
    ats.push(row.released_claim);
    byQueue.push(refund.queue);
    byKey.push(refund.key);
  }
  if (ids.length > 0) await run(ctx.pool, ctx.sql.rateRefund, [ids, ats, byQueue, byKey]);
}

/** Runs the fenced finish statement for items with well-formed ids; returns the rows it wrote. */
async function writeFinishes(ctx: PgJobContext, items: JobFinishItem[]): Promise<FinishedRow[]> {
  const values = [
    ctx.now(),
    items.map((item) => item.id),
    items.map((item) => item.token),
    items.map((item) => item.finish.outcome),
    items.map((item) => (item.finish.outcome === 'completed' ? item.finish.result : null)),
    items.map((item) => {
      const finish = item.finish;
      if (finish.outcome === 'failed' || finish.outcome === 'dead') return JSON.stringify(finish.error);
      if (finish.outcome === 'cancelled') return JSON.stringify(cancelledError(finish.reason));
      return null;
    }),
    items.map((item) => {
      // Delays, added to the server's now (or the injected clock's) by the statement.
      const finish = item.finish;
      if (finish.outcome === 'failed') return finish.retryDelayMs;
      if (finish.outcome === 'snoozed') return finish.delayMs;
      return null;
    }),
    items.map((item) => (item.finish.outcome === 'released' ? null : (item.startDelayMs ?? null))),
  ];
  const { rows } = await run<FinishedRow>(ctx.pool, ctx.sql.finish, values);
  return rows;
}

/** Whether a finish leaves its job claimable right away (a release, or a retry or snooze without delay). */
function claimableAtOnce(finish: JobFinish): boolean {
  if (finish.outcome === 'released') return true;
  if (finish.outcome === 'failed') return finish.retryDelayMs <= 0;
  if (finish.outcome === 'snoozed') return finish.delayMs <= 0;
  return false;
}

/**
 * Pairs input items with the rows a fenced statement returned, by id *and* token: an item naming
 * the right job with a stale token was not applied, even if another item for that job was. Each
 * returned row vouches for one item only (the same item sent twice is applied once).
 */
function appliedMatcher(rows: { id: string; token: string }[]): (item: { id: string; token: string }) => boolean {
  const remaining = new Map<string, number>();
  for (const row of rows) remaining.set(`${row.id}\u0000${row.token}`, (remaining.get(`${row.id}\u0000${row.token}`) ?? 0) + 1);
  return (item) => {
    const key = `${item.id}\u0000${item.token}`;
    const left = remaining.get(key) ?? 0;
    if (left === 0) return false;
    remaining.set(key, left - 1);
    return true;
  };
}

/** Tells other processes that jobs became available outside an INSERT (finish, retry, rescue, resume). */
export async function notifyOthers(ctx: PgJobContext, queues: string[]): Promise<void> {
  const payload = queues.join(',');
  await run(ctx.pool, ctx.sql.notify, [ctx.names.channel, payload.length > 7000 ? '' : payload]).catch((error: unknown) => {
    // Best effort: workers poll as well.
    ctx.logger.debug({ err: error }, 'postgres store: pg_notify failed');
  });
}

export async function heartbeatJobs(
  ctx: PgJobContext,
  params: { items: { id: string; token: string; progress?: string | null }[]; leaseMs: number },
): Promise<{ held: string[] }> {
  // An id that names no job holds no lease (and must not reach the ::bigint cast).
  const items = params.items.filter((item) => isJobId(item.id));
  if (items.length === 0) return { held: [] };
  const { rows } = await run<{ id: string; token: string }>(ctx.pool, ctx.sql.heartbeat, [
    ctx.now(),
    params.leaseMs,
    items.map((item) => item.id),
    items.map((item) => item.token),
    items.map((item) => item.progress ?? null),
    items.map((item) => item.progress !== undefined && item.progress !== null),
  ]);
  const held = appliedMatcher(rows);
  return { held: params.items.filter((item) => held(item)).map((item) => item.id) };
}

/** Takes back expired leases, writing the caller's `error` (see `Store.jobRescueExpired`). */
export async function rescueExpired(ctx: PgJobContext, limit: number, error: ErrorRecord): Promise<RescueResult> {
  if (limit <= 0) return { retried: [], dead: [], jobs: [], cancelledDependents: [] };
  const { rows } = await run<JobRow>(ctx.pool, ctx.sql.rescue, [
    ctx.now(),
    limit,
    // The same four fields, in the same order, as SQLite's serializeErrorRecord.
    JSON.stringify({ name: error.name, message: error.message, stack: error.stack, kind: error.kind }),
  ]);
  const jobs = rows.map(toJobRecord);
  const retried = jobs.filter((job) => job.state === 'retryable');
  const dead = jobs.filter((job) => job.state === 'dead').map((job) => job.id);
  const queues = new Set(retried.map((job) => job.queue));
  const cancelledDependents: string[] = [];
  if (dead.length > 0) for (const queue of await settleDependentsCounting(ctx, dead, dead.map(() => 'dead'), cancelledDependents)) queues.add(queue);
  await wakeQueues(ctx, queues);
  return { retried: retried.map((job) => job.id), dead, jobs, cancelledDependents };
}

export async function getJob(ctx: PgJobContext, id: string): Promise<JobRecord | null> {
  if (!isJobId(id)) return null;
  const { rows } = await run<JobRow>(ctx.pool, ctx.sql.get, [id]);
  return rows[0] ? toJobRecord(rows[0]) : null;
}

/**
 * The attempt history plus the running attempt (derived from the job row), read in one snapshot:
 * a REPEATABLE READ transaction on one connection. Read apart, a job finishing between the two
 * reads was returned without its latest attempt (the history read before the finish, the job row
 * after it).
 */
export async function jobAttempts(ctx: PgJobContext, id: string): Promise<AttemptRecord[]> {
  if (!isJobId(id)) return [];
  const { history, job } = await inTransaction(ctx.pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const attemptRows = await run<AttemptRow>(client, ctx.sql.attempts, [id]);
    const jobRows = await run<JobRow>(client, ctx.sql.get, [id]);
    return { history: attemptRows, job: jobRows.rows[0] ? toJobRecord(jobRows.rows[0]) : null };
  });
  const attempts = history.rows.map(toAttemptRecord);
  const running = job ? runningAttempt(job) : null;
  if (running) attempts.push(running);
  return attempts;
}

export async function cancelJob(ctx: PgJobContext, id: string, reason: string, cancelledDependents: string[] = []): Promise<JobRecord | null> {
  if (!isJobId(id)) return null;
  const { rows } = await run<JobRow>(ctx.pool, ctx.sql.cancel, [ctx.now(), id, JSON.stringify(cancelledError(reason))]);
  if (rows[0]) {
    await wakeQueues(ctx, await settleDependentsCounting(ctx, [id], ['cancelled'], cancelledDependents));
    return toJobRecord(rows[0]);
  }
  // Not found, or already final: report the job as it is.
  return getJob(ctx, id);
}

export async function retryJob(ctx: PgJobContext, id: string): Promise<JobRecord | null> {
  if (!isJobId(id)) return null;
  let rows: JobRow[];
  try {
    ({ rows } = await run<JobRow>(ctx.pool, ctx.sql.retry, [ctx.now(), id]));
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new StateError(`job ${id} cannot be retried: another job with the same name and key is pending or running`);
    }
    throw error;
  }
  const row = rows[0];
  if (!row) return getJob(ctx, id);
  const job = toJobRecord(row);
  ctx.wake([job.queue]);
  await notifyOthers(ctx, [job.queue]);
  return job;
}

/** Page size bounds of jobList. */
const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;

export async function listJobs(ctx: PgJobContext, params: JobListParams): Promise<JobListPage> {
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(params.limit ?? DEFAULT_PAGE)));
  const filter = params.filter ?? {};
  const values: unknown[] = [];
  const where: string[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (filter.states) where.push(`state = ANY(${bind(filter.states)}::text[])`);
  if (filter.queues) where.push(`queue = ANY(${bind(filter.queues)}::text[])`);
  if (filter.names) where.push(`name = ANY(${bind(filter.names)}::text[])`);
  // strpos rather than LIKE: no wildcard characters to escape in user input.
  if (filter.nameContains) where.push(`strpos(lower(name), lower(${bind(filter.nameContains)}::text)) > 0`);
  if (filter.search) {
    // No index serves a substring, so this is a filter on the newest-first walk of the primary
    // key like the others; the id term is only added for an id, so the cast cannot fail.
    const text = bind(filter.search);
    const terms = [`strpos(lower(name), lower(${text}::text)) > 0`, `strpos(lower(key), lower(${text}::text)) > 0`];
    if (isJobId(filter.search)) terms.push(`j.id = ${bind(filter.search)}::bigint`);
    where.push(`(${terms.join(' OR ')})`);
  }
  if (filter.createdAfter) where.push(`created_at >= ${bind(filter.createdAfter)}::timestamptz`);
  if (filter.createdBefore) where.push(`created_at < ${bind(filter.createdBefore)}::timestamptz`);
  if (filter.scheduleId !== undefined) where.push(`schedule_id = ${bind(filter.scheduleId)}::text`);
  if (filter.errorKinds !== undefined) where.push(`last_error ->> 'kind' = ANY (${bind(filter.errorKinds)}::text[])`);
  let cursor: number | null = null;
  if (params.cursor !== undefined && params.cursor !== null) {
    if (!isJobId(params.cursor)) {
      throw new ValidationError('INVALID_OPTION', `cursor ${JSON.stringify(params.cursor)} is not a cursor returned by jobList; omit it to start from the newest job`);
    }
    cursor = Number(params.cursor);
  }
  // A filtered page looks at a bounded window of ids (store/job-list-window.ts).
  let window: JobListWindow | null = null;
  let oldest: number | null = null;
  if (isFiltered(params)) {
    const { rows: range } = await ctx.pool.query<{ newest: string | null; oldest: string | null }>(
      `SELECT (SELECT max(id) FROM ${ctx.names.quoted}.jobs) AS newest, (SELECT min(id) FROM ${ctx.names.quoted}.jobs) AS oldest`,
    );
    const newest = range[0]?.newest == null ? null : Number(range[0].newest);
    oldest = range[0]?.oldest == null ? null : Number(range[0].oldest);
    window = listWindow(params, cursor, newest);
    where.push(`j.id >= ${bind(window.floor)}::bigint`);
    where.push(`j.id < ${bind(window.before)}::bigint`);
  } else if (cursor !== null) {
    where.push(`j.id < ${bind(cursor)}::bigint`);
  }
  const text =
    `SELECT ${jobColumns('j')} FROM ${ctx.names.quoted}.jobs j` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    // j.id, the bigint: a bare "id" would sort the text alias of the select list.
    ` ORDER BY j.id DESC LIMIT ${bind(limit + 1)}`;
  const { rows } = await ctx.pool.query<JobRow>(text, values);
  const page = rows.slice(0, limit).map(toJobRecord);
  if (window !== null) return { jobs: page, nextCursor: cursorAfter(rows, limit, window, oldest) };
  const last = page[page.length - 1];
  return { jobs: page, nextCursor: rows.length > limit && last ? last.id : null };
}

function zeroCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
}

export async function jobStats(ctx: PgJobContext): Promise<JobStats> {
  const { rows } = await run<{ queue: string; state: JobState; count: number }>(ctx.pool, ctx.sql.stats, []);
  const queues = new Map<string, QueueStats>();
  const totals = zeroCounts();
  for (const row of rows) {
    let entry = queues.get(row.queue);
    if (!entry) {
      entry = { queue: row.queue, counts: zeroCounts() };
      queues.set(row.queue, entry);
    }
    entry.counts[row.state] += row.count;
    totals[row.state] += row.count;
  }
  return { queues: [...queues.values()], totals };
}

/** The bound parameters ($4 … $7) of a prune's scope: each list, or null for no restriction. */
function scopeValues(scope: PruneScope | undefined): (string[] | null)[] {
  return [scope?.names ?? null, scope?.queues ?? null, scope?.exceptNames ?? null, scope?.exceptQueues ?? null];
}

export async function pruneJobs(
  ctx: PgJobContext,
  params: { finishedBefore: Date; states: JobState[]; limit: number; scope?: PruneScope },
): Promise<{ deleted: number }> {
  const states = params.states.filter((state) => FINAL_STATES.includes(state));
  if (states.length === 0 || params.limit <= 0) return { deleted: 0 };
  const result = await run(ctx.pool, ctx.sql.prune, [states, params.finishedBefore, params.limit, ...scopeValues(params.scope)]);
  return { deleted: result.rowCount ?? 0 };
}

export async function pruneResults(ctx: PgJobContext, params: { finishedBefore: Date; limit: number; scope?: PruneScope }): Promise<{ cleared: number }> {
  if (params.limit <= 0) return { cleared: 0 };
  const result = await run(ctx.pool, ctx.sql.resultPrune, [params.finishedBefore, params.limit, ...scopeValues(params.scope)]);
  return { cleared: result.rowCount ?? 0 };
}

/** Deletes the final-state jobs among `ids` (attempts cascade). Ids come from a sequence, never reused. */
export async function deleteJobs(ctx: PgJobContext, ids: string[]): Promise<{ deleted: string[] }> {
  const valid = ids.filter(isJobId);
  if (valid.length === 0) return { deleted: [] };
  const { rows } = await run<{ id: string }>(ctx.pool, ctx.sql.deleteFinal, [valid]);
  return { deleted: rows.map((row) => row.id) };
}
