// SQLite-specific behaviour that the shared conformance suite does not cover: locking and error
// mapping, transactional enqueue on a caller's connection, schema versioning, wake-ups, and
// several OS processes sharing one file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { LEASE_EXPIRED_ERROR } from '../../src/maintenance/rescuer.js';
import { TestClock } from '../../src/store/conformance/test-clock.js';
import { isRetryableSqliteCode, mapSqliteError } from '../../src/store/sqlite/sqlite-errors.js';
import { migrateSqlite, SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite/sqlite-migrations.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { encodeEvents } from '../../src/store/event-batches.js';
import { SQL } from '../../src/store/sqlite/sqlite-statements.js';
import { SQL as DEPENDENCY_SQL } from '../../src/store/sqlite/sqlite-job-deps.js';
import type { JobInsert, Store } from '../../src/store/types.js';

const CHILD = fileURLToPath(new URL('./sqlite-process-child.ts', import.meta.url));

function job(overrides: Partial<JobInsert> = {}): JobInsert {
  return { name: 'sqlite.test', queue: 'default', payload: '{}', priority: 0, maxAttempts: 3, runAt: null, key: null, timeoutMs: null, scheduleId: null, meta: null, ...overrides };
}

let dir: string;
let path: string;
const opened: { close(): unknown }[] = [];
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-sqlite-store-'));
  path = join(dir, 'jobs.db');
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }
  for (const handle of opened.splice(0)) await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openStore(options: { clock?: TestClock; busyTimeoutMs?: number } = {}): Promise<Store> {
  const store = createSqliteStore({ path, clock: options.clock?.fn, busyTimeoutMs: options.busyTimeoutMs });
  opened.push(store);
  await store.migrate();
  return store;
}

function openRaw(): Database.Database {
  const db = new Database(path);
  opened.push(db);
  return db;
}

/** Runs the child script; resolves with its JSON output line. */
function runChild(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'jiti/register', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`child ${args.join(' ')} exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>);
    });
  });
}

describe('sqlite store: locking and errors', () => {
  it('a write blocked past busyTimeoutMs fails with a retryable StoreError, then succeeds once the lock is gone', async () => {
    const store = await openStore({ busyTimeoutMs: 50 });
    const raw = openRaw();
    raw.exec('BEGIN IMMEDIATE');
    const error = await store.jobInsertMany({ jobs: [job(), job()] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    expect((error as Error).message).toMatch(/SQLITE_BUSY/);
    const claim = await store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 1000 }).catch((e: unknown) => e);
    expect(claim).toMatchObject({ retryable: true });
    raw.exec('ROLLBACK');
    expect(await store.jobInsertMany({ jobs: [job()] })).toHaveLength(1);
  });

  it('reads are not blocked by another connection’s write transaction (WAL)', async () => {
    const store = await openStore();
    const [inserted] = await store.jobInsertMany({ jobs: [job()] });
    const raw = openRaw();
    raw.exec('BEGIN IMMEDIATE');
    raw.prepare('UPDATE nightshift_jobs SET priority = 5').run();
    expect(await store.jobGet({ id: inserted!.job.id })).toMatchObject({ priority: 0 });
    raw.exec('ROLLBACK');
  });

  it('maps SQLite codes: busy/locked/full are retryable, everything else is not', () => {
    expect(isRetryableSqliteCode('SQLITE_BUSY')).toBe(true);
    expect(isRetryableSqliteCode('SQLITE_BUSY_SNAPSHOT')).toBe(true);
    expect(isRetryableSqliteCode('SQLITE_LOCKED')).toBe(true);
    expect(isRetryableSqliteCode('SQLITE_LOCKED_SHAREDCACHE')).toBe(true);
    expect(isRetryableSqliteCode('SQLITE_CONSTRAINT_UNIQUE')).toBe(false);
    expect(isRetryableSqliteCode('SQLITE_CORRUPT')).toBe(false);
    // A full disk passes once space returns: finishes wait for it instead of being dropped.
    expect(isRetryableSqliteCode('SQLITE_FULL')).toBe(true);
    expect(isRetryableSqliteCode('SQLITE_BUSYNESS')).toBe(false);
    const unique = Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(mapSqliteError(unique, 'jobInsertMany')).toMatchObject({ code: 'STORE_ERROR', retryable: false });
    const passthrough = new StoreError('x', { retryable: true });
    expect(mapSqliteError(passthrough, 'op')).toBe(passthrough);
  });

  it('close is idempotent and later calls fail with a StoreError', async () => {
    const store = await openStore();
    await store.close();
    await store.close();
    await expect(store.jobStats()).rejects.toBeInstanceOf(StoreError);
  });

  it('a missing directory is created, as a fresh app expects of ./data/nightshift.db', async () => {
    const nested = join(dir, 'data', 'nested', 'x.db');
    const store = createSqliteStore({ path: nested });
    await store.migrate();
    await store.close();
    expect(existsSync(nested)).toBe(true);
  });

  it('a directory that cannot be created fails at open with a StoreError naming the path', () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    expect(() => createSqliteStore({ path: join(blocker, 'sub', 'x.db') })).toThrow(StoreError);
    expect(() => createSqliteStore({ path: join(blocker, 'sub', 'x.db') })).toThrow(/a-file\/sub/);
  });
});

describe('sqlite store: schema', () => {
  it('migrates to the current version, in WAL mode, idempotently', async () => {
    await openStore();
    await openStore();
    const raw = openRaw();
    expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('refuses a database written by a newer version', async () => {
    await openStore();
    openRaw().pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    const store = createSqliteStore({ path });
    opened.push(store);
    await expect(store.migrate()).rejects.toThrow(/newer than this Nightshift/);
  });

  it('upgrading a version-2 file keeps every job, its indexes and the ids it handed out', async () => {
    const raw = openRaw();
    migrateSqlite(raw, 2);
    const insert = raw.prepare(
      `INSERT INTO nightshift_jobs (name, queue, payload, state, priority, max_attempts, run_at, created_at, key) VALUES ('old', 'default', ?, ?, 0, 1, 1000, 1000, ?)`,
    );
    for (let i = 1; i <= 5; i++) insert.run(`{"i":${i}}`, i === 2 ? 'available' : 'completed', i === 2 ? 'k' : null);
    // Version 2 pruned the two newest jobs: AUTOINCREMENT had handed out ids up to 5.
    raw.prepare('DELETE FROM nightshift_jobs WHERE id > 3').run();
    const before = raw.prepare('SELECT * FROM nightshift_jobs ORDER BY id').all();

    const store = await openStore();
    expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    // Every old value kept; later versions only added columns (null for old rows).
    expect(raw.prepare('SELECT * FROM nightshift_jobs ORDER BY id').all()).toEqual(
      (before as Record<string, unknown>[]).map((row) => ({
        ...row,
        concurrency_key: null,
        concurrency_limit: null,
        deps_pending: 0,
        has_dependents: 0,
        on_dep_failure: null,
        throttle_key: null,
        debounce_key: null,
        debounce_deadline: null,
        rate_key: null,
        rate_max: null,
        rate_per_ms: null,
      })),
    );
    const table = raw.prepare(`SELECT sql FROM sqlite_master WHERE name = 'nightshift_jobs'`).pluck().get() as string;
    expect(table).not.toMatch(/AUTOINCREMENT/);
    const indexes = raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'nightshift_jobs' ORDER BY name`).pluck().all();
    expect(indexes).toEqual([
      'nightshift_jobs_claim_idx',
      'nightshift_jobs_debounce_idx',
      'nightshift_jobs_finished_idx',
      'nightshift_jobs_key_idx',
      'nightshift_jobs_lease_idx',
      'nightshift_jobs_running_key_idx',
      'nightshift_jobs_schedule_idx',
      'nightshift_jobs_throttle_idx',
      'nightshift_jobs_waiting_idx',
    ]);

    const [single] = await store.jobInsertMany({ jobs: [job()] });
    const bulk = await store.jobInsertMany({ jobs: [job(), job()] });
    expect([single, ...bulk].map((r) => r?.job.id)).toEqual(['6', '7', '8']);
    // The key index came back: the old waiting job still holds its key.
    const [again] = await store.jobInsertMany({ jobs: [job({ name: 'old', key: 'k' })] });
    expect(again).toMatchObject({ inserted: false, job: { id: '2' } });
    const [claimed] = await store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 1000 });
    expect(claimed?.id).toBe('2');
  });

  it('upgrading a file with jobs counts them once for the stats, which triggers keep exact after', async () => {
    const raw = openRaw();
    migrateSqlite(raw, 7);
    const insert = raw.prepare(`INSERT INTO nightshift_jobs (name, queue, payload, state, priority, max_attempts, run_at, created_at) VALUES ('old', ?, '{}', ?, 0, 1, 1000, 1000)`);
    for (const [queue, state] of [['a', 'completed'], ['a', 'completed'], ['a', 'available'], ['b', 'dead']]) insert.run(queue, state);
    const store = await openStore();
    const counts = () => store.jobStats().then((stats) => Object.fromEntries(stats.queues.map((q) => [q.queue, Object.fromEntries(Object.entries(q.counts).filter(([, n]) => n > 0))])));
    expect(await counts()).toEqual({ a: { completed: 2, available: 1 }, b: { dead: 1 } });
    // Another process writing straight to the table (an older version, a hand edit) is counted too.
    raw.prepare(`UPDATE nightshift_jobs SET state = 'cancelled' WHERE queue = 'b'`).run();
    raw.prepare(`DELETE FROM nightshift_jobs WHERE state = 'completed'`).run();
    expect(await counts()).toEqual({ a: { available: 1 }, b: { cancelled: 1 } });
  });

  it('upgrading to batched feed events drops the old rows and hands out ids above every old one', async () => {
    const raw = openRaw();
    migrateSqlite(raw, 10);
    const insert = raw.prepare(`INSERT INTO nightshift_events (id, at, type, data) VALUES (?, 1000, 'job:completed', '{}')`);
    insert.run(123_456);
    insert.run(123_457);
    raw.prepare(`INSERT INTO nightshift_event_floor (only, pruned_through) VALUES (1, 100)`).run();
    // The old table's AUTOINCREMENT mark is above every row left (the newest were deleted).
    raw.prepare(`UPDATE sqlite_sequence SET seq = 234_567 WHERE name = 'nightshift_events'`).run();
    const store = await openStore();
    expect(await store.eventList({ afterId: '0', limit: 10 })).toEqual([]);
    expect(await store.eventBounds()).toEqual({ newestId: null, prunedThroughId: '100' });
    await store.eventAppend({ batches: encodeEvents([{ type: 'job:started', queue: 'q', jobName: 'n', jobId: '1', data: '{}' }]) });
    // A reader that had seen the old newest id still finds the new event after its cursor.
    const [event] = await store.eventList({ afterId: '234567', limit: 10 });
    expect(event).toMatchObject({ type: 'job:started', jobId: '1' });
    expect(Number(event!.id)).toBeGreaterThan(234_567);
  });

  it('several processes migrating a fresh file at once all succeed', async () => {
    const results = await Promise.all(Array.from({ length: 4 }, () => runChild([path, 'migrate'])));
    expect(results).toEqual(Array.from({ length: 4 }, () => ({ migrated: true })));
    expect(openRaw().pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
  });
});

describe('sqlite store: attempt history of completed jobs', () => {
  async function completeOne(store: Store, result: string): Promise<string> {
    await store.jobInsertMany({ jobs: [job()] });
    const [claimed] = await store.jobFetch({ queue: 'default', limit: 1, owner: 'worker-a', leaseMs: 30_000 });
    if (!claimed?.lease) throw new Error('expected a claimed job');
    await store.jobFinishMany({ items: [{ id: claimed.id, token: claimed.lease.token, finish: { outcome: 'completed', result } }] });
    return claimed.id;
  }

  it('a completed attempt stays in the job row: no attempt row is written', async () => {
    const store = await openStore();
    const id = await completeOne(store, '{"ok":1}');
    expect(openRaw().prepare('SELECT COUNT(*) AS n FROM nightshift_job_attempts').get()).toEqual({ n: 0 });
    expect((await store.jobAttempts({ id })).map((a) => [a.attempt, a.workerId, a.outcome, a.result])).toEqual([[1, 'worker-a', 'completed', '{"ok":1}']]);
  });

  it('a completed attempt an earlier version recorded as a row is reported, and kept on retry, once', async () => {
    const store = await openStore();
    const id = await completeOne(store, '"done"');
    // What a process of an earlier version wrote: every attempt as a row, the completed one too.
    const raw = openRaw();
    const row = raw.prepare('SELECT attempted_at, finished_at FROM nightshift_jobs WHERE id = ?').get(Number(id)) as { attempted_at: number; finished_at: number };
    raw
      .prepare(`INSERT INTO nightshift_job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result) VALUES (?, 1, 'worker-a', ?, ?, 'completed', NULL, '"done"')`)
      .run(Number(id), row.attempted_at, row.finished_at);
    expect((await store.jobAttempts({ id })).map((a) => [a.attempt, a.outcome])).toEqual([[1, 'completed']]);
    await store.jobRetry({ id });
    expect(raw.prepare('SELECT COUNT(*) AS n FROM nightshift_job_attempts').get()).toEqual({ n: 1 });
    expect((await store.jobAttempts({ id })).map((a) => [a.attempt, a.outcome])).toEqual([[1, 'completed']]);
  });
});

describe('sqlite store: several processes on one file', () => {
  it('processes draining one queue together claim every job exactly once', async () => {
    const store = await openStore();
    const total = 1500;
    const inserted = await store.jobInsertMany({ jobs: Array.from({ length: total }, (_, i) => job({ payload: String(i) })) });
    const results = await Promise.all([runChild([path, 'drain', '3']), runChild([path, 'drain', '7']), runChild([path, 'drain', '1'])]);
    const claimed = results.flatMap((r) => r.claimed as string[]);
    expect(claimed).toHaveLength(total);
    expect(new Set(claimed).size).toBe(total);
    expect(new Set(claimed)).toEqual(new Set(inserted.map((r) => r.job.id)));
    const stats = await store.jobStats();
    expect(stats.totals.completed).toBe(total);
    const sample = inserted[Math.floor(total / 2)]!.job.id;
    expect((await store.jobAttempts({ id: sample })).map((a) => a.outcome)).toEqual(['completed']);
  });
});

describe('sqlite store: several processes inserting into one file', () => {
  it('every job gets its own id, whichever process numbers it', async () => {
    const store = await openStore();
    const results = await Promise.all([runChild([path, 'insert', '400']), runChild([path, 'insert', '400']), runChild([path, 'insert', '400'])]);
    const ids = results.flatMap((r) => r.ids as string[]);
    expect(ids).toHaveLength(1200);
    expect(new Set(ids).size).toBe(1200);
    expect((await store.jobStats()).totals.available).toBe(1200);
    // Each id names the very job its process was told it inserted.
    const payloadOf = openRaw().prepare('SELECT payload FROM nightshift_jobs WHERE id = ?').pluck();
    for (const result of results) {
      const written = (result.ids as string[]).map((id) => JSON.parse(payloadOf.get(Number(id)) as string) as unknown);
      expect(written).toEqual((result.ids as string[]).map((_, i) => ({ pid: result.pid, i })));
    }
  });
});

describe('sqlite store: a worker process killed while holding jobs', () => {
  it('its jobs are rescued once the leases expire, and its tokens are fenced out afterwards', async () => {
    const store = await openStore();
    await store.jobInsertMany({ jobs: Array.from({ length: 8 }, (_, i) => job({ payload: String(i) })) });
    const child = spawn(process.execPath, ['--import', 'jiti/register', CHILD, path, 'claim-and-hang', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const claimed = (JSON.parse(line) as { claimed: { id: string; token: string }[] }).claimed;
    expect(claimed).toHaveLength(5);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await exited;

    // The 100 ms leases run out on the real clock; poll the rescuer with a deadline as a safety net.
    const rescued: string[] = [];
    const deadline = Date.now() + 10_000;
    while (rescued.length < claimed.length && Date.now() < deadline) {
      rescued.push(...(await store.jobRescueExpired({ limit: 10, error: LEASE_EXPIRED_ERROR })).retried);
      if (rescued.length < claimed.length) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(rescued.sort()).toEqual(claimed.map((c) => c.id).sort());
    for (const { id } of claimed) {
      expect((await store.jobAttempts({ id })).map((a) => [a.outcome, a.error?.kind])).toEqual([['lost', 'lease_expired']]);
    }
    const late = await store.jobFinishMany({ items: claimed.map((c) => ({ id: c.id, token: c.token, finish: { outcome: 'completed' as const, result: null } })) });
    expect(late.applied).toEqual([]);
    // Everything, the rescued jobs included, is claimable again: nothing was lost with the process.
    const again = await store.jobFetch({ queue: 'default', limit: 20, owner: 'survivor', leaseMs: 30_000 });
    expect(again).toHaveLength(8);
  });
});

describe('sqlite store: transactional enqueue on the caller’s connection', () => {
  it('a job inserted in a committed transaction exists; one in a rolled-back transaction never does', async () => {
    const store = await openStore();
    const app = openRaw();
    app.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)');

    app.exec('BEGIN IMMEDIATE');
    app.prepare('INSERT INTO orders (total) VALUES (10)').run();
    const [kept] = await store.jobInsertMany({ jobs: [job({ payload: '{"order":1}' })], tx: app });
    app.exec('COMMIT');

    app.exec('BEGIN IMMEDIATE');
    app.prepare('INSERT INTO orders (total) VALUES (20)').run();
    const [dropped] = await store.jobInsertMany({ jobs: [job({ payload: '{"order":2}' }), job({ payload: '{"order":3}', key: 'k' })], tx: app });
    app.exec('ROLLBACK');

    expect(await store.jobGet({ id: kept!.job.id })).toMatchObject({ payload: '{"order":1}', state: 'available' });
    expect(await store.jobGet({ id: dropped!.job.id })).toBeNull();
    const claimed = await store.jobFetch({ queue: 'default', limit: 10, owner: 'w', leaseMs: 1000 });
    expect(claimed.map((j) => j.payload)).toEqual(['{"order":1}']);
  });

  it('rejects a tx that is not a connection in a transaction', async () => {
    const store = await openStore();
    await expect(store.jobInsertMany({ jobs: [job()], tx: { query() {} } })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(store.jobInsertMany({ jobs: [job()], tx: openRaw() })).rejects.toThrow(/no open transaction/);
  });
});

describe('sqlite store: one-job enqueues of one event-loop turn share a commit', () => {
  it('commits them in one transaction, numbered in call order, each with its own result', async () => {
    const store = await openStore();
    // Each commit appends the pages it changed to the WAL: its growth counts commits.
    const walBytes = () => statSync(`${path}-wal`).size;
    await store.jobInsertMany({ jobs: [job()] });
    const start = walBytes();
    const results = await Promise.all(Array.from({ length: 25 }, (_, n) => store.jobInsertMany({ jobs: [job({ payload: `{"n":${n}}` })] })));
    const together = walBytes() - start;
    for (let n = 0; n < 5; n++) await store.jobInsertMany({ jobs: [job()] });
    const fiveAlone = walBytes() - start - together;
    expect(together).toBeGreaterThan(0);
    expect(together).toBeLessThan(fiveAlone);
    const ids = results.map(([result]) => Number(result!.job.id));
    expect(ids).toEqual(Array.from({ length: 25 }, (_, n) => ids[0]! + n));
    expect(results.map(([result]) => result!.job.payload)).toEqual(Array.from({ length: 25 }, (_, n) => `{"n":${n}}`));
    for (const [result] of results) expect(await store.jobGet({ id: result!.job.id })).toEqual(result!.job);
  });

  it('a store closed while enqueues are gathered commits them first; later calls fail', async () => {
    const store = await openStore();
    const pending = Array.from({ length: 5 }, () => store.jobInsertMany({ jobs: [job()] }));
    await store.close();
    const results = await Promise.all(pending);
    const count = openRaw().prepare('SELECT count(*) AS n FROM nightshift_jobs').get() as { n: number };
    expect(count.n).toBe(5);
    expect(results.every(([result]) => result!.inserted)).toBe(true);
    await expect(store.jobInsertMany({ jobs: [job()] })).rejects.toBeInstanceOf(StoreError);
  });

  it('a lock held past busyTimeoutMs fails every gathered enqueue with the retryable error, storing none', async () => {
    const store = await openStore({ busyTimeoutMs: 50 });
    const holder = openRaw();
    holder.exec('BEGIN IMMEDIATE');
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => store.jobInsertMany({ jobs: [job()] })));
    holder.exec('ROLLBACK');
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    }
    expect((await store.jobList({})).jobs).toEqual([]);
  });
});

describe('sqlite store: wake-ups and stored data', () => {
  it('a listener that throws does not break the store call or other listeners', async () => {
    const store = await openStore();
    const seen: string[][] = [];
    store.jobAvailableListen(() => {
      throw new Error('listener bug');
    });
    store.jobAvailableListen((queues) => seen.push(queues));
    await expect(store.jobInsertMany({ jobs: [job()] })).resolves.toHaveLength(1);
    expect(seen).toEqual([['default']]);
  });

  it('a hand-edited, unreadable last_error is reported as a corrupt error record', async () => {
    const store = await openStore();
    const [inserted] = await store.jobInsertMany({ jobs: [job()] });
    openRaw().prepare('UPDATE nightshift_jobs SET last_error = ? WHERE id = ?').run('{not json', Number(inserted!.job.id));
    expect((await store.jobGet({ id: inserted!.job.id }))?.lastError).toEqual({ name: 'Error', message: '{not json', stack: null, kind: 'corrupt' });
  });

  it('ids are never reused, even after every job was pruned', async () => {
    const clock = new TestClock();
    const store = await openStore({ clock });
    const [first] = await store.jobInsertMany({ jobs: [job()] });
    await store.jobCancel({ id: first!.job.id, reason: 'x' });
    clock.advance(1000);
    expect(await store.jobPrune({ finishedBefore: new Date(clock.now()), states: ['cancelled'], limit: 10 })).toEqual({ deleted: 1 });
    const [second] = await store.jobInsertMany({ jobs: [job()] });
    expect(BigInt(second!.job.id) > BigInt(first!.job.id)).toBe(true);
  });

  it('ids are never reused after the newest jobs were pruned, by single or multi-row inserts', async () => {
    const clock = new TestClock();
    const store = await openStore({ clock });
    const old = await store.jobInsertMany({ jobs: [job(), job(), job()] });
    for (const { job: record } of old.slice(1)) await store.jobCancel({ id: record.id, reason: 'x' });
    clock.advance(1000);
    expect(await store.jobPrune({ finishedBefore: new Date(clock.now()), states: ['cancelled'], limit: 10 })).toEqual({ deleted: 2 });
    const bulk = await store.jobInsertMany({ jobs: [job(), job()] });
    expect(bulk.map((r) => r.job.id)).toEqual(['4', '5']);
    for (const { job: record } of bulk) await store.jobCancel({ id: record.id, reason: 'x' });
    clock.advance(1000);
    expect(await store.jobPrune({ finishedBefore: new Date(clock.now()), states: ['cancelled'], limit: 10 })).toEqual({ deleted: 2 });
    const [single] = await store.jobInsertMany({ jobs: [job()] });
    expect(single!.job.id).toBe('6');
    // What the store returned is what it wrote.
    expect((await store.jobGet({ id: '6' }))?.state).toBe('available');
    expect(await store.jobGet({ id: '5' })).toBeNull();
  });
});

describe('sqlite store: negative priorities through the claim index', () => {
  it('claims in priority order across the sign, walking nightshift_jobs_claim_idx without a sort', async () => {
    const store = await openStore();
    const priorities = [-1_000_000, -100, -1, 0, 1, 100, 1000, 1_000_000];
    // Inserted in an order that is neither ascending nor descending, many of each.
    const shuffled = [0, -100, 1000, -1_000_000, 1, 1_000_000, -1, 100];
    await store.jobInsertMany({ jobs: Array.from({ length: 400 }, (_, i) => job({ priority: shuffled[i % shuffled.length]! })) });
    const claimed = await store.jobFetch({ queue: 'default', limit: 400, owner: 'w', leaseMs: 60_000 });
    const order = claimed.map((record) => record.priority);
    expect(order).toEqual([...order].sort((a, b) => b - a));
    expect([...new Set(order)]).toEqual([...priorities].reverse());

    const db = openRaw();
    // The store's own claim statement, explained (not run).
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${SQL.jobClaim}`).all({ queue: 'default', now: 0, limit: 5, owner: 'w', token: 't', expiresAt: 0 }) as { detail: string }[];
    const details = plan.map((row) => row.detail).join('\n');
    expect(details).toContain('nightshift_jobs_claim_idx');
    expect(details).not.toContain('TEMP B-TREE');
  });
});

describe('sqlite store: stranded dependents', () => {
  it('both searches walk the index of waiting jobs first, then each one\'s edges by primary key: never every job or edge', async () => {
    await openStore();
    const db = openRaw();
    const plan = (text: string, params: Record<string, unknown>) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(params) as { detail: string }[]).map((row) => row.detail);
    const ended = plan(DEPENDENCY_SQL.strandedEnded, { keep: '["wait"]', limit: 10 });
    expect(ended[0]).toBe('SCAN w USING INDEX nightshift_jobs_waiting_idx');
    expect(ended.filter((line) => line.startsWith('SCAN ') && !line.includes('json_each'))).toEqual([ended[0]]);
    expect(ended).toContain('SEARCH d USING PRIMARY KEY (job_id=?)');
    const orphans = plan(DEPENDENCY_SQL.strandedOrphans, { limit: 10 });
    expect(orphans[0]).toBe('SCAN w USING INDEX nightshift_jobs_waiting_idx');
    expect(orphans.filter((line) => line.startsWith('SCAN '))).toEqual([orphans[0]]);
  });
});
