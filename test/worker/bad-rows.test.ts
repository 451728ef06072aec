import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { openRuntime, type Runtime } from '../fixtures/sqlite-runtime.js';

let runtime: Runtime | null = null;
afterEach(async () => {
  await runtime?.close();
  runtime = null;
});

const add = defineJob({ name: 'math.add', schema: z.object({ a: z.number(), b: z.number() }), handler: async ({ a, b }) => a + b });

/** Overwrites a job's stored payload behind the store's back, as a broken writer or a hand edit would. */
function corruptPayload(file: string, id: string, payload: string): void {
  const db = new Database(file);
  try {
    db.prepare('UPDATE nightshift_jobs SET payload = ? WHERE id = ?').run(payload, Number(id));
  } finally {
    db.close();
  }
}

describe('rows the worker cannot run', () => {
  it('kills a row with corrupt JSON with a clear reason and keeps processing the others', async () => {
    runtime = await openRuntime([add]);
    const { client, events, worker, store, file } = runtime;
    const jobs = await client.enqueueMany(add, [{ a: 1, b: 2 }, { a: 3, b: 4 }, { a: 5, b: 6 }]);
    corruptPayload(file, jobs[1]!.job.id, '{"a": 3, "b":');
    const results: unknown[] = [];
    let finished = 0;
    const done = new Promise<void>((resolve) => {
      const count = () => ++finished === 3 && resolve();
      events.on('job:completed', ({ result }) => {
        results.push(result);
        count();
      });
      events.on('job:failed', count);
    });
    await worker.start();
    await done;
    expect(results.sort()).toEqual([11, 3]);
    const dead = await store.jobGet({ id: jobs[1]!.job.id });
    expect(dead?.state).toBe('dead');
    expect(dead?.lastError?.kind).toBe('corrupt');
    expect(dead?.lastError?.message).toMatch(/stored payload of job \d+ is not valid JSON/);

    // Still alive: a new job runs.
    const next = events.waitFor('job:completed');
    await client.enqueue(add, { a: 10, b: 10 });
    expect((await next).result).toBe(20);
  });

  it('kills a row whose payload fails the schema, naming the field', async () => {
    runtime = await openRuntime([add]);
    const { client, events, worker, store, file } = runtime;
    const { job } = await client.enqueue(add, { a: 1, b: 2 });
    corruptPayload(file, job.id, '{"a": 1, "b": "two"}');
    const failed = events.waitFor('job:failed');
    await worker.start();
    const failure = await failed;
    expect(failure.willRetry).toBe(false);
    expect(failure.error.kind).toBe('invalid_payload');
    expect(failure.error.message).toContain('b:');
    expect((await store.jobGet({ id: job.id }))?.state).toBe('dead');
  });

  it('kills a row naming a job this worker does not know', async () => {
    runtime = await openRuntime([add]);
    const { events, worker, store } = runtime;
    // Another deployment enqueued a job this worker has never heard of, on a queue it consumes.
    const stranger = defineJob({ name: 'legacy.job', schema: z.object({}), handler: async () => undefined });
    const otherClient = createClient({ store, jobs: [stranger] });
    const { job } = await otherClient.enqueue('legacy.job', {});
    const failed = events.waitFor('job:failed');
    await worker.start();
    const failure = await failed;
    expect(failure.error.kind).toBe('unknown_job');
    expect(failure.error.message).toContain('legacy.job');
    expect(failure.error.message).toContain('math.add');
    expect((await store.jobGet({ id: job.id }))?.state).toBe('dead');
  });
});
