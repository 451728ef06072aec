// The group-commit rules of SQLite one-job enqueues (the store's own tests run them on a real file:
// sqlite-store.test.ts and test/fault/enqueue-poison.test.ts); here, when a call waits for the end
// of a turn and when it does not.
import { describe, expect, it } from 'vitest';
import { InsertBatch } from '../../src/store/sqlite/sqlite-insert-batch.js';
import type { JobInsert, JobInsertResult } from '../../src/store/types.js';

function recorder() {
  const commits: string[][] = [];
  const result = (job: JobInsert) => ({ inserted: true, job: { payload: job.payload } }) as unknown as JobInsertResult;
  const batch = new InsertBatch({
    insertAll: (jobs) => {
      commits.push(jobs.map((job) => job.payload));
      return jobs.map(result);
    },
    insertOne: (job) => {
      commits.push([job.payload]);
      return result(job);
    },
    onInserted: () => undefined,
    failsEveryJob: () => false,
  });
  const job = (payload: string) => ({ payload }) as JobInsert;
  return { commits, batch, job };
}

describe('sqlite one-job enqueues: group commit', () => {
  it('inserts the first call of a turn at once and gathers the rest of that turn into one commit', async () => {
    const { commits, batch, job } = recorder();
    const calls = ['a', 'b', 'c', 'd'].map((payload) => batch.add(job(payload)));
    expect(commits).toEqual([['a']]);
    await Promise.all(calls);
    expect(commits).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('a caller awaiting each call stops waiting for turns after a few commits of one job', async () => {
    const { commits, batch, job } = recorder();
    for (let n = 0; n < 40; n++) await batch.add(job(String(n)));
    // Every call is committed alone; only the first eight alternate with a turn's end.
    expect(commits).toHaveLength(40);
    let waitedForTurn = 0;
    for (let n = 0; n < 40; n++) {
      const before = commits.length;
      const call = batch.add(job(`x${n}`));
      if (commits.length === before) waitedForTurn++;
      await call;
    }
    expect(waitedForTurn).toBe(0);
  });
});
