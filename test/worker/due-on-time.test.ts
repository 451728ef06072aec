/**
 * Jobs this process knows will become due later — a delayed enqueue, a retry's backoff, a snooze —
 * are claimed when they are due, not at the next poll. The worker here polls once a minute (the
 * runtime fixture), so each of these jobs could otherwise start only a minute late: finishing
 * within the test's time is the behaviour, and each start is checked not to come before its time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { snooze } from '../../src/job/outcomes.js';
import { NightshiftEvents } from '../../src/observe/events.js';
import { openRuntime, until, type Runtime } from '../fixtures/sqlite-runtime.js';

let runtime: Runtime | null = null;
afterEach(async () => {
  await runtime?.close();
  runtime = null;
});

describe('jobs due later start when due, not at the next poll', () => {
  it('a delayed enqueue of this process', async () => {
    const startedAt: number[] = [];
    const later = defineJob({ name: 'later', schema: z.object({}), handler: async () => void startedAt.push(Date.now()) });
    runtime = await openRuntime([later]);
    await runtime.worker.start();
    const completed = runtime.events.waitFor('job:completed', undefined, 20_000);
    const { job } = await runtime.client.enqueue(later, {}, { delayMs: 300 });
    expect(job.state).toBe('scheduled');
    await completed;
    expect(startedAt).toHaveLength(1);
    expect(startedAt[0]!).toBeGreaterThanOrEqual(job.runAt.getTime());
  });

  it('a retry after its backoff, and a snooze', async () => {
    let calls = 0;
    const startedAt: number[] = [];
    const flaky = defineJob({
      name: 'flaky',
      schema: z.object({}),
      retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 250 } },
      handler: async () => {
        startedAt.push(Date.now());
        calls++;
        if (calls === 1) throw new Error('first attempt fails');
        if (calls === 2) return snooze(250);
        return 'done';
      },
    });
    runtime = await openRuntime([flaky]);
    await runtime.worker.start();
    const completed = runtime.events.waitFor('job:completed', undefined, 20_000);
    await runtime.client.enqueue(flaky, {});
    const { job } = await completed;
    expect(calls).toBe(3);
    expect((await runtime.client.get(job.id)).attempts.map((attempt) => attempt.outcome)).toEqual(['failed', 'snoozed', 'completed']);
    expect(startedAt[1]! - startedAt[0]!).toBeGreaterThanOrEqual(250);
    expect(startedAt[2]! - startedAt[1]!).toBeGreaterThanOrEqual(250);
  });

  it('a delayed enqueue from another process waits for the poll', async () => {
    const later = defineJob({ name: 'later', schema: z.object({}), handler: async () => undefined });
    runtime = await openRuntime([later]);
    await runtime.worker.start();
    const other = createClient({ store: runtime.store, jobs: [later], events: new NightshiftEvents() });
    const { job } = await other.enqueue(later, {}, { delayMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await runtime.client.get(job.id)).state).toBe('scheduled');
    runtime.worker.wake();
    await until(async () => (await runtime!.client.get(job.id)).state === 'completed', 'the job to run once the worker looks');
  });
});
