/** Conformance: claiming jobs — order, due time, limits, paused queues, concurrent claims. */
import { describe, expect, it } from 'vitest';
import type { JobRecord, Store } from '../types.js';
import { errorRecord, fetchJobs, insertAndClaim, insertJob, jobInput, LEASE_MS, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

async function fetchOneByOne(store: Store, queue: string, max: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < max; i++) {
    const [job] = await fetchJobs(store, queue, 1);
    if (job === undefined) break;
    ids.push(job.id);
  }
  return ids;
}

export function describeJobFetch(factory: StoreFactory): void {
  describe('job fetch', () => {
    const t = useStoreFixture(factory);

    it('claims a job: running, attempt +1, lease owned by the caller expiring after leaseMs', async () => {
      const inserted = await insertJob(t.store);
      t.clock.advance(1_000);
      const now = t.clock.now();
      const claimed = await t.store.jobFetch({ queue: 'default', limit: 5, owner: 'worker-7', leaseMs: 12_345 });
      expect(claimed).toHaveLength(1);
      const job = claimed[0]!;
      expect(job).toMatchObject({ id: inserted.id, state: 'running', attempt: 1, payload: inserted.payload });
      expect(job.attemptedAt?.getTime()).toBe(now);
      expect(job.lease?.owner).toBe('worker-7');
      expect(job.lease?.token).toEqual(expect.any(String));
      expect(job.lease?.token.length).toBeGreaterThan(0);
      expect(job.lease?.expiresAt.getTime()).toBe(now + 12_345);
      const stored = await t.store.jobGet({ id: inserted.id });
      expect(stored).toMatchObject({ state: 'running', attempt: 1, lease: { owner: 'worker-7', token: job.lease!.token } });
    });

    it('a claimed record carries every stored field', async () => {
      const inserted = await insertJob(t.store, { name: 'full.job', payload: '{"a":[1,2]}', priority: 3, maxAttempts: 4, key: 'k', timeoutMs: 900, scheduleId: 'sched', meta: '{"fireAt":"x"}' });
      const [job] = await fetchJobs(t.store);
      expect(job).toMatchObject({
        id: inserted.id,
        name: 'full.job',
        queue: 'default',
        payload: '{"a":[1,2]}',
        priority: 3,
        maxAttempts: 4,
        key: 'k',
        timeoutMs: 900,
        scheduleId: 'sched',
        meta: '{"fireAt":"x"}',
        lastError: null,
        result: null,
        finishedAt: null,
      });
      expect(job!.createdAt.getTime()).toBe(inserted.createdAt.getTime());
      expect(job!.runAt.getTime()).toBe(inserted.runAt.getTime());
    });

    it('every claim gets a distinct lease token', async () => {
      await t.store.jobInsertMany({ jobs: [jobInput(), jobInput(), jobInput()] });
      const jobs = await fetchJobs(t.store, 'default', 3);
      expect(new Set(jobs.map((j) => j.lease?.token)).size).toBe(3);
    });

    it('claims by priority (highest first), then run_at (oldest first), then id', async () => {
      const base = t.clock.now();
      const ins = async (priority: number, ageMs: number): Promise<JobRecord> => insertJob(t.store, { priority, runAt: new Date(base - ageMs) });
      const lowOld = await ins(0, 50_000);
      const highNewA = await ins(10, 1_000);
      const highNewB = await ins(10, 1_000);
      const highOld = await ins(10, 5_000);
      const midNew = await ins(5, 0);
      const lowNew = await ins(0, 10);
      const order = await fetchOneByOne(t.store, 'default', 10);
      expect(order).toEqual([highOld.id, highNewA.id, highNewB.id, midNew.id, lowOld.id, lowNew.id]);
    });

    it('stores negative priorities (down to -1000000) and claims them after 0 and positive ones, in one batch or one by one', async () => {
      const base = t.clock.now();
      const ins = async (priority: number, ageMs = 0): Promise<JobRecord> => insertJob(t.store, { priority, runAt: new Date(base - ageMs) });
      const lowest = await ins(-1_000_000, 90_000);
      const low = await ins(-100, 60_000);
      const normal = await ins(0);
      const lowNewer = await ins(-100, 10);
      const critical = await ins(1000);
      const minusOne = await ins(-1, 30_000);
      const highest = await ins(1_000_000);
      expect((await t.store.jobGet({ id: lowest.id }))?.priority).toBe(-1_000_000);
      expect((await t.store.jobGet({ id: low.id }))?.priority).toBe(-100);
      const expected = [highest.id, critical.id, normal.id, minusOne.id, low.id, lowNewer.id, lowest.id];
      const batch = await fetchJobs(t.store, 'default', 3);
      expect(batch.map((job) => job.id)).toEqual(expected.slice(0, 3));
      expect(batch.map((job) => job.priority)).toEqual([1_000_000, 1000, 0]);
      expect(await fetchOneByOne(t.store, 'default', 10)).toEqual(expected.slice(3));
    });

    it('a batch claim takes the best jobs first', async () => {
      const low = await t.store.jobInsertMany({ jobs: Array.from({ length: 5 }, () => jobInput({ priority: 1 })) });
      const high = await t.store.jobInsertMany({ jobs: Array.from({ length: 3 }, () => jobInput({ priority: 100 })) });
      const claimed = await fetchJobs(t.store, 'default', 4);
      const ids = new Set(claimed.map((j) => j.id));
      expect(claimed).toHaveLength(4);
      for (const r of high) expect(ids.has(r.job.id)).toBe(true);
      expect(low.filter((r) => ids.has(r.job.id))).toHaveLength(1);
      expect(ids.has(low[0]!.job.id)).toBe(true);
    });

    it('respects the limit and claims nothing with limit 0', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 7 }, () => jobInput()) });
      expect(await fetchJobs(t.store, 'default', 0)).toEqual([]);
      expect(await fetchJobs(t.store, 'default', 3)).toHaveLength(3);
      expect(await fetchJobs(t.store, 'default', 3)).toHaveLength(3);
      expect(await fetchJobs(t.store, 'default', 3)).toHaveLength(1);
      expect(await fetchJobs(t.store, 'default', 3)).toHaveLength(0);
    });

    it('only claims from the requested queue', async () => {
      const a = await insertJob(t.store, { queue: 'alpha' });
      await insertJob(t.store, { queue: 'beta' });
      const claimed = await fetchJobs(t.store, 'alpha', 10);
      expect(claimed.map((j) => j.id)).toEqual([a.id]);
    });

    it('does not claim a delayed job before its run_at, and does at run_at', async () => {
      const job = await insertJob(t.store, { runAt: new Date(t.clock.now() + 10_000) });
      expect(await fetchJobs(t.store)).toEqual([]);
      t.clock.advance(9_999);
      expect(await fetchJobs(t.store)).toEqual([]);
      t.clock.advance(1);
      const claimed = await fetchJobs(t.store);
      expect(claimed.map((j) => j.id)).toEqual([job.id]);
    });

    it('claims a failed job again only once its retry time has come', async () => {
      const job = await insertAndClaim(t.store);
      await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease!.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 5_000 } }] });
      expect(await fetchJobs(t.store)).toEqual([]);
      t.clock.advance(5_000);
      const [again] = await fetchJobs(t.store);
      expect(again).toMatchObject({ id: job.id, attempt: 2, state: 'running' });
      expect(again!.lease!.token).not.toBe(job.lease!.token);
    });

    it('claims a failed job at once when its retry time is already past, and nothing from an unknown queue', async () => {
      const job = await insertAndClaim(t.store);
      await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 0 } }] });
      expect(await fetchJobs(t.store, 'no-such-queue')).toEqual([]);
      expect((await fetchJobs(t.store)).map((j) => j.id)).toEqual([job.id]);
    });

    it('higher priority wins even over jobs that have waited longer', async () => {
      const old = await insertJob(t.store, { priority: 0, runAt: new Date(t.clock.now() - 3_600_000) });
      const urgent = await insertJob(t.store, { priority: 1_000_000 });
      expect(await fetchOneByOne(t.store, 'default', 5)).toEqual([urgent.id, old.id]);
    });

    it('does not claim from a paused queue until it is resumed; other queues are unaffected', async () => {
      const paused = await insertJob(t.store, { queue: 'paused-q' });
      const other = await insertJob(t.store, { queue: 'other-q' });
      await t.store.queuePause({ queue: 'paused-q' });
      expect(await t.store.queuePausedList()).toEqual(['paused-q']);
      expect(await fetchJobs(t.store, 'paused-q')).toEqual([]);
      expect((await fetchJobs(t.store, 'other-q')).map((j) => j.id)).toEqual([other.id]);
      // Enqueues are still accepted while paused.
      const later = await insertJob(t.store, { queue: 'paused-q' });
      expect(later.state).toBe('available');
      await t.store.queueResume({ queue: 'paused-q' });
      expect(await t.store.queuePausedList()).toEqual([]);
      expect((await fetchJobs(t.store, 'paused-q')).map((j) => j.id).sort()).toEqual([paused.id, later.id].sort());
    });

    it('pause and resume are idempotent', async () => {
      await t.store.queuePause({ queue: 'q1' });
      await t.store.queuePause({ queue: 'q1' });
      await t.store.queuePause({ queue: 'q2' });
      expect((await t.store.queuePausedList()).sort()).toEqual(['q1', 'q2']);
      await t.store.queueResume({ queue: 'q1' });
      await t.store.queueResume({ queue: 'q1' });
      await t.store.queueResume({ queue: 'never-paused' });
      expect(await t.store.queuePausedList()).toEqual(['q2']);
    });

    it('concurrent claims on one store never return the same job', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 60 }, () => jobInput()) });
      const batches = await Promise.all(Array.from({ length: 8 }, (_, i) => t.store.jobFetch({ queue: 'default', limit: 10, owner: `w${i}`, leaseMs: LEASE_MS })));
      const ids = batches.flat().map((j) => j.id);
      expect(ids).toHaveLength(60);
      expect(new Set(ids).size).toBe(60);
    });

    it('concurrent claims from two connections never return the same job', async () => {
      const openAnother = t.fixture.openAnother;
      if (openAnother === undefined) return;
      const second = await openAnother();
      await t.store.jobInsertMany({ jobs: Array.from({ length: 100 }, () => jobInput()) });
      const stores = [t.store, second];
      const claimed: string[] = [];
      // Several rounds of interleaved claims from both connections until the queue is drained.
      for (let round = 0; round < 20; round++) {
        const batches = await Promise.all(
          Array.from({ length: 6 }, (_, i) => stores[i % 2]!.jobFetch({ queue: 'default', limit: 3, owner: `w${i}`, leaseMs: LEASE_MS })),
        );
        const ids = batches.flat().map((j) => j.id);
        claimed.push(...ids);
        if (ids.length === 0) break;
      }
      expect(claimed).toHaveLength(100);
      expect(new Set(claimed).size).toBe(100);
    });
  });
}
