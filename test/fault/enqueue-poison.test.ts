// Fault injection: one enqueue the database refuses, among many made at the same moment, on both
// stores. Both commit one-job enqueues that arrive together in one statement (SQLite: those of
// one event-loop turn; PostgreSQL: those that arrive while an insert is under way); one refused
// row must fail only its own enqueue, never its neighbours', and every other job must be stored once.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { STORE_KINDS, type OpenedStore } from './both-stores.js';

const MARKER = 'refuse-me';
const job = defineJob({ name: 'burst', schema: z.object({ n: z.number(), tag: z.string() }), handler: () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`${kind.kind}: one refused enqueue in a burst`, () => {
    let opened: OpenedStore | null = null;
    afterEach(async () => {
      await opened?.cleanup();
      opened = null;
    });

    it('fails only its own call; the others are stored once each', async () => {
      opened = await kind.open();
      await opened.refuseInsert(MARKER);
      const client = createClient({ store: opened.store, jobs: [job] });
      const poisoned = 17;
      // Every call is made before any is awaited: after the first, they share one commit attempt.
      const calls = Array.from({ length: 40 }, (_, n) => client.enqueue(job, { n, tag: n === poisoned ? MARKER : 'fine' }));
      const settled = await Promise.allSettled(calls);
      const refused = settled[poisoned]!;
      expect(refused.status).toBe('rejected');
      expect(String((refused as PromiseRejectedResult).reason)).toContain('refused by a test trigger');
      const ids = settled.flatMap((outcome, n) => {
        if (n === poisoned) return [];
        expect(outcome.status, `call ${n}`).toBe('fulfilled');
        return [Number((outcome as PromiseFulfilledResult<{ job: { id: string } }>).value.job.id)];
      });
      // The shared statement, and each job alone after it failed, are numbered in call order.
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(39);
      const stored = (await opened.store.jobList({ limit: 100 })).jobs;
      expect(stored.map((row) => Number(row.id)).sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
      expect(stored.map((row) => (JSON.parse(row.payload) as { n: number }).n).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 40 }, (_, n) => n).filter((n) => n !== poisoned),
      );
      // The same burst without the bad row is stored whole.
      const again = await Promise.all(Array.from({ length: 10 }, (_, n) => client.enqueue(job, { n: 100 + n, tag: 'fine' })));
      expect(new Set(again.map((row) => row.job.id)).size).toBe(10);
      expect((await opened.store.jobList({ limit: 100 })).jobs).toHaveLength(49);
    });
  });
}
