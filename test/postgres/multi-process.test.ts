/**
 * Worker processes on one PostgreSQL schema: real child processes (pg-worker-process.ts), a real
 * server. The restart and connection-kill tests use a private throwaway server, never the shared
 * one other test files run against.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventFeedReader } from '../../src/observe/event-feed.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/types.js';
import { postgresUrl, startEmbeddedPostgres, testSchema, type EmbeddedPostgresServer } from '../support/postgres-server.js';
import { killAllWorkers, spawnPgWorker, stopAllWorkers, type PgChildWorker } from './fixtures/pg-child-workers.js';
import { jobInput, waitUntil } from './pg-test-fixtures.js';

const url = postgresUrl();

/** Inserts `total` jobs named `name` in batches of 1000 (one statement each). */
async function enqueue(store: Store, name: string, total: number, payload: (i: number) => string): Promise<void> {
  for (let start = 0; start < total; start += 1000) {
    const size = Math.min(1000, total - start);
    await store.jobInsertMany({ jobs: Array.from({ length: size }, (_, i) => jobInput({ name, payload: payload(start + i) })) });
  }
}

/** Per-state counts of the schema's jobs, and jobs whose attempt history is not exactly `expected`. */
async function summary(client: pg.Client, schema: string) {
  const s = pg.escapeIdentifier(schema);
  const states = await client.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM ${s}.jobs GROUP BY state`);
  return Object.fromEntries(states.rows.map((row) => [row.state, row.n])) as Record<string, number>;
}

function workerEnv(pgUrl: string, schema: string, id: string, extra: Record<string, string> = {}): Record<string, string> {
  return { NS_PG_URL: pgUrl, NS_SCHEMA: schema, NS_WORKER_ID: id, ...extra };
}

async function ready(workers: PgChildWorker[]): Promise<void> {
  await Promise.all(workers.map((worker) => worker.waitForLine((line) => line.type === 'ready', 60_000)));
}

describe.skipIf(url === null)('postgres: worker processes on the shared server', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await killAllWorkers();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(prefix: string) {
    const { schema, drop } = testSchema(url!, prefix);
    const store = createPostgresStore({ connectionString: url!, schema, poolSize: 2, listen: false });
    const admin = new pg.Client({ connectionString: url! });
    admin.on('error', () => undefined);
    await admin.connect();
    cleanups.push(async () => {
      await store.close();
      await admin.end();
      await drop();
    });
    await store.migrate();
    return { schema, store, admin };
  }

  it('three processes, 10 000 jobs: every job completes exactly once', { timeout: 240_000 }, async () => {
    const { schema, store, admin } = await setup('mp3');
    const workers = ['a', 'b', 'c'].map((id) => spawnPgWorker(workerEnv(url!, schema, `w-${id}`, { NS_CONCURRENCY: '25' })));
    await ready(workers);
    await enqueue(store, 'count', 10_000, (i) => JSON.stringify({ n: i }));
    await waitUntil(async () => (await summary(admin, schema)).completed === 10_000, '10 000 completed jobs', 180_000);

    const s = pg.escapeIdentifier(schema);
    expect(await summary(admin, schema)).toEqual({ completed: 10_000 });
    // Exactly once: one attempt per job, and it completed.
    const attempts = await admin.query<{ n: number; jobs: number; completed: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS jobs, count(*) FILTER (WHERE outcome = 'completed')::int AS completed
       FROM ${s}.job_attempt_history`,
    );
    expect(attempts.rows[0]).toEqual({ n: 10_000, jobs: 10_000, completed: 10_000 });
    const byWorker = await admin.query<{ worker_id: string }>(`SELECT DISTINCT worker_id FROM ${s}.job_attempt_history`);
    expect(byWorker.rows.length).toBeGreaterThanOrEqual(2);
    await stopAllWorkers();
    for (const worker of workers) expect(await worker.exited).toBe(0);
  });

  it('kill -9 of a worker mid-run: its jobs finish on another worker after the lease expires', { timeout: 120_000 }, async () => {
    const { schema, store, admin } = await setup('mpk');
    const doomed = spawnPgWorker(workerEnv(url!, schema, 'doomed', { NS_HOLD_MS: '600000', NS_LEASE_MS: '1500', NS_RESCUE_MS: '200' }));
    await ready([doomed]);
    await enqueue(store, 'hold', 4, () => '{}');
    await waitUntil(() => doomed.lines.filter((line) => line.type === 'started').length === 4, 'the doomed worker to start 4 jobs', 30_000);
    process.kill(doomed.pid, 'SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');
    expect((await summary(admin, schema)).running).toBe(4);

    const survivor = spawnPgWorker(workerEnv(url!, schema, 'survivor', { NS_HOLD_MS: '0', NS_LEASE_MS: '1500', NS_RESCUE_MS: '200' }));
    await ready([survivor]);
    await waitUntil(async () => (await summary(admin, schema)).completed === 4, 'the 4 jobs to complete elsewhere', 60_000);
    const s = pg.escapeIdentifier(schema);
    const history = await admin.query<{ worker_id: string; outcome: string; attempt: number }>(
      `SELECT worker_id, outcome, attempt FROM ${s}.job_attempt_history ORDER BY job_id, seq NULLS LAST`,
    );
    const perJob = [];
    for (let i = 0; i < history.rows.length; i += 2) perJob.push(history.rows.slice(i, i + 2));
    expect(perJob).toHaveLength(4);
    for (const rows of perJob) {
      expect(rows).toEqual([
        { worker_id: 'doomed', outcome: 'lost', attempt: 1 },
        { worker_id: 'survivor', outcome: 'completed', attempt: 2 },
      ]);
    }
    // Each lost attempt is in the cluster-wide feed as a failure, written by the process that rescued it.
    const feed = createEventFeedReader(store);
    await waitUntil(async () => (await feed.list({ afterId: '0', limit: 1000, filter: { types: ['job:completed'] } })).length === 4, 'the completions in the feed', 10_000);
    const failed = await feed.list({ afterId: '0', limit: 1000, filter: { types: ['job:failed', 'job:dead'] } });
    expect(failed).toHaveLength(4);
    for (const event of failed) {
      expect(event).toMatchObject({ type: 'job:failed', queue: 'default', jobName: 'hold', data: { attempt: 1, willRetry: true, retryDelayMs: 0, error: { kind: 'lease_expired' } } });
    }
  });
});

describe.skipIf(url === null)('postgres: worker processes through server restarts and killed connections', () => {
  let server: EmbeddedPostgresServer;
  let admin: pg.Client | null = null;
  beforeAll(async () => {
    // A private server: restarting the shared one would break the other test files.
    server = await startEmbeddedPostgres();
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
  });
  afterEach(async () => {
    await killAllWorkers();
    await admin?.end().catch(() => undefined);
    admin = null;
  });

  async function connectAdmin(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: server.url });
    client.on('error', () => undefined);
    await client.connect();
    admin = client;
    return client;
  }

  it('a PostgreSQL restart while workers run: they log, reconnect and carry on; nothing lost or stuck', { timeout: 240_000 }, async () => {
    const schema = 'restart_run';
    const store = createPostgresStore({ connectionString: server.url, schema, poolSize: 2, listen: false });
    try {
      await store.migrate();
      const env = { NS_HOLD_MS: '20', NS_LEASE_MS: '3000', NS_RESCUE_MS: '500', NS_CONCURRENCY: '10' };
      const workers = ['r1', 'r2'].map((id) => spawnPgWorker(workerEnv(server.url, schema, id, env)));
      await ready(workers);
      await enqueue(store, 'hold', 3000, () => '{}');
      let db = await connectAdmin();
      await waitUntil(async () => ((await summary(db, schema)).completed ?? 0) >= 300, 'some jobs done before the restart', 60_000);

      await db.end().catch(() => undefined);
      await server.stop();
      // Both workers notice (a failed store call) before the server comes back.
      await Promise.all(workers.map((worker) => worker.waitForLine((line) => line.type === 'store-error', 30_000)));
      for (const worker of workers) expect(worker.lines.find((line) => line.type === 'store-error')).toMatchObject({ retryable: true });
      await server.start();

      // Jobs enqueued after the restart run too. The key makes the retried enqueue idempotent
      // (a failure at COMMIT would leave it unknown whether the first try went through).
      await waitUntil(
        async () => store.jobInsertMany({ jobs: [jobInput({ name: 'hold', key: 'after-restart' })] }).then(() => true, () => false),
        'an enqueue after the restart',
        30_000,
      );
      db = await connectAdmin();
      await waitUntil(async () => (await summary(db, schema)).completed === 3001, 'all 3001 jobs completed', 120_000);
      expect(await summary(db, schema)).toEqual({ completed: 3001 });
      for (const worker of workers) expect(worker.stderr()).toMatch(/"level":(40|50)/);
      await stopAllWorkers();
      for (const worker of workers) expect(await worker.exited).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('pg_terminate_backend on every worker connection, repeatedly: workers recover and finish every job', { timeout: 240_000 }, async () => {
    const schema = 'terminate_run';
    const store = createPostgresStore({ connectionString: server.url, schema, poolSize: 2, listen: false });
    try {
      await store.migrate();
      const env = { NS_HOLD_MS: '10', NS_LEASE_MS: '3000', NS_RESCUE_MS: '500', NS_CONCURRENCY: '10' };
      const workers = ['t1', 't2'].map((id) => spawnPgWorker(workerEnv(server.url, schema, id, env)));
      await ready(workers);
      await enqueue(store, 'hold', 2000, () => '{}');
      const db = await connectAdmin();
      for (const threshold of [200, 600, 1000]) {
        await waitUntil(async () => ((await summary(db, schema)).completed ?? 0) >= threshold, `${threshold} jobs completed`, 60_000);
        // Every client connection but ours: the workers' pools and LISTEN connections.
        await db.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = current_database()`,
        );
      }
      await waitUntil(async () => (await summary(db, schema)).completed === 2000, 'all 2000 jobs completed', 120_000);
      expect(await summary(db, schema)).toEqual({ completed: 2000 });
      await stopAllWorkers();
      for (const worker of workers) expect(await worker.exited).toBe(0);
    } finally {
      await store.close();
    }
  });
});
