// The dead-letter workflow at the size the issue names, on SQLite and PostgreSQL: 1,000 dead jobs
// retried in bulk by filter come back due with one more attempt each, and nothing else moves.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { errorRecord } from '../../src/store/conformance/conformance-fixtures.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const sync = defineJob({ name: 'github.sync', retry: { attempts: 1 }, handler: () => undefined });
const other = defineJob({ name: 'other.job', retry: { attempts: 1 }, handler: () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`bulk retry of dead jobs on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let client: Client;
    beforeEach(async () => {
      opened = await kind.open();
      client = createClient({ store: opened.store, jobs: [sync, other] });
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    /** Enqueues `count` jobs of `job` and kills every one of them with `errorKind`. */
    async function deadJobs(job: typeof sync, count: number, errorKind: string): Promise<void> {
      await client.enqueueMany(job, Array.from({ length: count }, (_, n) => ({ n })));
      for (;;) {
        const claimed = await opened.store.jobFetch({ queue: 'default', limit: 500, owner: 'w', leaseMs: 60_000 });
        if (claimed.length === 0) return;
        await opened.store.jobFinishMany({ items: claimed.map((c) => ({ id: c.id, token: c.lease!.token, finish: { outcome: 'dead', error: errorRecord({ kind: errorKind }) } })) });
      }
    }

    it('retries 1,000 dead jobs of one job and error kind, and leaves the others dead', async () => {
      await deadJobs(sync, 1000, 'timeout');
      await deadJobs(other, 20, 'timeout');
      expect((await client.stats()).totals.dead).toBe(1020);
      const result = await client.retryMany({ state: 'dead', job: 'github.sync', errorKind: 'timeout' });
      expect(result).toEqual({ changed: 1000, skipped: 0, more: false });
      const totals = (await client.stats()).totals;
      expect([totals.available, totals.dead]).toEqual([1000, 20]);
      const sample = (await client.list({ job: 'github.sync', limit: 5 })).jobs;
      expect(sample.every((job) => job.state === 'available' && job.maxAttempts === 2)).toBe(true);
    });
  });
}
