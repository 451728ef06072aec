// A handler that throws RateLimitedError: its job goes back without using an attempt, and its
// queue is held for retryAfterMs in every runtime on the store — on SQLite and PostgreSQL.
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { until } from '../fixtures/sqlite-runtime.js';

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`RateLimitedError on ${kind.kind}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('gives the attempt back, retries after retryAfterMs, and holds the queue for every runtime meanwhile', async () => {
      const opened: OpenedStore = await kind.open();
      cleanups.push(() => opened.cleanup());
      const starts: { n: number; attempt: number; at: number; runtime: string }[] = [];
      let throttledAt = 0;
      const call = (runtime: string) =>
        defineJob<{ n: number }>({
          name: 'remote.call',
          queue: 'remote',
          retry: { attempts: 1 },
          handler: async ({ n }, ctx) => {
            starts.push({ n, attempt: ctx.attempt, at: Date.now(), runtime });
            if (n === 0 && throttledAt === 0) {
              throttledAt = Date.now();
              throw new RateLimitedError({ retryAfterMs: 400 });
            }
          },
        });
      const runtimes: Nightshift[] = ['a', 'b'].map((name) =>
        createNightshift({ store: opened.store, jobs: [call(name)], queues: { remote: { concurrency: 1 } }, pollIntervalMs: 20, rescue: false, prune: false }),
      );
      for (const runtime of runtimes) {
        await runtime.start();
        cleanups.push(() => runtime.stop());
      }
      const [first, second] = runtimes as [Nightshift, Nightshift];
      // The throttled job first, then four more; both runtimes consume the queue.
      const { job } = await first.enqueue('remote.call', { n: 0 });
      await until(() => throttledAt > 0, 'the first call was throttled');
      for (let n = 1; n <= 4; n++) await second.enqueue('remote.call', { n });
      await until(() => starts.filter((start) => start.n !== 0 || start.at > throttledAt).length >= 5, 'every job ran', 10_000);

      // Nothing of the queue started in either runtime during the hold.
      const afterThrottle = starts.filter((start) => start.at > throttledAt);
      expect(Math.min(...afterThrottle.map((start) => start.at)) - throttledAt).toBeGreaterThanOrEqual(400 - 5);
      // The throttled job ran again as attempt 1 of 1: the throttled run did not count.
      await until(async () => (await first.client.get(job.id)).state === 'completed', 'the throttled job completed');
      const details = await first.client.get(job.id);
      expect(details.attempts.map((attempt) => attempt.outcome)).toEqual(['snoozed', 'completed']);
      expect(details.attempt).toBe(1);
      expect(starts.filter((start) => start.n === 0).map((start) => start.attempt)).toEqual([1, 1]);
    });
  });
}
