// "Why isn't this job running?" in two states that need care, through a real worker on both
// stores: a job waiting for its retry names the attempt that comes next, and a job waiting under
// onDependencyFailure 'wait' on a dependency that already ended says it needs that retry.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { until } from '../fixtures/sqlite-runtime.js';

const flaky = defineJob({
  name: 'why.flaky',
  retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 600_000 } },
  handler: () => {
    throw new Error('not yet');
  },
});
const once = defineJob({
  name: 'why.once',
  retry: { attempts: 1 },
  handler: () => {
    throw new Error('gone');
  },
});
const after = defineJob({ name: 'why.after', handler: () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`why, on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    beforeEach(async () => {
      opened = await kind.open();
      nightshift = createNightshift({ store: opened.store, jobs: [flaky, once, after], pollIntervalMs: 20 });
      await nightshift.start();
    });
    afterEach(async () => {
      await nightshift.stop();
      await opened.cleanup();
    });

    it('a job waiting for its retry names the next attempt', async () => {
      const { job } = await nightshift.enqueue(flaky, {});
      await until(async () => (await nightshift.client.get(job.id)).state === 'retryable', 'the first attempt failed', 10_000);
      const why = await nightshift.client.why(job.id);
      expect(why).toMatchObject({ code: 'scheduled', state: 'retryable' });
      expect(why.message).toMatch(/^its last attempt failed; the retry \(attempt 2 of 3\) runs at /);
    });

    it('a job waiting on a dependency that ended says it waits for that job to be retried', async () => {
      const { job: dependency } = await nightshift.enqueue(once, {});
      await until(async () => (await nightshift.client.get(dependency.id)).state === 'dead', 'the dependency died', 10_000);
      const { job } = await nightshift.enqueue(after, {}, { dependsOn: [dependency.id], onDependencyFailure: 'wait' });
      const why = await nightshift.client.why(job.id);
      expect(why).toMatchObject({ code: 'waiting', waitingOn: [dependency.id] });
      expect(why.message).toBe(`waiting for 1 of its 1 dependencies to complete: job ${dependency.id}; job ${dependency.id} ended dead — it waits until that job is retried and completes`);
    });
  });
}
