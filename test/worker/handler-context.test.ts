import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { gate, openRuntime, TestClock, until, type Runtime } from '../fixtures/sqlite-runtime.js';

let runtime: Runtime | null = null;
afterEach(async () => {
  await runtime?.close();
  runtime = null;
});

describe('the handler context', () => {
  it('exposes the job, the clock, progress, heartbeat and publish', async () => {
    const clock = new TestClock();
    const release = gate();
    const seen: Record<string, unknown> = {};
    const step = defineJob({
      name: 'steps',
      queue: 'work',
      schema: z.object({ total: z.number().default(3) }),
      retry: { attempts: 4 },
      handler: async ({ total }, ctx) => {
        Object.assign(seen, { id: ctx.id, name: ctx.name, queue: ctx.queue, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, now: ctx.now().getTime(), total });
        ctx.log.info('working');
        ctx.progress({ done: 1, total });
        ctx.publish('step', { index: 1 });
        await ctx.heartbeat();
        await release.promise;
        return 'ok';
      },
    });
    runtime = await openRuntime([step], { clock });
    const { client, events, worker, store } = runtime;
    await worker.start();
    const progress = events.waitFor('job:progress');
    const published = events.waitFor('job:event');
    const { job } = await client.enqueue(step, {});
    expect(await progress).toEqual({ jobId: job.id, progress: { done: 1, total: 3 } });
    expect(await published).toEqual({ jobId: job.id, name: 'steps', event: 'step', data: { index: 1 } });
    // ctx.heartbeat() wrote the progress along with the lease renewal.
    await until(async () => (await store.jobGet({ id: job.id }))?.progress === '{"done":1,"total":3}', 'progress is stored');
    expect(seen).toEqual({ id: job.id, name: 'steps', queue: 'work', attempt: 1, maxAttempts: 4, now: clock.now(), total: 3 });
    const completed = events.waitFor('job:completed');
    release.open();
    await completed;
    expect((await client.get(job.id)).progress).toEqual({ done: 1, total: 3 });
  });
});
