import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postgresUrl } from '../support/postgres-server.js';
import { jobInput, pgFixture, waitUntil } from './pg-test-fixtures.js';

const url = postgresUrl();

describe.skipIf(url === null)('postgres: enqueue inside the caller transaction', () => {
  let fx: ReturnType<typeof pgFixture>;
  beforeEach(() => {
    fx = pgFixture(url!, 'txe');
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('a committed transaction makes the job exist and wakes a listener in another process', async () => {
    const store = fx.open();
    await store.migrate();
    const other = fx.open();
    const woken: string[][] = [];
    other.jobAvailableListen((queues) => woken.push(queues));
    const appPool = fx.pool();
    // The listener subscribes asynchronously; wait until its LISTEN is in place.
    const admin = await fx.client();
    await waitUntil(async () => (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE query = $1`, [`LISTEN "nightshift:${fx.schema}"`])).rowCount === 1, 'LISTEN');

    const client = await appPool.connect();
    try {
      await client.query('BEGIN');
      const [result] = await store.jobInsertMany({ jobs: [jobInput({ queue: 'tx-commit' })], tx: client });
      expect(result?.inserted).toBe(true);
      // Not visible outside the transaction before COMMIT.
      expect(await store.jobGet({ id: result!.job.id })).toBeNull();
      expect(woken.flat()).not.toContain('tx-commit');
      await client.query('COMMIT');
      await waitUntil(() => woken.flat().includes('tx-commit'), 'a NOTIFY for tx-commit after COMMIT');
      expect((await store.jobGet({ id: result!.job.id }))?.state).toBe('available');
      const [claimed] = await store.jobFetch({ queue: 'tx-commit', limit: 1, owner: 'w', leaseMs: 10_000 });
      expect(claimed?.id).toBe(result!.job.id);
    } finally {
      client.release();
    }
  });

  it('a rolled-back transaction leaves no job and sends no wake-up', async () => {
    const store = fx.open();
    await store.migrate();
    const woken: string[][] = [];
    store.jobAvailableListen((queues) => woken.push(queues));
    const client = await fx.client();
    await client.query('BEGIN');
    await client.query(`CREATE TEMP TABLE orders (id int)`);
    const [result] = await store.jobInsertMany({ jobs: [jobInput({ queue: 'tx-rollback' })], tx: client });
    await client.query('ROLLBACK');
    expect(await store.jobGet({ id: result!.job.id })).toBeNull();
    expect(await store.jobFetch({ queue: 'tx-rollback', limit: 10, owner: 'w', leaseMs: 10_000 })).toEqual([]);
    // A later insert on another queue is delivered; the rolled-back one never was.
    await store.jobInsertMany({ jobs: [jobInput({ queue: 'after' })] });
    await waitUntil(() => woken.flat().includes('after'), 'the wake-up for a committed insert');
    expect(woken.flat()).not.toContain('tx-rollback');
  });

  it('a keyed flow whose root key another transaction takes while it inserts stores nothing, in its own transaction or a savepoint of the caller\'s', async () => {
    const store = fx.open();
    await store.migrate();
    const flow = (n: number) => [
      jobInput({ name: 'flow.child', payload: String(n) }),
      jobInput({ name: 'flow.child', payload: String(n) }),
      jobInput({ name: 'flow.root', key: `report-${n}`, payload: String(n), dependsOnItems: [0, 1] }),
    ];
    const admin = await fx.client();
    const waitingOnLock = async () =>
      waitUntil(async () => (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rowCount! > 0, 'the flow insert waiting for the key');
    for (const inCallerTx of [false, true]) {
      const n = inCallerTx ? 2 : 1;
      // Another transaction holds the root's key, not yet committed: the flow's look does not see it.
      const other = await fx.client();
      await other.query('BEGIN');
      const [holder] = await store.jobInsertMany({ jobs: [jobInput({ name: 'flow.root', key: `report-${n}` })], tx: other });
      const caller = inCallerTx ? await fx.client() : null;
      await caller?.query('BEGIN');
      const pending = store.jobInsertMany(caller ? { jobs: flow(n), tx: caller, flow: true } : { jobs: flow(n), flow: true });
      await waitingOnLock();
      await other.query('COMMIT');
      const results = await pending;
      expect(results).toEqual([{ job: expect.objectContaining({ id: holder!.job.id, key: `report-${n}` }), inserted: false }]);
      if (caller) {
        // The caller's transaction goes on, without the flow.
        const [after] = await store.jobInsertMany({ jobs: [jobInput({ name: 'after.flow' })], tx: caller });
        await caller.query('COMMIT');
        expect(await store.jobGet({ id: after!.job.id })).toMatchObject({ name: 'after.flow' });
      }
    }
    const names = (await store.jobList({ limit: 100 })).jobs.map((job) => job.name).sort();
    expect(names).toEqual(['after.flow', 'flow.root', 'flow.root']);
  });

  it('refuses a tx that is not a pg client', async () => {
    const store = fx.open();
    await store.migrate();
    await expect(store.jobInsertMany({ jobs: [jobInput()], tx: { begin: true } })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});

describe.skipIf(url === null)('postgres: the enqueue() SQL function', () => {
  let fx: ReturnType<typeof pgFixture>;
  let client: pg.Client;
  let fn: string;
  beforeEach(async () => {
    fx = pgFixture(url!, 'sqlfn');
    await fx.open().migrate();
    client = await fx.client();
    fn = `${pg.escapeIdentifier(fx.schema)}.enqueue`;
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('enqueues from a plain client and returns the id; the store runs the job', async () => {
    const store = fx.open();
    const { rows } = await client.query<{ id: string }>(`SELECT ${fn}('email.send', '{"to":"a@example.com"}') AS id`);
    const id = rows[0]!.id;
    expect(id).toMatch(/^[0-9]+$/);
    const job = await store.jobGet({ id });
    expect(job).toMatchObject({ name: 'email.send', queue: 'default', priority: 0, maxAttempts: 3, state: 'available', key: null });
    expect(JSON.parse(job!.payload)).toEqual({ to: 'a@example.com' });
    const [claimed] = await store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 10_000 });
    expect(claimed?.id).toBe(id);
  });

  it('applies queue, priority, max_attempts, delay_ms, run_at and key', async () => {
    const store = fx.open();
    const one = await client.query<{ id: string }>(
      `SELECT ${fn}('report.build', '{}', '{"queue":"reports","priority":7,"max_attempts":5,"delay_ms":60000}') AS id`,
    );
    expect(await store.jobGet({ id: one.rows[0]!.id })).toMatchObject({ queue: 'reports', priority: 7, maxAttempts: 5, state: 'scheduled' });
    const two = await client.query<{ id: string }>(`SELECT ${fn}('report.build', '{}', '{"run_at":"2001-01-01T00:00:00Z"}') AS id`);
    const past = await store.jobGet({ id: two.rows[0]!.id });
    expect(past?.state).toBe('available');
    expect(past?.runAt.toISOString()).toBe('2001-01-01T00:00:00.000Z');
    // A delay past int32 (24 days) is fine: up to 100 years, like client.enqueue.
    const far = await client.query<{ id: string }>(`SELECT ${fn}('report.build', '{}', '{"delay_ms":3153600000000}') AS id`);
    const farJob = await store.jobGet({ id: far.rows[0]!.id });
    expect(farJob!.runAt.getTime() - Date.now()).toBeGreaterThan(3153600000000 - 600_000);
    // Negative priorities (named priority low = -100) are accepted, like client.enqueue's, down to -1000000.
    const low = await client.query<{ id: string }>(`SELECT ${fn}('report.build', '{}', '{"priority":-100}') AS id`);
    expect(await store.jobGet({ id: low.rows[0]!.id })).toMatchObject({ priority: -100, state: 'available' });
    const lowest = await client.query<{ id: string }>(`SELECT ${fn}('report.build', '{}', '{"priority":-1000000}') AS id`);
    expect((await store.jobGet({ id: lowest.rows[0]!.id }))?.priority).toBe(-1_000_000);
    const first = await client.query<{ id: string }>(`SELECT ${fn}('sync', '{}', '{"key":"user-1"}') AS id`);
    const again = await client.query<{ id: string }>(`SELECT ${fn}('sync', '{"other":true}', '{"key":"user-1"}') AS id`);
    expect(again.rows[0]!.id).toBe(first.rows[0]!.id);
  });

  it('applies the core name and priority rules and rejects unknown options', async () => {
    const bad: [string, string, string, RegExp][] = [
      ['', '{}', '{}', /job name must not be empty/],
      ['has space', '{}', '{}', /characters outside/],
      ['x'.repeat(129), '{}', '{}', /limit is 128/],
      ['ok', '{}', '{"queue":"../etc"}', /queue name/],
      ['ok', '{}', '{"priority":1000001}', /priority must be an integer from -1000000 to 1000000/],
      ['ok', '{}', '{"priority":-1000001}', /priority must be an integer from -1000000 to 1000000/],
      ['ok', '{}', '{"priority":1.5}', /priority must be an integer/],
      ['ok', '{}', '{"priority":"high"}', /priority must be a number/],
      ['ok', '{}', '{"max_attempts":0}', /max_attempts/],
      ['ok', '{}', '{"delay_ms":5,"run_at":"2030-01-01"}', /either run_at or delay_ms/],
      ['ok', '{}', '{"queue_name":"x"}', /unknown option "queue_name"/],
      ['ok', '{}', '[]', /options must be a JSON object/],
      // The core's bounds (job/input-bounds.ts), the same as client.enqueue's.
      ['ok', '{}', '{"delay_ms":1e20}', /delay_ms must be from 0 to 3153600000000/],
      ['ok', '{}', '{"delay_ms":-1}', /delay_ms must be from 0/],
      ['ok', '{}', '{"delay_ms":"soon"}', /delay_ms must be a number/],
      ['ok', '{}', '{"run_at":"200000-01-01T00:00:00Z"}', /run_at must be between 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z/],
      ['ok', '{}', '{"run_at":"1969-12-31T23:59:59Z"}', /run_at must be between/],
      ['ok', '{}', '{"run_at":"tomorrow-ish"}', /option run_at must be an ISO 8601 timestamp/],
      ['ok', '{}', '{"run_at":"2026-13-45T99:00:00Z"}', /option run_at must be an ISO 8601 timestamp/],
      ['ok', '{}', `{"key":"${'k'.repeat(257)}"}`, /key must be a string of 1 to 256 characters/],
      // Nesting past MAX_PAYLOAD_DEPTH (256 levels), as serializePayload refuses it.
      ['ok', `${'['.repeat(257)}0${']'.repeat(257)}`, '{}', /payload nests arrays and objects more than 256 levels deep/],
      ['ok', `{"a":${'['.repeat(256)}0${']'.repeat(256)}}`, '{}', /more than 256 levels deep/],
      ['ok', `${'['.repeat(5000)}0${']'.repeat(5000)}`, '{}', /more than 256 levels deep/],
    ];
    for (const [name, payload, options, message] of bad) {
      await expect(client.query(`SELECT ${fn}($1, $2::jsonb, $3::jsonb)`, [name, payload, options]), `${name} ${options}`).rejects.toThrow(message);
    }
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(fx.schema)}.jobs`);
    expect(rows[0].n).toBe(0);
    // Exactly at the limit is stored, as by the core.
    const atLimit = `{"a":${'['.repeat(255)}0${']'.repeat(255)}}`;
    const stored = await client.query<{ id: string }>(`SELECT ${fn}('ok', $1::jsonb) AS id`, [atLimit]);
    expect(JSON.parse((await fx.open().jobGet({ id: stored.rows[0]!.id }))!.payload)).toEqual(JSON.parse(atLimit));
  });

  it('works inside a transaction and from a trigger: rolled back means no job', async () => {
    const s = pg.escapeIdentifier(fx.schema);
    await client.query(`CREATE TABLE ${s}.signups (email text)`);
    await client.query(`
      CREATE FUNCTION ${s}.signup_welcome() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM ${fn}('email.welcome', jsonb_build_object('to', NEW.email), '{"queue":"mail"}');
        RETURN NEW;
      END $$`);
    await client.query(`CREATE TRIGGER signup_welcome AFTER INSERT ON ${s}.signups FOR EACH ROW EXECUTE FUNCTION ${s}.signup_welcome()`);
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${s}.signups VALUES ('gone@example.com')`);
    await client.query('ROLLBACK');
    await client.query(`INSERT INTO ${s}.signups VALUES ('kept@example.com')`);
    const store = fx.open();
    const jobs = await store.jobFetch({ queue: 'mail', limit: 10, owner: 'w', leaseMs: 10_000 });
    expect(jobs.map((job) => JSON.parse(job.payload))).toEqual([{ to: 'kept@example.com' }]);
  });
});
