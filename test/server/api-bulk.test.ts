// Bulk actions over HTTP, on both stores: retry / cancel / delete what a filter selects, delete one
// finished job, drain a queue — each answering how many it changed, and refusing an empty filter.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const fails = defineJob({
  name: 'sync.github',
  queue: 'sync',
  retry: { attempts: 1 },
  handler: () => {
    throw new Error('github is down');
  },
});
const report = defineJob({ name: 'report.weekly', queue: 'reports', handler: () => 'ok' });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`bulk actions over HTTP on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    let base: string;

    const post = async (path: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };

    beforeEach(async () => {
      opened = await kind.open();
      nightshift = createNightshift({ store: opened.store, jobs: [fails, report], http: { port: 0 }, pollIntervalMs: 20, queues: { reports: { concurrency: 1 } } });
      await nightshift.start();
      base = nightshift.httpAddress!;
    });
    afterEach(async () => {
      await nightshift.stop();
      await opened.cleanup();
    });

    async function deadSyncJobs(count: number): Promise<string[]> {
      let dead = 0;
      const done = new Promise<void>((resolve) =>
        nightshift.events.on('job:failed', ({ willRetry }) => {
          if (!willRetry && ++dead === count) resolve();
        }),
      );
      const ids = (await nightshift.enqueueMany(fails, Array.from({ length: count }, () => ({})))).map((r) => r.job.id);
      await done;
      return ids;
    }

    it('retries every dead job of a queue, and refuses an empty filter', async () => {
      const ids = await deadSyncJobs(5);
      expect(await post('/api/jobs/retry', {})).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST' } } });
      // A blank search filters nothing, so it is no filter either: refused, nothing changed.
      for (const path of ['/api/jobs/retry', '/api/jobs/cancel', '/api/jobs/delete']) {
        expect(await post(path, { search: '' }), path).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', message: expect.stringContaining('at least one filter') } } });
        expect(await post(path, { search: '', reason: 'x' }), path).toMatchObject({ status: 400 });
      }
      expect((await nightshift.client.list({ queue: 'sync' })).jobs.map((job) => job.state)).toEqual(Array(5).fill('dead'));
      await nightshift.worker!.stop(); // nothing runs them again before we look
      const retriedEvents: string[] = [];
      nightshift.events.on('job:retried', ({ job }) => retriedEvents.push(`${job.id} ${job.state} ${job.maxAttempts}`));
      const retried = await post('/api/jobs/retry', { state: ['dead'], queue: ['sync'] });
      expect(retried).toEqual({ status: 200, body: { changed: 5, skipped: 0, more: false } });
      const states = (await nightshift.client.list({ queue: 'sync' })).jobs.map((job) => job.state);
      expect(states).toEqual(Array(5).fill('available'));
      // Each one is a job:retried, in the cluster-wide feed too (the API's runtime writes it).
      expect([...retriedEvents].sort()).toEqual(ids.map((id) => `${id} available 2`).sort());
      const readFeed = () => opened.store.eventList({ afterId: '0', limit: 1000, filter: { types: ['job:retried'] } });
      // The feed is written every 100 ms: wait for it, up to a few seconds.
      for (let tries = 0; tries < 100 && (await readFeed()).length < 5; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
      const feed = await readFeed();
      expect(feed.map((event) => event.jobId).sort()).toEqual([...ids].sort());
      expect(JSON.parse(feed[0]!.data)).toEqual({ attempt: 1, maxAttempts: 2 });
    });

    it('cancels what a filter selects, deletes finished jobs one by one and in bulk', async () => {
      await nightshift.worker!.stop();
      const pending = (await nightshift.enqueueMany(report, [{}, {}, {}])).map((r) => r.job.id);
      const cancelled = await post('/api/jobs/cancel', { name: ['report.weekly'], reason: 'holiday' });
      expect(cancelled).toEqual({ status: 200, body: { changed: 3, skipped: 0, more: false } });
      const one = await fetch(`${base}/api/jobs/${pending[0]}`, { method: 'DELETE' });
      expect(one.status).toBe(204);
      expect(await nightshift.store.jobGet({ id: pending[0]! })).toBeNull();
      const again = await fetch(`${base}/api/jobs/${pending[0]}`, { method: 'DELETE' });
      expect(again.status).toBe(404);
      const live = (await nightshift.enqueue(report, {})).job.id;
      const notFinished = await fetch(`${base}/api/jobs/${live}`, { method: 'DELETE' });
      expect(notFinished.status).toBe(409);
      const deleted = await post('/api/jobs/delete', { state: ['cancelled', 'available'] });
      expect(deleted).toEqual({ status: 200, body: { changed: 2, skipped: 0, more: false } });
      expect((await nightshift.store.jobGet({ id: live }))?.state).toBe('available');
    });

    it('drains a queue: cancels what has not started, returns the count, running jobs go on', async () => {
      await nightshift.worker!.stop();
      await nightshift.enqueueMany(report, Array.from({ length: 7 }, () => ({})));
      await nightshift.enqueue(report, {}, { delayMs: 60_000 });
      await nightshift.enqueue(fails, {});
      const drained = await post('/api/queues/reports/drain', { reason: 'maintenance' });
      expect(drained).toEqual({ status: 200, body: { changed: 8, skipped: 0, more: false } });
      const stats = await nightshift.client.queues();
      expect(stats.find((q) => q.name === 'reports')?.counts).toMatchObject({ available: 0, scheduled: 0, cancelled: 8 });
      expect(stats.find((q) => q.name === 'sync')?.counts.available).toBe(1);
      // Without a body too (curl -X POST): nothing left to drain.
      expect(await post('/api/queues/reports/drain')).toEqual({ status: 200, body: { changed: 0, skipped: 0, more: false } });
      const job = (await nightshift.enqueue(report, {})).job.id;
      expect((await post(`/api/jobs/${job}/cancel`)).body.state).toBe('cancelled');
    });
  });
}
