import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { NightshiftEvents, type NightshiftEventMap } from '../../src/observe/events.js';
import { createScheduleManager, type ScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { createScheduler, type Scheduler } from '../../src/scheduler/scheduler.js';
import type { JobRecord, Store } from '../../src/store/types.js';
import { storeHarnesses, type OpenedStore } from './store-harness.js';

const report = defineJob({ name: 'report.daily', schema: z.object({ orgId: z.string() }), handler: () => 'ok' });
const ping = defineJob({ name: 'ping', schema: z.object({}).passthrough(), handler: () => 'pong' });
const jobs = [report, ping];

const at = (iso: string): number => Date.parse(iso);

/** Every job of a schedule, oldest first. */
async function jobsOf(store: Store, scheduleId: string): Promise<JobRecord[]> {
  const all: JobRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.jobList({ filter: { scheduleId }, limit: 1000, cursor });
    all.push(...page.jobs);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all.reverse();
}

function fireAtOf(job: JobRecord): string {
  return (JSON.parse(job.meta ?? '{}') as { fireAt: string }).fireAt;
}

/** Claims and completes every available job of the queue, as a worker would. */
async function finishAll(store: Store, queue = 'default'): Promise<void> {
  const claimed = await store.jobFetch({ queue, limit: 100, owner: 'test-worker', leaseMs: 60_000 });
  await store.jobFinishMany({ items: claimed.map((job) => ({ id: job.id, token: job.lease!.token, finish: { outcome: 'completed', result: null } })) });
}

for (const harness of storeHarnesses) {
  describe(`scheduler on ${harness.label}`, () => {
    let opened: OpenedStore;
    let events: NightshiftEvents;
    let manager: ScheduleManager;
    const schedulers: Scheduler[] = [];

    const newScheduler = (store: Store = opened.store, options: { graceMs?: number } = {}): Scheduler => {
      const scheduler = createScheduler({ store, jobs, events, pollIntervalMs: 20, ...options });
      schedulers.push(scheduler);
      return scheduler;
    };

    beforeEach(async () => {
      opened = await harness.open(at('2026-01-05T08:59:30Z'));
      events = new NightshiftEvents();
      manager = createScheduleManager({ store: opened.store, jobs });
    });

    afterEach(async () => {
      for (const scheduler of schedulers.splice(0)) await scheduler.stop();
      await opened.cleanup();
    });

    it('turns a due tick into exactly one job, however many schedulers pass at once', async () => {
      await manager.create({ id: 'daily', jobId: 'report.daily', schedule: '0 9 * * *', input: { orgId: 'o1' } });
      const other = await opened.openAnother();
      const a = newScheduler();
      const b = newScheduler(other);
      const c = newScheduler();
      expect((await a.runOnce()).enqueued).toBe(0); // 08:59:30: not due
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      const results = await Promise.all([a.runOnce(), b.runOnce(), c.runOnce(), a.runOnce()]);
      expect(results.reduce((sum, result) => sum + result.enqueued, 0)).toBe(1);
      const created = await jobsOf(opened.store, 'daily');
      expect(created).toHaveLength(1);
      expect(created[0]!.name).toBe('report.daily');
      expect(JSON.parse(created[0]!.payload)).toEqual({ orgId: 'o1' });
      expect(fireAtOf(created[0]!)).toBe('2026-01-05T09:00:00.000Z');
      const view = await manager.get('daily');
      expect(view?.lastRunAt?.toISOString()).toBe('2026-01-05T09:00:00.000Z');
      expect(view?.nextRunAt?.toISOString()).toBe('2026-01-06T09:00:00.000Z');
      expect(view?.lastJobId).toBe(created[0]!.id);
    });

    it('never fires before the store time says so, and emits schedule:fired', async () => {
      await manager.create({ id: 'daily', jobId: 'report.daily', schedule: '0 9 * * *', input: { orgId: 'o1' } });
      const scheduler = newScheduler();
      opened.clock.set(at('2026-01-05T08:59:59.999Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(0);
      const fired = events.waitFor('schedule:fired', (event) => event.scheduleId === 'daily');
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      const event = await fired;
      expect(event.fireAt.toISOString()).toBe('2026-01-05T09:00:00.000Z');
      expect(event.status).toBe('enqueued');
      expect(event.jobId).not.toBeNull();
    });

    it('a store clock that jumps backwards neither re-fires a claimed tick nor fires early', async () => {
      await manager.create({ id: 'minutely', jobId: 'ping', schedule: '* * * * *' });
      const scheduler = newScheduler();
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      opened.clock.set(at('2026-01-05T08:59:10Z')); // 50 s back
      expect((await scheduler.runOnce()).enqueued).toBe(0);
      await opened.store.scheduleUpdateNext({ id: 'minutely', nextRunAt: new Date(at('2026-01-05T09:00:00Z')) }); // a stale writer
      opened.clock.set(at('2026-01-05T09:00:30Z'));
      expect(await scheduler.runOnce()).toMatchObject({ enqueued: 0, lost: 1 });
      opened.clock.set(at('2026-01-05T09:01:00Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      expect((await jobsOf(opened.store, 'minutely')).map(fireAtOf)).toEqual(['2026-01-05T09:00:00.000Z', '2026-01-05T09:01:00.000Z']);
    });

    it('skips ticks missed while nothing ran, by default', async () => {
      await manager.create({ id: 'hourly', jobId: 'ping', schedule: '0 * * * *' });
      const scheduler = newScheduler();
      const missed: NightshiftEventMap['schedule:missed'][] = [];
      events.on('schedule:missed', (event) => missed.push(event));
      opened.clock.set(at('2026-01-05T14:20:00Z')); // 09:00 … 14:00 were missed
      const result = await scheduler.runOnce();
      expect(result.enqueued).toBe(0);
      expect(result.missed).toBe(6);
      expect(missed).toEqual([{ scheduleId: 'hourly', count: 6, first: new Date('2026-01-05T09:00:00Z'), last: new Date('2026-01-05T14:00:00Z') }]);
      expect((await manager.get('hourly'))?.nextRunAt?.toISOString()).toBe('2026-01-05T15:00:00.000Z');
      opened.clock.set(at('2026-01-05T15:00:10Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      expect((await jobsOf(opened.store, 'hourly')).map(fireAtOf)).toEqual(['2026-01-05T15:00:00.000Z']);
    });

    it('runs a tick late but within the grace period (a short restart loses nothing)', async () => {
      await manager.create({ id: 'hourly', jobId: 'ping', schedule: '0 * * * *' });
      const scheduler = newScheduler(opened.store, { graceMs: 60_000 });
      opened.clock.set(at('2026-01-05T09:00:45Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
    });

    it('runs every tick within the grace period after a short stop, whatever catchUp; overlap skip keeps one run (docs/scheduling.md)', async () => {
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      await manager.create({ id: 'often', jobId: 'ping', schedule: '*/10 * * * * *' });
      await manager.create({ id: 'often-skip', jobId: 'ping', schedule: '*/10 * * * * *', overlap: 'skip' });
      // Down from just after 09:00:00 to 09:00:58: the ticks of 09:00:10 … 09:00:50 are all on time.
      opened.clock.set(at('2026-01-05T09:00:58Z'));
      const result = await newScheduler().runOnce();
      expect(result.missed).toBe(0);
      expect((await jobsOf(opened.store, 'often')).map(fireAtOf)).toEqual([10, 20, 30, 40, 50].map((second) => `2026-01-05T09:00:${second}.000Z`));
      expect((await manager.history('often')).map((entry) => entry.status)).toEqual(Array(5).fill('enqueued'));
      expect(await jobsOf(opened.store, 'often-skip')).toHaveLength(1);
      expect((await manager.history('often-skip')).map((entry) => entry.status)).toEqual([...Array(4).fill('skipped_overlap'), 'enqueued']);
    });

    it('catches up the N most recent missed ticks with catchUp: N', async () => {
      await manager.create({ id: 'hourly', jobId: 'ping', schedule: '0 * * * *', catchUp: 2 });
      const scheduler = newScheduler();
      opened.clock.set(at('2026-01-05T14:00:05Z'));
      const result = await scheduler.runOnce();
      expect(result.enqueued).toBe(3);
      expect(result.missed).toBe(3);
      expect((await jobsOf(opened.store, 'hourly')).map(fireAtOf)).toEqual([
        '2026-01-05T12:00:00.000Z',
        '2026-01-05T13:00:00.000Z',
        '2026-01-05T14:00:00.000Z',
      ]);
      const history = await manager.history('hourly');
      expect(history.map((entry) => entry.status)).toEqual(['enqueued', 'catch_up', 'catch_up']);
      expect(history[0]!.job?.state).toBe('available');
    });

    it('overlap skip: a tick that comes while the previous run is unfinished is recorded as skipped', async () => {
      await manager.create({ id: 'minutely', jobId: 'ping', schedule: '* * * * *', overlap: 'skip' });
      const scheduler = newScheduler();
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      opened.clock.set(at('2026-01-05T09:01:00Z'));
      const second = await scheduler.runOnce();
      expect(second).toMatchObject({ enqueued: 0, skipped: 1 });
      await finishAll(opened.store);
      opened.clock.set(at('2026-01-05T09:02:00Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      const history = await manager.history('minutely');
      expect(history.map((entry) => [entry.fireAt.toISOString().slice(11, 16), entry.status])).toEqual([
        ['09:02', 'enqueued'],
        ['09:01', 'skipped_overlap'],
        ['09:00', 'enqueued'],
      ]);
      expect(history[2]!.job?.state).toBe('completed');
    });

    it('overlap allow: runs pile up', async () => {
      await manager.create({ id: 'minutely', jobId: 'ping', schedule: '* * * * *' });
      const scheduler = newScheduler();
      for (const minute of ['09:00', '09:01', '09:02']) {
        opened.clock.set(at(`2026-01-05T${minute}:00Z`));
        await scheduler.runOnce();
      }
      expect(await jobsOf(opened.store, 'minutely')).toHaveLength(3);
    });

    it('overlap queue: ticks during a run wait for it, merged into one run that starts when it ends', async () => {
      await manager.create({ id: 'minutely', jobId: 'ping', schedule: '* * * * *', overlap: 'queue' });
      const scheduler = newScheduler();
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      await scheduler.runOnce();
      const first = await opened.store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 3_600_000 });
      expect(first).toHaveLength(1);
      // 09:01 … 09:04 come while the 09:00 run is still running: nothing is enqueued.
      for (const minute of ['09:01', '09:02', '09:03', '09:04']) {
        opened.clock.set(at(`2026-01-05T${minute}:00Z`));
        expect((await scheduler.runOnce()).enqueued).toBe(0);
      }
      // The run ends at 09:04:30; the first waiting tick (09:01) runs now, the others merge into it.
      opened.clock.set(at('2026-01-05T09:04:30Z'));
      await opened.store.jobFinishMany({ items: [{ id: first[0]!.id, token: first[0]!.lease!.token, finish: { outcome: 'completed', result: null } }] });
      opened.clock.set(at('2026-01-05T09:04:31Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      await finishAll(opened.store);
      opened.clock.set(at('2026-01-05T09:05:00Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      expect((await jobsOf(opened.store, 'minutely')).map(fireAtOf)).toEqual([
        '2026-01-05T09:00:00.000Z',
        '2026-01-05T09:01:00.000Z',
        '2026-01-05T09:05:00.000Z',
      ]);
      const statuses = (await manager.history('minutely')).map((entry) => entry.status);
      expect(statuses).toEqual(['enqueued', 'queued', 'enqueued']);
    });

    it('records an input that no longer passes the job schema as an invalid_input tick and reports it', async () => {
      await manager.create({ id: 'daily', jobId: 'report.daily', schedule: '0 9 * * *', input: { orgId: 'o1' } });
      // The job's schema changed in code since the schedule was saved.
      const stricter = defineJob({ name: 'report.daily', schema: z.object({ orgId: z.string(), region: z.string() }), handler: () => 'ok' });
      const scheduler = createScheduler({ store: opened.store, jobs: [stricter], events });
      schedulers.push(scheduler);
      const errors: unknown[] = [];
      events.on('schedule:error', (event) => errors.push(event.error));
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      expect(await scheduler.runOnce()).toMatchObject({ enqueued: 0, skipped: 1 });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'INVALID_PAYLOAD' });
      expect((await manager.history('daily'))[0]?.status).toBe('invalid_input');
    });

    it('leaves a schedule whose job this process does not know to schedulers that know it', async () => {
      await manager.create({ id: 'daily', jobId: 'report.daily', schedule: '0 9 * * *', input: { orgId: 'o1' } });
      const partial = createScheduler({ store: opened.store, jobs: [ping], events });
      schedulers.push(partial);
      const errors: NightshiftEventMap['schedule:error'][] = [];
      events.on('schedule:error', (event) => errors.push(event));
      opened.clock.set(at('2026-01-05T09:00:10Z'));
      await partial.runOnce();
      await partial.runOnce();
      expect(errors).toHaveLength(1); // reported once, not every pass
      expect(errors[0]!.error).toMatchObject({ code: 'UNKNOWN_JOB' });
      expect(await jobsOf(opened.store, 'daily')).toHaveLength(0);
      expect((await newScheduler().runOnce()).enqueued).toBe(1);
    });

    it('start() and stop() are idempotent; the loop fires ticks as the store clock reaches them', async () => {
      await manager.create({ id: 'every-second', jobId: 'ping', schedule: '* * * * * *' });
      const scheduler = newScheduler();
      await Promise.all([scheduler.start(), scheduler.start()]);
      expect(scheduler.state).toBe('running');
      const fired = events.waitFor('schedule:fired', (event) => event.fireAt.getTime() === at('2026-01-05T09:00:00Z'));
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      await fired;
      await Promise.all([scheduler.stop(), scheduler.stop()]);
      await scheduler.stop();
      expect(scheduler.state).toBe('stopped');
      await scheduler.start();
      await scheduler.stop();
    });

    it('disabled (paused) schedules never fire and their ticks are not run after resume', async () => {
      await manager.create({ id: 'hourly', jobId: 'ping', schedule: '0 * * * *', catchUp: 5 });
      await manager.pause('hourly');
      const scheduler = newScheduler();
      opened.clock.set(at('2026-01-05T11:30:00Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(0);
      const resumed = await manager.resume('hourly');
      expect(resumed.nextRunAt?.toISOString()).toBe('2026-01-05T12:00:00.000Z');
      opened.clock.set(at('2026-01-05T12:00:00Z'));
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      expect((await jobsOf(opened.store, 'hourly')).map(fireAtOf)).toEqual(['2026-01-05T12:00:00.000Z']);
    });
  });
}
