/**
 * Runs one job through a real worker on a real store (a fresh SQLite file, or a fresh PostgreSQL
 * schema) and reports how it ended, from the worker's own events.
 */
import type { AnyJobDefinition } from '../../src/job/define-job.js';
import { createClient } from '../../src/client/client.js';
import { NightshiftEvents } from '../../src/observe/events.js';
import type { ErrorRecord } from '../../src/store/types.js';
import { createWorker } from '../../src/worker/worker.js';
import type { OpenedStore } from '../scheduler/store-harness.js';

export type WorkerOutcome = { state: 'completed'; result: unknown } | { state: 'dead'; error: ErrorRecord };

/** Enqueues `name` with `payload` (one attempt: a failure is final), runs a worker until the job finished, stops it. */
export async function runThroughWorker(opened: OpenedStore, jobs: readonly AnyJobDefinition[], name: string, payload: unknown): Promise<WorkerOutcome> {
  const events = new NightshiftEvents();
  const client = createClient({ store: opened.store, jobs });
  const { job } = await client.enqueue(name, payload, { maxAttempts: 1 });
  const finished = new Promise<WorkerOutcome>((resolve) => {
    events.on('job:completed', (event) => {
      if (event.job.id === job.id) resolve({ state: 'completed', result: event.result });
    });
    events.on('job:failed', (event) => {
      if (event.job.id === job.id) resolve({ state: 'dead', error: event.error });
    });
  });
  const worker = createWorker({ store: opened.store, jobs, events, pollIntervalMs: 20, clock: opened.clock.fn });
  await worker.start();
  try {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`job ${job.id} did not finish within 10 s`)), 10_000).unref());
    const outcome = await Promise.race([finished, timeout]);
    // The store agrees with the event.
    const stored = await opened.store.jobGet({ id: job.id });
    if (stored?.state !== outcome.state) {
      throw new Error(`job ${job.id}: event says ${outcome.state}, store says ${stored?.state}`);
    }
    return outcome;
  } finally {
    await worker.stop();
  }
}
