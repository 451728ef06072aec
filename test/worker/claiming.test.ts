import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { NightshiftEvents } from '../../src/observe/events.js';
import { AHEAD_CHECK_AFTER_MS } from '../../src/worker/claimed-ahead.js';
import { SLOW_QUEUE_CLAIM_LIMIT } from '../../src/worker/claim-size.js';
import { gate, openRuntime, TestClock, until, type Runtime } from '../fixtures/sqlite-runtime.js';

let runtime: Runtime | null = null;
afterEach(async () => {
  await runtime?.close();
  runtime = null;
});

describe('claiming', () => {
  it('runs higher priorities first', async () => {
    const order: number[] = [];
    const ranked = defineJob({
      name: 'ranked',
      schema: z.object({ p: z.number() }),
      handler: async ({ p }) => {
        order.push(p);
      },
    });
    runtime = await openRuntime([ranked], { worker: { queues: { default: { concurrency: 1 } } } });
    const { client, events, worker } = runtime;
    for (const p of [5, 1_000_000, 0, 42, 7]) await client.enqueue(ranked, { p }, { priority: p });
    let done = 0;
    const all = new Promise<void>((resolve) => events.on('job:completed', () => ++done === 5 && resolve()));
    await worker.start();
    await all;
    expect(order).toEqual([1_000_000, 42, 7, 5, 0]);
  });

  it('never starts a delayed job early', async () => {
    const clock = new TestClock();
    const later = defineJob({ name: 'later', schema: z.object({}), handler: async (_p, ctx) => ctx.now().getTime() });
    runtime = await openRuntime([later], { clock });
    const { client, events, worker, store } = runtime;
    const firstFetch = events.waitFor('worker:fetched');
    await worker.start();
    await firstFetch;
    const { job } = await client.enqueue(later, {}, { delayMs: 10_000 });

    clock.advance(9_999);
    const early = events.waitFor('worker:fetched');
    worker.wake();
    expect((await early).count).toBe(0);
    expect((await store.jobGet({ id: job.id }))?.state).toBe('scheduled');

    clock.advance(1);
    const completed = events.waitFor('job:completed');
    worker.wake();
    expect((await completed).result).toBe(job.runAt.getTime());
  });

  it('never runs more handlers of a queue than its concurrency', async () => {
    const release = gate();
    let running = 0;
    let peak = 0;
    const held = defineJob({
      name: 'held',
      schema: z.object({}),
      handler: async () => {
        running++;
        peak = Math.max(peak, running);
        await release.promise;
        running--;
      },
    });
    runtime = await openRuntime([held], { worker: { queues: { default: { concurrency: 3 } } } });
    const { client, events, worker } = runtime;
    await client.enqueueMany(held, Array.from({ length: 10 }, () => ({})));
    let started = 0;
    const threeStarted = new Promise<void>((resolve) => events.on('job:started', () => ++started === 3 && resolve()));
    await worker.start();
    await threeStarted;
    worker.wake();
    await new Promise((resolve) => setImmediate(resolve));
    expect(worker.running).toBe(3);
    let done = 0;
    const allDone = new Promise<void>((resolve) => events.on('job:completed', () => ++done === 10 && resolve()));
    release.open();
    await allDone;
    expect(peak).toBe(3);
  });

  it('claims every free slot while handlers are quick, and in chunks once they are slow', async () => {
    const clock = new TestClock();
    const release = gate();
    let slow = false;
    const work = defineJob({
      name: 'work',
      schema: z.object({}),
      handler: async () => {
        // Slow handlers: each one takes 5 ms of the worker's clock, which ClaimSize averages.
        if (slow) clock.advance(5);
        await release.promise;
      },
    });
    // No claiming ahead here: this is about the size of claims for free slots.
    runtime = await openRuntime([work], { clock, worker: { queues: { default: { concurrency: 40, prefetch: 0 } } } });
    const { client, events, worker } = runtime;
    const fetched: number[] = [];
    events.on('worker:fetched', ({ count }) => fetched.push(count));
    let done = 0;
    let target = 40;
    let resolveBatch: () => void = () => undefined;
    events.on('job:completed', () => ++done === target && resolveBatch());
    const batch = (): Promise<void> => new Promise<void>((resolve) => (resolveBatch = resolve));

    // Quick handlers (no time passes): one claim takes all 40 free slots.
    await client.enqueueMany(work, Array.from({ length: 40 }, () => ({})));
    let finished = batch();
    await worker.start();
    release.open();
    await finished;
    expect(Math.max(...fetched)).toBe(40);

    // Slow handlers: once their durations are averaged, claims take at most the chunk limit.
    slow = true;
    target = 120;
    finished = batch();
    fetched.length = 0;
    await client.enqueueMany(work, Array.from({ length: 80 }, () => ({})));
    await finished;
    const claimed = fetched.filter((count) => count > 0);
    expect(claimed.reduce((sum, count) => sum + count, 0)).toBe(80);
    expect(claimed.at(-1)).toBeLessThanOrEqual(SLOW_QUEUE_CLAIM_LIMIT);
    expect(claimed.filter((count) => count > SLOW_QUEUE_CLAIM_LIMIT).length).toBeLessThanOrEqual(1);
  });

  describe('claiming ahead of free slots (prefetch)', () => {
    /** Lets a few turns of the event loop pass: enough for a wake-up to claim (SQLite answers at once). */
    const turns = async (count = 5): Promise<void> => {
      for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    const totals = async (rt: Runtime) => (await rt.store.jobStats()).totals;
    /** Wakes the worker, lets any claim happen, and checks that the counts are what they were. */
    const expectNoMoreClaimed = async (rt: Runtime, counts: { running: number; available: number }): Promise<void> => {
      rt.worker.wake();
      await turns();
      expect(await totals(rt)).toMatchObject(counts);
    };
    /** Resolves once `count` more jobs completed. */
    const completions = (rt: Runtime, count: number): Promise<void> => {
      let done = 0;
      return new Promise<void>((resolve) => rt.events.on('job:completed', () => ++done === count && resolve()));
    };

    /** Jobs whose handlers (except the warm-up one, n = -1) wait until `open()`, counted as they run. */
    function heldJob() {
      const seen = { running: 0, peak: 0, started: [] as number[] };
      const held = gate();
      const job = defineJob({
        name: 'held',
        schema: z.object({ n: z.number() }),
        handler: async ({ n }) => {
          if (n < 0) return;
          seen.started.push(n);
          seen.running++;
          seen.peak = Math.max(seen.peak, seen.running);
          await held.promise;
          seen.running--;
        },
      });
      return { job, seen, open: () => held.open() };
    }

    /** Starts the worker and runs one quick job, so the queue has a handler duration to go by. */
    async function warmUp(rt: Runtime, job: ReturnType<typeof heldJob>['job']): Promise<void> {
      const completed = rt.events.waitFor('job:completed');
      await rt.client.enqueue(job, { n: -1 });
      await rt.worker.start();
      await completed;
    }

    it('holds up to `prefetch` claimed jobs while every slot is busy, never running more than the concurrency', async () => {
      const { job, seen, open } = heldJob();
      runtime = await openRuntime([job], { worker: { queues: { default: { concurrency: 2, prefetch: 3 } } } });
      const rt = runtime;
      await warmUp(rt, job);
      await rt.client.enqueueMany(job, Array.from({ length: 10 }, (_, n) => ({ n })));
      // Two run, three more are claimed and wait; the other five stay in the queue.
      await until(async () => (await totals(rt)).running === 5, 'five jobs are claimed');
      await expectNoMoreClaimed(rt, { running: 5, available: 5 });
      expect(rt.worker.running).toBe(2);
      expect(seen.running).toBe(2);
      const allDone = completions(rt, 10);
      open();
      await allDone;
      expect(seen.peak).toBe(2);
      // Waiting jobs start in the order they were claimed: priority, then age.
      expect(seen.started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('records a waiting job\'s attempt as starting when its handler started, not when it was claimed', async () => {
      const clock = new TestClock();
      const { job, seen, open } = heldJob();
      runtime = await openRuntime([job], { clock, worker: { queues: { default: { concurrency: 1, prefetch: 1 } } } });
      const rt = runtime;
      await warmUp(rt, job);
      const [first, second] = await rt.client.enqueueMany(job, [{ n: 0 }, { n: 1 }]);
      await until(async () => (await totals(rt)).running === 2, 'both jobs are claimed, one waiting');
      const claimedAt = clock.now();
      // The waiting job starts 7 s after its claim, once the first handler lets go.
      clock.advance(7_000);
      const allDone = completions(rt, 2);
      open();
      await allDone;
      await until(async () => (await rt.client.get(second!.job.id)).state === 'completed', 'the second job is stored completed');
      expect(seen.started).toEqual([0, 1]);
      const [firstAttempt] = (await rt.client.get(first!.job.id)).attempts;
      const [secondAttempt] = (await rt.client.get(second!.job.id)).attempts;
      expect(firstAttempt!.startedAt.getTime()).toBe(claimedAt);
      expect(secondAttempt!.startedAt.getTime()).toBe(claimedAt + 7_000);
    });

    it('claims nothing ahead before a handler of the queue finished', async () => {
      const { job, seen, open } = heldJob();
      runtime = await openRuntime([job], { worker: { queues: { default: { concurrency: 2 } } } });
      const rt = runtime;
      await rt.client.enqueueMany(job, Array.from({ length: 6 }, (_, n) => ({ n })));
      await rt.worker.start();
      await until(() => seen.running === 2, 'two handlers run');
      // Nothing is known about the queue's handlers yet: they may run for hours.
      await expectNoMoreClaimed(rt, { running: 2, available: 4 });
      open();
      await until(async () => (await totals(rt)).completed === 6, 'every job completed');
    });

    it('claims nothing ahead with prefetch 0', async () => {
      const { job, open } = heldJob();
      runtime = await openRuntime([job], { worker: { queues: { default: { concurrency: 2, prefetch: 0 } } } });
      const rt = runtime;
      await warmUp(rt, job);
      await rt.client.enqueueMany(job, Array.from({ length: 6 }, (_, n) => ({ n })));
      await until(async () => (await totals(rt)).running === 2, 'two jobs are claimed');
      await expectNoMoreClaimed(rt, { running: 2, available: 4 });
      open();
    });

    it('gives waiting jobs back on stop, unstarted, with their attempt not counted', async () => {
      const { job, seen, open } = heldJob();
      runtime = await openRuntime([job], { worker: { queues: { default: { concurrency: 1, prefetch: 2 } }, shutdownTimeoutMs: 5_000 } });
      const rt = runtime;
      await warmUp(rt, job);
      const ids = (await rt.client.enqueueMany(job, [{ n: 0 }, { n: 1 }, { n: 2 }])).map((r) => r.job.id);
      await until(async () => (await totals(rt)).running === 3, 'three jobs are claimed');
      const released: string[] = [];
      rt.events.on('job:released', ({ job: record }) => released.push(record.id));
      const stopped = rt.worker.stop();
      // The two waiting jobs go back at once, while the running one may still finish.
      await until(async () => (await totals(rt)).available === 2, 'the waiting jobs are back in the queue');
      open();
      await stopped;
      expect(seen.started).toEqual([0]);
      expect(released.sort()).toEqual([ids[1], ids[2]].sort());
      for (const id of [ids[1]!, ids[2]!]) {
        expect(await rt.store.jobGet({ id })).toMatchObject({ state: 'available', attempt: 0, lease: null });
      }
      expect((await rt.store.jobGet({ id: ids[0]! }))?.state).toBe('completed');
    });

    it('gives waiting jobs back after a third of the lease when the running handler is stuck, and stops claiming ahead', async () => {
      const { job, seen, open } = heldJob();
      runtime = await openRuntime([job], { worker: { leaseMs: 300, queues: { default: { concurrency: 1, prefetch: 2 } } } });
      const rt = runtime;
      await warmUp(rt, job);
      const released = rt.events.waitFor('job:released', undefined, 5_000);
      const ids = (await rt.client.enqueueMany(job, [{ n: 0 }, { n: 1 }, { n: 2 }])).map((r) => r.job.id);
      await until(async () => (await totals(rt)).running === 3, 'three jobs are claimed');
      await released;
      await until(async () => (await totals(rt)).available === 2, 'the waiting jobs are back in the queue');
      // The handler is still stuck: the jobs given back are not claimed ahead again.
      await expectNoMoreClaimed(rt, { running: 1, available: 2 });
      expect((await rt.store.jobAttempts({ id: ids[1]! })).map((a) => a.outcome)).toEqual(['released']);
      const allDone = completions(rt, 3);
      open();
      await allDone;
      expect(seen.started).toEqual([0, 1, 2]);
    });

    it('drops a waiting job cancelled in this process instead of starting it', async () => {
      const { job, seen, open } = heldJob();
      runtime = await openRuntime([job], { worker: { queues: { default: { concurrency: 1, prefetch: 1 } } } });
      const rt = runtime;
      await warmUp(rt, job);
      const ids = (await rt.client.enqueueMany(job, [{ n: 0 }, { n: 1 }])).map((r) => r.job.id);
      await until(async () => (await totals(rt)).running === 2, 'both jobs are claimed');
      await rt.client.cancel(ids[1]!);
      const completed = rt.events.waitFor('job:completed');
      open();
      await completed;
      await turns();
      expect(seen.started).toEqual([0]);
      expect((await rt.store.jobGet({ id: ids[1]! }))?.state).toBe('cancelled');
    });

    describe('a job that waited long for its slot is checked with the store before it starts', () => {
      /** A client of another process: its cancels and pauses reach the worker only through the store. */
      const otherProcess = (rt: Runtime, job: ReturnType<typeof heldJob>['job']) => createClient({ store: rt.store, jobs: [job], events: new NightshiftEvents() });
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

      it('not started when another process cancelled it while it waited', async () => {
        const { job, seen, open } = heldJob();
        runtime = await openRuntime([job], { worker: { queues: { default: { concurrency: 1, prefetch: 2 } } } });
        const rt = runtime;
        await warmUp(rt, job);
        const ids = (await rt.client.enqueueMany(job, [{ n: 0 }, { n: 1 }, { n: 2 }])).map((r) => r.job.id);
        await until(async () => (await totals(rt)).running === 3, 'three jobs are claimed, two waiting');
        expect(await otherProcess(rt, job).cancel(ids[1]!)).toMatchObject({ state: 'cancelled' });
        await sleep(AHEAD_CHECK_AFTER_MS + 50);
        const allDone = completions(rt, 2);
        open();
        await allDone;
        expect(seen.started).toEqual([0, 2]);
        expect(await rt.store.jobGet({ id: ids[1]! })).toMatchObject({ state: 'cancelled', attempt: 1 });
        expect((await rt.store.jobGet({ id: ids[2]! }))?.state).toBe('completed');
      });

      it('given back unstarted when another process paused its queue, and run once it is resumed', async () => {
        const { job, seen, open } = heldJob();
        runtime = await openRuntime([job], { worker: { queues: { default: { concurrency: 1, prefetch: 1 } } } });
        const rt = runtime;
        await warmUp(rt, job);
        const ids = (await rt.client.enqueueMany(job, [{ n: 0 }, { n: 1 }])).map((r) => r.job.id);
        await until(async () => (await totals(rt)).running === 2, 'both jobs are claimed, one waiting');
        const other = otherProcess(rt, job);
        await other.pauseQueue('default');
        await sleep(AHEAD_CHECK_AFTER_MS + 50);
        const released = rt.events.waitFor('job:released');
        open();
        expect((await released).job.id).toBe(ids[1]);
        expect(seen.started).toEqual([0]);
        expect(await rt.store.jobGet({ id: ids[1]! })).toMatchObject({ state: 'available', attempt: 0, lease: null });
        const completed = rt.events.waitFor('job:completed');
        await other.resumeQueue('default');
        rt.worker.wake();
        expect((await completed).job.id).toBe(ids[1]);
        expect(seen.started).toEqual([0, 1]);
      });

      it('started at once when it waited a short while', async () => {
        const { job, seen, open } = heldJob();
        // The worker's clock stands still: by it, the job waits no time at all, however slow this machine.
        runtime = await openRuntime([job], { clock: new TestClock(), worker: { queues: { default: { concurrency: 1, prefetch: 1 } } } });
        const rt = runtime;
        await warmUp(rt, job);
        await rt.client.enqueueMany(job, [{ n: 0 }, { n: 1 }]);
        await until(async () => (await totals(rt)).running === 2, 'both jobs are claimed, one waiting');
        // Paused meanwhile, but it waited under AHEAD_CHECK_AFTER_MS: it is not asked about, and runs.
        await otherProcess(rt, job).pauseQueue('default');
        const allDone = completions(rt, 2);
        open();
        await allDone;
        expect(seen.started).toEqual([0, 1]);
      });
    });
  });

  it('de-duplicates by key while a job waits, and accepts the key again once it finished', async () => {
    const unique = defineJob({ name: 'unique', schema: z.object({ n: z.number() }), handler: async ({ n }) => n });
    runtime = await openRuntime([unique]);
    const { client, events, worker } = runtime;
    const a = await client.enqueue(unique, { n: 1 }, { key: 'sync:42' });
    const b = await client.enqueue(unique, { n: 2 }, { key: 'sync:42' });
    expect(b).toMatchObject({ inserted: false });
    expect(b.job.id).toBe(a.job.id);
    const completed = events.waitFor('job:completed');
    await worker.start();
    expect((await completed).result).toBe(1);
    const c = await client.enqueue(unique, { n: 3 }, { key: 'sync:42' });
    expect(c.inserted).toBe(true);
    expect(c.job.id).not.toBe(a.job.id);
  });

  it('starts a job enqueued in-process through the wake-up listener, not the poll', async () => {
    const quick = defineJob({ name: 'quick', schema: z.object({}), handler: async () => 'ok' });
    runtime = await openRuntime([quick], { worker: { pollIntervalMs: 600_000 } });
    const { client, events, worker } = runtime;
    const firstFetch = events.waitFor('worker:fetched');
    await worker.start();
    await firstFetch;
    const completed = events.waitFor('job:completed', undefined, 5000);
    await client.enqueue(quick, {});
    expect((await completed).result).toBe('ok');
  });
});
