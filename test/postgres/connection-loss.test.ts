import pg from 'pg';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/types.js';
import { freePort, postgresUrl } from '../support/postgres-server.js';
import { backendPids, jobInput, listenerPid, pgFixture, waitUntil } from './pg-test-fixtures.js';

const url = postgresUrl();

/** A pino logger writing JSON lines into an array. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe.skipIf(url === null)('postgres: connections killed under the store', () => {
  let fx: ReturnType<typeof pgFixture>;
  let admin: pg.Client;
  let appName: string;
  let store: Store;
  let s: string;
  beforeEach(async () => {
    fx = pgFixture(url!, 'kill');
    s = pg.escapeIdentifier(fx.schema);
    appName = `ns-kill-${fx.schema}`.slice(0, 60);
    admin = await fx.client();
    // Our own pool, named, so the test can find (and kill) exactly its connections.
    store = fx.open({ pool: fx.pool({ max: 2, application_name: appName }), listen: false });
    await store.migrate();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  /** Holds an exclusive lock on the jobs table and kills the store's backend once it waits on it. */
  async function killWhileWaiting<T>(call: () => Promise<T>): Promise<unknown> {
    const locker = await fx.client();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${s}.jobs IN ACCESS EXCLUSIVE MODE`);
    const pending = call().then(
      () => null,
      (error: unknown) => error,
    );
    let pid: number | undefined;
    await waitUntil(async () => {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [appName],
      );
      pid = rows[0]?.pid;
      return pid !== undefined;
    }, 'the store call to wait on the table lock');
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    const error = await pending;
    await locker.query('ROLLBACK');
    return error;
  }

  it('an enqueue whose connection dies fails with a retryable StoreError and inserts nothing', async () => {
    const error = await killWhileWaiting(() => store.jobInsertMany({ jobs: [jobInput({ queue: 'killed' })] }));
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ retryable: true, code: 'STORE_UNAVAILABLE' });
    expect((error as Error).message).toMatch(/enqueue failed/);
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${s}.jobs`);
    expect(rows[0].n).toBe(0);
    // The pool replaced the dead connection: the retry succeeds.
    const [again] = await store.jobInsertMany({ jobs: [jobInput({ queue: 'killed' })] });
    expect(again?.inserted).toBe(true);
  });

  it('a fetch whose connection dies fails clearly and leaves the job claimable, not stuck running', async () => {
    const [inserted] = await store.jobInsertMany({ jobs: [jobInput({ queue: 'q' })] });
    const error = await killWhileWaiting(() => store.jobFetch({ queue: 'q', limit: 5, owner: 'w', leaseMs: 60_000 }));
    expect(error).toMatchObject({ name: 'StoreError', retryable: true });
    expect((await store.jobGet({ id: inserted!.job.id }))?.state).toBe('available');
    const claimed = await store.jobFetch({ queue: 'q', limit: 5, owner: 'w', leaseMs: 60_000 });
    expect(claimed.map((job) => job.id)).toEqual([inserted!.job.id]);
  });

  it('a finish whose connection dies is not acknowledged and can be sent again', async () => {
    await store.jobInsertMany({ jobs: [jobInput({ queue: 'q' })] });
    const [job] = await store.jobFetch({ queue: 'q', limit: 1, owner: 'w', leaseMs: 60_000 });
    const items = [{ id: job!.id, token: job!.lease!.token, finish: { outcome: 'completed' as const, result: '1' } }];
    const error = await killWhileWaiting(() => store.jobFinishMany({ items }));
    expect(error).toMatchObject({ name: 'StoreError', retryable: true });
    expect((await store.jobGet({ id: job!.id }))?.state).toBe('running');
    expect(await store.jobFinishMany({ items })).toEqual({ applied: [job!.id], rejected: [] });
  });

  it('idle pooled connections killed between calls do not crash the process; the next call works', async () => {
    await store.jobInsertMany({ jobs: [jobInput()] });
    const pids = await backendPids(admin, appName);
    expect(pids.length).toBeGreaterThan(0);
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    await waitUntil(async () => (await backendPids(admin, appName)).length === 0, 'the killed connections to go away');
    // A call may land on a connection the pool has not noticed is dead yet: that call fails
    // retryably; the one after it succeeds.
    const first = await store.jobStats().then(
      () => null,
      (error: unknown) => error,
    );
    if (first !== null) expect(first).toMatchObject({ retryable: true });
    expect((await store.jobStats()).totals.available).toBe(1);
  });

  it('an unreachable server is a retryable StoreError, never an acknowledgement', async () => {
    const port = await freePort();
    const nowhere = createPostgresStore({ connectionString: `postgres://postgres@127.0.0.1:${port}/test`, schema: fx.schema, listen: false });
    try {
      const error = await nowhere.jobInsertMany({ jobs: [jobInput()] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ retryable: true });
      expect((error as Error).message).toMatch(/ECONNREFUSED|connect/);
      await expect(nowhere.migrate()).rejects.toMatchObject({ retryable: true });
    } finally {
      await nowhere.close();
    }
  });
});

describe.skipIf(url === null)('postgres: the LISTEN connection', () => {
  let fx: ReturnType<typeof pgFixture>;
  beforeEach(() => {
    fx = pgFixture(url!, 'lsn');
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('reconnects with backoff after pg_terminate_backend, re-subscribes and logs it', async () => {
    const { logger, lines } = capturingLogger();
    const listening = fx.open({ logger, pollIntervalMs: 60_000 });
    await listening.migrate();
    const inserter = fx.open({ listen: false });
    const woken: string[] = [];
    listening.jobAvailableListen((queues) => woken.push(...queues));
    const admin = await fx.client();
    let first: number | null = null;
    await waitUntil(async () => (first = await listenerPid(admin, fx.schema)) !== null, 'the first LISTEN');

    await inserter.jobInsertMany({ jobs: [jobInput({ queue: 'before-kill' })] });
    await waitUntil(() => woken.includes('before-kill'), 'a notification before the kill');

    await admin.query('SELECT pg_terminate_backend($1)', [first]);
    let second: number | null = null;
    await waitUntil(async () => {
      second = await listenerPid(admin, fx.schema);
      return second !== null && second !== first;
    }, 'a new LISTEN connection');
    await inserter.jobInsertMany({ jobs: [jobInput({ queue: 'after-kill' })] });
    await waitUntil(() => woken.includes('after-kill'), 'a notification through the new connection');
    expect(lines.some((line) => line.msg.includes('listener connection lost'))).toBe(true);
    await waitUntil(() => lines.some((line) => line.msg.includes('listener reconnected')), 'the reconnect log line');
  });

  it('after reconnecting, wakes listeners for jobs inserted while it was down', async () => {
    const listening = fx.open({ pollIntervalMs: 60_000 });
    await listening.migrate();
    const inserter = fx.open({ listen: false });
    const woken: string[] = [];
    listening.jobAvailableListen((queues) => woken.push(...queues));
    const admin = await fx.client();
    let first: number | null = null;
    await waitUntil(async () => (first = await listenerPid(admin, fx.schema)) !== null, 'the first LISTEN');
    // Kill it and insert at once: the notification may be sent while nobody listens.
    await admin.query('SELECT pg_terminate_backend($1)', [first]);
    await inserter.jobInsertMany({ jobs: [jobInput({ queue: 'while-down' })] });
    await waitUntil(() => woken.includes('while-down'), 'a wake-up for the job inserted while disconnected');
  });

  it('with listen: false there is no LISTEN connection; due jobs still wake listeners by polling', async () => {
    const store = fx.open({ listen: false, pollIntervalMs: 50 });
    await store.migrate();
    const other = fx.open({ listen: false });
    const woken: string[] = [];
    store.jobAvailableListen((queues) => woken.push(...queues));
    await other.jobInsertMany({ jobs: [jobInput({ queue: 'polled' })] });
    await waitUntil(() => woken.includes('polled'), 'a polled wake-up');
    const admin = await fx.client();
    expect(await listenerPid(admin, fx.schema)).toBeNull();
  });
});
