// Group commit of one-job enqueues on PostgreSQL (src/store/postgres/postgres-insert-batch.ts):
// enqueues that arrive while one is under way share a statement, each caller still gets its own
// job, a lone caller waits for nobody, and closing the store writes what was asked first. A
// statement-level trigger counts the INSERT statements the server ran. (One refused row among
// many: test/fault/enqueue-poison.test.ts, on both stores.)
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { postgresUrl } from '../support/postgres-server.js';
import { jobInput, pgFixture } from './pg-test-fixtures.js';

const url = postgresUrl();

describe.skipIf(url === null)('postgres: one-job enqueues share statements', () => {
  let fx: ReturnType<typeof pgFixture>;
  let store: Store;
  beforeEach(async () => {
    fx = pgFixture(url!, 'grp');
    store = fx.open({ poolSize: 10 });
    await store.migrate();
    const admin = await fx.client();
    const s = `"${fx.schema}"`;
    await admin.query(`CREATE TABLE ${s}.insert_statements (n int NOT NULL)`);
    await admin.query(`CREATE FUNCTION ${s}.count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${s}.insert_statements (n) SELECT count(*) FROM new_rows; RETURN NULL; END $$`);
    await admin.query(`CREATE TRIGGER count_insert AFTER INSERT ON ${s}.jobs REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_insert()`);
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  /** Rows per INSERT statement on the jobs table, in the order they ran. */
  async function statements(): Promise<number[]> {
    const admin = await fx.client();
    return (await admin.query<{ n: number }>(`SELECT n FROM "${fx.schema}".insert_statements ORDER BY ctid`)).rows.map((row) => row.n);
  }

  it('sends the first at once and those that arrive meanwhile together, each caller getting its own job, ids in call order', async () => {
    const calls = Array.from({ length: 50 }, (_, n) => store.jobInsertMany({ jobs: [jobInput({ payload: JSON.stringify({ n }) })] }));
    const results = (await Promise.all(calls)).map(([result]) => result!);
    expect(results.map((result) => JSON.parse(result.job.payload).n)).toEqual(Array.from({ length: 50 }, (_, n) => n));
    expect(results.every((result) => result.inserted)).toBe(true);
    const ids = results.map((result) => Number(result.job.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(50);
    // All 50 were asked for before the first answer came back: one alone, then the other 49 in one statement.
    expect(await statements()).toEqual([1, 49]);
    for (const result of results) expect((await store.jobGet({ id: result.job.id }))?.payload).toBe(result.job.payload);
  });

  it('a caller awaiting each enqueue waits for nobody: one statement per job', async () => {
    for (let n = 0; n < 5; n++) await store.jobInsertMany({ jobs: [jobInput({ payload: JSON.stringify({ n }) })] });
    expect(await statements()).toEqual([1, 1, 1, 1, 1]);
  });

  it('keyed jobs are not gathered: each is its own statement, with its own key match', async () => {
    const calls = ['a', 'b', 'a'].map((key) => store.jobInsertMany({ jobs: [jobInput({ key, payload: JSON.stringify({ key }) })] }));
    const results = (await Promise.all(calls)).map(([result]) => result!);
    expect(results.filter((result) => result.inserted)).toHaveLength(2);
    // The two enqueues of key "a" name one job; exactly one of them inserted it.
    expect(results[2]!.job.id).toBe(results[0]!.job.id);
    expect([results[0]!.inserted, results[2]!.inserted].sort()).toEqual([false, true]);
    expect((await statements()).every((n) => n <= 1)).toBe(true);
  });

  it('closing the store writes the enqueues already asked for before the pool goes', async () => {
    const calls = Array.from({ length: 20 }, (_, n) => store.jobInsertMany({ jobs: [jobInput({ payload: JSON.stringify({ n }) })] }));
    await store.close();
    const settled = await Promise.allSettled(calls);
    expect(settled.map((outcome) => outcome.status)).toEqual(Array(20).fill('fulfilled'));
    const reader = fx.open();
    expect((await reader.jobList({ limit: 100 })).jobs).toHaveLength(20);
    // After the close, a call fails at once on its own; nothing waits for a shared statement.
    await expect(store.jobInsertMany({ jobs: [jobInput()] })).rejects.toThrow();
    expect((await reader.jobList({ limit: 100 })).jobs).toHaveLength(20);
  });
});
