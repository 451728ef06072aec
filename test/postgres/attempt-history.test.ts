/**
 * The PostgreSQL store keeps a completed attempt in the job row instead of a job_attempts row
 * (migration 5), and commits finishes without waiting for the WAL flush. These tests pin down what
 * that must not change: the history jobAttempts reports, through retries and from databases
 * written by earlier versions, and the durability settings of the pooled connections.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/store/postgres/migrations.js';
import { schemaNames } from '../../src/store/postgres/schema-name.js';
import type { Store } from '../../src/store/types.js';
import { postgresUrl } from '../support/postgres-server.js';
import { jobInput, pgFixture } from './pg-test-fixtures.js';

const url = postgresUrl();

async function claimOne(store: Store, owner: string) {
  const [job] = await store.jobFetch({ queue: 'default', limit: 1, owner, leaseMs: 30_000 });
  if (!job?.lease) throw new Error('expected a claimed job');
  return { ...job, lease: job.lease };
}

describe.skipIf(url === null)('postgres: attempt history of completed jobs', () => {
  let fx: ReturnType<typeof pgFixture>;
  beforeEach(() => {
    fx = pgFixture(url!, 'hist');
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('a completed attempt is reported from the job row, and in the job_attempt_history view', async () => {
    const store = fx.open({ listen: false });
    await store.migrate();
    const [inserted] = await store.jobInsertMany({ jobs: [jobInput()] });
    const job = await claimOne(store, 'worker-a');
    await store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: '{"ok":1}' } }] });
    const stored = await store.jobGet({ id: inserted!.job.id });
    const attempts = await store.jobAttempts({ id: job.id });
    expect(attempts).toEqual([
      {
        jobId: job.id,
        attempt: 1,
        workerId: 'worker-a',
        startedAt: stored!.attemptedAt,
        finishedAt: stored!.finishedAt,
        durationMs: stored!.finishedAt!.getTime() - stored!.attemptedAt!.getTime(),
        outcome: 'completed',
        error: null,
        result: '{"ok":1}',
      },
    ]);
    const admin = await fx.client();
    const s = pg.escapeIdentifier(fx.schema);
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${s}.job_attempts`)).rows[0].n).toBe(0);
    const view = await admin.query(`SELECT job_id::text AS job_id, attempt, worker_id, outcome, result FROM ${s}.job_attempt_history`);
    expect(view.rows).toEqual([{ job_id: job.id, attempt: 1, worker_id: 'worker-a', outcome: 'completed', result: '{"ok":1}' }]);
  });

  it('retrying a completed job keeps its completed attempt, once, even when retried twice at once', async () => {
    const store = fx.open({ listen: false });
    await store.migrate();
    await store.jobInsertMany({ jobs: [jobInput()] });
    const first = await claimOne(store, 'worker-a');
    await store.jobFinishMany({ items: [{ id: first.id, token: first.lease.token, finish: { outcome: 'completed', result: '1' } }] });
    const retried = await Promise.all([store.jobRetry({ id: first.id }), store.jobRetry({ id: first.id })]);
    expect(retried.map((job) => job?.state)).toEqual(['available', 'available']);
    const second = await claimOne(store, 'worker-b');
    expect(second).toMatchObject({ id: first.id, attempt: 2 });
    const failed = { name: 'Error', message: 'boom', stack: null, kind: 'error' };
    await store.jobFinishMany({ items: [{ id: second.id, token: second.lease.token, finish: { outcome: 'failed', error: failed, retryDelayMs: 0 } }] });
    const third = await claimOne(store, 'worker-c');
    await store.jobFinishMany({ items: [{ id: third.id, token: third.lease.token, finish: { outcome: 'completed', result: '3' } }] });
    const attempts = await store.jobAttempts({ id: first.id });
    expect(attempts.map((a) => [a.attempt, a.workerId, a.outcome, a.result])).toEqual([
      [1, 'worker-a', 'completed', '1'],
      [2, 'worker-b', 'failed', null],
      [3, 'worker-c', 'completed', '3'],
    ]);
  });

  it('migrating a database written before version 5 drops the duplicate of the current completed attempt only', async () => {
    const names = schemaNames(fx.schema);
    const s = names.quoted;
    await runMigrations(fx.pool(), names, { upTo: 4 });
    const admin = await fx.client();
    // What version 4 wrote for a job completed at its second attempt, the first one having failed,
    // and for a job retried after completing (its old completed attempt is not the current one).
    await admin.query(`
      INSERT INTO ${s}.jobs (id, name, queue, payload, state, attempt, max_attempts, run_at, created_at, attempted_at, finished_at, lease_owner, result)
      VALUES (1, 'old', 'default', '{}', 'completed', 2, 3, now(), now(), now(), now(), 'w2', '"two"'),
             (2, 'old', 'default', '{}', 'available', 1, 3, now(), now(), now(), NULL, 'w1', '"one"');
      INSERT INTO ${s}.job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result)
      VALUES (1, 1, 'w1', now(), now(), 'failed', '{"name":"Error","message":"x","stack":null,"kind":"error"}', NULL),
             (1, 2, 'w2', now(), now(), 'completed', NULL, '"two"'),
             (2, 1, 'w1', now(), now(), 'completed', NULL, '"one"');
      SELECT setval('${fx.schema}.jobs_id_seq', 2);
    `);
    const store = fx.open({ listen: false });
    await store.migrate();
    expect((await store.jobAttempts({ id: '1' })).map((a) => [a.attempt, a.workerId, a.outcome])).toEqual([
      [1, 'w1', 'failed'],
      [2, 'w2', 'completed'],
    ]);
    expect((await store.jobAttempts({ id: '2' })).map((a) => [a.attempt, a.outcome, a.result])).toEqual([[1, 'completed', '"one"']]);
  });

  it('a completed attempt that an older process also recorded in job_attempts is reported once, also after a retry', async () => {
    const store = fx.open({ listen: false });
    await store.migrate();
    await store.jobInsertMany({ jobs: [jobInput()] });
    const job = await claimOne(store, 'old-worker');
    await store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: '1' } }] });
    // What a process of a version before 5 writes on top, finishing the same way.
    const admin = await fx.client();
    const s = pg.escapeIdentifier(fx.schema);
    await admin.query(
      `INSERT INTO ${s}.job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result)
       SELECT id, attempt, lease_owner, attempted_at, finished_at, 'completed', NULL, result FROM ${s}.jobs WHERE id = $1`,
      [job.id],
    );
    expect((await store.jobAttempts({ id: job.id })).map((a) => [a.attempt, a.outcome])).toEqual([[1, 'completed']]);
    await store.jobRetry({ id: job.id });
    expect((await store.jobAttempts({ id: job.id })).map((a) => [a.attempt, a.outcome])).toEqual([[1, 'completed']]);
  });

  it('finishing does not change the durability of the pooled connection it ran on', async () => {
    const pool = fx.pool({ max: 1 });
    const store = fx.open({ pool, listen: false });
    await store.migrate();
    await store.jobInsertMany({ jobs: [jobInput()] });
    const job = await claimOne(store, 'w');
    const result = await store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: null } }] });
    expect(result.applied).toEqual([job.id]);
    // The one connection of the pool ran the finish; the setting was local to that statement.
    expect((await pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('on');
  });
});
