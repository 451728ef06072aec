import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { openRuntime, TestClock, type Runtime } from '../fixtures/sqlite-runtime.js';

let runtime: Runtime | null = null;
afterEach(async () => {
  await runtime?.close();
  runtime = null;
});

describe('execution history', () => {
  it('records every attempt: start, end, duration, worker, outcome, error with stack, result', async () => {
    const clock = new TestClock();
    let calls = 0;
    const twice = defineJob({
      name: 'twice',
      schema: z.object({ n: z.number() }),
      retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 0 } },
      handler: async ({ n }, ctx) => {
        calls++;
        clock.advance(250); // the attempt "takes" 250 ms of store time
        if (calls === 1) throw new TypeError(`bad input ${n}`);
        ctx.progress({ pct: 100 });
        return { doubled: n * 2, worker: ctx.attempt };
      },
    });
    runtime = await openRuntime([twice], { clock, worker: { id: 'history-worker' } });
    const { client, events, worker } = runtime;
    const completed = events.waitFor('job:completed');
    const { job } = await client.enqueue(twice, { n: 21 });
    await worker.start();
    await completed;

    const details = await client.get(job.id);
    expect(details.state).toBe('completed');
    expect(details.result).toEqual({ doubled: 42, worker: 2 });
    expect(details.attempts).toHaveLength(2);
    const [first, second] = details.attempts;
    expect(first).toMatchObject({ attempt: 1, workerId: 'history-worker', outcome: 'failed', result: null });
    expect(first!.error).toMatchObject({ name: 'TypeError', message: 'bad input 21', kind: 'error' });
    expect(first!.error?.stack).toContain('TypeError: bad input 21');
    expect(first!.durationMs).toBe(250);
    expect(first!.finishedAt!.getTime() - first!.startedAt.getTime()).toBe(250);
    expect(second).toMatchObject({ attempt: 2, workerId: 'history-worker', outcome: 'completed', error: null, result: { doubled: 42, worker: 2 } });
    expect(second!.durationMs).toBe(250);
  });
});
