import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, type Client } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { createEventFeedReader } from '../../src/observe/event-feed.js';
import type { JobRecord } from '../../src/store/types.js';
import { killAll, spawnWorker } from '../fixtures/child-workers.js';
import { openTempStore, until, type TempStore } from '../fixtures/sqlite-runtime.js';

// The same names and schemas as test/fixtures/worker-process.mjs; only the enqueue side is used here.
const count = defineJob({ name: 'count', schema: z.object({ n: z.number() }), handler: async () => undefined });
const hold = defineJob({ name: 'hold', schema: z.object({}), handler: async () => undefined });

let temp: TempStore;
let client: Client;

beforeEach(async () => {
  temp = await openTempStore();
  client = createClient({ store: temp.store, jobs: [count, hold] });
});
afterEach(async () => {
  await killAll();
  await temp.cleanup();
});

async function allJobs(): Promise<JobRecord[]> {
  const jobs: JobRecord[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const result = await temp.store.jobList({ limit: 1000, cursor });
    jobs.push(...result.jobs);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return jobs;
}

describe('worker processes sharing one SQLite file', () => {
  it('two workers complete 2,000 jobs, each exactly once', async () => {
    await client.enqueueMany(count, Array.from({ length: 2000 }, (_, n) => ({ n })));
    const workers = ['w1', 'w2'].map((id) => spawnWorker({ NS_DB: temp.file, NS_WORKER_ID: id }));
    await until(async () => (await temp.store.jobStats()).totals.completed === 2000, 'all 2,000 jobs completed', 60_000);

    const jobs = await allJobs();
    expect(jobs).toHaveLength(2000);
    const byWorker = new Map<string, number>();
    const seen = new Set<number>();
    for (const job of jobs) {
      expect(job.state).toBe('completed');
      expect(job.attempt).toBe(1);
      const attempts = await temp.store.jobAttempts({ id: job.id });
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.outcome).toBe('completed');
      const result = JSON.parse(job.result!) as { n: number; worker: string };
      expect(attempts[0]!.workerId).toBe(result.worker);
      seen.add(result.n);
      byWorker.set(result.worker, (byWorker.get(result.worker) ?? 0) + 1);
    }
    expect(seen.size).toBe(2000);
    expect([...byWorker.keys()].every((id) => id === 'w1' || id === 'w2')).toBe(true);

    for (const worker of workers) worker.process.kill('SIGTERM');
    expect(await Promise.all(workers.map((worker) => worker.exited))).toEqual([0, 0]);
  });

  it('a job whose worker was killed -9 completes on another worker after its lease', async () => {
    const env = { NS_DB: temp.file, NS_LEASE_MS: '1500', NS_RESCUE_MS: '200' };
    const doomed = spawnWorker({ ...env, NS_WORKER_ID: 'doomed', NS_HOLD_MS: '60000' });
    await doomed.waitForLine((line) => line.type === 'ready');
    const { job } = await client.enqueue(hold, {});
    await doomed.waitForLine((line) => line.type === 'started' && line.id === job.id);
    doomed.process.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');

    const survivor = spawnWorker({ ...env, NS_WORKER_ID: 'survivor', NS_HOLD_MS: '0' });
    const started = await survivor.waitForLine((line) => line.type === 'started' && line.id === job.id);
    expect(started.attempt).toBe(2);
    await survivor.waitForLine((line) => line.type === 'completed' && line.id === job.id);

    const stored = await temp.store.jobGet({ id: job.id });
    expect(stored).toMatchObject({ state: 'completed', attempt: 2 });
    expect(JSON.parse(stored!.result!)).toEqual({ worker: 'survivor', attempt: 2 });
    const attempts = await temp.store.jobAttempts({ id: job.id });
    expect(attempts.map((attempt) => [attempt.workerId, attempt.outcome])).toEqual([
      ['doomed', 'lost'],
      ['survivor', 'completed'],
    ]);

    // The lost attempt is in the cluster-wide feed as a failure, written by the process that
    // rescued it, before the second attempt's start.
    const feed = createEventFeedReader(temp.store);
    const ofJob = async () => (await feed.list({ afterId: '0', limit: 1000 })).filter((event) => event.jobId === job.id);
    await until(async () => (await ofJob()).some((event) => event.type === 'job:completed'), 'the completion in the feed');
    // The killed worker's own job:started may have died with it, unwritten (a feed writes every 100 ms).
    const events = (await ofJob()).filter((event) => !(event.type === 'job:started' && event.data.attempt === 1));
    expect(events.map((event) => event.type)).toEqual(['job:failed', 'job:started', 'job:completed']);
    expect(events[0]).toMatchObject({
      queue: 'default',
      jobName: 'hold',
      data: { attempt: 1, willRetry: true, retryDelayMs: 0, error: { name: 'LeaseExpiredError', kind: 'lease_expired' } },
    });
    expect(events[0]!.data.durationMs).toBeGreaterThanOrEqual(1500);
    expect(events[1]!.data).toMatchObject({ attempt: 2, workerId: 'survivor' });
  });

  it('SIGTERM lets the running job finish, then the process exits 0', async () => {
    const worker = spawnWorker({ NS_DB: temp.file, NS_WORKER_ID: 'graceful', NS_HOLD_MS: '1000' });
    await worker.waitForLine((line) => line.type === 'ready');
    const { job } = await client.enqueue(hold, {});
    await worker.waitForLine((line) => line.type === 'started' && line.id === job.id);
    worker.process.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const stored = await temp.store.jobGet({ id: job.id });
    expect(stored).toMatchObject({ state: 'completed', attempt: 1 });
    expect(JSON.parse(stored!.result!)).toEqual({ worker: 'graceful', attempt: 1 });
  });
});

describe('signals', () => {
  it('a second SIGTERM exits at once with 143 without waiting for the job', async () => {
    const worker = spawnWorker({ NS_DB: temp.file, NS_WORKER_ID: 'impatient', NS_HOLD_MS: '60000' });
    await worker.waitForLine((line) => line.type === 'ready');
    const { job } = await client.enqueue(hold, {});
    await worker.waitForLine((line) => line.type === 'started' && line.id === job.id);
    worker.process.kill('SIGTERM');
    await worker.waitForLine((line) => line.type === 'stopping');
    worker.process.kill('SIGTERM');
    expect(await worker.exited).toBe(143);
    expect((await temp.store.jobGet({ id: job.id }))?.state).toBe('running');
  });
});
