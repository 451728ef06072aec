/**
 * Soak: a long stream of jobs through a worker, the rescuer and the pruner, on each store.
 * Under `npm test` a small run (tens of thousands of jobs, seconds); under `npm run test:fault`
 * (NIGHTSHIFT_FAULT_FULL=1) a million per store.
 *
 * Injected along the way: claims abandoned by a "crashed worker" (claimed with a short lease and
 * never finished), which only the rescuer can give back. Expected: every job completes exactly
 * once (the abandoned ones after their rescue), none dead; the live heap and the RSS stay within a
 * bound after warm-up (nothing grows per job); and the jobs table stays small, because the pruner
 * deletes finished jobs as fast as they come.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { waitUntil } from '../postgres/pg-test-fixtures.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { FAULT_FULL } from './fixtures/pg-fault-run.js';

const url = postgresUrl();
const QUEUE = 'soak';
/** Jobs enqueued per `enqueueMany` (one statement, one transaction). */
const CHUNK = 1_000;
/** Most jobs enqueued and not yet completed: the producer side waits for the workers beyond it. */
const BACKLOG = 10_000;
/** Jobs claimed and abandoned (the "crashed worker") after every this many chunks. */
const ABANDON_EVERY_CHUNKS = 10;
/** Lease of the abandoned claims, ms: short, so the rescuer gets them back within the run. */
const ABANDONED_LEASE_MS = 200;
/** Share of the run before memory samples count (allocations, JIT and caches settle). */
const WARM_UP = 0.2;
/** Growth of the live heap allowed after warm-up, bytes: 32 MiB is 32 bytes per job over a million. */
const HEAP_GROWTH_LIMIT = 32 * 1024 * 1024;
/** Growth of the RSS allowed after warm-up, bytes (allocator and page cache slack included). */
const RSS_GROWTH_LIMIT = 160 * 1024 * 1024;
/** Most rows the jobs table may hold at any sample: the backlog plus what the pruner has not reached yet. */
const ROW_LIMIT = BACKLOG + 40_000;

/** `gc()`, exposed at run time: memory samples after a full collection measure live data, not garbage. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

const soakJob = defineJob({
  name: 'soak.tick',
  queue: QUEUE,
  schema: z.object({ n: z.number() }),
  handler: ({ n }) => n,
});

interface Sample {
  done: number;
  heapUsed: number;
  rss: number;
  rows: number;
}

/** Runs `total` jobs through a runtime on `store` and checks the soak's guarantees. */
async function soak(store: Store, total: number, label: string): Promise<void> {
  const gc = exposeGc();
  const nightshift: Nightshift = createNightshift({
    store,
    jobs: [soakJob],
    queues: { [QUEUE]: { concurrency: 32 } },
    pollIntervalMs: 100,
    leaseMs: 5_000,
    rescue: { intervalMs: 250 },
    prune: { intervalMs: 250, retention: { completedMs: 250 }, batchSize: 5_000 },
  });
  const { events } = nightshift;
  // Completions per job id (offset by the first id), in a flat array: counting a million ids in a
  // Set would itself be the biggest allocation of the run.
  const runs = new Uint8Array(total + 1);
  let firstId = -1;
  let completed = 0;
  let misplaced = 0;
  let dead = 0;
  const rescued = new Set<string>();
  let waiter: { target: number; resolve(): void } | null = null;
  events.on('job:completed', ({ job }) => {
    const index = Number(job.id) - firstId;
    if (index >= 0 && index < runs.length) runs[index]!++;
    else misplaced++;
    completed++;
    if (waiter && completed >= waiter.target) {
      const { resolve } = waiter;
      waiter = null;
      resolve();
    }
  });
  events.on('job:failed', ({ willRetry }) => {
    if (!willRetry) dead++;
  });
  events.on('rescuer:rescued', (result) => {
    for (const id of result.retried) rescued.add(id);
    dead += result.dead.length;
  });
  const completions = (target: number) =>
    completed >= target ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { target, resolve }));

  const samples: Sample[] = [];
  const sample = async (done: number) => {
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    const { totals } = await store.jobStats();
    samples.push({ done, heapUsed, rss, rows: Object.values(totals).reduce((sum, n) => sum + n, 0) });
  };
  const sampleEvery = Math.max(CHUNK, Math.floor(total / 50 / CHUNK) * CHUNK);

  const abandoned: string[] = [];
  const started = Date.now();
  await nightshift.start();
  try {
    for (let enqueued = 0, chunk = 0; enqueued < total; chunk++) {
      if (enqueued - completed > BACKLOG) await completions(enqueued - BACKLOG);
      const size = Math.min(CHUNK, total - enqueued);
      const results = await nightshift.enqueueMany(
        soakJob,
        Array.from({ length: size }, (_, i) => ({ n: enqueued + i })),
      );
      if (firstId < 0) firstId = Number(results[0]!.job.id);
      enqueued += size;
      if (chunk % ABANDON_EVERY_CHUNKS === 1) {
        // A worker that claims and dies: only the rescuer can bring these back.
        const claimed = await store.jobFetch({ queue: QUEUE, limit: 2, owner: 'soak-crashed-worker', leaseMs: ABANDONED_LEASE_MS });
        abandoned.push(...claimed.map((job) => job.id));
      }
      if (enqueued % sampleEvery === 0) await sample(completed);
    }
    await completions(total);
    await sample(completed);
    // The pruner empties the table once the last jobs are past their retention.
    await waitUntil(async () => Object.values((await store.jobStats()).totals).every((n) => n === 0), 'the pruner to delete every finished job', 30_000);
  } finally {
    await nightshift.stop();
  }
  const seconds = (Date.now() - started) / 1000;

  // Exactly once, none dead, every abandoned claim rescued.
  expect({ completed, misplaced, dead }).toEqual({ completed: total, misplaced: 0, dead: 0 });
  expect(runs.subarray(0, total).every((count) => count === 1)).toBe(true);
  expect(abandoned.length).toBeGreaterThan(0);
  for (const id of abandoned) expect(rescued.has(id), `abandoned job ${id} rescued`).toBe(true);

  // Bounded memory after warm-up, and a small table throughout.
  const warm = samples.filter((s) => s.done < total * WARM_UP);
  const later = samples.filter((s) => s.done >= total * WARM_UP);
  const peak = (list: Sample[], key: 'heapUsed' | 'rss' | 'rows') => Math.max(...list.map((s) => s[key]));
  const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
  const baseHeap = peak(warm.length > 0 ? warm : samples.slice(0, 1), 'heapUsed');
  const baseRss = peak(warm.length > 0 ? warm : samples.slice(0, 1), 'rss');
  console.log(
    `[fault] soak ${label}: ${total} jobs in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s) through a worker, the rescuer ` +
      `(${abandoned.length} abandoned claims rescued) and the pruner; every job completed once, none dead`,
  );
  console.log(
    `[fault] soak ${label}: live heap ${mb(baseHeap)} after warm-up → peak ${mb(peak(later, 'heapUsed'))}; ` +
      `RSS ${mb(baseRss)} → ${mb(peak(later, 'rss'))}; jobs table at most ${peak(samples, 'rows')} rows (${samples.length} samples), empty after the run`,
  );
  expect(later.length).toBeGreaterThan(0);
  expect(peak(later, 'heapUsed')).toBeLessThan(baseHeap + HEAP_GROWTH_LIMIT);
  expect(peak(later, 'rss')).toBeLessThan(baseRss + RSS_GROWTH_LIMIT);
  expect(peak(samples, 'rows')).toBeLessThan(ROW_LIMIT);
}

describe('soak: a long stream of jobs through worker, rescuer and pruner', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('SQLite', { timeout: FAULT_FULL ? 1_800_000 : 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-soak-'));
    const store = createSqliteStore({ path: path.join(dir, 'soak.db') });
    cleanups.push(async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await store.migrate();
    await soak(store, FAULT_FULL ? 1_000_000 : 20_000, 'sqlite');
  });

  it.skipIf(url === null)('PostgreSQL', { timeout: FAULT_FULL ? 3_600_000 : 60_000 }, async () => {
    const { schema, drop } = testSchema(url!, 'soak');
    const store = createPostgresStore({ connectionString: url!, schema, poolSize: 6 });
    cleanups.push(async () => {
      await store.close();
      await drop();
    });
    await store.migrate();
    await soak(store, FAULT_FULL ? 1_000_000 : 6_000, 'postgres');
  });
});
