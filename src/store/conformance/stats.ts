/** Conformance: per-minute activity statistics, and the oldest pending job per queue. */
import { describe, expect, it } from 'vitest';
import { STATS_BUCKET_COUNT, type StatsDelta } from '../types.js';
import { fetchJobs, insertAndClaim, insertJob, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

function delta(overrides: Partial<StatsDelta> = {}): StatsDelta {
  return {
    queue: 'default',
    name: 'conformance.job',
    enqueued: 0,
    completed: 0,
    failed: 0,
    dead: 0,
    cancelled: 0,
    timeouts: 0,
    durationBuckets: new Array(STATS_BUCKET_COUNT).fill(0),
    durationSumMs: 0,
    waitBuckets: new Array(STATS_BUCKET_COUNT).fill(0),
    waitSumMs: 0,
    ...overrides,
  };
}

function buckets(entries: Record<number, number>): number[] {
  return Array.from({ length: STATS_BUCKET_COUNT }, (_, i) => entries[i] ?? 0);
}

export function describeStats(factory: StoreFactory): void {
  describe('activity statistics', () => {
    const t = useStoreFixture(factory);

    it('adds deltas of the same minute together, across calls, per queue and name', async () => {
      const start = t.clock.now();
      await t.store.statsAdd({ deltas: [delta({ enqueued: 3, completed: 2, durationBuckets: buckets({ 0: 1, 5: 1 }), durationSumMs: 12.5 }), delta({ queue: 'mail', name: 'send', failed: 1 })] });
      t.clock.advance(20_000);
      await t.store.statsAdd({ deltas: [delta({ completed: 1, dead: 1, cancelled: 2, durationBuckets: buckets({ 5: 2, 16: 1 }), durationSumMs: 7.5, waitBuckets: buckets({ 3: 4 }), waitSumMs: 40 })] });
      const rows = await t.store.statsList({ since: new Date(start - 3_600_000), bucketMs: 60_000 });
      expect(rows).toEqual([
        {
          start: new Date(start),
          ...delta({ enqueued: 3, completed: 3, dead: 1, cancelled: 2, durationBuckets: buckets({ 0: 1, 5: 3, 16: 1 }), durationSumMs: 20, waitBuckets: buckets({ 3: 4 }), waitSumMs: 40 }),
        },
        { start: new Date(start), ...delta({ queue: 'mail', name: 'send', failed: 1 }) },
      ]);
    });

    it('sums minutes into buckets that start at `since`; minutes before it are out', async () => {
      const start = t.clock.now(); // on a minute boundary: rows are stored under their minute's start
      await t.store.statsAdd({ deltas: [delta({ completed: 1 })] });
      t.clock.advance(60_000);
      await t.store.statsAdd({ deltas: [delta({ completed: 2 })] });
      t.clock.advance(60_000);
      await t.store.statsAdd({ deltas: [delta({ completed: 4 })] });
      t.clock.advance(30_000); // now = start + 2.5 min

      // 2-minute buckets from start - 1 min: [start-1m, start+1m), [start+1m, …).
      const twoMinutes = await t.store.statsList({ since: new Date(start - 60_000), bucketMs: 120_000 });
      expect(twoMinutes.map((row) => [row.start.getTime() - start, row.completed])).toEqual([
        [-60_000, 1],
        [60_000, 6],
      ]);
      // From start + 1 min: the first minute is out.
      const recent = await t.store.statsList({ since: new Date(start + 60_000), bucketMs: 60_000 });
      expect(recent.map((row) => [row.start.getTime() - start, row.completed])).toEqual([
        [60_000, 2],
        [120_000, 4],
      ]);
      // A bucket as long as the window: one row for everything in it.
      const whole = await t.store.statsList({ since: new Date(start - 60_000), bucketMs: Number.MAX_SAFE_INTEGER });
      expect(whole.map((row) => row.completed)).toEqual([7]);
    });

    it('countersOnly sums the counters alone, bucket by bucket as the full read does', async () => {
      const start = t.clock.now();
      await t.store.statsAdd({ deltas: [delta({ enqueued: 3, completed: 2, failed: 1, dead: 1, cancelled: 1, timeouts: 1, durationSumMs: 40, waitSumMs: 9, durationBuckets: buckets({ 1: 2 }), waitBuckets: buckets({ 0: 3 }) })] });
      t.clock.advance(60_000);
      await t.store.statsAdd({ deltas: [delta({ completed: 4, durationBuckets: buckets({ 3: 4 }) }), delta({ queue: 'b', enqueued: 5 })] });
      const full = await t.store.statsList({ since: new Date(start), bucketMs: 60_000 });
      const counters = await t.store.statsList({ since: new Date(start), bucketMs: 60_000, countersOnly: true });
      expect(counters).toEqual(
        full.map((row) => ({ ...row, durationSumMs: 0, waitSumMs: 0, durationBuckets: row.durationBuckets.map(() => 0), waitBuckets: row.waitBuckets.map(() => 0) })),
      );
      expect(counters.map((row) => [row.queue, row.enqueued, row.completed, row.failed, row.dead, row.cancelled, row.timeouts])).toEqual([
        ['default', 3, 2, 1, 1, 1, 1],
        ['b', 5, 0, 0, 0, 0, 0],
        ['default', 0, 4, 0, 0, 0, 0],
      ]);
    });

    it('keeps names and queues with quotes and non-ASCII apart; prunes minutes before a time', async () => {
      const start = t.clock.now();
      await t.store.statsAdd({ deltas: [delta({ queue: "q'1", name: 'naïve "job"', enqueued: 1 }), delta({ queue: 'q😀', name: 'x', enqueued: 2 })] });
      t.clock.advance(120_000);
      await t.store.statsAdd({ deltas: [delta({ queue: "q'1", name: 'naïve "job"', enqueued: 5 })] });
      const all = await t.store.statsList({ since: new Date(start - 600_000), bucketMs: 600_000 });
      expect(all.map((row) => [row.queue, row.name, row.enqueued])).toEqual([
        ["q'1", 'naïve "job"', 6],
        ['q😀', 'x', 2],
      ]);
      expect(await t.store.statsPrune({ before: new Date(t.clock.now() - 60_000) })).toEqual({ deleted: 2 });
      const left = await t.store.statsList({ since: new Date(start - 600_000), bucketMs: 600_000 });
      expect(left.map((row) => [row.queue, row.enqueued])).toEqual([["q'1", 5]]);
    });

    it('rolls a range of minutes up into coarser rows, summing everything, idempotently; other minutes stay', async () => {
      const start = t.clock.now(); // 09:00, on an hour boundary
      for (let minute = 0; minute < 20; minute++) {
        await t.store.statsAdd({ deltas: [delta({ completed: 1, durationBuckets: buckets({ 2: 1 }), durationSumMs: 7 }), delta({ queue: 'b', enqueued: 2 })] });
        t.clock.advance(60_000);
      }
      const quarter = 15 * 60_000;
      // Fold 09:00–09:15 into one quarter row; 09:15–09:20 stays per minute.
      expect(await t.store.statsRollup({ from: new Date(start), to: new Date(start + quarter), resolutionMs: quarter })).toEqual({ rows: 2 });
      expect(await t.store.statsRollup({ from: new Date(start), to: new Date(start + quarter), resolutionMs: quarter })).toEqual({ rows: 2 });
      const rows = await t.store.statsList({ since: new Date(start), bucketMs: 60_000 });
      const a = rows.filter((row) => row.queue === 'default');
      expect(a.map((row) => [row.start.getTime() - start, row.completed])).toEqual([
        [0, 15],
        ...Array.from({ length: 5 }, (_, i) => [(15 + i) * 60_000, 1]),
      ]);
      expect(a[0]).toMatchObject({ durationSumMs: 105, durationBuckets: buckets({ 2: 15 }) });
      // Coarse buckets see the same sums as before the rollup.
      const whole = await t.store.statsList({ since: new Date(start), bucketMs: 3_600_000 });
      expect(whole.map((row) => [row.queue, row.completed, row.enqueued])).toEqual([
        ['b', 0, 40],
        ['default', 20, 0],
      ]);
    });

    it('an empty delta list writes nothing; an empty window lists nothing', async () => {
      await t.store.statsAdd({ deltas: [] });
      expect(await t.store.statsList({ since: new Date(0), bucketMs: 60_000 })).toEqual([]);
    });

    it('tells since when each queue is paused; pausing again keeps the first time', async () => {
      const start = t.clock.now();
      await t.store.queuePause({ queue: 'b' });
      t.clock.advance(5_000);
      await t.store.queuePause({ queue: 'a' });
      await t.store.queuePause({ queue: 'b' });
      expect(await t.store.queuePausedSince()).toEqual([
        { queue: 'a', pausedAt: new Date(start + 5_000) },
        { queue: 'b', pausedAt: new Date(start) },
      ]);
      await t.store.queueResume({ queue: 'b' });
      expect((await t.store.queuePausedSince()).map((entry) => entry.queue)).toEqual(['a']);
    });

    it('finds the earliest run time among pending jobs per queue, over every priority, ignoring running and finished jobs', async () => {
      const now = t.clock.now();
      expect(await t.store.jobQueueOldest()).toEqual([]);
      await insertJob(t.store, { queue: 'a', priority: 5, runAt: new Date(now - 1_000) });
      await insertJob(t.store, { queue: 'a', priority: 1, runAt: new Date(now - 9_000) });
      await insertJob(t.store, { queue: 'a', priority: 0, runAt: new Date(now + 60_000) });
      await insertJob(t.store, { queue: 'b', runAt: new Date(now + 5_000) });
      // A running job of queue c, older than everything: not pending, so c has no entry.
      await insertAndClaim(t.store, { queue: 'c', runAt: new Date(now - 100_000) });
      expect(await t.store.jobQueueOldest()).toEqual([
        { queue: 'a', oldestRunAt: new Date(now - 9_000) },
        { queue: 'b', oldestRunAt: new Date(now + 5_000) },
      ]);
    });
  });
}

export function describeJobAhead(factory: StoreFactory): void {
  describe('jobs ahead in the queue', () => {
    const t = useStoreFixture(factory);

    it('counts due pending jobs of the same queue that come first in claim order, up to a limit', async () => {
      const now = t.clock.now();
      const target = await insertJob(t.store, { queue: 'q', priority: 5, runAt: new Date(now - 10_000) });
      // Ahead: higher priority; same priority and earlier run_at; same both and a lower id (inserted first: see below).
      await insertJob(t.store, { queue: 'q', priority: 9, runAt: new Date(now - 1_000) });
      await insertJob(t.store, { queue: 'q', priority: 5, runAt: new Date(now - 20_000) });
      // Not ahead: lower priority, later run_at, another queue, not due, running.
      await insertJob(t.store, { queue: 'q', priority: 1, runAt: new Date(now - 99_000) });
      await insertJob(t.store, { queue: 'q', priority: 5, runAt: new Date(now - 5_000) });
      await insertJob(t.store, { queue: 'other', priority: 9, runAt: new Date(now - 99_000) });
      await insertJob(t.store, { queue: 'q', priority: 9, runAt: new Date(now + 60_000) });
      expect(await t.store.jobAhead({ id: target.id, limit: 100 })).toBe(2);
      expect(await t.store.jobAhead({ id: target.id, limit: 1 })).toBe(1);
      // Same priority and run_at: the lower id goes first.
      const twin = await insertJob(t.store, { queue: 'q', priority: 5, runAt: new Date(now - 10_000) });
      expect(await t.store.jobAhead({ id: twin.id, limit: 100 })).toBe(3);
      expect(await t.store.jobAhead({ id: target.id, limit: 100 })).toBe(2);
      // A claim takes the two ahead (and then the target): what is ahead shrinks.
      await fetchJobs(t.store, 'q', 2);
      expect(await t.store.jobAhead({ id: target.id, limit: 100 })).toBe(0);
      expect(await t.store.jobAhead({ id: '987654321', limit: 100 })).toBeNull();
    });
  });
}
