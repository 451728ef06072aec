/** Conformance: tick retention (`scheduleTickPrune`) and the exactly-once guarantee after it. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../types.js';
import { jobInput, scheduleInput, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

export function describeScheduleTickPrune(factory: StoreFactory): void {
  describe('schedule tick pruning', () => {
    const t = useStoreFixture(factory);

    /** Claims (scheduleId, fireAt) at the current test time; with a job unless `withJob` is false. */
    const claim = (id: string, fireAtMs: number, withJob = true, store: Store = t.store) =>
      store.scheduleTickClaim({
        scheduleId: id,
        fireAt: new Date(fireAtMs),
        nextRunAt: null,
        job: withJob ? jobInput({ scheduleId: id }) : null,
        status: 'enqueued',
      });
    const fireTimes = async (id: string): Promise<number[]> =>
      (await t.store.scheduleTickList({ scheduleId: id, limit: 1000 })).map((tick) => tick.fireAt.getTime());
    const weekAgo = () => new Date(t.clock.now() - 7 * DAY_MS);

    it('deletes ticks claimed and fired before the cut-off, keeping recent ones and the newest of each schedule', async () => {
      await t.store.scheduleUpsertMany({ schedules: ['a', 'b', 'c', 'd'].map((id) => scheduleInput({ id })) });
      const base = t.clock.now();
      for (let i = 0; i < 3; i++) await claim('a', base + i * MINUTE_MS);
      await claim('b', base, false);
      await claim('b', base + MINUTE_MS, false);
      // Claimed long ago with fire times after the cut-off: both times must be old to go.
      await claim('d', base + 9 * DAY_MS);
      await claim('d', base + 9 * DAY_MS + MINUTE_MS);
      t.clock.advance(10 * DAY_MS);
      const now = t.clock.now();
      await claim('a', now);
      // Old fire times claimed just now (a catch-up): kept, the claim is recent.
      await claim('c', now - 30 * DAY_MS);
      await claim('c', now - 29 * DAY_MS);

      expect(await t.store.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 100 })).toEqual({ deleted: 4 });
      expect(await fireTimes('a')).toEqual([now]);
      // b's newest tick is as old as the one that went, but history keeps a schedule's last tick.
      expect(await fireTimes('b')).toEqual([base + MINUTE_MS]);
      expect(await fireTimes('c')).toEqual([now - 29 * DAY_MS, now - 30 * DAY_MS]);
      expect(await fireTimes('d')).toEqual([base + 9 * DAY_MS + MINUTE_MS, base + 9 * DAY_MS]);
      expect(await t.store.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 100 })).toEqual({ deleted: 0 });
      // Pruning ticks leaves their jobs and the schedule's bookkeeping alone.
      expect((await t.store.jobList({ filter: { scheduleId: 'a' } })).jobs).toHaveLength(4);
      expect(await t.store.scheduleGet({ id: 'a' })).toMatchObject({ lastRunAt: new Date(now) });
    });

    it('deletes at most `limit` ticks per call, oldest claim first', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'l' })] });
      const base = t.clock.now();
      // Claimed newest fire time first, so claim order and fire order disagree.
      for (let i = 5; i >= 0; i--) {
        await claim('l', base + i * MINUTE_MS, false);
        t.clock.advance(1000);
      }
      t.clock.advance(8 * DAY_MS);
      expect(await t.store.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 0 })).toEqual({ deleted: 0 });
      // The newest (fire time +5 min) is claimed first but stays; the next oldest claims go first.
      expect(await t.store.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 2 })).toEqual({ deleted: 2 });
      expect(await fireTimes('l')).toEqual([5, 2, 1, 0].map((i) => base + i * MINUTE_MS));
      expect(await t.store.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 2 })).toEqual({ deleted: 2 });
      expect(await t.store.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 2 })).toEqual({ deleted: 1 });
      expect(await t.store.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 2 })).toEqual({ deleted: 0 });
      expect(await fireTimes('l')).toEqual([base + 5 * MINUTE_MS]);
    });

    it('a pruned fire time is never claimed again, also after the schedule is deleted and re-created', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'p' })] });
      const base = t.clock.now();
      await claim('p', base);
      await claim('p', base + MINUTE_MS);
      t.clock.advance(8 * DAY_MS);
      expect(await t.store.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 100 })).toEqual({ deleted: 1 });
      expect(await fireTimes('p')).toEqual([base + MINUTE_MS]);

      // The pruned fire time is ≤ lastRunAt; a stale scheduler trying it again gets nothing.
      expect(await claim('p', base)).toBeNull();
      // So is an older fire time that was never claimed: the store cannot tell it from a pruned one.
      expect(await claim('p', base - MINUTE_MS)).toBeNull();
      expect((await t.store.jobList({ filter: { scheduleId: 'p' } })).jobs).toHaveLength(2);
      expect(await t.store.scheduleGet({ id: 'p' })).toMatchObject({ lastRunAt: new Date(base + MINUTE_MS) });

      // A re-created schedule starts without bookkeeping, but the mark outlives the old one.
      await t.store.scheduleDelete({ ids: ['p'] });
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'p' })] });
      expect(await claim('p', base)).toBeNull();
      expect((await t.store.jobList({ filter: { scheduleId: 'p' } })).jobs).toHaveLength(2);
      // Fire times above the mark are claimed as usual, the kept tick still refuses a second claim.
      expect(await claim('p', base + MINUTE_MS)).toBeNull();
      expect(await claim('p', t.clock.now())).not.toBeNull();
    });

    it('a tick older than the last claimed one is still claimed, without moving lastRunAt backwards', async () => {
      // A manual run (fire time now + 500 ms) lands before the scheduler claims the cron tick due now.
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'm' })] });
      const now = t.clock.now();
      const manual = await claim('m', now + 500);
      const cron = await claim('m', now);
      expect(cron).not.toBeNull();
      expect(cron!.job).not.toBeNull();
      expect(await t.store.scheduleGet({ id: 'm' })).toMatchObject({ lastRunAt: new Date(now + 500), lastJobId: manual!.job!.id });
      expect(await fireTimes('m')).toEqual([now + 500, now]);
    });

    it('concurrent prunes delete every old tick exactly once', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'x' }), scheduleInput({ id: 'y' })] });
      const base = t.clock.now();
      for (let i = 0; i <= 15; i++) {
        await claim('x', base + i * MINUTE_MS, false);
        await claim('y', base + i * MINUTE_MS, false);
      }
      t.clock.advance(8 * DAY_MS);
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother());
      let total = 0;
      for (let round = 0; round < 20; round++) {
        const results = await Promise.all(
          Array.from({ length: 4 }, (_, i) => stores[i % stores.length]!.scheduleTickPrune({ claimedBefore: weekAgo(), limit: 3 })),
        );
        const deleted = results.reduce((sum, result) => sum + result.deleted, 0);
        total += deleted;
        if (deleted === 0) break;
      }
      expect(total).toBe(30);
      expect(await fireTimes('x')).toEqual([base + 15 * MINUTE_MS]);
      expect(await fireTimes('y')).toEqual([base + 15 * MINUTE_MS]);
      for (const store of stores) expect(await claim('x', base + 14 * MINUTE_MS, true, store)).toBeNull();
    });
  });
}
