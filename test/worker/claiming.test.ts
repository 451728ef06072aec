import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { SLOW_QUEUE_CLAIM_LIMIT } from '../../src/worker/claim-size.js';
import { gate, openRuntime, TestClock, type Runtime } from '../fixtures/sqlite-runtime.js';

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
    runtime = await openRuntime([work], { clock, worker: { queues: { default: { concurrency: 40 } } } });
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
