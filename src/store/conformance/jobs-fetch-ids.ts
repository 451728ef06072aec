/**
 * Conformance: claiming given jobs by id (`jobFetch({ ids })`) — what `nightshift run` relies on to
 * run the one job it enqueued on that job's own queue, with no worker taking it first.
 */
import { describe, expect, it } from 'vitest';
import type { JobRecord, Store } from '../types.js';
import { errorRecord, fetchJobs, insertAndClaim, insertJob, jobInput, LEASE_MS, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

function fetchIds(store: Store, ids: readonly string[], options: { queue?: string; limit?: number; owner?: string } = {}): Promise<JobRecord[]> {
  return store.jobFetch({ queue: options.queue ?? 'default', limit: options.limit ?? 10, owner: options.owner ?? 'by-id', leaseMs: LEASE_MS, ids });
}

export function describeJobFetchIds(factory: StoreFactory): void {
  describe('job fetch by ids', () => {
    const t = useStoreFixture(factory);

    it('claims only the listed jobs, in claim order, up to the limit, under a fresh lease', async () => {
      const low = await insertJob(t.store, { priority: 1 });
      const high = await insertJob(t.store, { priority: 9 });
      const unlisted = await insertJob(t.store, { priority: 100 });
      const now = t.clock.now();
      const [first, ...rest] = await fetchIds(t.store, [low.id, high.id], { limit: 1, owner: 'cli-run' });
      expect(rest).toEqual([]);
      expect(first).toMatchObject({ id: high.id, state: 'running', attempt: 1 });
      expect(first!.lease).toMatchObject({ owner: 'cli-run', expiresAt: new Date(now + LEASE_MS) });
      expect((await fetchIds(t.store, [low.id, high.id])).map((job) => job.id)).toEqual([low.id]);
      expect(await t.store.jobGet({ id: unlisted.id })).toMatchObject({ state: 'available', attempt: 0 });
    });

    it('claims a job before its run_at and from a paused queue: it is a request to run it now', async () => {
      const later = await insertJob(t.store, { runAt: new Date(t.clock.now() + 3_600_000) });
      expect(later.state).toBe('scheduled');
      expect(await fetchJobs(t.store)).toEqual([]);
      t.clock.advance(1_000);
      const claimedAt = t.clock.now();
      const [early] = await fetchIds(t.store, [later.id]);
      expect(early!.id).toBe(later.id);
      // Due when it was claimed: its run_at is no longer the hour it was held back to, so neither
      // the job's record nor its wait says it ran before it was due.
      expect(early!.runAt).toEqual(new Date(claimedAt));
      expect((await t.store.jobGet({ id: later.id }))!.runAt).toEqual(new Date(claimedAt));
      // A job already due keeps the run_at it had.
      const due = await insertJob(t.store);
      t.clock.advance(1_000);
      expect((await fetchIds(t.store, [due.id]))[0]!.runAt).toEqual(due.runAt);

      const held = await insertJob(t.store, { queue: 'held' });
      await t.store.queuePause({ queue: 'held' });
      expect(await fetchJobs(t.store, 'held')).toEqual([]);
      expect((await fetchIds(t.store, [held.id], { queue: 'held' })).map((job) => job.id)).toEqual([held.id]);
    });

    it('skips jobs of another queue, running or finished jobs and unknown ids; an empty list claims nothing', async () => {
      const other = await insertJob(t.store, { queue: 'other' });
      const running = await insertAndClaim(t.store);
      const done = await insertAndClaim(t.store);
      await t.store.jobFinishMany({ items: [{ id: done.id, token: done.lease.token, finish: { outcome: 'completed', result: null } }] });
      const cancelled = await insertJob(t.store);
      await t.store.jobCancel({ id: cancelled.id, reason: 'test' });
      const waiting = await insertJob(t.store);
      expect(await fetchIds(t.store, [other.id, running.id, done.id, cancelled.id, '999999999'])).toEqual([]);
      expect(await fetchIds(t.store, [])).toEqual([]);
      expect(await t.store.jobGet({ id: running.id })).toMatchObject({ state: 'running', lease: { token: running.lease.token } });
      // The job nobody listed is still there for the queue's workers.
      expect((await fetchJobs(t.store)).map((job) => job.id)).toEqual([waiting.id]);
    });

    it('claims a retryable job again at once, as a new attempt; its finish is fenced like any other', async () => {
      const job = await insertAndClaim(t.store);
      await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 60_000 } }] });
      const [again] = await fetchIds(t.store, [job.id]);
      expect(again).toMatchObject({ id: job.id, state: 'running', attempt: 2 });
      const stale = await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: null } }] });
      expect(stale).toEqual({ applied: [], rejected: [job.id] });
      const fresh = await t.store.jobFinishMany({ items: [{ id: job.id, token: again!.lease!.token, finish: { outcome: 'completed', result: '"ok"' } }] });
      expect(fresh).toEqual({ applied: [job.id], rejected: [] });
    });

    it('a job is claimed once when claims by id race queue claims, also from a second connection', async () => {
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother());
      const inserted = await t.store.jobInsertMany({ jobs: Array.from({ length: 30 }, () => jobInput()) });
      const ids = inserted.map((result) => result.job.id);
      const claims = await Promise.all([
        ...ids.map((id, i) => fetchIds(stores[i % stores.length]!, [id], { owner: `by-id-${i}` })),
        ...Array.from({ length: 6 }, (_, i) => stores[(i + 1) % stores.length]!.jobFetch({ queue: 'default', limit: 4, owner: `worker-${i}`, leaseMs: LEASE_MS })),
      ]);
      const claimed = claims.flat().map((job) => job.id);
      expect(new Set(claimed).size).toBe(claimed.length);
      expect(claimed.sort()).toEqual([...ids].sort());
    });
  });
}
