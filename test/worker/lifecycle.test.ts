import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { LeaseLostError, ShutdownError } from '../../src/errors.js';
import { LEASE_EXPIRED_ERROR } from '../../src/maintenance/rescuer.js';
import { defineJob } from '../../src/job/define-job.js';
import { gate, openRuntime, TestClock, until, type Runtime } from '../fixtures/sqlite-runtime.js';

let runtime: Runtime | null = null;
afterEach(async () => {
  await runtime?.close();
  runtime = null;
});

/** A job whose handler reports its start and resolves only when its signal fires. */
function abortable(name: string) {
  const started = gate<string>();
  const aborted = gate<unknown>();
  const job = defineJob({
    name,
    schema: z.object({}),
    handler: (_payload, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted.open(ctx.signal.reason);
          reject(ctx.signal.reason as Error);
        });
        started.open(ctx.id);
      }),
  });
  return { job, started: started.promise, aborted: aborted.promise };
}

describe('cancelling a running job', () => {
  it('aborts its handler at once when cancelled in-process', async () => {
    const { job, started, aborted } = abortable('cancel.me');
    runtime = await openRuntime([job]);
    const { client, worker, store } = runtime;
    await worker.start();
    const { job: enqueued } = await client.enqueue(job, {});
    await started;
    await client.cancel(enqueued.id, 'changed my mind');
    expect(await aborted).toBeInstanceOf(LeaseLostError);
    await until(() => worker.running === 0, 'the slot is free');
    const stored = await store.jobGet({ id: enqueued.id });
    expect(stored?.state).toBe('cancelled');
  });

  it('aborts its handler at the next heartbeat when cancelled from elsewhere', async () => {
    const { job, started, aborted } = abortable('cancel.remote');
    runtime = await openRuntime([job], { worker: { leaseMs: 300 } });
    const { client, worker, store } = runtime;
    await worker.start();
    const { job: enqueued } = await client.enqueue(job, {});
    await started;
    // A different client with its own events: only the heartbeat can tell the worker.
    await createClient({ store }).cancel(enqueued.id);
    expect(await aborted).toBeInstanceOf(LeaseLostError);
    expect((await store.jobGet({ id: enqueued.id }))?.state).toBe('cancelled');
  });
});

describe('leases', () => {
  it('keeps a long job leased by heartbeats', async () => {
    const release = gate();
    const long = defineJob({ name: 'long', schema: z.object({}), handler: async () => release.promise });
    // Renewed every 500 ms: generous enough that a loaded machine does not miss the window.
    runtime = await openRuntime([long], { worker: { leaseMs: 1500 } });
    const { client, worker, store, events } = runtime;
    await worker.start();
    const startedEvent = events.waitFor('job:started');
    const { job } = await client.enqueue(long, {});
    const claimed = (await startedEvent).job;
    const firstExpiry = claimed.lease!.expiresAt.getTime();
    await until(async () => ((await store.jobGet({ id: job.id }))?.lease?.expiresAt.getTime() ?? 0) > firstExpiry + 400, 'the lease was renewed', 5000);
    expect(await store.jobRescueExpired({ limit: 10, error: LEASE_EXPIRED_ERROR })).toEqual({ retried: [], dead: [], jobs: [], cancelledDependents: [] });
    const completed = events.waitFor('job:completed');
    release.open();
    await completed;
  });

  it('refuses the late finish of a job whose lease was rescued, and reports it stale', async () => {
    const clock = new TestClock();
    const release = gate();
    const slow = defineJob({ name: 'slow.stale', schema: z.object({}), handler: async () => release.promise });
    runtime = await openRuntime([slow], { clock, worker: { leaseMs: 30_000 } });
    const { client, worker, store, events } = runtime;
    await worker.start();
    const started = events.waitFor('job:started');
    const { job } = await client.enqueue(slow, {});
    await started;
    clock.advance(30_001);
    expect((await store.jobRescueExpired({ limit: 10, error: LEASE_EXPIRED_ERROR })).retried).toEqual([job.id]);
    const stale = events.waitFor('job:stale');
    release.open();
    expect(await stale).toEqual({ jobId: job.id, workerId: 'test-worker' });
    const attempts = await store.jobAttempts({ id: job.id });
    expect(attempts[0]?.outcome).toBe('lost');
  });
});

describe('graceful shutdown', () => {
  it('waits for running handlers, records their results, and is safe to call twice', async () => {
    const release = gate();
    const finishing = defineJob({ name: 'finishing', schema: z.object({}), handler: async () => {
      await release.promise;
      return 'finished';
    } });
    runtime = await openRuntime([finishing]);
    const { client, worker, store, events } = runtime;
    await worker.start();
    const started = events.waitFor('job:started');
    const { job } = await client.enqueue(finishing, {});
    await started;
    const stopped = events.waitFor('worker:stopped');
    const first = worker.stop();
    const second = worker.stop();
    // Nothing new is claimed while stopping.
    const { job: late } = await client.enqueue(finishing, {});
    release.open();
    await Promise.all([first, second, stopped]);
    expect((await store.jobGet({ id: job.id }))).toMatchObject({ state: 'completed', result: '"finished"' });
    expect((await store.jobGet({ id: late.id }))?.state).toBe('available');
    await worker.stop();
  });

  it('aborts handlers still running after the grace period and gives their jobs back', async () => {
    let reason: unknown;
    const stubborn = defineJob({ name: 'stubborn.shutdown', schema: z.object({}), handler: (_payload, ctx) => {
      ctx.signal.addEventListener('abort', () => {
        reason = ctx.signal.reason;
      });
      return new Promise(() => undefined); // never settles on its own
    } });
    runtime = await openRuntime([stubborn], { worker: { shutdownTimeoutMs: 50 } });
    const { client, worker, store, events } = runtime;
    await worker.start();
    const started = events.waitFor('job:started');
    const { job } = await client.enqueue(stubborn, {});
    await started;
    const released = events.waitFor('job:released');
    await worker.stop();
    await released;
    expect(reason).toBeInstanceOf(ShutdownError);
    expect(worker.running).toBe(0);
    expect(await store.jobGet({ id: job.id })).toMatchObject({ state: 'available', attempt: 0, lease: null });
    const attempts = await store.jobAttempts({ id: job.id });
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['released']);
  });

  it('stops a worker that never started', async () => {
    runtime = await openRuntime([]);
    await runtime.worker.stop();
    await runtime.worker.stop();
  });
});
