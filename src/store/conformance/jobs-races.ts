/**
 * Conformance: operations racing each other. Calls are started together with Promise.all, on one
 * store and, when the factory can open one, on a second connection as well; whatever the
 * interleaving, the outcome must be one of the allowed ones.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../types.js';
import { errorRecord, fetchJobs, insertAndClaim, jobInput, LEASE_MS, LOST_ERROR, scheduleInput, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

export function describeJobRaces(factory: StoreFactory): void {
  describe('races', () => {
    const t = useStoreFixture(factory);

    /** The store, plus a second connection when the factory can open one. */
    async function connections(): Promise<Store[]> {
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother());
      return stores;
    }

    it('concurrent inserts with the same key create exactly one job', async () => {
      const stores = await connections();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => stores[i % stores.length]!.jobInsertMany({ jobs: [jobInput({ key: 'once', payload: String(i) })] })),
      );
      const flat = results.flat();
      expect(flat.filter((r) => r.inserted)).toHaveLength(1);
      expect(new Set(flat.map((r) => r.job.id)).size).toBe(1);
      expect((await t.store.jobList({})).jobs).toHaveLength(1);
    });

    it('concurrent bulk inserts sharing keys agree on one job per key', async () => {
      const stores = await connections();
      const batch = (offset: number) => Array.from({ length: 10 }, (_, i) => jobInput({ key: `k${(i + offset) % 10}` }));
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => stores[i % stores.length]!.jobInsertMany({ jobs: batch(i * 3) })));
      const idsByKey = new Map<string, Set<string>>();
      for (const result of results.flat()) {
        const ids = idsByKey.get(result.job.key!) ?? new Set<string>();
        ids.add(result.job.id);
        idsByKey.set(result.job.key!, ids);
      }
      expect(idsByKey.size).toBe(10);
      for (const ids of idsByKey.values()) expect(ids.size).toBe(1);
      expect(results.flat().filter((r) => r.inserted)).toHaveLength(10);
      expect((await t.store.jobList({ limit: 100 })).jobs).toHaveLength(10);
    });

    it('concurrent inserts of one keyed flow store one flow between them', async () => {
      const stores = await connections();
      for (let round = 0; round < 5; round++) {
        const key = `flow-${round}`;
        const flow = (i: number) => [
          jobInput({ name: 'race.child', payload: String(i) }),
          jobInput({ name: 'race.child', payload: String(i) }),
          jobInput({ name: 'race.root', key, payload: String(i), dependsOnItems: [0, 1] }),
        ];
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => stores[i % stores.length]!.jobInsertMany({ jobs: flow(i), flow: true })));
        const winners = results.filter((result) => result.length === 3);
        expect(winners).toHaveLength(1);
        const root = winners[0]![2]!;
        expect(winners[0]!.every((r) => r.inserted)).toBe(true);
        for (const result of results) if (result !== winners[0]) expect(result).toEqual([{ job: expect.objectContaining({ id: root.job.id }), inserted: false }]);
      }
      expect((await t.store.jobList({ limit: 100 })).jobs).toHaveLength(15);
    });

    it('cancel racing the worker finish: exactly one of them wins', async () => {
      const stores = await connections();
      const job = await insertAndClaim(t.store);
      const other = stores[stores.length - 1]!;
      const [cancelled, finished] = await Promise.all([
        other.jobCancel({ id: job.id, reason: 'race' }),
        t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: '"won"' } }] }),
      ]);
      const stored = await t.store.jobGet({ id: job.id });
      if (finished.applied.length === 1) {
        expect(stored).toMatchObject({ state: 'completed', result: '"won"' });
        expect(cancelled?.state).toBe('completed');
      } else {
        expect(finished.rejected).toEqual([job.id]);
        expect(stored).toMatchObject({ state: 'cancelled', result: null });
        expect(cancelled?.state).toBe('cancelled');
      }
      expect(await t.store.jobAttempts({ id: job.id })).toHaveLength(1);
    });

    it('rescue racing the worker finish after expiry: the job is either completed or rescued, never both', async () => {
      const stores = await connections();
      const job = await insertAndClaim(t.store);
      t.clock.advance(LEASE_MS + 1);
      const other = stores[stores.length - 1]!;
      const [rescued, finished] = await Promise.all([
        other.jobRescueExpired({ limit: 10, error: LOST_ERROR }),
        t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: null } }] }),
      ]);
      const stored = await t.store.jobGet({ id: job.id });
      const attempts = await t.store.jobAttempts({ id: job.id });
      if (finished.applied.length === 1) {
        expect(rescued).toEqual({ retried: [], dead: [], jobs: [], cancelledDependents: [] });
        expect(stored?.state).toBe('completed');
        expect(attempts.map((a) => a.outcome)).toEqual(['completed']);
      } else {
        expect(rescued.retried).toEqual([job.id]);
        expect(stored?.state).toBe('retryable');
        expect(attempts.map((a) => a.outcome)).toEqual(['lost']);
      }
    });

    it('concurrent rescuers take each expired job back once', async () => {
      const stores = await connections();
      await t.store.jobInsertMany({ jobs: Array.from({ length: 12 }, () => jobInput()) });
      await fetchJobs(t.store, 'default', 12);
      t.clock.advance(LEASE_MS + 1);
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => stores[i % stores.length]!.jobRescueExpired({ limit: 5, error: LOST_ERROR })));
      const retried = results.flatMap((r) => r.retried);
      expect(new Set(retried).size).toBe(retried.length);
      const rest = await t.store.jobRescueExpired({ limit: 100, error: LOST_ERROR });
      expect(retried.length + rest.retried.length).toBe(12);
      for (const id of [...retried, ...rest.retried]) {
        expect((await t.store.jobAttempts({ id })).map((a) => a.outcome)).toEqual(['lost']);
      }
    });

    it('two finishes of one attempt racing: exactly one applies', async () => {
      const stores = await connections();
      const job = await insertAndClaim(t.store);
      const results = await Promise.all([
        t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: '1' } }] }),
        stores[stores.length - 1]!.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'dead', error: errorRecord() } }] }),
      ]);
      expect(results.flatMap((r) => r.applied)).toEqual([job.id]);
      expect(results.flatMap((r) => r.rejected)).toEqual([job.id]);
      expect(await t.store.jobAttempts({ id: job.id })).toHaveLength(1);
    });

    it('claims racing inserts never hand out a job twice', async () => {
      const stores = await connections();
      const claimed: string[] = [];
      const inserted: string[] = [];
      for (let round = 0; round < 5; round++) {
        const work: Promise<void>[] = [];
        for (let i = 0; i < 4; i++) {
          work.push(
            stores[i % stores.length]!.jobInsertMany({ jobs: Array.from({ length: 5 }, () => jobInput()) }).then((r) => {
              inserted.push(...r.map((x) => x.job.id));
            }),
          );
          work.push(
            stores[(i + 1) % stores.length]!.jobFetch({ queue: 'default', limit: 4, owner: `w${i}`, leaseMs: LEASE_MS }).then((jobs) => {
              claimed.push(...jobs.map((j) => j.id));
            }),
          );
        }
        await Promise.all(work);
      }
      for (;;) {
        const jobs = await fetchJobs(t.store, 'default', 50);
        if (jobs.length === 0) break;
        claimed.push(...jobs.map((j) => j.id));
      }
      expect(new Set(claimed).size).toBe(claimed.length);
      expect([...claimed].sort()).toEqual([...inserted].sort());
    });

    it('concurrent tick claims across many fire times: one job per tick', async () => {
      const stores = await connections();
      await t.store.scheduleUpsertMany({
        schedules: [
          scheduleInput({ id: 'multi' }),
        ],
      });
      const base = t.clock.now();
      const claims = await Promise.all(
        Array.from({ length: 15 }, (_, i) =>
          stores[i % stores.length]!.scheduleTickClaim({
            scheduleId: 'multi',
            fireAt: new Date(base + (i % 5) * 60_000),
            nextRunAt: null,
            job: jobInput({ scheduleId: 'multi' }),
            status: 'enqueued',
          }),
        ),
      );
      const won = claims.filter((c) => c !== null);
      expect(won).toHaveLength(5);
      expect(new Set(won.map((c) => c!.tick.fireAt.getTime())).size).toBe(5);
      expect((await t.store.jobList({ filter: { scheduleId: 'multi' } })).jobs).toHaveLength(5);
      expect(await t.store.scheduleGet({ id: 'multi' })).toMatchObject({ lastRunAt: new Date(base + 4 * 60_000) });
    });
  });
}
