/** Conformance: flow control in the claim — a queue's global concurrency, per-key concurrency, rate limit and holds across every worker. */
import { describe, expect, it } from 'vitest';
import { type JobInsert, type JobRecord, type Store } from '../types.js';
import { rateWindowMs } from '../rate-window.js';
import { errorRecord, jobInput, LEASE_MS, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

const OWNER = 'limits-worker';

/** A claim of `queue` honouring per-key limits (and a global one when given). */
function fetchKeyed(store: Store, queue: string, limit: number, globalConcurrency?: number) {
  return store.jobFetch({ queue, limit, owner: OWNER, leaseMs: LEASE_MS, perKeyConcurrency: true, ...(globalConcurrency === undefined ? {} : { globalConcurrency }) });
}

/** A job of `queue` with a concurrency key and limit. */
const keyed = (queue: string, key: string | null, limit = 1, overrides: Partial<JobInsert> = {}): JobInsert =>
  jobInput({ queue, payload: JSON.stringify({ key }), ...(key === null ? {} : { concurrencyKey: key, concurrencyLimit: limit }), ...overrides });

const keysOf = (jobs: JobRecord[]): (string | null)[] => jobs.map((job) => (JSON.parse(job.payload) as { key: string | null }).key);

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

  describe('flow control: per-key concurrency', () => {
    const t = useStoreFixture(factory);

    it('stores the key on the job and claims one job per key at a time with a limit of 1', async () => {
      const inserted = await t.store.jobInsertMany({ jobs: [keyed('sync', 'a'), keyed('sync', 'a'), keyed('sync', 'b'), keyed('sync', 'a'), keyed('sync', 'c'), keyed('sync', 'b')] });
      expect(inserted.map((r) => r.job.concurrencyKey)).toEqual(['a', 'a', 'b', 'a', 'c', 'b']);
      expect((await t.store.jobGet({ id: inserted[0]!.job.id }))?.concurrencyKey).toBe('a');
      const first = await fetchKeyed(t.store, 'sync', 10);
      expect(keysOf(first)).toEqual(['a', 'b', 'c']);
      expect(first.map((job) => job.concurrencyKey)).toEqual(['a', 'b', 'c']);
      expect(await fetchKeyed(t.store, 'sync', 10)).toEqual([]);
      // A's job finishes: the next of A, and only it, can start.
      await completeAll(t.store, first.slice(0, 1));
      const next = await fetchKeyed(t.store, 'sync', 10);
      expect(next.map((job) => job.id)).toEqual([inserted[1]!.job.id]);
    });

    it('a limit of N runs up to N of a key; the limit is each job\'s own', async () => {
      await t.store.jobInsertMany({ jobs: [...Array.from({ length: 5 }, () => keyed('sync', 'wide', 3)), keyed('sync', 'narrow', 1), keyed('sync', 'narrow', 1)] });
      const claimed = await fetchKeyed(t.store, 'sync', 10);
      expect(keysOf(claimed).sort()).toEqual(['narrow', 'wide', 'wide', 'wide']);
      expect(await fetchKeyed(t.store, 'sync', 10)).toEqual([]);
    });

    it('a key with many jobs waiting ahead does not hold back the others; unkeyed jobs are not limited', async () => {
      // 50 jobs of "busy" first in claim order (higher priority), then one each of two quieter keys and two without a key.
      await t.store.jobInsertMany({ jobs: Array.from({ length: 50 }, () => keyed('sync', 'busy', 1, { priority: 10 })) });
      await t.store.jobInsertMany({ jobs: [keyed('sync', 'quiet1'), keyed('sync', null), keyed('sync', 'quiet2'), keyed('sync', null)] });
      const claimed = await fetchKeyed(t.store, 'sync', 5);
      expect(keysOf(claimed)).toEqual(['busy', 'quiet1', null, 'quiet2', null]);
    });

    it('finds a free key behind more jobs of a busy key than a claim ranks at first', async () => {
      // More than the first ranking looks at (a prefix of a few hundred due jobs), all of one key.
      await t.store.jobInsertMany({ jobs: Array.from({ length: 800 }, () => keyed('sync', 'busy', 1, { priority: 10 })) });
      await t.store.jobInsertMany({ jobs: [keyed('sync', 'quiet')] });
      expect(keysOf(await fetchKeyed(t.store, 'sync', 2))).toEqual(['busy', 'quiet']);
      expect(await fetchKeyed(t.store, 'sync', 2)).toEqual([]);
    });

    it('counts running jobs of the key whoever claimed them, only in the same queue, and with a global limit too', async () => {
      await t.store.jobInsertMany({ jobs: [keyed('sync', 'k'), keyed('sync', 'k'), keyed('other', 'k'), keyed('sync', 'm'), keyed('sync', 'n')] });
      // A claim that does not apply key limits (a worker without them, or `nightshift run`) still counts.
      const [plain] = await t.store.jobFetch({ queue: 'sync', limit: 1, owner: 'other', leaseMs: LEASE_MS });
      // (A plain claim's record may leave the key out: see JobRecord.concurrencyKey.)
      expect((await t.store.jobGet({ id: plain!.id }))?.concurrencyKey).toBe('k');
      expect(keysOf(await fetchKeyed(t.store, 'other', 10))).toEqual(['k']);
      // Global limit 2 with one running: room for one more, the first free key in claim order.
      expect(keysOf(await fetchKeyed(t.store, 'sync', 10, 2))).toEqual(['m']);
      expect(await fetchKeyed(t.store, 'sync', 10, 2)).toEqual([]);
      expect(keysOf(await fetchKeyed(t.store, 'sync', 10))).toEqual(['n']);
    });

    it('a key slot held by a lost worker comes back when its lease is rescued', async () => {
      await t.store.jobInsertMany({ jobs: [keyed('sync', 'k'), keyed('sync', 'k')] });
      const [first] = await t.store.jobFetch({ queue: 'sync', limit: 1, owner: OWNER, leaseMs: 1_000, perKeyConcurrency: true });
      expect(first).toBeDefined();
      expect(await fetchKeyed(t.store, 'sync', 10)).toEqual([]);
      t.clock.advance(1_001);
      const rescued = await t.store.jobRescueExpired({ limit: 10, error: errorRecord({ kind: 'lease_expired' }) });
      expect(rescued.retried).toEqual([first!.id]);
      // The key's one slot is free again: one of its two jobs starts (the older due one first).
      expect(keysOf(await fetchKeyed(t.store, 'sync', 10))).toEqual(['k']);
      expect(await fetchKeyed(t.store, 'sync', 10)).toEqual([]);
    });

    it('jobKeyHolders lists the running jobs of a key in its queue, longest running first', async () => {
      await t.store.jobInsertMany({ jobs: [keyed('sync', 'k', 2), keyed('sync', 'k', 2), keyed('sync', 'k', 2), keyed('other', 'k'), keyed('sync', 'm')] });
      expect(await t.store.jobKeyHolders({ queue: 'sync', concurrencyKey: 'k', limit: 10 })).toEqual([]);
      const [first] = await fetchKeyed(t.store, 'sync', 1);
      t.clock.advance(1_000);
      const more = await fetchKeyed(t.store, 'sync', 10);
      expect(keysOf(more).sort()).toEqual(['k', 'm']);
      await fetchKeyed(t.store, 'other', 10);
      const holders = await t.store.jobKeyHolders({ queue: 'sync', concurrencyKey: 'k', limit: 10 });
      expect(holders.map((job) => job.id)).toEqual([first!.id, more.find((job) => job.concurrencyKey === 'k')!.id]);
      expect(holders.every((job) => job.state === 'running' && job.queue === 'sync')).toBe(true);
      expect(await t.store.jobKeyHolders({ queue: 'sync', concurrencyKey: 'k', limit: 1 })).toHaveLength(1);
      expect(await t.store.jobKeyHolders({ queue: 'sync', concurrencyKey: 'k', limit: 0 })).toEqual([]);
      expect(await t.store.jobKeyHolders({ queue: 'sync', concurrencyKey: 'nobody', limit: 10 })).toEqual([]);
    });

    it('concurrent keyed claims from several connections never run two jobs of a key at once', async () => {
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother(), await t.fixture.openAnother());
      const KEYS = 6;
      await t.store.jobInsertMany({ jobs: Array.from({ length: 120 }, (_, i) => keyed('sync', `k${i % KEYS}`)) });
      const running = new Map<string, JobRecord>();
      let claimed = 0;
      for (let round = 0; round < 40 && claimed < 120; round++) {
        const claims = await Promise.all(stores.flatMap((store) => [fetchKeyed(store, 'sync', 3), fetchKeyed(store, 'sync', 3)]));
        for (const job of claims.flat()) running.set(job.id, job);
        claimed += claims.flat().length;
        const perKey = new Map<string, number>();
        for (const job of running.values()) perKey.set(job.concurrencyKey!, (perKey.get(job.concurrencyKey!) ?? 0) + 1);
        expect(Math.max(0, ...perKey.values())).toBeLessThanOrEqual(1);
        const done = [...running.values()].slice(0, 4);
        await completeAll(t.store, done);
        for (const job of done) running.delete(job.id);
      }
      expect(claimed).toBe(120);
    });
  });

  describe('flow control: rate limits and holds', () => {
    const t = useStoreFixture(factory);
    const rate = { max: 5, perMs: 1_000 };
    const fetchRated = (store: Store, limit: number, extra: Partial<Parameters<Store['jobFetch']>[0]> = {}) =>
      store.jobFetch({ queue: 'api', limit, owner: OWNER, leaseMs: LEASE_MS, rateLimit: rate, ...extra });

    it('claims at most max per window, and again once the oldest claims leave it', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 20 }, () => jobInput({ queue: 'api' })) });
      expect(await fetchRated(t.store, 3)).toHaveLength(3);
      expect(await t.store.queueRateWait({ queue: 'api', rateLimit: rate })).toBe(0);
      t.clock.advance(400);
      expect(await fetchRated(t.store, 10)).toHaveLength(2);
      expect(await fetchRated(t.store, 10)).toEqual([]);
      // The first three leave the window perMs + margin after they were claimed; then the next two.
      const firstFree = t.clock.now() - 400 + rateWindowMs(rate.perMs);
      expect(await t.store.queueRateWait({ queue: 'api', rateLimit: rate })).toBe(firstFree - t.clock.now());
      t.clock.set(firstFree - 1);
      expect(await fetchRated(t.store, 10)).toEqual([]);
      t.clock.set(firstFree);
      expect(await fetchRated(t.store, 10)).toHaveLength(3);
      expect(await fetchRated(t.store, 10)).toEqual([]);
      t.clock.advance(400);
      expect(await fetchRated(t.store, 10)).toHaveLength(2);
    });

    it('counts only claims made under the limit, per queue; combines with the other limits', async () => {
      await t.store.jobInsertMany({ jobs: [...Array.from({ length: 10 }, () => jobInput({ queue: 'api' })), ...Array.from({ length: 10 }, () => jobInput({ queue: 'other' }))] });
      await t.store.jobFetch({ queue: 'other', limit: 10, owner: OWNER, leaseMs: LEASE_MS, rateLimit: rate });
      expect(await fetchRated(t.store, 10, { globalConcurrency: 2 })).toHaveLength(2);
      expect(await fetchRated(t.store, 10, { globalConcurrency: 2 })).toEqual([]);
      // Without the global limit the window still has room for three.
      expect(await fetchRated(t.store, 10)).toHaveLength(3);
      expect(await fetchRated(t.store, 10)).toEqual([]);
    });

    it('a hold stops every claim of the queue (but not claims by id) until it ends; a shorter hold does not shorten it', async () => {
      const [held] = await t.store.jobInsertMany({ jobs: [jobInput({ queue: 'api' }), jobInput({ queue: 'api' }), jobInput({ queue: 'other' })] });
      await t.store.queueHold({ queue: 'api', forMs: 5_000 });
      await t.store.queueHold({ queue: 'api', forMs: 1_000 });
      expect(await t.store.jobFetch({ queue: 'api', limit: 10, owner: OWNER, leaseMs: LEASE_MS })).toEqual([]);
      expect(await fetchRated(t.store, 10)).toEqual([]);
      expect(await t.store.jobFetch({ queue: 'api', limit: 10, owner: OWNER, leaseMs: LEASE_MS, globalConcurrency: 5, perKeyConcurrency: true })).toEqual([]);
      expect(await t.store.queueRateWait({ queue: 'api' })).toBe(5_000);
      expect(await t.store.jobFetch({ queue: 'other', limit: 10, owner: OWNER, leaseMs: LEASE_MS })).toHaveLength(1);
      expect(await t.store.jobFetch({ queue: 'api', limit: 10, owner: OWNER, leaseMs: LEASE_MS, ids: [held!.job.id] })).toHaveLength(1);
      t.clock.advance(5_000);
      expect(await t.store.jobFetch({ queue: 'api', limit: 10, owner: OWNER, leaseMs: LEASE_MS })).toHaveLength(1);
    });

    it('a job given back unstarted with a rate refund gives its claim back to the window; without one it does not', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 20 }, () => jobInput({ queue: 'api' })) });
      const first = await fetchRated(t.store, 5);
      expect(first).toHaveLength(5);
      t.clock.advance(100);
      const release = (jobs: JobRecord[], rateRefund?: { queue: boolean; key: boolean }) =>
        t.store.jobFinishMany({ items: jobs.map((job) => ({ id: job.id, token: job.lease!.token, finish: { outcome: 'released' as const, ...(rateRefund ? { rateRefund } : {}) } })) });
      // A plain release (shutdown) keeps the count: the window stays full.
      expect((await release(first.slice(0, 1))).applied).toHaveLength(1);
      expect(await fetchRated(t.store, 10)).toEqual([]);
      // Refunded: two come back, and the window has room for exactly two.
      expect((await release(first.slice(1, 3), { queue: true, key: false })).applied).toHaveLength(2);
      expect(await t.store.queueRateWait({ queue: 'api', rateLimit: rate })).toBe(0);
      const again = await fetchRated(t.store, 10);
      expect(again).toHaveLength(2);
      expect(await fetchRated(t.store, 10)).toEqual([]);
      // The refund leaves the window with the claim it cancels (not later): once the first
      // claim's window has passed, only the second claim (two jobs, 100 ms later) still counts.
      t.clock.set(first[0]!.attemptedAt!.getTime() + rateWindowMs(rate.perMs));
      expect(await fetchRated(t.store, 10)).toHaveLength(3);
      expect(await fetchRated(t.store, 10)).toEqual([]);
      // A refund for a job whose release was fenced out (a stale token) changes nothing.
      const stale = await release(first.slice(3, 4).map((job) => ({ ...job, lease: { ...job.lease!, token: 'stale' } })), { queue: true, key: false });
      expect(stale.rejected).toHaveLength(1);
      expect(await fetchRated(t.store, 10)).toEqual([]);
    });

    it('a late start moves its claim to now: the window counts that job from its start; only under its lease', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 20 }, () => jobInput({ queue: 'api' })) });
      const first = await fetchRated(t.store, rate.max);
      expect(first).toHaveLength(rate.max);
      const claimedAt = first[0]!.attemptedAt!.getTime();
      t.clock.advance(300);
      const late = first[0]!;
      // A stale token, an unknown id or nothing asked: nothing moves.
      expect(await t.store.jobRateLateStart({ id: late.id, token: 'stale', queue: true, key: false })).toEqual({ moved: false });
      expect(await t.store.jobRateLateStart({ id: '999999999', token: late.lease!.token, queue: true, key: false })).toEqual({ moved: false });
      expect(await t.store.jobRateLateStart({ id: 'not-an-id', token: late.lease!.token, queue: true, key: false })).toEqual({ moved: false });
      expect(await t.store.jobRateLateStart({ id: late.id, token: late.lease!.token, queue: false, key: false })).toEqual({ moved: false });
      expect(await t.store.jobRateLateStart({ id: late.id, token: late.lease!.token, queue: true, key: false })).toEqual({ moved: true });
      // Still full now; when the first claim's window has passed, all but the moved job's count left it.
      expect(await fetchRated(t.store, 10)).toEqual([]);
      t.clock.set(claimedAt + rateWindowMs(rate.perMs));
      expect(await fetchRated(t.store, 10)).toHaveLength(rate.max - 1);
      expect(await fetchRated(t.store, 10)).toEqual([]);
      // The moved count leaves the window a whole window after the late start.
      expect(await t.store.queueRateWait({ queue: 'api', rateLimit: rate })).toBe(300);
      t.clock.advance(300);
      expect(await fetchRated(t.store, 10)).toHaveLength(1);
      // A job that is no longer running moves nothing.
      const done = (await t.store.jobFinishMany({ items: [{ id: first[1]!.id, token: first[1]!.lease!.token, finish: { outcome: 'completed', result: null } }] })).applied;
      expect(done).toHaveLength(1);
      expect(await t.store.jobRateLateStart({ id: first[1]!.id, token: first[1]!.lease!.token, queue: true, key: false })).toEqual({ moved: false });
    });

    it('concurrent rate-limited claims from several connections never take more than max in a window', async () => {
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother(), await t.fixture.openAnother());
      await t.store.jobInsertMany({ jobs: Array.from({ length: 100 }, () => jobInput({ queue: 'api' })) });
      const claims = await Promise.all(stores.flatMap((store) => [fetchRated(store, 2), fetchRated(store, 2), fetchRated(store, 2)]));
      expect(claims.flat()).toHaveLength(rate.max);
    });
  });

  describe('flow control: rate limits per key', () => {
    const t = useStoreFixture(factory);
    const rated = (key: string | null, max = 2, perMs = 1_000): JobInsert =>
      jobInput({ queue: 'api', payload: JSON.stringify({ key }), ...(key === null ? {} : { rateKey: { key, max, perMs } }) });
    const fetchRatedKeys = (store: Store, limit: number) => store.jobFetch({ queue: 'api', limit, owner: OWNER, leaseMs: LEASE_MS, perKeyRate: true });

    it('claims at most max of each key per window, keys apart, jobs without a key freely; again once the window passed', async () => {
      await t.store.jobInsertMany({ jobs: [...Array.from({ length: 5 }, () => rated('org-a')), ...Array.from({ length: 5 }, () => rated('org-b')), rated(null), rated(null)] });
      expect(keysOf(await fetchRatedKeys(t.store, 20)).sort()).toEqual([null, null, 'org-a', 'org-a', 'org-b', 'org-b'].sort());
      expect(await fetchRatedKeys(t.store, 20)).toEqual([]);
      // Finishing does not give a token back: the window counts claims.
      expect(await t.store.queueRateWait({ queue: 'api', perKeyRate: true })).toBe(rateWindowMs(1_000));
      t.clock.advance(rateWindowMs(1_000));
      expect(keysOf(await fetchRatedKeys(t.store, 3))).toEqual(['org-a', 'org-a', 'org-b']);
      expect(keysOf(await fetchRatedKeys(t.store, 20))).toEqual(['org-b']);
    });

    it('a late start moves its key\'s claim to now, and only the key\'s when the queue has no limit of its own', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 4 }, () => rated('org-a')) });
      const claimed = await fetchRatedKeys(t.store, 20);
      expect(claimed).toHaveLength(2);
      const claimedAt = claimed[0]!.attemptedAt!.getTime();
      t.clock.advance(200);
      expect(await t.store.jobRateLateStart({ id: claimed[0]!.id, token: claimed[0]!.lease!.token, queue: false, key: true })).toEqual({ moved: true });
      t.clock.set(claimedAt + rateWindowMs(1_000));
      // One of org-a's two counts left with the claim; the moved one stays 200 ms longer.
      expect(keysOf(await fetchRatedKeys(t.store, 20))).toEqual(['org-a']);
      expect(await fetchRatedKeys(t.store, 20)).toEqual([]);
      t.clock.advance(200);
      expect(keysOf(await fetchRatedKeys(t.store, 20))).toEqual(['org-a']);
    });

    it('a job given back unstarted with a key refund gives its key\'s claim back; the key\'s next free time ignores refunds', async () => {
      await t.store.jobInsertMany({ jobs: [...Array.from({ length: 4 }, () => rated('org-a')), ...Array.from({ length: 4 }, () => rated('org-b'))] });
      const claimed = await fetchRatedKeys(t.store, 20);
      expect(keysOf(claimed).sort()).toEqual(['org-a', 'org-a', 'org-b', 'org-b']);
      t.clock.advance(100);
      const a = claimed.filter((job) => keysOf([job])[0] === 'org-a');
      const result = await t.store.jobFinishMany({ items: a.slice(0, 1).map((job) => ({ id: job.id, token: job.lease!.token, finish: { outcome: 'released' as const, rateRefund: { queue: false, key: true } } })) });
      expect(result.applied).toHaveLength(1);
      // org-a has room for one again; org-b is still full.
      expect(keysOf(await fetchRatedKeys(t.store, 20))).toEqual(['org-a']);
      expect(await fetchRatedKeys(t.store, 20)).toEqual([]);
      // Both keys are full now; the next free time is when the first claims leave the window.
      expect(await t.store.queueRateWait({ queue: 'api', perKeyRate: true })).toBe(rateWindowMs(1_000) - 100);
      expect(await t.store.jobRateWait({ id: a[1]!.id })).toEqual({ key: 'org-a', waitMs: rateWindowMs(1_000) - 100 });
    });

    it('a key\'s limit is the job\'s own; combines with per-key concurrency', async () => {
      await t.store.jobInsertMany({ jobs: [...Array.from({ length: 4 }, () => rated('slow', 1, 60_000)), ...Array.from({ length: 4 }, () => rated('fast', 3, 1_000))] });
      expect(keysOf(await fetchRatedKeys(t.store, 20)).sort()).toEqual(['fast', 'fast', 'fast', 'slow']);
      // With per-key concurrency 1 on top, a key with rate room still runs one at a time.
      await t.store.jobInsertMany({ jobs: Array.from({ length: 3 }, () => jobInput({ queue: 'api', payload: '{"key":"both"}', rateKey: { key: 'both', max: 5, perMs: 1_000 }, concurrencyKey: 'both', concurrencyLimit: 1 })) });
      const claimed = await t.store.jobFetch({ queue: 'api', limit: 20, owner: OWNER, leaseMs: LEASE_MS, perKeyRate: true, perKeyConcurrency: true });
      expect(keysOf(claimed)).toEqual(['both']);
    });

    it('jobRateWait says a job\'s key and how long until the key has room for it', async () => {
      const [a1, a2] = await t.store.jobInsertMany({ jobs: [rated('org-a', 1, 1_000), rated('org-a', 1, 1_000)] });
      const [plain] = await t.store.jobInsertMany({ jobs: [rated(null)] });
      expect(await t.store.jobRateWait({ id: a2!.job.id })).toEqual({ key: 'org-a', waitMs: 0 });
      expect(await fetchRatedKeys(t.store, 1)).toHaveLength(1);
      t.clock.advance(300);
      expect(await t.store.jobRateWait({ id: a2!.job.id })).toEqual({ key: 'org-a', waitMs: rateWindowMs(1_000) - 300 });
      expect(await t.store.jobRateWait({ id: plain!.job.id })).toBeNull();
      expect(await t.store.jobRateWait({ id: '987654321' })).toBeNull();
      expect(await t.store.jobRateWait({ id: 'nope' })).toBeNull();
      // A hold on the key counts the same way.
      await t.store.queueHold({ queue: 'api', forMs: 60_000, jobId: a1!.job.id });
      expect(await t.store.jobRateWait({ id: a2!.job.id })).toEqual({ key: 'org-a', waitMs: 60_000 });
    });

    it('a hold naming a job with a rate key holds only that key until it ends; a job without one holds the queue', async () => {
      const [a] = await t.store.jobInsertMany({ jobs: [rated('org-a', 5, 1_000)] });
      await t.store.jobInsertMany({ jobs: [rated('org-a', 5, 1_000), rated('org-b', 5, 1_000)] });
      await t.store.queueHold({ queue: 'api', forMs: 30_000, jobId: a!.job.id });
      expect(keysOf(await fetchRatedKeys(t.store, 10))).toEqual(['org-b']);
      // The first key window to free is org-b's claim just now (the hold is another key's row).
      expect(await t.store.queueRateWait({ queue: 'api', perKeyRate: true })).toBe(rateWindowMs(1_000));
      t.clock.advance(29_999);
      expect(await fetchRatedKeys(t.store, 10)).toEqual([]);
      t.clock.advance(1);
      expect(keysOf(await fetchRatedKeys(t.store, 10))).toEqual(['org-a', 'org-a']);
      const [plain] = await t.store.jobInsertMany({ jobs: [rated(null), rated(null)] });
      await t.store.queueHold({ queue: 'api', forMs: 5_000, jobId: plain!.job.id });
      expect(await fetchRatedKeys(t.store, 10)).toEqual([]);
      expect(await t.store.queueRateWait({ queue: 'api' })).toBe(5_000);
    });

    it('concurrent claims from several connections never take more than max of a key in a window', async () => {
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother(), await t.fixture.openAnother());
      await t.store.jobInsertMany({ jobs: [...Array.from({ length: 30 }, () => rated('org-a', 4)), ...Array.from({ length: 30 }, () => rated('org-b', 4))] });
      const claims = await Promise.all(stores.flatMap((store) => [fetchRatedKeys(store, 3), fetchRatedKeys(store, 3), fetchRatedKeys(store, 3)]));
      const keys = keysOf(claims.flat());
      expect(keys.filter((key) => key === 'org-a')).toHaveLength(4);
      expect(keys.filter((key) => key === 'org-b')).toHaveLength(4);
    });
  });
}
