/**
 * Job inserts, shared by `jobInsertMany` and the cron tick claim (which inserts its job inside
 * the same transaction as the tick row), on the store's connection or a caller's.
 */
import type Database from 'better-sqlite3';
import type { JobInsert, JobInsertResult, JobRecord, JobState } from '../types.js';
import { jobFromRow, type JobRow } from './sqlite-rows.js';
import { SqliteDependencies } from './sqlite-job-deps.js';
import { hasDependencies } from '../job-dependencies.js';
import { debounceDeadline, debouncedRunAt, isThrottledOrDebounced, throttleSince } from '../debounce.js';
import { JOB_INSERT_MAX_ROWS, jobInsertRowsSql, SQL } from './sqlite-statements.js';

/** Parameters per row of a multi-row insert (see `jobInsertRowsSql`). */
const PARAMS_PER_ROW = 15;

/**
 * Inserts jobs on one connection, with the statements it needs prepared once (lazily: the
 * tables must exist first). Callers open the transaction; `insert` runs inside it.
 */
export class JobInserter {
  private single: Database.Statement | null = null;
  private byKey: Database.Statement | null = null;
  private nextId: Database.Statement | null = null;
  /** Multi-row statements by row count; only powers of two are ever prepared (at most 10). */
  private readonly multi = new Map<number, Database.Statement>();

  /** The dependency graph, written with the jobs that name dependencies (sqlite-job-deps.ts). */
  readonly deps: SqliteDependencies;
  private byId: Database.Statement | null = null;

  constructor(private readonly db: Database.Database) {
    this.deps = new SqliteDependencies(db);
  }

  /**
   * Inserts `jobs` in order and returns one result per job. A job whose (name, key) is held by
   * a job in a key-blocking state is not inserted; that job is returned instead. `now` is the
   * store's clock for the whole batch.
   *
   * The record of a new job is built from the input rather than read back: the row holds exactly
   * these values, and skipping the read keeps enqueues cheap.
   */
  insert(jobs: readonly JobInsert[], now: number, flow = false): JobInsertResult[] {
    if (flow) {
      // A flow whose root's key is held (see Store.jobInsertMany): nothing of it is stored. The
      // look is inside the caller's write transaction, so no other insert slips in between.
      const holder = this.rootKeyHolder(jobs);
      if (holder !== null) return [{ job: holder, inserted: false }];
    }
    const results = this.insertAny(jobs, now);
    if (jobs.some((job) => job.rateKey !== undefined)) this.setRateKeys(jobs, results);
    return results;
  }

  /** The job holding the key of the last of `jobs` (a flow's root) when there are several, else null. */
  private rootKeyHolder(jobs: readonly JobInsert[]): JobRecord | null {
    const root = jobs[jobs.length - 1];
    if (jobs.length < 2 || root === undefined || root.key === null) return null;
    this.byKey ??= this.db.prepare(SQL.jobByActiveKey);
    const row = this.byKey.get({ name: root.name, key: root.key }) as JobRow | undefined;
    return row === undefined ? null : jobFromRow(row);
  }

  private insertAny(jobs: readonly JobInsert[], now: number): JobInsertResult[] {
    if (jobs.some(hasDependencies)) return this.insertWithDependencies(jobs, now);
    if (jobs.some(isThrottledOrDebounced)) return this.insertThrottled(jobs, now);
    const keyed = jobs.some((job) => job.key !== null);
    return keyed || jobs.length === 1 ? this.insertOneByOne(jobs, now) : this.insertRows(jobs, now);
  }

  /**
   * Per-key rate limits, written after the rows (not in the hot insert statements): in the same
   * transaction, so no claim sees a new job without its key. The store never takes its one-job
   * fast path for such a job (see jobInsertMany).
   */
  private setRateKeys(jobs: readonly JobInsert[], results: readonly JobInsertResult[]): void {
    this.rateKeyStatement ??= this.db.prepare(SQL.jobSetRateKey);
    for (let i = 0; i < jobs.length; i++) {
      const rate = jobs[i]!.rateKey;
      const result = results[i]!;
      if (rate === undefined || !result.inserted) continue;
      this.rateKeyStatement.run({ id: Number(result.job.id), key: rate.key, max: rate.max, perMs: rate.perMs });
    }
  }
  private rateKeyStatement: Database.Statement | null = null;

  /**
   * Throttled and debounced jobs, one at a time (store/debounce.ts decides): a throttled job meets
   * the newest job of its name and key created in its window; a debounced one the newest of its
   * name and key that has not started, whose payload and run time it replaces. The caller's
   * write transaction keeps other writers out between the look and the write.
   */
  private insertThrottled(jobs: readonly JobInsert[], now: number): JobInsertResult[] {
    const statements = this.throttleStatements();
    const results: JobInsertResult[] = [];
    for (const job of jobs) {
      if (job.throttle) {
        const existing = statements.throttled.get({ name: job.name, key: job.throttle.key, since: throttleSince(job as JobInsert & { throttle: { perMs: number } }, now) }) as JobRow | undefined;
        if (existing) {
          results.push({ job: jobFromRow(existing), inserted: false });
          continue;
        }
        const [result] = this.insertOneByOne([job], now);
        statements.setThrottleKey.run({ id: Number(result!.job.id), key: job.throttle.key });
        results.push(result!);
      } else if (job.debounce) {
        const { key, delayMs, maxDelayMs } = job.debounce;
        const pending = statements.debounced.get({ name: job.name, key }) as JobRow | undefined;
        if (pending) {
          const runAt = debouncedRunAt(delayMs, now, pending.debounce_deadline ?? null);
          const updated = statements.debounceMove.get({ id: pending.id, payload: job.payload, runAt, now }) as JobRow;
          results.push({ job: jobFromRow(updated), inserted: false });
          continue;
        }
        const [result] = this.insertOneByOne([{ ...job, runAt: new Date(now + delayMs) }], now);
        statements.setDebounce.run({ id: Number(result!.job.id), key, deadline: debounceDeadline(maxDelayMs, now) });
        results.push(result!);
      } else {
        results.push(...this.insertOneByOne([job], now));
      }
    }
    return results;
  }

  private throttleStatements() {
    return (this.throttleSql ??= {
      throttled: this.db.prepare(
        `SELECT * FROM nightshift_jobs WHERE name = @name AND throttle_key = @key AND created_at > @since ORDER BY id DESC LIMIT 1`,
      ),
      setThrottleKey: this.db.prepare(`UPDATE nightshift_jobs SET throttle_key = @key WHERE id = @id`),
      debounced: this.db.prepare(
        `SELECT * FROM nightshift_jobs WHERE name = @name AND debounce_key = @key AND state IN ('scheduled','available') ORDER BY id DESC LIMIT 1`,
      ),
      debounceMove: this.db.prepare(
        `UPDATE nightshift_jobs SET payload = @payload, run_at = @runAt, state = CASE WHEN @runAt > @now THEN 'scheduled' ELSE 'available' END
         WHERE id = @id RETURNING *`,
      ),
      setDebounce: this.db.prepare(`UPDATE nightshift_jobs SET debounce_key = @key, debounce_deadline = @deadline WHERE id = @id`),
    });
  }
  private throttleSql: Record<'throttled' | 'setThrottleKey' | 'debounced' | 'debounceMove' | 'setDebounce', Database.Statement> | null = null;

  /**
   * One job at a time, in order, so that an item may depend on the ids of earlier items (a flow).
   * A job with dependencies starts `waiting` (or `cancelled`, when one already failed under the
   * `cancel` policy) and is read back, since its row is no longer just the input.
   */
  private insertWithDependencies(jobs: readonly JobInsert[], now: number): JobInsertResult[] {
    this.byId ??= this.db.prepare('SELECT * FROM nightshift_jobs WHERE id = ?');
    const ids: (string | null)[] = [];
    const results: JobInsertResult[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i] as JobInsert;
      const plan = this.deps.plan(job, i, ids);
      const [result] = this.insertOneByOne([job], now, plan !== null && plan.state !== null ? 'waiting' : undefined);
      const id = Number((result as JobInsertResult).job.id);
      ids.push(String(id));
      if (plan !== null && (result as JobInsertResult).inserted) {
        this.deps.record(id, plan);
        if (plan.failed) this.deps.settle([Number(plan.failed.id)], plan.failed.state === 'dead' ? 'dead' : 'cancelled', now);
        results.push({ job: jobFromRow(this.byId.get(id) as JobRow), inserted: true });
      } else {
        results.push(result as JobInsertResult);
      }
    }
    return results;
  }

  /** One statement per job; needed when keys may conflict, since each conflict is resolved alone. */
  private insertOneByOne(jobs: readonly JobInsert[], now: number, forcedState?: JobState): JobInsertResult[] {
    this.single ??= this.db.prepare(SQL.jobInsert);
    const results = new Array<JobInsertResult>(jobs.length);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i] as JobInsert;
      const runAt = job.runAt === null ? now : job.runAt.getTime();
      const state: JobState = forcedState ?? (runAt > now ? 'scheduled' : 'available');
      const info = this.single.run(
        job.name,
        job.queue,
        job.payload,
        state,
        job.priority,
        job.maxAttempts,
        runAt,
        now,
        job.key,
        job.timeoutMs,
        job.scheduleId,
        job.meta,
        job.concurrencyKey ?? null,
        job.concurrencyLimit ?? null,
      );
      if (info.changes === 0) {
        // Only the (name, key) unique index can swallow an insert (ON CONFLICT DO NOTHING).
        this.byKey ??= this.db.prepare(SQL.jobByActiveKey);
        const existing = this.byKey.get({ name: job.name, key: job.key }) as JobRow | undefined;
        if (existing === undefined) {
          throw new Error(`insert of job "${job.name}" was skipped but no job holds key ${JSON.stringify(job.key)}`);
        }
        results[i] = { job: jobFromRow(existing), inserted: false };
        continue;
      }
      results[i] = { job: newJobRecord(String(info.lastInsertRowid), job, state, runAt, now), inserted: true };
    }
    return results;
  }

  /**
   * Multi-row INSERTs in chunks whose sizes are powers of two (512, 256, … 1), so a handful of
   * prepared statements serve every batch size. Without keys no row can conflict, so every job
   * is inserted, numbered in input order from the next free id. The caller's transaction keeps
   * that id free until the rows are in.
   */
  private insertRows(jobs: readonly JobInsert[], now: number): JobInsertResult[] {
    if (!this.db.inTransaction) throw new Error('a multi-row job insert must run inside a transaction');
    this.nextId ??= this.db.prepare(SQL.jobNextId).pluck();
    let nextId = this.nextId.get() as number;
    const results = new Array<JobInsertResult>(jobs.length);
    let offset = 0;
    while (offset < jobs.length) {
      const size = chunkSize(jobs.length - offset);
      const args = new Array<unknown>(size * PARAMS_PER_ROW);
      const states = new Array<JobState>(size);
      const runAts = new Array<number>(size);
      for (let r = 0; r < size; r++) {
        const job = jobs[offset + r] as JobInsert;
        const runAt = job.runAt === null ? now : job.runAt.getTime();
        const state: JobState = runAt > now ? 'scheduled' : 'available';
        states[r] = state;
        runAts[r] = runAt;
        const base = r * PARAMS_PER_ROW;
        args[base] = nextId + r;
        args[base + 1] = job.name;
        args[base + 2] = job.queue;
        args[base + 3] = job.payload;
        args[base + 4] = state;
        args[base + 5] = job.priority;
        args[base + 6] = job.maxAttempts;
        args[base + 7] = runAt;
        args[base + 8] = now;
        args[base + 9] = null;
        args[base + 10] = job.timeoutMs;
        args[base + 11] = job.scheduleId;
        args[base + 12] = job.meta;
        args[base + 13] = job.concurrencyKey ?? null;
        args[base + 14] = job.concurrencyLimit ?? null;
      }
      const info = this.statementFor(size).run(args);
      if (info.changes !== size) throw new Error(`multi-row insert wrote ${info.changes} rows for ${size} jobs`);
      for (let r = 0; r < size; r++) {
        results[offset + r] = {
          job: newJobRecord(String(nextId + r), jobs[offset + r] as JobInsert, states[r] as JobState, runAts[r] as number, now),
          inserted: true,
        };
      }
      nextId += size;
      offset += size;
    }
    return results;
  }

  private statementFor(size: number): Database.Statement {
    let statement = this.multi.get(size);
    if (statement === undefined) {
      statement = this.db.prepare(jobInsertRowsSql(size));
      this.multi.set(size, statement);
    }
    return statement;
  }
}

/** The largest power of two ≤ min(remaining, JOB_INSERT_MAX_ROWS). */
function chunkSize(remaining: number): number {
  let size = JOB_INSERT_MAX_ROWS;
  while (size > remaining) size >>= 1;
  return size;
}

function newJobRecord(id: string, job: JobInsert, state: JobState, runAt: number, now: number): JobRecord {
  return {
    id,
    name: job.name,
    queue: job.queue,
    payload: job.payload,
    state,
    priority: job.priority,
    attempt: 0,
    maxAttempts: job.maxAttempts,
    runAt: new Date(runAt),
    createdAt: new Date(now),
    attemptedAt: null,
    finishedAt: null,
    key: job.key,
    timeoutMs: job.timeoutMs,
    lease: null,
    lastError: null,
    result: null,
    progress: null,
    scheduleId: job.scheduleId,
    meta: job.meta,
    concurrencyKey: job.concurrencyKey ?? null,
    concurrencyLimit: job.concurrencyLimit ?? null,
  };
}

/** Queues that got at least one job due now, for wake-up notifications. */
export function queuesMadeAvailable(results: readonly JobInsertResult[]): Set<string> {
  const queues = new Set<string>();
  for (const result of results) {
    if (result.inserted && result.job.state === 'available') queues.add(result.job.queue);
  }
  return queues;
}

