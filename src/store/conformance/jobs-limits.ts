/** Conformance: flow control in the claim — a queue's global concurrency across every worker. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../types.js';
import { errorRecord, jobInput, LEASE_MS, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

const OWNER = 'limits-worker';

/** A claim of `queue` under a global concurrency limit. */
function fetchLimited(store: Store, queue: string, limit: number, globalConcurrency: number, leaseMs = LEASE_MS) {
  return store.jobFetch({ queue, limit, owner: OWNER, leaseMs, globalConcurrency });
}

async function completeAll(store: Store, jobs: { id: string; lease: { token: string } | null }[]): Promise<void> {
  await store.jobFinishMany({ items: jobs.map((job) => ({ id: job.id, token: job.lease!.token, finish: { outcome: 'completed', result: null } })) });
}

export function describeJobLimits(factory: StoreFactory): void {
  describe('flow control: global concurrency', () => {
    const t = useStoreFixture(factory);

    it('claims at most the limit minus the jobs of the queue running now, whoever claimed them', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 10 }, () => jobInput({ queue: 'llm' })) });
      // Two running, claimed without a limit (another worker, or `nightshift run`).
      const unlimited = await t.store.jobFetch({ queue: 'llm', limit: 2, owner: 'other', leaseMs: LEASE_MS });
      expect(unlimited).toHaveLength(2);
      const first = await fetchLimited(t.store, 'llm', 10, 5);
      expect(first).toHaveLength(3);
      expect(await fetchLimited(t.store, 'llm', 10, 5)).toEqual([]);
      // A finish frees its slot: the next claim takes exactly one.
      await completeAll(t.store, first.slice(0, 1));
      const next = await fetchLimited(t.store, 'llm', 10, 5);
      expect(next).toHaveLength(1);
      // Failed, snoozed and released attempts free their slot too.
      await t.store.jobFinishMany({
        items: [
          { id: first[1]!.id, token: first[1]!.lease!.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 60_000 } },
          { id: first[2]!.id, token: first[2]!.lease!.token, finish: { outcome: 'snoozed', delayMs: 60_000 } },
          { id: next[0]!.id, token: next[0]!.lease!.token, finish: { outcome: 'released' } },
        ],
      });
      expect(await fetchLimited(t.store, 'llm', 10, 5)).toHaveLength(3);
    });

    it('counts only its own queue, and takes no more than asked for', async () => {
      await t.store.jobInsertMany({ jobs: [...Array.from({ length: 5 }, () => jobInput({ queue: 'a' })), ...Array.from({ length: 5 }, () => jobInput({ queue: 'b' }))] });
      expect(await fetchLimited(t.store, 'a', 10, 3)).toHaveLength(3);
      expect(await fetchLimited(t.store, 'b', 2, 3)).toHaveLength(2);
      expect(await fetchLimited(t.store, 'b', 10, 3)).toHaveLength(1);
      expect(await fetchLimited(t.store, 'a', 10, 3)).toEqual([]);
    });

    it('a slot held by a lost worker comes back when its lease is rescued', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 3 }, () => jobInput({ queue: 'llm' })) });
      expect(await fetchLimited(t.store, 'llm', 10, 1, 1_000)).toHaveLength(1);
      expect(await fetchLimited(t.store, 'llm', 10, 1)).toEqual([]);
      t.clock.advance(1_001);
      await t.store.jobRescueExpired({ limit: 10, error: errorRecord({ kind: 'lease_expired' }) });
      expect(await fetchLimited(t.store, 'llm', 10, 1)).toHaveLength(1);
    });

    it('concurrent limited claims from several connections never take the queue above the limit', async () => {
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother(), await t.fixture.openAnother());
      await t.store.jobInsertMany({ jobs: Array.from({ length: 200 }, () => jobInput({ queue: 'llm' })) });
      const LIMIT = 7;
      const running = new Map<string, { id: string; lease: { token: string } | null }>();
      let maxRunning = 0;
      let claimedTotal = 0;
      // Rounds of claims racing on every connection; between rounds, finish a few of them.
      for (let round = 0; round < 30; round++) {
        const claims = await Promise.all(stores.flatMap((store) => [fetchLimited(store, 'llm', 4, LIMIT), fetchLimited(store, 'llm', 4, LIMIT)]));
        for (const job of claims.flat()) running.set(job.id, job);
        claimedTotal += claims.flat().length;
        const stats = await t.store.jobStats();
        const runningNow = stats.queues.find((q) => q.queue === 'llm')?.counts.running ?? 0;
        expect(runningNow).toBe(running.size);
        maxRunning = Math.max(maxRunning, runningNow);
        const done = [...running.values()].slice(0, 3);
        await completeAll(t.store, done);
        for (const job of done) running.delete(job.id);
      }
      expect(maxRunning).toBe(LIMIT);
      expect(claimedTotal).toBeGreaterThan(LIMIT);
    });
  });
}
