import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LATEST_VERSION, MIGRATIONS, runMigrations } from '../../src/store/postgres/migrations.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { encodeEvents } from '../../src/store/event-batches.js';
import { schemaNames } from '../../src/store/postgres/schema-name.js';
import { postgresUrl } from '../support/postgres-server.js';
import { jobInput, pgFixture, waitUntil } from './pg-test-fixtures.js';

const url = postgresUrl();
const HERE = path.dirname(fileURLToPath(import.meta.url));

describe.skipIf(url === null)('postgres: migrations', () => {
  let fx: ReturnType<typeof pgFixture>;
  beforeEach(() => {
    fx = pgFixture(url!, 'mig');
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  async function appliedRows(): Promise<{ version: number; n: number }[]> {
    const admin = await fx.client();
    const { rows } = await admin.query<{ version: number; n: number }>(
      `SELECT version, count(*)::int AS n FROM ${pg.escapeIdentifier(fx.schema)}.migrations GROUP BY version ORDER BY version`,
    );
    return rows;
  }

  it('five processes migrating a fresh schema at once: each step applied exactly once, all succeed', async () => {
    // Five stores with five separate pools, as five processes starting together would have.
    const stores = Array.from({ length: 5 }, () => fx.open({ poolSize: 2, listen: false }));
    await Promise.all(stores.map((store) => store.migrate()));
    expect(await appliedRows()).toEqual(MIGRATIONS.map((step) => ({ version: step.version, n: 1 })));
    // Every one of them can use the schema right away.
    const results = await Promise.all(stores.map((store, i) => store.jobInsertMany({ jobs: [jobInput({ payload: String(i) })] })));
    expect(results.flat().every((r) => r.inserted)).toBe(true);
  });

  it('reports which steps each concurrent run applied: together, each step once', async () => {
    const names = schemaNames(fx.schema);
    const pools = Array.from({ length: 5 }, () => fx.pool({ max: 2 }));
    const applied = await Promise.all(pools.map((pool) => runMigrations(pool, names)));
    expect(applied.flat().sort((a, b) => a - b)).toEqual(MIGRATIONS.map((step) => step.version));
  });

  it('a migration killed mid-step leaves nothing of that step and the next run resumes', async () => {
    const names = schemaNames(fx.schema);
    const s = pg.escapeIdentifier(fx.schema);
    // Step 1 applied; step 2 will be interrupted.
    await runMigrations(fx.pool(), names, { upTo: 1 });
    expect(await appliedRows()).toEqual([{ version: 1, n: 1 }]);

    // Another session holds the migration lock, so the migrating connection is caught waiting
    // inside step 2's transaction (after BEGIN), where we kill it as a crash would.
    const blocker = await fx.client();
    await blocker.query('BEGIN');
    await blocker.query('SELECT pg_advisory_xact_lock($1::bigint)', [names.migrationLockKey]);
    const victimPool = fx.pool({ max: 1, application_name: `mig-victim-${fx.schema}`.slice(0, 60) });
    const migrating = runMigrations(victimPool, names).then(
      () => null,
      (error: unknown) => error,
    );
    const admin = await fx.client();
    let pid: number | undefined;
    await waitUntil(async () => {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [`mig-victim-${fx.schema}`.slice(0, 60)],
      );
      pid = rows[0]?.pid;
      return pid !== undefined;
    }, 'the migration to wait on the lock');
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    const error = await migrating;
    expect(error).toMatchObject({ name: 'StoreError', retryable: true });
    await blocker.query('ROLLBACK');
    expect(await appliedRows()).toEqual([{ version: 1, n: 1 }]);
    const { rows: tables } = await admin.query(`SELECT to_regclass($1) AS t`, [`${s}.schedules`]);
    expect(tables[0].t).toBeNull();

    // The next start applies the rest.
    const store = fx.open();
    await store.migrate();
    expect(await appliedRows()).toEqual(MIGRATIONS.map((step) => ({ version: step.version, n: 1 })));
    expect(await store.scheduleList({})).toEqual([]);
  });

  it('a process killed with SIGKILL in the middle of a step: nothing of the step stays; the next start applies it', { timeout: 60_000 }, async () => {
    const names = schemaNames(fx.schema);
    const s = pg.escapeIdentifier(fx.schema);
    await runMigrations(fx.pool(), names, { upTo: 2 });
    // Step 3 creates functions, then a trigger on jobs. Holding a lock on jobs stops the child
    // after the first statements of the step ran, inside its transaction.
    const blocker = await fx.client();
    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE ${s}.jobs IN ACCESS EXCLUSIVE MODE`);
    const child = spawn(process.execPath, ['--import', 'jiti/register', path.join(HERE, 'fixtures/pg-migrate-process.ts')], {
      cwd: path.resolve(HERE, '../..'),
      env: { ...process.env, NS_PG_URL: url!, NS_SCHEMA: fx.schema },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<string | number>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code ?? 'unknown')));
    try {
      const admin = await fx.client();
      await waitUntil(async () => {
        const { rows } = await admin.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'ns-migrate-child' AND wait_event_type = 'Lock' AND query LIKE '%CREATE TRIGGER%'`,
        );
        return rows.length > 0;
      }, 'the child to be blocked inside step 3', 30_000);
      process.kill(child.pid!, 'SIGKILL');
      expect(await exited).toBe('SIGKILL');
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }
    // Its backend notices the dead client once the lock is granted, and rolls the step back.
    await blocker.query('ROLLBACK');
    // This run, not the killed one, applies step 3.
    expect(await runMigrations(fx.pool(), names)).toEqual(MIGRATIONS.filter((step) => step.version >= 3).map((step) => step.version));
    const store = fx.open();
    await store.migrate();
    expect(await appliedRows()).toEqual(MIGRATIONS.map((step) => ({ version: step.version, n: 1 })));
    const admin = await fx.client();
    // The wake-up trigger of step 3 and the three counting triggers of step 13.
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [`${s}.jobs`]);
    expect(rows[0].n).toBe(4);
    // The notification path works: the trigger from the re-applied step is in place.
    const woken: string[] = [];
    store.jobAvailableListen((queues) => woken.push(...queues));
    await fx.open({ listen: false }).jobInsertMany({ jobs: [jobInput({ queue: 'after-resume' })] });
    await waitUntil(() => woken.includes('after-resume'), 'a notification from the re-applied trigger');
  });

  it('a step that fails rolls back completely and keeps earlier steps', async () => {
    const names = schemaNames(fx.schema);
    const s = pg.escapeIdentifier(fx.schema);
    await runMigrations(fx.pool(), names, { upTo: 2 });
    // Make step 3 fail half-way: its trigger function name is taken.
    const admin = await fx.client();
    await admin.query(`CREATE FUNCTION ${s}.enqueue(job_name text, payload jsonb, options jsonb) RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint'`);
    await expect(runMigrations(fx.pool(), names)).rejects.toMatchObject({ name: 'StoreError', retryable: false });
    expect(await appliedRows()).toEqual([
      { version: 1, n: 1 },
      { version: 2, n: 1 },
    ]);
    const { rows } = await admin.query(`SELECT to_regprocedure($1) AS f`, [`${s}.jobs_notify_available()`]);
    expect(rows[0].f).toBeNull();
    await admin.query(`DROP FUNCTION ${s}.enqueue(text, jsonb, jsonb)`);
    expect(await runMigrations(fx.pool(), names)).toEqual(MIGRATIONS.filter((step) => step.version >= 3).map((step) => step.version));
    expect(LATEST_VERSION).toBe(26);
  });

  it('the counting step counts the jobs already there once; its triggers keep the counts exact after', async () => {
    const names = schemaNames(fx.schema);
    const s = pg.escapeIdentifier(fx.schema);
    await runMigrations(fx.pool(), names, { upTo: 12 });
    const admin = await fx.client();
    for (const queue of ['a', 'a', 'b']) await admin.query(`SELECT ${s}.enqueue('old', '{}'::jsonb, jsonb_build_object('queue', $1::text))`, [queue]);
    await admin.query(`UPDATE ${s}.jobs SET state = 'dead' WHERE queue = 'b'`);
    const store = fx.open();
    await store.migrate();
    const counts = async () => Object.fromEntries((await store.jobStats()).queues.map((q) => [q.queue, Object.fromEntries(Object.entries(q.counts).filter(([, n]) => n > 0))]));
    expect(await counts()).toEqual({ a: { available: 2 }, b: { dead: 1 } });
    // Writes that bypass the store (an operator's SQL) are counted too.
    await admin.query(`UPDATE ${s}.jobs SET state = 'cancelled' WHERE queue = 'a'`);
    await admin.query(`DELETE FROM ${s}.jobs WHERE queue = 'b'`);
    expect(await counts()).toEqual({ a: { cancelled: 2 } });
  });

  it('the batched feed step drops the old event rows and hands out ids above every old one', async () => {
    const names = schemaNames(fx.schema);
    const s = pg.escapeIdentifier(fx.schema);
    await runMigrations(fx.pool(), names, { upTo: 16 });
    const admin = await fx.client();
    await admin.query(`INSERT INTO ${s}.events (at, type, data) SELECT now(), 'job:completed', '{}' FROM generate_series(1, 3)`);
    // The identity's high-water mark is above every row left (the newest were deleted).
    await admin.query(`SELECT setval(pg_get_serial_sequence('${s}.events', 'id'), 234567)`);
    await admin.query(`INSERT INTO ${s}.event_floor (singleton, pruned_through) VALUES (true, 2)`);
    const store = fx.open();
    await store.migrate();
    expect(await store.eventList({ afterId: '0', limit: 10 })).toEqual([]);
    expect(await store.eventBounds()).toEqual({ newestId: null, prunedThroughId: '2' });
    await store.eventAppend({ batches: encodeEvents([{ type: 'job:started', queue: 'q', jobName: 'n', jobId: '1', data: '{}' }]) });
    const [event] = await store.eventList({ afterId: '234567', limit: 10 });
    expect(event).toMatchObject({ type: 'job:started', jobId: '1' });
    expect(Number(event!.id)).toBeGreaterThan(234_567);
  });

  it('the feed-as-bytes step keeps batches of text written before readable, in order with new ones', async () => {
    const names = schemaNames(fx.schema);
    const s = pg.escapeIdentifier(fx.schema);
    await runMigrations(fx.pool(), names, { upTo: 24 });
    const admin = await fx.client();
    // A batch as the version before wrote it: format 2 text.
    const text = '{"v":2,"d":["job:completed","mail","send"],"e":[[0,1,2,41,{"attempt":1,"durationMs":2.5}]]}';
    await admin.query(`INSERT INTO ${s}.event_batches (at, n, events) VALUES (now(), 1, $1)`, [text]);
    const store = fx.open();
    await store.migrate();
    await store.eventAppend({ batches: encodeEvents([{ type: 'job:started', queue: 'q', jobName: 'n', jobId: '42', data: '{}' }]) });
    const read = await store.eventList({ afterId: '0', limit: 10 });
    expect(read.map((event) => [event.type, event.queue, event.jobName, event.jobId, event.data])).toEqual([
      ['job:completed', 'mail', 'send', '41', '{"attempt":1,"durationMs":2.5}'],
      ['job:started', 'q', 'n', '42', '{}'],
    ]);
    const { rows } = await admin.query(`SELECT events IS NULL AS bytes, pg_typeof(packed)::text AS type FROM ${s}.event_batches ORDER BY id`);
    expect(rows).toEqual([
      { bytes: false, type: 'bytea' },
      { bytes: true, type: 'bytea' },
    ]);
    // A row is one form or the other, never neither.
    await expect(admin.query(`INSERT INTO ${s}.event_batches (at, n) VALUES (now(), 1)`)).rejects.toThrow(/event_batches_one_form/);
  });

  it('rejects hostile or invalid schema names before touching the database', () => {
    for (const schema of ['', 'Upper', 'a;drop table x', 'x"y', 'a'.repeat(49), '1abc', 'pg catalog']) {
      expect(() => createPostgresStore({ connectionString: url!, schema }), schema).toThrow(/schema .* is not accepted/);
    }
  });
});
