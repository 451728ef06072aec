// "Why isn't this job running?" over real loopback HTTP on both stores: one reason per case.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

let release: () => void = () => undefined;
const blocker = defineJob({
  name: 'blocker',
  queue: 'busy',
  handler: () => new Promise<void>((resolve) => {
    release = resolve;
  }),
});
const quick = defineJob({ name: 'quick', queue: 'busy', handler: () => undefined });
const orphan = defineJob({ name: 'orphan', queue: 'nobody-home', handler: () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`why a job is not running, on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    let base: string;
    const why = async (id: string) => {
      const response = await fetch(`${base}/api/jobs/${id}/why`);
      return { status: response.status, body: (await response.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON reply
    };

    beforeEach(async () => {
      opened = await kind.open();
      // The worker consumes only `busy` (the jobs it knows), one job at a time; `orphan` is enqueued by its definition.
      nightshift = createNightshift({ store: opened.store, jobs: [blocker, quick], http: { port: 0 }, queues: { busy: { concurrency: 1 } }, pollIntervalMs: 50 });
      await nightshift.start();
      base = nightshift.httpAddress!;
    });
    afterEach(async () => {
      release();
      await nightshift.stop();
      await opened.cleanup();
    });

    it('gives running, queued (with how many are ahead), scheduled, paused, no worker and finished', async () => {
      const started = new Promise<void>((resolve) => nightshift.events.on('job:started', ({ job }) => job.name === 'blocker' && resolve()));
      const { job: running } = await nightshift.enqueue(blocker, {});
      await started;
      const { job: first } = await nightshift.enqueue(quick, {});
      const { job: second } = await nightshift.enqueue(quick, {});
      const { job: later } = await nightshift.enqueue(quick, {}, { delayMs: 3_600_000 });
      const { job: lonely } = await nightshift.enqueue(orphan, {});

      expect((await why(running.id)).body).toMatchObject({ code: 'running', state: 'running', workerId: expect.any(String) });
      expect((await why(first.id)).body).toMatchObject({ code: 'queued', ahead: 0, aheadCapped: false });
      const behind = (await why(second.id)).body;
      expect(behind).toMatchObject({ code: 'queued', ahead: 1, queue: 'busy' });
      expect(behind.message).toMatch(/behind 1 due job of queue "busy" \(1 live worker, 1 slot\)/);
      const scheduled = (await why(later.id)).body;
      expect(scheduled).toMatchObject({ code: 'scheduled', state: 'scheduled' });
      expect(Date.parse(scheduled.until)).toBeGreaterThan(Date.now() + 3_000_000);
      expect((await why(lonely.id)).body).toMatchObject({ code: 'no_worker', message: expect.stringContaining('no live Nightshift process consumes queue "nobody-home"') });

      await nightshift.client.pauseQueue('busy');
      expect((await why(second.id)).body).toMatchObject({ code: 'queue_paused' });
      await nightshift.client.resumeQueue('busy');

      const done = new Promise<void>((resolve) => nightshift.events.on('job:completed', ({ job }) => job.id === second.id && resolve()));
      release();
      await done;
      expect((await why(second.id)).body).toMatchObject({ code: 'finished', state: 'completed' });
      expect(await why('987654321')).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
      expect((await why('not-an-id')).status).toBe(400);
    });
  });

  describe.skipIf(!kind.available)(`why a job waits for its concurrency key, on ${kind.kind}`, () => {
    it('names the key, its limit and the jobs holding it', async () => {
      const opened = await kind.open();
      // Handlers wait until the end of the test; any that start after it return at once.
      const waiting: (() => void)[] = [];
      let done = false;
      const releaseKeyed = () => {
        done = true;
        for (const resolve of waiting.splice(0)) resolve();
      };
      const perOrg = defineJob<{ org: string }>({
        name: 'per-org',
        queue: 'orgs',
        concurrencyKey: 'org',
        handler: () => (done ? undefined : new Promise<void>((resolve) => waiting.push(resolve))),
      });
      const nightshift = createNightshift({ store: opened.store, jobs: [perOrg], http: { port: 0 }, queues: { orgs: { concurrency: 4 } }, pollIntervalMs: 50 });
      try {
        await nightshift.start();
        const started = new Promise<string>((resolve) => nightshift.events.on('job:started', ({ job }) => resolve(job.id)));
        const { job: holder } = await nightshift.enqueue(perOrg, { org: 'acme' });
        await started;
        const { job: second } = await nightshift.enqueue(perOrg, { org: 'acme' });
        const response = await fetch(`${nightshift.httpAddress}/api/jobs/${second.id}/why`);
        const body = (await response.json()) as Record<string, unknown>;
        expect(body).toMatchObject({ code: 'key_busy', limit: 1, heldBy: [holder.id], state: 'available' });
        expect(body.message).toMatch(new RegExp(`concurrency key "acme" is busy: held by job ${holder.id} \\(at most 1 at once\\)`));
        const view = (await (await fetch(`${nightshift.httpAddress}/api/jobs/${second.id}`)).json()) as Record<string, unknown>;
        expect(view).toMatchObject({ concurrencyKey: 'acme', concurrencyLimit: 1 });
      } finally {
        releaseKeyed();
        await nightshift.stop();
        await opened.cleanup();
      }
    });
  });

  describe.skipIf(!kind.available)(`why a job waits for its queue's rate limit, on ${kind.kind}`, () => {
    it('names the limit and when the next slot opens; a handler\'s hold says so', async () => {
      const opened = await kind.open();
      const nightshift = createNightshift({ store: opened.store, jobs: [quick], http: { port: 0 }, queues: { busy: { concurrency: 2, rateLimit: { max: 1, perMs: 60_000 } } }, pollIntervalMs: 50 });
      try {
        await nightshift.start();
        const done = new Promise<void>((resolve) => nightshift.events.on('job:completed', () => resolve()));
        await nightshift.enqueue(quick, {});
        await done;
        const { job: next } = await nightshift.enqueue(quick, {});
        const body = (await (await fetch(`${nightshift.httpAddress}/api/jobs/${next.id}/why`)).json()) as Record<string, unknown>;
        expect(body).toMatchObject({ code: 'rate_limited', state: 'available' });
        expect(body.message).toMatch(/its rate limit \(1 per 60000 ms\) has no room; the next slot is at /);
        expect(Date.parse(body.until as string)).toBeGreaterThan(Date.now() + 50_000);
      } finally {
        await nightshift.stop();
        await opened.cleanup();
      }
    });
  });

  describe.skipIf(!kind.available)(`why a job waits for its rate key, on ${kind.kind}`, () => {
    it('names the key and when its next slot opens', async () => {
      const opened = await kind.open();
      const llm = defineJob<{ org: string }>({ name: 'llm.call', queue: 'llm', rateLimit: { max: 1, perMs: 60_000, key: 'org' }, handler: () => undefined });
      const nightshift = createNightshift({ store: opened.store, jobs: [llm], http: { port: 0 }, queues: { llm: { concurrency: 2 } }, pollIntervalMs: 50 });
      try {
        await nightshift.start();
        const done = new Promise<void>((resolve) => nightshift.events.on('job:completed', () => resolve()));
        await nightshift.enqueue(llm, { org: 'acme' });
        await done;
        const { job: next } = await nightshift.enqueue(llm, { org: 'acme' });
        const body = (await (await fetch(`${nightshift.httpAddress}/api/jobs/${next.id}/why`)).json()) as Record<string, unknown>;
        expect(body).toMatchObject({ code: 'rate_limited', rateKey: 'acme', state: 'available' });
        expect(body.message).toMatch(/its rate key "acme" has no room; the next slot is at /);
      } finally {
        await nightshift.stop();
        await opened.cleanup();
      }
    });
  });

  describe.skipIf(!kind.available)(`why a job waits for its queue's global concurrency, on ${kind.kind}`, () => {
    it('names the limit and the jobs running across the cluster; queued again once a slot frees', async () => {
      const opened = await kind.open();
      // Three slots in this process, one across the cluster.
      const nightshift = createNightshift({ store: opened.store, jobs: [blocker, quick], http: { port: 0 }, queues: { busy: { concurrency: 3, globalConcurrency: 1 } }, pollIntervalMs: 50 });
      try {
        await nightshift.start();
        const started = new Promise<void>((resolve) => nightshift.events.on('job:started', ({ job }) => job.name === 'blocker' && resolve()));
        await nightshift.enqueue(blocker, {});
        await started;
        const { job: waiting } = await nightshift.enqueue(quick, {});
        const response = await fetch(`${nightshift.httpAddress}/api/jobs/${waiting.id}/why`);
        const body = (await response.json()) as Record<string, unknown>;
        expect(body).toMatchObject({ code: 'concurrency_limit', limit: 1, runningInQueue: 1, state: 'available' });
        expect(body.message).toMatch(/global concurrency limit: 1 running across the cluster, limit 1/);
        const done = new Promise<void>((resolve) => nightshift.events.on('job:completed', ({ job }) => job.id === waiting.id && resolve()));
        release();
        await done;
      } finally {
        release();
        await nightshift.stop();
        await opened.cleanup();
      }
    });
  });
}
