// Enqueueing with a named priority stores its number, and jobs are claimed critical > high >
// normal > low — identically on SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const report = defineJob<{ n: string }>({ name: 'report.build', handler: async () => undefined });
const digest = defineJob({ name: 'digest.send', priority: 'low', handler: async () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`named priorities on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let client: Client;

    beforeEach(async () => {
      opened = await kind.open();
      client = createClient({ store: opened.store, jobs: [report, digest] });
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    it('stores the number of each name and claims critical > high > normal > low, a numeric priority in between', async () => {
      // Enqueued worst first so that neither insertion order nor id decides the claim order.
      const low = await client.enqueue(report, { n: 'low' }, { priority: 'low' });
      const normal = await client.enqueue(report, { n: 'normal' }, { priority: 'normal' });
      const fifty = await client.enqueue(report, { n: '50' }, { priority: 50 });
      const high = await client.enqueue(report, { n: 'high' }, { priority: 'high' });
      const critical = await client.enqueue('report.build', { n: 'critical' }, { priority: 'critical' });
      expect([low, normal, fifty, high, critical].map((r) => r.job.priority)).toEqual([-100, 0, 50, 100, 1000]);
      expect((await client.get(low.job.id)).priority).toBe(-100);

      const claimed = await opened.store.jobFetch({ queue: 'default', limit: 10, owner: 'w', leaseMs: 60_000 });
      expect(claimed.map((job) => job.id)).toEqual([critical.job.id, high.job.id, fifty.job.id, normal.job.id, low.job.id]);
    });

    it('a job defined with priority low enqueues below the default; enqueueMany takes a name too', async () => {
      const [byDefault] = await client.enqueueMany(digest, [{}]);
      expect(byDefault!.job.priority).toBe(-100);
      const many = await client.enqueueMany(report, [{ n: 'a' }, { n: 'b' }], { priority: 'high' });
      expect(many.map((r) => r.job.priority)).toEqual([100, 100]);
      const overridden = await client.enqueue(digest, {}, { priority: 'normal' });
      expect(overridden.job.priority).toBe(0);
      const claimed = await opened.store.jobFetch({ queue: 'default', limit: 10, owner: 'w', leaseMs: 60_000 });
      expect(claimed.map((job) => job.priority)).toEqual([100, 100, 0, -100]);
    });
  });
}
