// Tick retention end to end on a real SQLite file: the pruner deletes cron ticks past
// `ticksOlderThanMs`, keeps recent ones and each schedule's newest, and a scheduler fed a stale
// nextRunAt afterwards still cannot fire a pruned tick a second time.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createPruner, DEFAULT_RETENTION, MIN_TICK_RETENTION_MS } from '../../src/maintenance/pruner.js';
import { createScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import type { Store } from '../../src/store/types.js';
import { openTempStore, TestClock, type TempStore } from '../fixtures/sqlite-runtime.js';

const DAY_MS = 24 * 3600_000;
const ping = defineJob({ name: 'ping', schema: z.object({}).passthrough(), handler: () => 'pong' });

let temp: TempStore | null = null;
afterEach(async () => {
  await temp?.cleanup();
  temp = null;
});

async function fireTimes(store: Store, scheduleId: string): Promise<number[]> {
  return (await store.scheduleTickList({ scheduleId, limit: 1000 })).map((tick) => tick.fireAt.getTime());
}

describe('tick retention', () => {
  it('keeps ticks 7 days by default', () => {
    expect(DEFAULT_RETENTION.ticksOlderThanMs).toBe(7 * DAY_MS);
  });

  it('refuses a tick retention under one hour', async () => {
    temp = await openTempStore();
    const store = temp.store;
    expect(() => createPruner({ store, retention: { ticksOlderThanMs: MIN_TICK_RETENTION_MS - 1 } })).toThrow(/ticksOlderThanMs must be at least 3600000 ms/);
    expect(() => createPruner({ store, retention: { ticksOlderThanMs: MIN_TICK_RETENTION_MS } })).not.toThrow();
  });

  it('the pruner deletes old ticks in batches, keeps recent ones and each schedule newest', async () => {
    const clock = new TestClock();
    temp = await openTempStore({ clock });
    const { store } = temp;
    await store.scheduleUpsertMany({
      schedules: ['busy', 'quiet'].map((id) => ({ id, jobName: 'ping', cron: '* * * * * *', timezone: 'UTC', enabled: true, description: null, input: '{}', catchUp: 0, overlap: 'allow' as const, source: 'code' as const, jobOptions: null })),
    });
    const base = clock.now();
    for (let i = 0; i < 7; i++) {
      await store.scheduleTickClaim({ scheduleId: 'busy', fireAt: new Date(base + i * 1000), nextRunAt: null, job: null, status: 'enqueued' });
    }
    await store.scheduleTickClaim({ scheduleId: 'quiet', fireAt: new Date(base), nextRunAt: null, job: null, status: 'enqueued' });
    clock.advance(2 * DAY_MS);
    await store.scheduleTickClaim({ scheduleId: 'busy', fireAt: new Date(clock.now()), nextRunAt: null, job: null, status: 'enqueued' });

    const passes: number[] = [];
    const pruner = createPruner({ store, batchSize: 2, retention: { ticksOlderThanMs: DAY_MS }, onTicksPruned: (deleted) => passes.push(deleted) });
    await pruner.runNow();
    await pruner.stop();
    expect(passes).toEqual([7]);
    expect(await fireTimes(store, 'busy')).toEqual([clock.now()]);
    expect(await fireTimes(store, 'quiet')).toEqual([base]);
  });

  it('a scheduler given a stale nextRunAt after a prune does not fire the pruned tick again', async () => {
    const clock = new TestClock(Date.parse('2026-01-05T08:59:30Z'));
    temp = await openTempStore({ clock });
    const { store } = temp;
    const manager = createScheduleManager({ store, jobs: [ping] });
    await manager.create({ id: 'minutely', jobId: 'ping', schedule: '* * * * *' });
    const scheduler = createScheduler({ store, jobs: [ping], pollIntervalMs: 20 });
    const first = Date.parse('2026-01-05T09:00:00Z');
    clock.set(first);
    expect((await scheduler.runOnce()).enqueued).toBe(1);
    clock.advance(60_000);
    expect((await scheduler.runOnce()).enqueued).toBe(1);
    clock.advance(8 * DAY_MS);

    const pruner = createPruner({ store });
    await pruner.runNow();
    await pruner.stop();
    expect(await fireTimes(store, 'minutely')).toEqual([first + 60_000]);

    // A stale writer moves nextRunAt back to the pruned tick, with a clock that jumped back too.
    await store.scheduleUpdateNext({ id: 'minutely', nextRunAt: new Date(first) });
    clock.set(first + 10_000);
    expect(await scheduler.runOnce()).toMatchObject({ enqueued: 0, lost: 1 });
    expect((await store.jobList({ filter: { scheduleId: 'minutely' } })).jobs).toHaveLength(2);
    await scheduler.stop();
  });
});
