// Activity statistics over real loopback HTTP on both stores: what workers ran shows up in
// /api/stats, /api/stats/timeseries and the queues' figures; bad parameters get a clear 400.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { percentile } from '../../src/observe/stats-report.js';
import { bucketOf, STATS_BOUNDS_MS } from '../../src/observe/stats-recorder.js';
import { STATS_BUCKET_COUNT } from '../../src/store/types.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { until } from '../fixtures/sqlite-runtime.js';

const work = defineJob({ name: 'work', queue: 'busy', handler: async () => new Promise<void>((resolve) => setTimeout(resolve, 30)) });
const flaky = defineJob({
  name: 'flaky',
  queue: 'busy',
  retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 0 } },
  handler: () => {
    throw new Error('always');
  },
});
const idle = defineJob({ name: 'idle', queue: 'waiting-room', handler: () => undefined });
const slow = defineJob({
  name: 'slow',
  queue: 'busy',
  timeoutMs: 50,
  retry: { attempts: 1 },
  handler: (_payload, ctx) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  }),
});


describe('stats histogram', () => {
  it('buckets by upper bound and estimates percentiles inside the bucket', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(5)).toBe(0);
    expect(bucketOf(5.1)).toBe(1);
    expect(bucketOf(3_600_001)).toBe(STATS_BOUNDS_MS.length);
    const buckets = new Array(STATS_BUCKET_COUNT).fill(0);
    buckets[3] = 100; // 100 samples in (25, 50]
    expect(percentile(buckets, 0.5)).toBe(37.5);
    expect(percentile(buckets, 0.95)).toBe(48.8);
    buckets[STATS_BUCKET_COUNT - 1] = 900; // most samples above the last bound
    expect(percentile(buckets, 0.95)).toBe(3_600_000);
    expect(percentile(new Array(STATS_BUCKET_COUNT).fill(0), 0.5)).toBeNull();
  });
});

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`activity stats over HTTP on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    let base: string;
    const get = async (path: string) => {
      const response = await fetch(`${base}${path}`);
      return { status: response.status, body: (await response.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of several shapes
    };

    beforeEach(async () => {
      opened = await kind.open();
      nightshift = createNightshift({
        store: opened.store,
        jobs: [work, flaky, idle, slow],
        http: { port: 0 },
        stats: { flushMs: 50 },
        pollIntervalMs: 50,
        queues: { busy: { concurrency: 4 } },
      });
      await nightshift.start();
      base = nightshift.httpAddress!;
    });
    afterEach(async () => {
      await nightshift.stop();
      await opened.cleanup();
    });

    it('counts enqueues, completions, retries and deaths per queue and job, with run time percentiles', async () => {
      for (let i = 0; i < 6; i++) await nightshift.enqueue(work, {});
      await nightshift.enqueue(flaky, {});
      await until(async () => {
        const { body } = await get('/api/stats');
        return body.totals.lastHour.completed === 6 && body.totals.lastHour.dead === 1;
      }, 'six completions and one death in the stats');

      const { status, body } = await get('/api/stats');
      expect(status).toBe(200);
      expect(body.totals.lastHour).toMatchObject({ enqueued: 7, runs: 8, completed: 6, failed: 2, retried: 1, dead: 1, cancelled: 0, successRate: 0.75 });
      expect(body.totals.lastDay).toEqual(body.totals.lastHour);
      const durations = body.totals.lastHour.durationMs;
      expect(durations.count).toBe(8);
      // Six runs of ~30 ms: the median sits in the (25, 50] or (50, 100] bucket.
      expect(durations.p50).toBeGreaterThan(25);
      expect(durations.p50).toBeLessThanOrEqual(100);
      expect(body.totals.lastHour.waitMs.count).toBe(8);
      expect(body.queues.map((q: { queue: string }) => q.queue)).toEqual(['busy']);
      const byJob = Object.fromEntries(body.jobs.map((j: { name: string; lastHour: unknown }) => [j.name, j.lastHour]));
      expect(byJob.work).toMatchObject({ enqueued: 6, completed: 6, runs: 6, successRate: 1 });
      expect(byJob.flaky).toMatchObject({ enqueued: 1, runs: 2, completed: 0, successRate: 0 });

      const series = await get('/api/stats/timeseries?window=1h');
      expect(series.status).toBe(200);
      expect(series.body).toMatchObject({ window: '1h', bucket: '1m', bucketMs: 60_000 });
      expect(series.body.buckets).toHaveLength(60);
      const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
      expect(sum(series.body.total.completed)).toBe(6);
      expect(sum(series.body.total.failed)).toBe(2);
      expect(sum(series.body.total.enqueued)).toBe(7);
      expect(series.body.queues.map((q: { queue: string }) => q.queue)).toEqual(['busy']);
      // Buckets are aligned to the bucket size and the activity is in the newest ones.
      expect(Date.parse(series.body.buckets[0]) % 60_000).toBe(0);
      expect(sum(series.body.total.completed.slice(-2))).toBe(6);

      const day = await get('/api/stats/timeseries?window=24h&bucket=1h&queue=busy');
      expect(day.body.buckets).toHaveLength(24);
      expect(sum(day.body.total.completed)).toBe(6);
      const other = await get('/api/stats/timeseries?window=7d&queue=nothing-here');
      expect(other.body.buckets).toHaveLength(168);
      expect(other.body.queues).toEqual([]);
      expect(sum(other.body.total.completed)).toBe(0);

      const queues = await get('/api/queues');
      const busy = queues.body.queues.find((q: { name: string }) => q.name === 'busy');
      expect(busy).toMatchObject({ completedLastMinute: 6, failedLastMinute: 2, completedLastHour: 6, failedLastHour: 2, lagMs: 0 });
    });

    it('shows the lag of a queue whose due jobs wait (a paused queue), and none for an empty one', async () => {
      await nightshift.client.pauseQueue('waiting-room');
      await nightshift.enqueue(idle, {}, { runAt: new Date(Date.now() - 5_000) });
      await nightshift.enqueue(idle, {}, { delayMs: 600_000 });
      const { body } = await get('/api/queues');
      const waiting = body.queues.find((q: { name: string }) => q.name === 'waiting-room');
      expect(waiting.lagMs).toBeGreaterThanOrEqual(4_000);
      expect(waiting.lagMs).toBeLessThan(60_000);
      expect(body.queues.find((q: { name: string }) => q.name === 'busy').lagMs).toBe(0);
    });

    it('counts attempts that ran past their timeout', async () => {
      await nightshift.enqueue(slow, {});
      await until(async () => (await get('/api/stats')).body.totals.lastHour.dead === 1, 'the timed-out job in the stats');
      const { body } = await get('/api/stats');
      expect(body.jobs.find((job: { name: string }) => job.name === 'slow').lastHour).toMatchObject({ runs: 1, dead: 1, timeouts: 1 });
    });

    it('refuses unknown windows, buckets longer than the window and unknown parameters with a clear 400', async () => {
      const badWindow = await get('/api/stats/timeseries?window=2h');
      expect(badWindow.status).toBe(400);
      expect(badWindow.body.error.code).toBeTypeOf('string');
      // A bad combination is a bad query parameter like any other over HTTP: INVALID_REQUEST naming
      // `bucket` (the library's own callers get INVALID_OPTION from client.timeseries).
      const tooLong = await get('/api/stats/timeseries?window=1h&bucket=1d');
      expect(tooLong).toMatchObject({
        status: 400,
        body: { error: { code: 'INVALID_REQUEST', message: 'invalid querystring: bucket: bucket 1d is longer than the window 1h', details: { issues: [{ path: 'bucket' }] } } },
      });
      // Finer than what the stats keep for that age.
      expect(await get('/api/stats/timeseries?window=7d&bucket=15m')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', message: expect.stringContaining('a 7d window takes buckets of 1h or more') } } });
      expect((await get('/api/stats/timeseries?window=1h&extra=1')).status).toBe(400);
    });
  });
}
