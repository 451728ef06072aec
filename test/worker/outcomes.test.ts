import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobTimeoutError, UnrecoverableError } from '../../src/errors.js';
import { defineJob, type AnyJobDefinition } from '../../src/job/define-job.js';
import { cancel, snooze } from '../../src/job/outcomes.js';
import { gate, openRuntime, TestClock, type Runtime } from '../fixtures/sqlite-runtime.js';

let runtime: Runtime | null = null;
afterEach(async () => {
  await runtime?.close();
  runtime = null;
});

async function start(jobs: AnyJobDefinition[], clock = new TestClock(), random = () => 0.5): Promise<Runtime> {
  runtime = await openRuntime(jobs, { clock, worker: { random } });
  await runtime.worker.start();
  return runtime;
}

describe('retries and backoff', () => {
  it('retries at exactly the backoff the policy gives, then dies with the last error', async () => {
    const clock = new TestClock();
    const seenAttempts: number[] = [];
    const flaky = defineJob({
      name: 'flaky',
      schema: z.object({}),
      // jitter 0.2 with random pinned at 0.25: factor 1 − 0.2 + 0.25 · 0.4 = 0.9
      retry: { attempts: 3, backoff: { type: 'exponential', delayMs: 1000, jitter: 0.2 } },
      handler: async (_payload, ctx) => {
        seenAttempts.push(ctx.attempt);
        throw new Error(`boom ${ctx.attempt}`);
      },
    });
    const { client, events, worker, store } = await start([flaky], clock, () => 0.25);
    const t0 = clock.now();

    const firstFailure = events.waitFor('job:failed');
    const { job } = await client.enqueue(flaky, {});
    const first = await firstFailure;
    expect(first.willRetry).toBe(true);
    expect(first.retryAt?.getTime()).toBe(t0 + 900);
    let stored = await store.jobGet({ id: job.id });
    expect(stored).toMatchObject({ state: 'retryable', attempt: 1 });
    expect(stored?.runAt.getTime()).toBe(t0 + 900);

    // One ms early: a fetch finds nothing.
    clock.set(t0 + 899);
    const early = events.waitFor('worker:fetched');
    worker.wake();
    expect((await early).count).toBe(0);
    expect((await store.jobGet({ id: job.id }))?.state).toBe('retryable');

    // Due: the second attempt runs and fails; the delay doubles (2000 · 0.9).
    clock.set(t0 + 900);
    const secondFailure = events.waitFor('job:failed');
    worker.wake();
    const second = await secondFailure;
    expect(second.retryAt?.getTime()).toBe(t0 + 900 + 1800);

    clock.set(t0 + 2700);
    const death = events.waitFor('job:failed');
    worker.wake();
    const last = await death;
    expect(last.willRetry).toBe(false);
    expect(last.retryAt).toBeNull();
    expect(seenAttempts).toEqual([1, 2, 3]);

    stored = await store.jobGet({ id: job.id });
    expect(stored).toMatchObject({ state: 'dead', attempt: 3 });
    expect(stored?.lastError).toMatchObject({ message: 'boom 3', name: 'Error', kind: 'error' });
    const details = await client.get(job.id);
    expect(details.attempts.map((attempt) => attempt.outcome)).toEqual(['failed', 'failed', 'dead']);
    expect(details.attempts.map((attempt) => attempt.error?.message)).toEqual(['boom 1', 'boom 2', 'boom 3']);
  });

  it('sends an UnrecoverableError straight to dead', async () => {
    const doomed = defineJob({
      name: 'doomed',
      schema: z.object({}),
      retry: { attempts: 10 },
      handler: async () => {
        throw new UnrecoverableError('account deleted');
      },
    });
    const { client, events, store } = await start([doomed]);
    const failed = events.waitFor('job:failed');
    const { job } = await client.enqueue(doomed, {});
    expect((await failed).willRetry).toBe(false);
    const stored = await store.jobGet({ id: job.id });
    expect(stored).toMatchObject({ state: 'dead', attempt: 1 });
    expect(stored?.lastError).toMatchObject({ kind: 'unrecoverable', message: 'account deleted', name: 'UnrecoverableError' });
  });
});

describe('typed outcomes', () => {
  it('snooze re-runs later without using an attempt', async () => {
    const clock = new TestClock();
    const attempts: number[] = [];
    const polite = defineJob({
      name: 'polite',
      schema: z.object({}),
      retry: { attempts: 1 },
      handler: async (_payload, ctx) => {
        attempts.push(ctx.attempt);
        return attempts.length === 1 ? snooze(5000) : 'done';
      },
    });
    const { client, events, worker, store } = await start([polite], clock);
    const snoozed = events.waitFor('job:snoozed');
    const { job } = await client.enqueue(polite, {});
    expect((await snoozed).runAt.getTime()).toBe(clock.now() + 5000);
    const stored = await store.jobGet({ id: job.id });
    expect(stored).toMatchObject({ state: 'scheduled', attempt: 0 });

    clock.advance(5000);
    const completed = events.waitFor('job:completed');
    worker.wake();
    expect((await completed).result).toBe('done');
    // maxAttempts 1 and still completed: the snoozed run did not count.
    expect(attempts).toEqual([1, 1]);
    const details = await client.get(job.id);
    expect(details.state).toBe('completed');
    expect(details.attempts.map((attempt) => attempt.outcome)).toEqual(['snoozed', 'completed']);
  });

  it('cancel() from the handler ends the job as cancelled', async () => {
    const quitter = defineJob({ name: 'quitter', schema: z.object({}), handler: async () => cancel('user left') });
    const { client, events, store } = await start([quitter]);
    const cancelled = events.waitFor('job:cancelled', ({ job }) => job.name === 'quitter');
    const { job } = await client.enqueue(quitter, {});
    expect((await cancelled).reason).toBe('user left');
    expect((await store.jobGet({ id: job.id }))?.state).toBe('cancelled');
  });
});

describe('timeouts', () => {
  it('aborts the handler and records a timeout failure', async () => {
    let reason: unknown;
    const slow = defineJob({
      name: 'slow',
      schema: z.object({}),
      timeoutMs: 50,
      retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 1000 } },
      handler: (_payload, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason as Error);
          });
        }),
    });
    const { client, events, store } = await start([slow]);
    const failed = events.waitFor('job:failed');
    const { job } = await client.enqueue(slow, {});
    const failure = await failed;
    expect(reason).toBeInstanceOf(JobTimeoutError);
    expect(failure.error).toMatchObject({ kind: 'timeout', name: 'JobTimeoutError' });
    expect(failure.error.message).toContain('50 ms');
    expect(failure.willRetry).toBe(true);
    const attempts = await store.jobAttempts({ id: job.id });
    expect(attempts[0]).toMatchObject({ outcome: 'failed', error: { kind: 'timeout' } });
  });

  it('records the timeout even when the handler ignores its signal, and ignores the late result', async () => {
    const release = gate<string>();
    const stubborn = defineJob({
      name: 'stubborn',
      schema: z.object({}),
      retry: { attempts: 1 },
      handler: async () => release.promise,
    });
    const { client, events, store, worker } = await start([stubborn]);
    const failed = events.waitFor('job:failed');
    const { job } = await client.enqueue(stubborn, {}, { timeoutMs: 30 });
    const failure = await failed;
    expect(failure.willRetry).toBe(false);
    expect(failure.error.kind).toBe('timeout');
    expect(worker.running).toBe(0);
    release.open('too late');
    await new Promise((resolve) => setImmediate(resolve));
    const stored = await store.jobGet({ id: job.id });
    expect(stored).toMatchObject({ state: 'dead', result: null });
    expect(stored?.lastError?.kind).toBe('timeout');
  });

  it('lets the row timeout override the job and the job override the queue', async () => {
    const waitForAbort = (_payload: unknown, ctx: { signal: AbortSignal }) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
      });
    const queueDefault = defineJob({ name: 'queue-default', queue: 'q', schema: z.object({}), retry: { attempts: 1 }, handler: waitForAbort });
    const jobDefault = defineJob({ name: 'job-default', queue: 'q', schema: z.object({}), timeoutMs: 40, retry: { attempts: 1 }, handler: waitForAbort });
    runtime = await openRuntime([queueDefault, jobDefault], { worker: { queues: { q: { timeoutMs: 30 } } } });
    await runtime.worker.start();
    const { client, events } = runtime;
    const failures: string[] = [];
    const allFailed = new Promise<void>((resolve) => {
      events.on('job:failed', ({ job, error }) => {
        failures.push(`${job.name}:${error.message}`);
        if (failures.length === 3) resolve();
      });
    });
    await client.enqueue(queueDefault, {});
    await client.enqueue(jobDefault, {});
    await client.enqueue(jobDefault, {}, { timeoutMs: 20 });
    await allFailed;
    expect(failures.sort()).toEqual([
      'job-default:job timed out after 20 ms',
      'job-default:job timed out after 40 ms',
      'queue-default:job timed out after 30 ms',
    ]);
  });
});
