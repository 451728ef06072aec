// Fault injection: finishes no database could store, mixed into busy batches of good ones, on
// both stores. The issue this guards against: one such finish made the whole batch fail, every
// good job in it was rescued as `lost`, run again and finally ended `dead`.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { MAX_DELAY_MS, REPLACEMENT_CHARACTER } from '../../src/job/input-bounds.js';
import { cancel, snooze } from '../../src/job/outcomes.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import type { JobRecord } from '../../src/store/types.js';
import { FINISH_NOT_STORED } from '../../src/worker/completer.js';
import { STORE_KINDS, type OpenedStore } from './both-stores.js';

/** How each poisoned job ends its attempt. */
const POISONS = {
  'nul in message': () => {
    throw new Error('upstream said: \u0000\u0001 binary');
  },
  'half an emoji in message': () => {
    throw new Error('summary: 😀😀'.slice(0, 12));
  },
  'unpaired surrogate in stack': () => {
    const error = new TypeError('stack trouble');
    error.stack = 'TypeError: stack trouble\n    at \uDC00 (file.js:1:1)';
    throw error;
  },
  'a 5 MB message': () => {
    throw new Error('x'.repeat(5 * 1024 * 1024));
  },
  'cancel with nul': () => cancel('user \u0000 gone'),
  'cancel with half an emoji': () => cancel('bye 😀'.slice(0, 5)),
  'snooze(1e20)': () => snooze(1e20),
  'snooze forever': () => snooze(Number.MAX_SAFE_INTEGER),
  'result with half an emoji': () => ({ text: '😀'.slice(0, 1) }),
} as const;
type PoisonKind = keyof typeof POISONS;

const runs = new Map<string, number>();
const count = (id: string) => runs.set(id, (runs.get(id) ?? 0) + 1);

const good = defineJob({
  name: 'good',
  schema: z.object({ n: z.number() }),
  handler: ({ n }, ctx) => {
    count(ctx.id);
    return { n };
  },
});
const poison = defineJob({
  name: 'poison',
  schema: z.object({ kind: z.string() }),
  retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 60_000, jitter: 0 } },
  handler: ({ kind }, ctx) => {
    count(ctx.id);
    return POISONS[kind as PoisonKind]();
  },
});
// A backoff past JavaScript's date range: stored as the longest delay instead of an Invalid Date.
const farBackoff = defineJob({
  name: 'far-backoff',
  schema: z.object({}),
  retry: { attempts: 3, backoff: () => 1e20 },
  handler: (_payload, ctx) => {
    count(ctx.id);
    throw new Error('fails, to be retried in a very long time');
  },
});
const JOBS = [good, poison, farBackoff];

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`poisoned finishes on ${kind.kind}`, () => {
    let opened: OpenedStore | null = null;
    let nightshift: Nightshift | null = null;

    afterEach(async () => {
      await nightshift?.stop();
      await opened?.cleanup();
      nightshift = null;
      opened = null;
      runs.clear();
    });

    /** Enqueues `goods` good jobs around the poisoned ones, all due at once, in one claim's reach. */
    async function enqueueMix(goods: number, poisons: PoisonKind[]) {
      const client = createClient({ store: opened!.store, jobs: JOBS });
      const half = Math.floor(goods / 2);
      const before = await client.enqueueMany(good, Array.from({ length: half }, (_, n) => ({ n })));
      const bad = await client.enqueueMany(poison, poisons.map((k) => ({ kind: k })));
      const far = await client.enqueue(farBackoff, {});
      const after = await client.enqueueMany(good, Array.from({ length: goods - half }, (_, n) => ({ n: half + n })));
      return { goods: [...before, ...after].map((r) => r.job.id), poisons: bad.map((r) => r.job.id), far: far.job.id };
    }

    function start(): Nightshift {
      // A short lease and a quick rescuer: a finish dropped on the floor would show up as a re-run.
      nightshift = createNightshift({
        store: opened!.store,
        jobs: JOBS,
        leaseMs: 1500,
        pollIntervalMs: 50,
        rescue: { intervalMs: 100 },
        prune: false,
        queues: { default: { concurrency: 64 } },
      });
      return nightshift;
    }

    async function waitSettled(ids: string[], settled: (job: JobRecord) => boolean): Promise<JobRecord[]> {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const jobs = await Promise.all(ids.map((id) => opened!.store.jobGet({ id })));
        if (jobs.every((job) => job !== null && settled(job))) return jobs as JobRecord[];
        if (Date.now() > deadline) throw new Error(`jobs not settled: ${jobs.filter((j) => j && !settled(j)).map((j) => `${j!.id}:${j!.state}`).join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }

    it('every kind of unstorable finish, mixed into one busy batch, affects only its own job', async () => {
      opened = await kind.open();
      const kinds = Object.keys(POISONS) as PoisonKind[];
      const ids = await enqueueMix(40, kinds);
      const runtime = start();
      // Batches: wait for the first fetch to hand every job out, so they finish side by side.
      const fetched = runtime.events.waitFor('worker:fetched', ({ count: n }) => n > 0);
      await runtime.start();
      await fetched;
      const all = [...ids.goods, ...ids.poisons, ids.far];
      const jobs = await waitSettled(all, (job) => job.state !== 'running' && job.state !== 'available');
      const byId = new Map(jobs.map((job) => [job.id, job]));

      for (const id of ids.goods) {
        expect(byId.get(id)).toMatchObject({ state: 'completed', attempt: 1 });
        expect(runs.get(id)).toBe(1);
      }
      const observed: string[] = [];
      ids.poisons.forEach((id, index) => {
        const job = byId.get(id)!;
        observed.push(`${kinds[index]} → ${job.state}`);
        expect(runs.get(id)).toBe(1);
        expect(job.attempt).toBeLessThanOrEqual(1);
      });
      const state = (k: PoisonKind) => byId.get(ids.poisons[kinds.indexOf(k)]!)!;
      const R = REPLACEMENT_CHARACTER;
      expect(state('nul in message')).toMatchObject({ state: 'retryable', lastError: { message: `upstream said: ${R}\u0001 binary` } });
      expect(state('half an emoji in message').lastError?.message).toBe(`summary: 😀${R}`);
      expect(state('unpaired surrogate in stack').lastError?.stack).toContain(`at ${R} (file.js`);
      expect(state('a 5 MB message').lastError?.message.length).toBeLessThanOrEqual(16 * 1024);
      expect(state('cancel with nul')).toMatchObject({ state: 'cancelled', lastError: { message: `user ${R} gone` } });
      expect(state('cancel with half an emoji')).toMatchObject({ state: 'cancelled', lastError: { message: `bye ${R}` } });
      for (const k of ['snooze(1e20)', 'snooze forever'] as const) {
        expect(state(k)).toMatchObject({ state: 'retryable', lastError: { name: 'ValidationError' } });
        expect(state(k).lastError?.message).toContain(`at most ${MAX_DELAY_MS} ms`);
      }
      expect(state('result with half an emoji')).toMatchObject({ state: 'completed' });
      const far = byId.get(ids.far)!;
      const now = (await opened.store.timeNow()).getTime();
      expect(far.state).toBe('retryable');
      expect(far.runAt.getTime()).toBeGreaterThan(now + MAX_DELAY_MS - 60_000);
      expect(far.runAt.getTime()).toBeLessThanOrEqual(now + MAX_DELAY_MS);
      console.log(
        `[fault] ${kind.kind}: injected ${kinds.length} unstorable finishes among ${ids.goods.length} good jobs in one batch, plus a backoff of 1e20 ms; ` +
          `observed: all ${ids.goods.length} good jobs completed once; ${observed.join('; ')}; the far retry stored at the 100-year maximum`,
      );
    });

    it('a finish the database itself refuses is recorded as dead with the reason; its batch-mates complete once', async () => {
      opened = await kind.open();
      const ids = await enqueueMix(11, []);
      const refused = ids.goods[5]!;
      await opened.refuseFinish(refused, 'completed');
      const runtime = start();
      const notStored = runtime.events.waitFor('job:failed', ({ job }) => job.id === refused);
      await runtime.start();
      const failed = await notStored;
      expect(failed.error).toMatchObject({ kind: FINISH_NOT_STORED, name: 'FinishNotStoredError' });
      const others = ids.goods.filter((id) => id !== refused);
      const jobs = await waitSettled(others, (job) => job.state === 'completed');
      for (const job of jobs) expect(runs.get(job.id)).toBe(1);
      const stored = await opened.store.jobGet({ id: refused });
      expect(stored).toMatchObject({ state: 'dead', attempt: 1 });
      expect(stored?.lastError?.message).toMatch(/^finish could not be stored \(the attempt ended completed\): .*refused by a test trigger/);
      expect(runs.get(refused)).toBe(1);
      console.log(
        `[fault] ${kind.kind}: the database refused 1 of ${ids.goods.length} completions in one batch; observed: ${others.length} completed exactly once, ` +
          `the refused job dead with "${stored?.lastError?.message.slice(0, 60)}…", run once`,
      );
    });

    it('when even the dead record is refused, only that job is left to the rescuer', async () => {
      opened = await kind.open();
      const ids = await enqueueMix(11, []);
      const refused = ids.goods[0]!;
      await opened.refuseFinish(refused, 'completed');
      await opened.refuseFinish(refused, 'dead');
      const runtime = start();
      await runtime.start();
      const others = ids.goods.filter((id) => id !== refused);
      const jobs = await waitSettled(others, (job) => job.state === 'completed');
      for (const job of jobs) expect(runs.get(job.id)).toBe(1);
      // The refused job cannot be finished at all; it is rescued (lost) and retried — it alone.
      await waitSettled([refused], (job) => job.attempt >= 2);
      for (const id of others) expect(runs.get(id)).toBe(1);
      console.log(`[fault] ${kind.kind}: a job whose every finish is refused; observed: ${others.length} batch-mates completed once, only it was rescued and re-run`);
    });
  });
}

// Transient failures of finishes alone (claims still succeed): the worker must not take on work
// whose outcome it could not record either. PostgreSQL lets a trigger raise a retryable SQLSTATE
// (40001, a serialization failure) for completions only, while a switch row exists.
describe.skipIf(!STORE_KINDS[1]!.available)('finishes failing transiently on postgres', () => {
  let opened: OpenedStore | null = null;
  let nightshift: Nightshift | null = null;
  afterEach(async () => {
    await nightshift?.stop();
    await opened?.cleanup();
    nightshift = null;
    opened = null;
    runs.clear();
  });

  it('claims nothing new while its finishes wait for a retry, then completes everything once', async () => {
    opened = await STORE_KINDS[1]!.open();
    const toggle = await opened.transientFinishFailures!();
    const client = createClient({ store: opened.store, jobs: JOBS });
    const ids = (await client.enqueueMany(good, Array.from({ length: 100 }, (_, n) => ({ n })))).map((r) => r.job.id);
    await toggle(true);
    nightshift = createNightshift({
      store: opened.store,
      jobs: JOBS,
      leaseMs: 10_000,
      pollIntervalMs: 20,
      shutdownTimeoutMs: 2000,
      prune: false,
      queues: { default: { concurrency: 5, prefetch: 0 } },
    });
    let started = 0;
    nightshift.events.on('job:started', () => started++);
    let failures = 0;
    let startedAtThird = -1;
    const fiveFailures = new Promise<void>((resolve) =>
      nightshift!.events.on('worker:error', ({ during }) => {
        if (during !== 'finish') return;
        if (++failures === 3) startedAtThird = started;
        if (failures === 5) resolve();
      }),
    );
    let startedAtStall = -1;
    const stalled = nightshift.events.waitFor('worker:stalled', ({ stalled: s }) => {
      if (s) startedAtStall = started;
      return s;
    });
    await nightshift.start();
    await stalled;
    await fiveFailures;
    // Claims already on their way when the first write failed (jobs this quick are claimed
    // faster than a failed write is reported) still start; after that, nothing: from the third
    // failed write to the fifth (~600 ms), no job started, and some jobs were never claimed. How
    // many start before the first failure is reported depends on the machine's load: 25-35 alone,
    // 55 once in a full run.
    expect(started).toBe(startedAtThird);
    expect(started).toBeLessThan(ids.length);
    const startedWhileStalled = started;
    const resumed = nightshift.events.waitFor('worker:stalled', ({ stalled: s }) => !s);
    await toggle(false);
    await resumed;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const jobs = await Promise.all(ids.map((id) => opened!.store.jobGet({ id })));
      if (jobs.every((job) => job?.state === 'completed')) break;
      if (Date.now() > deadline) throw new Error('not all completed');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    for (const id of ids) expect(runs.get(id)).toBe(1);
    console.log(`[fault] postgres: completions failed with SQLSTATE 40001 (${failures} failed writes); observed: finishes waited, ${startedAtStall} jobs had started at the stall and ${startedWhileStalled} once claims in flight returned; no claims after, then all 100 completed once`);
  });
});
