import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import { wallClockMs } from '../../src/scheduler/time-zone.js';
import type { Store } from '../../src/store/types.js';
import { storeHarnesses, type OpenedStore } from './store-harness.js';

const tick = defineJob({ name: 'tick', schema: z.object({}), handler: () => null });

/** Fire times (ISO, UTC) of every job a schedule created. */
async function fireTimes(store: Store, scheduleId: string): Promise<string[]> {
  const page = await store.jobList({ filter: { scheduleId }, limit: 1000 });
  return page.jobs.map((job) => (JSON.parse(job.meta ?? '{}') as { fireAt: string }).fireAt).sort();
}

const local = (timezone: string, iso: string): string => new Date(wallClockMs(timezone, Date.parse(iso))).toISOString().slice(0, 16).replace('T', ' ');

/**
 * Runs a scheduler over [fromIso, toIso) of store time, one pass every `stepMs` — as a daemon
 * would, but with the clock moved by the test instead of waiting.
 */
async function runThrough(opened: OpenedStore, definition: { schedule: string; timezone: string }, fromIso: string, toIso: string, stepMs: number): Promise<string[]> {
  opened.clock.set(Date.parse(fromIso));
  const manager = createScheduleManager({ store: opened.store, jobs: [tick] });
  await manager.create({ id: 's', jobId: 'tick', ...definition });
  // The grace is larger than the step, so each tick is on time when the pass sees it.
  const scheduler = createScheduler({ store: opened.store, jobs: [tick], graceMs: 2 * stepMs });
  for (let now = Date.parse(fromIso); now < Date.parse(toIso); now += stepMs) {
    opened.clock.set(now);
    await scheduler.runOnce();
  }
  return fireTimes(opened.store, 's');
}

for (const harness of storeHarnesses) {
  describe(`daylight-saving changes, scheduler on ${harness.label}`, () => {
    let opened: OpenedStore | null = null;
    afterEach(async () => {
      await opened?.cleanup();
      opened = null;
    });

    it('0 2 * * * in America/New_York runs once on 2026-03-08, at 03:00 local', async () => {
      opened = await harness.open(0);
      const times = await runThrough(opened, { schedule: '0 2 * * *', timezone: 'America/New_York' }, '2026-03-07T12:00:00Z', '2026-03-09T12:00:00Z', 5 * 60_000);
      expect(times.map((iso) => local('America/New_York', iso))).toEqual(['2026-03-08 03:00', '2026-03-09 02:00']);
    });

    it('30 1 * * * in America/New_York runs once on 2026-11-01 (the first 01:30)', async () => {
      opened = await harness.open(0);
      const times = await runThrough(opened, { schedule: '30 1 * * *', timezone: 'America/New_York' }, '2026-10-31T12:00:00Z', '2026-11-02T12:00:00Z', 5 * 60_000);
      expect(times).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
    });

    it('0 * * * * in Europe/London runs 23 times on 2026-03-29', async () => {
      opened = await harness.open(0);
      // Local midnight (00:00 GMT) to local midnight (23:00 UTC, BST).
      const times = await runThrough(opened, { schedule: '0 * * * *', timezone: 'Europe/London' }, '2026-03-28T23:59:00Z', '2026-03-29T22:59:00Z', 10 * 60_000);
      expect(times).toHaveLength(23);
      expect(new Set(times.map((iso) => local('Europe/London', iso).slice(0, 10)))).toEqual(new Set(['2026-03-29']));
    });

    it('0 * * * * in Europe/London runs 25 times on 2026-10-25, both 01:00s included', async () => {
      opened = await harness.open(0);
      // Local midnight (23:00 UTC the day before, BST) to local midnight (00:00 UTC, GMT).
      const times = await runThrough(opened, { schedule: '0 * * * *', timezone: 'Europe/London' }, '2026-10-24T22:59:00Z', '2026-10-25T23:59:00Z', 10 * 60_000);
      expect(times).toHaveLength(25);
      expect(times.filter((iso) => local('Europe/London', iso).endsWith('01:00'))).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z']);
    });
  });
}
