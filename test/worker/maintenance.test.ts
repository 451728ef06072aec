import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { createPruner } from '../../src/maintenance/pruner.js';
import { createRescuer, LEASE_EXPIRED_ERROR } from '../../src/maintenance/rescuer.js';
import { NightshiftEvents, type NightshiftEventMap } from '../../src/observe/events.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { openTempStore, TestClock, type TempStore } from '../fixtures/sqlite-runtime.js';
import { STATS_BUCKET_COUNT } from '../../src/store/types.js';

const noop = defineJob({ name: 'noop', schema: z.object({}), handler: async () => 'ok' });

let temp: TempStore | null = null;
let stopAll: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stopAll) await stop();
  stopAll = [];
  await temp?.cleanup();
  temp = null;
});

describe('rescuer', () => {
  it('takes back jobs whose lease expired and reports them', async () => {
    const clock = new TestClock();
    temp = await openTempStore({ clock });
    const { store } = temp;
    const client = createClient({ store, jobs: [noop] });
    const { job } = await client.enqueue(noop, {});
    await store.jobFetch({ queue: 'default', limit: 1, owner: 'crashed-worker', leaseMs: 1000 });
    clock.advance(1001);
    const events = new NightshiftEvents();
    const rescued = events.waitFor('rescuer:rescued');
    const rescuer = createRescuer({ store, events, intervalMs: 20 });
    stopAll.push(() => rescuer.stop());
    rescuer.start();
    expect(await rescued).toEqual({ retried: [job.id], dead: [] });
    const stored = await store.jobGet({ id: job.id });
    expect(stored?.state).toBe('retryable');
    // The record is the core's, the same on every store.
    expect(stored?.lastError).toEqual(LEASE_EXPIRED_ERROR);
    expect((await store.jobAttempts({ id: job.id })).map((attempt) => [attempt.outcome, attempt.error])).toEqual([['lost', LEASE_EXPIRED_ERROR]]);
  });

  it('reports each lost attempt as a failure: job:failed with the lease error, retried at once or dead', async () => {
    const clock = new TestClock();
    temp = await openTempStore({ clock });
    const { store } = temp;
    const client = createClient({ store, jobs: [noop] });
    const retried = (await client.enqueue(noop, {}, { maxAttempts: 2 })).job;
    const dead = (await client.enqueue(noop, {}, { maxAttempts: 1, queue: 'other' })).job;
    await store.jobFetch({ queue: 'default', limit: 1, owner: 'crashed-worker', leaseMs: 1000 });
    clock.advance(500);
    await store.jobFetch({ queue: 'other', limit: 1, owner: 'crashed-worker', leaseMs: 1000 });
    clock.advance(1501);
    const events = new NightshiftEvents();
    const failed: NightshiftEventMap['job:failed'][] = [];
    events.on('job:failed', (event) => failed.push(event));
    const rescuer = createRescuer({ store, events, intervalMs: 60_000 });
    stopAll.push(() => rescuer.stop());
    await rescuer.runNow();
    const byId = new Map(failed.map((event) => [event.job.id, event]));
    expect(failed).toHaveLength(2);
    expect(byId.get(retried.id)).toMatchObject({
      job: { id: retried.id, queue: 'default', name: 'noop', state: 'retryable', attempt: 1 },
      error: LEASE_EXPIRED_ERROR,
      willRetry: true,
      retryDelayMs: 0,
      durationMs: 2001,
    });
    expect(byId.get(retried.id)!.retryAt?.getTime()).toBe(clock.now());
    expect(byId.get(dead.id)).toMatchObject({
      job: { id: dead.id, queue: 'other', name: 'noop', state: 'dead', attempt: 1 },
      error: { kind: 'lease_expired' },
      willRetry: false,
      retryDelayMs: null,
      retryAt: null,
      durationMs: 1501,
    });
    // A second pass finds nothing: each lost attempt is reported once.
    await rescuer.runNow();
    expect(failed).toHaveLength(2);
  });

  it('tells the cancellation of the jobs waiting on one it rescued to dead', async () => {
    const clock = new TestClock();
    temp = await openTempStore({ clock });
    const { store } = temp;
    const client = createClient({ store, jobs: [noop] });
    const doomed = (await client.enqueue(noop, {}, { maxAttempts: 1 })).job;
    const waiting = (await client.enqueue(noop, {}, { dependsOn: [doomed.id], queue: 'after' })).job;
    await store.jobFetch({ queue: 'default', limit: 1, owner: 'crashed-worker', leaseMs: 1000 });
    clock.advance(1001);
    const events = new NightshiftEvents();
    const told: string[] = [];
    events.on('job:failed', ({ job }) => void told.push(`failed ${job.id} ${job.state}`));
    events.on('job:cancelled', ({ job, reason }) => void told.push(`cancelled ${job.id} ${job.queue}: ${reason}`));
    const rescuer = createRescuer({ store, events, intervalMs: 60_000 });
    stopAll.push(() => rescuer.stop());
    await rescuer.runNow();
    expect(told).toEqual([`failed ${doomed.id} dead`, `cancelled ${waiting.id} after: dependency ${doomed.id} ended dead`]);
  });
});

/** Writes a job's final state straight into the SQLite file, as a finish whose dependents' settle was lost leaves it. */
function endWithoutSettling(file: string, id: string, state: 'completed' | 'dead', at = Date.now()): void {
  const raw = new Database(file);
  try {
    raw.prepare('UPDATE nightshift_jobs SET state = ?, finished_at = ? WHERE id = ?').run(state, at, Number(id));
  } finally {
    raw.close();
  }
}

describe('rescuer: stranded dependents', () => {
  it('each pass releases or cancels waiting jobs whose dependency ended unsettled or was deleted, and reports them', async () => {
    const clock = new TestClock();
    temp = await openTempStore({ clock });
    const { store } = temp;
    const client = createClient({ store, jobs: [noop] });
    const done = (await client.enqueue(noop, {})).job;
    const released = (await client.enqueue(noop, {}, { dependsOn: [done.id], queue: 'reports' })).job;
    const dead = (await client.enqueue(noop, {})).job;
    const waiter = (await client.enqueue(noop, {}, { dependsOn: [dead.id], onDependencyFailure: 'wait' })).job;
    endWithoutSettling(temp.file, done.id, 'completed', clock.now());
    endWithoutSettling(temp.file, dead.id, 'dead', clock.now());
    clock.advance(60_000);
    expect(await store.jobPrune({ finishedBefore: new Date(clock.now()), states: ['dead'], limit: 10 })).toEqual({ deleted: 1 });

    const events = new NightshiftEvents();
    const cancelledTold: string[] = [];
    events.on('job:cancelled', ({ job }) => void cancelledTold.push(job.id));
    const settled = events.waitFor('rescuer:settled');
    const woken: string[][] = [];
    const rescuer = createRescuer({ store, events, intervalMs: 60_000, onStrandedSettled: (result) => woken.push(result.queues) });
    stopAll.push(() => rescuer.stop());
    await rescuer.runNow();
    expect(await settled).toEqual({ released: [released.id], cancelled: [waiter.id], queues: ['reports'] });
    // The cancellation is told, as one the worker's finish causes is.
    expect(cancelledTold).toEqual([waiter.id]);
    expect(woken).toEqual([['reports']]);
    expect((await store.jobGet({ id: released.id }))?.state).toBe('available');
    expect(await store.jobGet({ id: waiter.id })).toMatchObject({ state: 'cancelled', lastError: { kind: 'dependency_failed', message: expect.stringContaining('deleted before it completed') } });
    // Nothing left: the next pass reports nothing.
    await rescuer.runNow();
    expect(woken).toHaveLength(1);
  });

  it('in a running Nightshift, a job whose dependency completed without releasing it runs after the next rescue pass', async () => {
    temp = await openTempStore();
    const client = createClient({ store: temp.store, jobs: [noop] });
    const dependency = (await client.enqueue(noop, {})).job;
    const dependent = (await client.enqueue(noop, {}, { dependsOn: [dependency.id] })).job;
    endWithoutSettling(temp.file, dependency.id, 'completed');
    const runtime = createNightshift({ store: temp.store, jobs: [noop], pollIntervalMs: 60_000, rescue: { intervalMs: 60_000 }, prune: false });
    stopAll.push(() => runtime.stop());
    const completed = runtime.events.waitFor('job:completed');
    await runtime.start();
    expect((await completed).job.id).toBe(dependent.id);
  });
});

describe('pruner', () => {
  it('deletes finished jobs past their retention and keeps the rest', async () => {
    const clock = new TestClock();
    temp = await openTempStore({ clock });
    const { store } = temp;
    const client = createClient({ store, jobs: [noop] });
    const finish = async (outcome: 'completed' | 'dead'): Promise<string> => {
      const { job } = await client.enqueue(noop, {});
      const [claimed] = await store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 60_000 });
      const done = outcome === 'completed'
        ? { outcome: 'completed' as const, result: null }
        : { outcome: 'dead' as const, error: { name: 'Error', message: 'x', stack: null, kind: 'error' } };
      await store.jobFinishMany({ items: [{ id: job.id, token: claimed!.lease!.token, finish: done }] });
      return job.id;
    };
    const oldCompleted = await finish('completed');
    const oldDead = await finish('dead');
    clock.advance(2 * 24 * 3600_000); // two days later
    const recentCompleted = await finish('completed');
    const waiting = (await client.enqueue(noop, {})).job.id;

    let pruned = -1;
    const pruner = createPruner({ store, intervalMs: 60_000, batchSize: 1, onPruned: (deleted) => (pruned = deleted) });
    await pruner.runNow();
    await pruner.stop();
    expect(pruned).toBe(1);
    expect(await store.jobGet({ id: oldCompleted })).toBeNull();
    expect(await store.jobGet({ id: oldDead })).not.toBeNull(); // dead jobs are kept 7 days
    expect(await store.jobGet({ id: recentCompleted })).not.toBeNull();
    expect(await store.jobGet({ id: waiting })).not.toBeNull();
  });

  it('rolls aging stats up (minutes → quarter hours after 2 h → hours after 25 h) and drops them after 8 days, keeping every sum', async () => {
    const clock = new TestClock();
    temp = await openTempStore({ clock });
    const { store } = temp;
    const zeros = () => new Array(STATS_BUCKET_COUNT).fill(0);
    const delta = { queue: 'q', name: 'n', enqueued: 0, completed: 1, failed: 0, dead: 0, cancelled: 0, timeouts: 0, durationBuckets: zeros(), durationSumMs: 0, waitBuckets: zeros(), waitSumMs: 0 };
    const start = Math.floor(clock.now() / 3_600_000) * 3_600_000;
    clock.set(start - 9 * 24 * 3_600_000); // one minute of activity every 10 minutes for 9 days
    let added = 0;
    while (clock.now() < start) {
      await store.statsAdd({ deltas: [delta] });
      added++;
      clock.advance(10 * 60_000);
    }
    const minuteRows = async (fromMs: number, toMs: number) =>
      (await store.statsList({ since: new Date(fromMs), bucketMs: 60_000 })).filter((row) => row.start.getTime() < toMs);
    const pruner = createPruner({ store, intervalMs: 60_000 });
    await pruner.runNow();
    await pruner.stop();
    const now = clock.now();
    // The last 2 hours: one row per active minute.
    expect((await minuteRows(now - 2 * 3_600_000, now)).every((row) => row.start.getTime() % 600_000 === 0)).toBe(true);
    // 2–25 hours ago: quarter-hour rows only.
    const quarters = await minuteRows(now - 24 * 3_600_000, now - 3 * 3_600_000);
    expect(quarters.length).toBeGreaterThan(0);
    expect(quarters.every((row) => row.start.getTime() % (15 * 60_000) === 0)).toBe(true);
    // 26 hours to 8 days ago: hour rows, each holding its six active minutes.
    const hours = await minuteRows(now - 7 * 24 * 3_600_000, now - 26 * 3_600_000);
    expect(hours.every((row) => row.start.getTime() % 3_600_000 === 0 && row.completed === 6)).toBe(true);
    // Nothing older than 8 days; every count up to then is still there.
    const all = await store.statsList({ since: new Date(0), bucketMs: Number.MAX_SAFE_INTEGER });
    expect(all).toHaveLength(1);
    expect(all[0]!.completed).toBe(added - 24 * 6); // the first day went with the 8-day retention
  });
});

describe('createNightshift', () => {
  it('migrates on start, runs jobs, plugs extra services and stops everything once', async () => {
    temp = await openTempStore();
    const calls: string[] = [];
    let runtime: Nightshift | null = createNightshift({
      store: temp.store,
      jobs: [noop],
      pollIntervalMs: 60_000,
      services: [{ name: 'extra', start: () => void calls.push('start'), stop: async () => void calls.push('stop') }],
    });
    stopAll.push(() => runtime!.stop());
    // The process registry starts last (it describes the others); the event feed is off unless asked for;
    // the stats recorder starts before the worker, so it sees every job the worker runs.
    expect(runtime.services.map((service) => service.name)).toEqual(['stats-recorder', 'worker', 'rescuer', 'pruner', 'extra', 'process-registry']);
    await runtime.start();
    await runtime.start();
    const completed = runtime.events.waitFor('job:completed');
    const { job } = await runtime.enqueue(noop, {});
    await completed;
    expect((await runtime.client.get(job.id)).state).toBe('completed');
    await Promise.all([runtime.stop(), runtime.stop()]);
    expect(calls).toEqual(['start', 'stop']);
    runtime = createNightshift({ store: temp.store, jobs: [noop], worker: false });
    expect(runtime.worker).toBeNull();
    // Without a worker only the stats recorder runs (it counts the enqueues of this process).
    expect(runtime.services.map((service) => service.name)).toEqual(['stats-recorder']);
    expect(createNightshift({ store: temp.store, jobs: [noop], worker: false, stats: false }).services).toEqual([]);
  });
});
