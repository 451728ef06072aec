// A claim under a rate limit whose answer reaches the worker late (a loaded database, a slow
// network; injected here by delaying the real store's answer). Within half the limit's margin
// (1 % of the window, at least 10 ms) the job starts as claimed. Later, up to half the window, it
// starts too, and its claim's count moves to its start (Store.jobRateLateStart), so that no
// window of starts outruns the limit. Later still it is given back unstarted: its attempt does not
// count and its claim goes back to the window. The give-back deadline is read just before the
// handler, after validation; the move, when the handler's first synchronous run returns.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import type { Store } from '../../src/store/types.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { until } from '../fixtures/sqlite-runtime.js';

/**
 * The store, with every claim's answer held back `delayMs` before the worker sees it, and each
 * late-start move sent `moveDelayMs` after it was asked for (a busy pool: the job's finish, asked
 * for next, could reach the database first).
 */
function lateClaims(store: Store, delayMs: number, moveDelayMs = 0): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'jobFetch') {
        return async (...args: unknown[]) => {
          const jobs = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          return jobs;
        };
      }
      if (property === 'jobRateLateStart' && moveDelayMs > 0) {
        return async (...args: unknown[]) => {
          await new Promise((resolve) => setTimeout(resolve, moveDelayMs));
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
}

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`a late claim under a rate limit, on ${kind.kind}`, () => {
    let opened: OpenedStore | null = null;
    let nightshift: Nightshift | null = null;
    afterEach(async () => {
      await nightshift?.stop();
      await opened?.cleanup();
      nightshift = null;
      opened = null;
    });

    const run = async (rateLimit: { max: number; perMs: number }, options: { lateMs?: number; validateMs?: number; busyMs?: number; moveDelayMs?: number } = {}) => {
      opened = await kind.open();
      const starts: number[] = [];
      // A schema whose validation takes `validateMs` (an async check): the time between the
      // claim's answer and the handler.
      const schema = z.object({}).refine(async () => {
        if (options.validateMs) await new Promise((resolve) => setTimeout(resolve, options.validateMs));
        return true;
      });
      const call = defineJob({
        name: 'llm.call',
        queue: 'llm',
        schema,
        handler: () => {
          starts.push(Date.now());
          // A first synchronous run that ends past the start deadline (`busyMs` of CPU).
          const busyUntil = performance.now() + (options.busyMs ?? 0);
          while (performance.now() < busyUntil);
        },
      });
      const store = options.lateMs === 0 && !options.moveDelayMs ? opened.store : lateClaims(opened.store, options.lateMs ?? 60, options.moveDelayMs);
      nightshift = createNightshift({ store, jobs: [call], queues: { llm: { concurrency: 1, rateLimit } }, pollIntervalMs: 20, rescue: false, prune: false });
      const released: string[] = [];
      nightshift.events.on('job:released', ({ job }) => void released.push(job.id));
      await nightshift.start();
      await nightshift.enqueue(call, {});
      return { starts, released, enqueueAnother: () => nightshift!.enqueue(call, {}) };
    };

    it('3 a minute: an answer 60 ms late is within the margin, so the job starts at once', async () => {
      const { starts, released } = await run({ max: 3, perMs: 60_000 });
      await until(() => starts.length === 1, 'the job to start', 5_000);
      expect(released).toEqual([]);
    });

    it('1 a second: an answer 60 ms late is past the margin but within half the window: the job starts and its claim moves to its start', async () => {
      const rate = { max: 1, perMs: 1_000 };
      const { starts, released } = await run(rate);
      await until(() => starts.length === 1, 'the job to start', 5_000);
      // The window is full until a whole window (1,010 ms) after the start, not after the claim,
      // 60 ms earlier: had the count stayed at the claim, this would read about 950 ms. The move is
      // written once the handler returned: read until it shows, well inside the window.
      let fullFor = 0;
      await until(
        async () => {
          const before = Date.now();
          fullFor = before + (await opened!.store.queueRateWait({ queue: 'llm', rateLimit: rate })) - starts[0]!;
          return fullFor >= 1_000;
        },
        'the window to be full until a window after the start',
        500,
      ).catch(() => undefined);
      expect(fullFor).toBeGreaterThanOrEqual(1_000);
      await nightshift!.stop();
      nightshift = null;
      expect(released).toEqual([]);
      const [job] = (await opened!.store.jobList({})).jobs;
      expect(job).toMatchObject({ attempt: 1, state: 'completed' });
      expect(starts[0]! - job!.attemptedAt!.getTime()).toBeGreaterThanOrEqual(55);
    });

    it('1 a second: a late start whose move is slow to reach the store still moves before the job finishes', async () => {
      // The handler returns at once, so its finish is asked for right after the move; the move
      // reaches the store 100 ms later. The finish waits for it: a move written after the job
      // finished would not apply (it moves only a running job's claim), and the window would stay
      // counted from the claim, 60 ms early.
      const rate = { max: 1, perMs: 1_000 };
      const { starts, released } = await run(rate, { moveDelayMs: 100 });
      await until(() => starts.length === 1, 'the job to start', 5_000);
      await until(async () => (await opened!.store.jobList({})).jobs[0]?.state === 'completed', 'the job to complete', 5_000);
      const fullFor = Date.now() + (await opened!.store.queueRateWait({ queue: 'llm', rateLimit: rate })) - starts[0]!;
      expect(fullFor).toBeGreaterThanOrEqual(1_000);
      expect(released).toEqual([]);
    });

    it('5 a second: an answer 600 ms late is past half the window, so the job is given back unstarted, its attempt not counted', async () => {
      const { starts, released } = await run({ max: 5, perMs: 1_000 }, { lateMs: 600 });
      await until(() => released.length >= 1, 'the job to be given back', 5_000);
      expect(starts).toEqual([]);
      // Every claim's answer is late, so it is given back every time: never started, never counted
      // as an attempt. Read once the runtime stopped: meanwhile it may be claimed again.
      await nightshift!.stop();
      nightshift = null;
      expect(starts).toEqual([]);
      const [job] = (await opened!.store.jobList({})).jobs;
      expect(job).toMatchObject({ attempt: 0, state: 'available' });
    });

    it('a job given back unstarted gives its claim back to the window, so late answers do not use it up', async () => {
      // 5 in 1 s, and answers 600 ms late. Without the refunds the sixth claim would wait for the
      // first to leave the window.
      const rate = { max: 5, perMs: 1_000 };
      const { starts, released } = await run(rate, { lateMs: 600 });
      await until(() => released.length > rate.max, `${rate.max + 1} give-backs`, 10_000);
      await nightshift!.stop();
      nightshift = null;
      expect(starts).toEqual([]);
      expect(await opened!.store.queueRateWait({ queue: 'llm', rateLimit: rate })).toBe(0);
    });

    it('5 a second: a prompt answer whose validation takes longer than half the window is given back before its handler starts', async () => {
      const rate = { max: 5, perMs: 1_000 };
      const { starts, released } = await run(rate, { lateMs: 0, validateMs: 600 });
      await until(() => released.length >= 2, 'two give-backs', 10_000);
      await nightshift!.stop();
      nightshift = null;
      expect(starts).toEqual([]);
      const [job] = (await opened!.store.jobList({})).jobs;
      expect(job).toMatchObject({ attempt: 0, state: 'available' });
      expect(await opened!.store.queueRateWait({ queue: 'llm', rateLimit: rate })).toBe(0);
    });

    it('1 a second: a handler still in its first synchronous run past the deadline moves its claim, so the next starts a window after it', async () => {
      // The process could have been paused between the deadline's last check and the handler's
      // first line (not injectable); a handler busy for 60 ms looks the same once it returns: past
      // its deadline. Its claim's count moves to then, so the next claim waits a whole window
      // (1,010 ms) from then, not from the claim: its start is at least 1,070 ms after this one's.
      const { starts, enqueueAnother } = await run({ max: 1, perMs: 1_000 }, { lateMs: 0, busyMs: 60 });
      await enqueueAnother();
      await until(() => starts.length === 2, 'both jobs to start', 10_000);
      expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(1_060);
    });

    it('5 a second: a prompt answer and a quick validation start the job, as its first attempt', async () => {
      // (A process's first claim may still come back too late, a statement prepared on first
      // use: given back and refunded, it is claimed again.)
      const { starts } = await run({ max: 5, perMs: 1_000 }, { lateMs: 0 });
      await until(() => starts.length === 1, 'the job to start', 5_000);
      await nightshift!.stop();
      nightshift = null;
      const [job] = (await opened!.store.jobList({})).jobs;
      expect(job).toMatchObject({ attempt: 1, state: 'completed' });
    });
  });
}
