// PostgreSQL-specific: the rescuer's search for stranded dependents (jobSettleStranded) reads the
// waiting jobs and their edges, never the whole jobs or edges table, even once they hold many
// finished jobs (the planner decides that, so it is checked on analysed tables of some size).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { POLICIES_KEEPING_FAILED_EDGES } from '../../src/store/job-dependencies.js';
import { jobStatements } from '../../src/store/postgres/job-statements.js';
import { schemaNames } from '../../src/store/postgres/schema-name.js';
import { postgresUrl } from '../support/postgres-server.js';
import { pgFixture } from './pg-test-fixtures.js';

const url = postgresUrl();

describe.skipIf(url === null)('postgres stranded dependents', () => {
  let fx: ReturnType<typeof pgFixture>;
  beforeEach(() => {
    fx = pgFixture(url!, 'stranded');
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('with 200,000 finished jobs and edges and a few hundred waiting jobs, both searches start from the waiting jobs', async () => {
    const store = fx.open({ listen: false });
    await store.migrate();
    const admin = await fx.client();
    const names = schemaNames(fx.schema);
    const s = names.quoted;
    // Every 500th job waits on the one before it, which is still running: nothing is stranded.
    await admin.query(`
      INSERT INTO ${s}.jobs (name, queue, payload, state, max_attempts, run_at, created_at, finished_at, deps_pending)
      SELECT 'pg.test', 'default', '{}',
             CASE WHEN i % 500 = 0 THEN 'waiting' WHEN i % 500 = 499 THEN 'running' ELSE 'completed' END,
             1, now(), now(), CASE WHEN i % 500 < 499 THEN now() END, CASE WHEN i % 500 = 0 THEN 1 ELSE 0 END
      FROM generate_series(1, 200000) AS i`);
    await admin.query(`
      INSERT INTO ${s}.job_deps (job_id, depends_on, resolved)
      SELECT id, id - 1, state = 'completed' FROM ${s}.jobs WHERE id % 500 = 0 OR (id > 1 AND id % 2 = 0)
      ON CONFLICT DO NOTHING`);
    await admin.query(`ANALYZE ${s}.jobs`);
    await admin.query(`ANALYZE ${s}.job_deps`);

    const sql = jobStatements(names);
    for (const [statement, values] of [
      [sql.depStrandedEnded, [1000, POLICIES_KEEPING_FAILED_EDGES]],
      [sql.depStrandedOrphans, [1000]],
    ] as const) {
      const { rows } = await admin.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`, [...values]);
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
      expect(plan).toContain('jobs_waiting_idx');
      expect(plan).not.toMatch(/Seq Scan/);
    }
    expect(await store.jobSettleStranded({ limit: 1000 })).toEqual({ released: [], cancelled: [], queues: [] });
  });
});
