/**
 * Flow control across real worker processes (test/fixtures/flow-worker-process.mjs, the built
 * package), on SQLite and on PostgreSQL: every handler prints when it starts and ends, and the
 * ledger of all three processes is checked for overlaps.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { killAll, spawnJsonLineProcess, type ChildWorker } from '../fixtures/child-workers.js';
import { until } from '../fixtures/sqlite-runtime.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'flow-worker-process.mjs');
const url = postgresUrl();

// The same name, queue and schema as the worker script's job; only the enqueue side runs here.
const ledgerSchema = z.object({ seq: z.number().int(), key: z.string().optional() });
const ledger = defineJob({ name: 'ledger', queue: 'flow', schema: ledgerSchema, handler: () => undefined });
const failing = defineJob({ name: 'failing', queue: 'flow', handler: () => undefined });
const fanParent = defineJob({ name: 'fan-parent', queue: 'fan', schema: z.object({ label: z.string() }), handler: () => undefined });
const ratedLedger = defineJob({ name: 'rated-ledger', queue: 'rated', schema: ledgerSchema, rateLimit: { max: 3, perMs: 1000, key: 'key' }, handler: () => undefined });
const keyedLedger = defineJob({ name: 'keyed-ledger', queue: 'keyed', schema: ledgerSchema, concurrencyKey: 'key', perKey: 1, handler: () => undefined });

interface Opened {
  store: Store;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

const KINDS: { kind: 'sqlite' | 'postgres'; available: boolean; open(): Promise<Opened> }[] = [
  {
    kind: 'sqlite',
    available: true,
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-flow-'));
      const file = path.join(dir, 'jobs.db');
      const store = createSqliteStore({ path: file });
      await store.migrate();
      return {
        store,
        env: { NS_DB: file },
        async cleanup() {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    kind: 'postgres',
    available: url !== null,
    async open() {
      const { schema, drop } = testSchema(url!, 'flow');
      const store = createPostgresStore({ connectionString: url!, schema, poolSize: 2 });
      await store.migrate();
      return {
        store,
        env: { NS_PG_URL: url!, NS_SCHEMA: schema },
        async cleanup() {
          await store.close();
          await drop();
        },
      };
    },
  },
];

interface LedgerLine {
  type: 'start' | 'end';
  id: string;
  seq: number;
  key: string | null;
  worker: string;
  at: number;
}

/** The most handlers running at once in `lines` (all processes), optionally per key. */
function maxOverlap(lines: LedgerLine[], keyOf: (line: LedgerLine) => string = () => ''): { overall: number; perKey: Map<string, number> } {
  // Ends sort before starts at the same instant: a slot freed and taken at once is not an overlap.
  const points = lines.map((line) => ({ at: line.at, delta: line.type === 'start' ? 1 : -1, key: keyOf(line) })).sort((a, b) => a.at - b.at || a.delta - b.delta);
  const running = new Map<string, number>();
  const perKey = new Map<string, number>();
  let overall = 0;
  let now = 0;
  for (const point of points) {
    now += point.delta;
    overall = Math.max(overall, now);
    const n = (running.get(point.key) ?? 0) + point.delta;
    running.set(point.key, n);
    perKey.set(point.key, Math.max(perKey.get(point.key) ?? 0, n));
  }
  return { overall, perKey };
}

/**
 * The lines of `type` the workers printed, once at least one has arrived. A line a worker printed
 * before a store write can still be in its pipe when the test sees that write.
 */
async function linesOf(workers: ChildWorker[], type: string): Promise<Record<string, unknown>[]> {
  const found = () => workers.flatMap((worker) => worker.lines.filter((line) => line.type === type));
  await until(() => found().length > 0, `a "${type}" line from a worker`, 30_000);
  return found();
}

async function runWorkers(opened: Opened, options: { workers: number; queues: unknown; jobMs: number; expected: number; spawned?: ChildWorker[] }): Promise<LedgerLine[]> {
  const workers: ChildWorker[] = options.spawned ?? [];
  for (let i = 0; i < options.workers; i++) {
    workers.push(
      spawnJsonLineProcess({
        args: [SCRIPT],
        env: { LOG_LEVEL: 'silent', ...opened.env, NS_WORKER_ID: `flow-${i}`, NS_QUEUES: JSON.stringify(options.queues), NS_JOB_MS: String(options.jobMs) },
        waitTimeoutMs: 60_000,
      }),
    );
  }
  await Promise.all(workers.map((worker) => worker.waitForLine((line) => line.type === 'ready')));
  const ends = () => workers.reduce((n, worker) => n + worker.lines.filter((line) => line.type === 'end').length, 0);
  // The processes' output arrives on their own pipes: the shared polling helper watches the sum.
  await until(() => ends() >= options.expected, `${options.expected} jobs ended`, 60_000);
  return workers.flatMap((worker) => worker.lines.filter((line): line is LedgerLine & Record<string, unknown> => line.type === 'start' || line.type === 'end')) as LedgerLine[];
}

for (const kind of KINDS) {
  describe.skipIf(!kind.available)(`flow control across worker processes: ${kind.kind}`, () => {
    const opened: Opened[] = [];
    afterEach(async () => {
      await killAll();
      for (const store of opened.splice(0)) await store.cleanup();
    });

    it('three workers with room for 12 never run more than the queue’s globalConcurrency of 3', { timeout: 90_000 }, async () => {
      const store = await kind.open();
      opened.push(store);
      const JOBS = 90;
      await createClient({ store: store.store, jobs: [ledger] }).enqueueMany(
        ledger,
        Array.from({ length: JOBS }, (_, seq) => ({ seq })),
      );
      const lines = await runWorkers(store, { workers: 3, queues: { flow: { concurrency: 4, globalConcurrency: 3 } }, jobMs: 15, expected: JOBS });
      expect(new Set(lines.filter((line) => line.type === 'end').map((line) => line.seq)).size).toBe(JOBS);
      const { overall } = maxOverlap(lines);
      expect(overall).toBeLessThanOrEqual(3);
      // The limit is used, not just respected: the ledger reaches it.
      expect(overall).toBe(3);
    });

    it('three workers never run two jobs of one key at once, and keys run side by side', { timeout: 90_000 }, async () => {
      const store = await kind.open();
      opened.push(store);
      const KEYS = 8;
      const PER_KEY = 12;
      const payloads = Array.from({ length: KEYS * PER_KEY }, (_, seq) => ({ seq, key: `k${seq % KEYS}` }));
      await createClient({ store: store.store, jobs: [keyedLedger] }).enqueueMany(keyedLedger, payloads);
      const lines = await runWorkers(store, { workers: 3, queues: { keyed: { concurrency: 4 } }, jobMs: 10, expected: KEYS * PER_KEY });
      expect(new Set(lines.filter((line) => line.type === 'end').map((line) => line.seq)).size).toBe(KEYS * PER_KEY);
      const { overall, perKey } = maxOverlap(lines, (line) => line.key ?? '');
      expect([...perKey.values()].every((n) => n === 1)).toBe(true);
      expect(perKey.size).toBe(KEYS);
      // Serial per key, parallel across keys.
      expect(overall).toBeGreaterThan(1);
    });

    it('three workers under a rate limit of 10/s never start more than 10 jobs in any 1-s window over 10 s, and use the limit', { timeout: 90_000 }, async () => {
      const store = await kind.open();
      opened.push(store);
      const JOBS = 100;
      await createClient({ store: store.store, jobs: [ledger] }).enqueueMany(
        ledger,
        Array.from({ length: JOBS }, (_, seq) => ({ seq })),
      );
      const lines = await runWorkers(store, { workers: 3, queues: { flow: { concurrency: 5, rateLimit: { max: 10, perMs: 1000 } } }, jobMs: 1, expected: JOBS });
      const starts = lines.filter((line) => line.type === 'start').map((line) => line.at).sort((a, b) => a - b);
      expect(starts).toHaveLength(JOBS);
      // The most starts in any window of 1 s (closed at both ends: the strictest reading).
      let most = 0;
      for (let first = 0, last = 0; last < starts.length; last++) {
        while (starts[last]! - starts[first]! > 1000) first++;
        most = Math.max(most, last - first + 1);
      }
      expect(most).toBeLessThanOrEqual(10);
      expect(most).toBe(10);
      // 100 jobs at 10 per second cannot start in less than nine seconds after the first.
      expect(starts[JOBS - 1]! - starts[0]!).toBeGreaterThanOrEqual(9 * 1000);
    });

    it('a flow of 500 children over three workers runs its parent once, after the last child, with every result', { timeout: 90_000 }, async () => {
      const store = await kind.open();
      opened.push(store);
      const CHILDREN = 500;
      const flow = await createClient({ store: store.store, jobs: [ledger, fanParent] }).flow({
        job: fanParent,
        data: { label: 'nightly' },
        children: Array.from({ length: CHILDREN }, (_, seq) => ({ job: ledger, data: { seq } })),
      });
      const spawned: ChildWorker[] = [];
      const lines = await runWorkers(store, { workers: 3, queues: { flow: { concurrency: 5 }, fan: { concurrency: 2 } }, jobMs: 1, expected: CHILDREN, spawned });
      const ends = lines.filter((line) => line.type === 'end');
      expect(new Set(ends.map((line) => line.seq)).size).toBe(CHILDREN);
      // Once the parent is stored completed, no process may run it again: count its runs then.
      await until(async () => (await store.store.jobGet({ id: flow.job.id }))?.state === 'completed', 'the parent completed', 30_000);
      // Its line was written before its finish, but may still wait in the pipe: read it first.
      const parentLines = await linesOf(spawned, 'parent');
      expect(parentLines).toHaveLength(1);
      const [parent] = parentLines as [Record<string, unknown>];
      expect(parent.id).toBe(flow.job.id);
      expect(parent.at as number).toBeGreaterThanOrEqual(Math.max(...ends.map((line) => line.at)));
      expect(parent).toMatchObject({ children: CHILDREN, completed: CHILDREN });
      expect(parent.seqs).toEqual(Array.from({ length: CHILDREN }, (_, seq) => seq));
    });

    it('three workers under a per-key rate limit of 3/s never start more than 3 of a key in any 1-s window, keys side by side', { timeout: 90_000 }, async () => {
      const store = await kind.open();
      opened.push(store);
      // Two keys, 9 jobs each: three full windows per key.
      const payloads = Array.from({ length: 18 }, (_, seq) => ({ seq, key: seq < 9 ? 'org-a' : 'org-b' }));
      await createClient({ store: store.store, jobs: [ratedLedger] }).enqueueMany(ratedLedger, payloads);
      const lines = await runWorkers(store, { workers: 3, queues: { rated: { concurrency: 4 } }, jobMs: 1, expected: 18 });
      for (const key of ['org-a', 'org-b']) {
        const starts = lines.filter((line) => line.type === 'start' && line.key === key).map((line) => line.at).sort((a, b) => a - b);
        expect(starts).toHaveLength(9);
        let most = 0;
        for (let first = 0, last = 0; last < starts.length; last++) {
          while (starts[last]! - starts[first]! > 1000) first++;
          most = Math.max(most, last - first + 1);
        }
        expect(most).toBe(3);
        // Nine starts at 3 per second take at least two windows after the first.
        expect(starts[8]! - starts[0]!).toBeGreaterThanOrEqual(2000);
      }
    });

    it('a dead child cancels its parent by default, and under onDependencyFailure run the parent still runs, across three workers', { timeout: 90_000 }, async () => {
      const store = await kind.open();
      opened.push(store);
      const client = createClient({ store: store.store, jobs: [ledger, fanParent, failing] });
      const children = [{ job: ledger, data: { seq: 0 } }, { job: ledger, data: { seq: 1 } }, { job: failing, data: {} }];
      const strict = await client.flow({ job: fanParent, data: { label: 'strict' }, children });
      const tolerant = await client.flow({ job: fanParent, data: { label: 'tolerant' }, options: { onDependencyFailure: 'run' }, children: children.map((c, i) => (i < 2 ? { ...c, data: { seq: i + 2 } } : c)) });
      const spawned: ChildWorker[] = [];
      await runWorkers(store, { workers: 3, queues: { flow: { concurrency: 2 }, fan: { concurrency: 1 } }, jobMs: 1, expected: 4, spawned });
      await until(async () => (await store.store.jobGet({ id: tolerant.job.id }))?.state === 'completed', 'the tolerant parent completed', 30_000);
      const parents = await linesOf(spawned, 'parent');
      const strictParent = await store.store.jobGet({ id: strict.job.id });
      expect(strictParent).toMatchObject({ state: 'cancelled', lastError: { kind: 'dependency_failed', message: `dependency ${strict.children[2]!.job.id} ended dead` } });
      expect(parents).toHaveLength(1);
      expect(parents[0]).toMatchObject({ id: tolerant.job.id, children: 3, completed: 2 });
    });

    it('a worker killed with SIGKILL while holding a key frees it once its lease expires, not before', { timeout: 90_000 }, async () => {
      const store = await kind.open();
      opened.push(store);
      await createClient({ store: store.store, jobs: [keyedLedger] }).enqueueMany(keyedLedger, [
        { seq: 0, key: 'k' },
        { seq: 1, key: 'k' },
      ]);
      const env = (id: string, jobMs: number) => ({ LOG_LEVEL: 'silent', ...store.env, NS_WORKER_ID: id, NS_QUEUES: JSON.stringify({ keyed: { concurrency: 2 } }), NS_JOB_MS: String(jobMs), NS_LEASE_MS: '1000' });
      const holder = spawnJsonLineProcess({ args: [SCRIPT], env: env('holder', 60_000), waitTimeoutMs: 60_000 });
      const started = (await holder.waitForLine((line) => line.type === 'start')) as unknown as LedgerLine;
      process.kill(holder.pid, 'SIGKILL');
      await holder.exited;
      // The lease runs from the claim, which comes before the handler's first line (by more
      // than a few ms for a process's first job): the store's record says when it ends.
      const held = await store.store.jobGet({ id: started.id });
      const leaseEnd = held!.lease!.expiresAt.getTime();
      const next = spawnJsonLineProcess({ args: [SCRIPT], env: env('next', 10), waitTimeoutMs: 60_000 });
      await until(() => next.lines.filter((line) => line.type === 'end').length >= 2, 'both jobs of the key ran', 30_000);
      const runs = next.lines.filter((line) => line.type === 'start') as unknown as LedgerLine[];
      // The held job came back (rescued) and the other waited for it: both ran, one after the other,
      // and nothing of key k started before the dead worker's lease ran out.
      expect(runs.map((line) => line.seq).sort()).toEqual([0, 1]);
      // (1 ms for the ledger clock's calibration against the system clock.)
      expect(Math.min(...runs.map((line) => line.at))).toBeGreaterThanOrEqual(leaseEnd - 1);
      expect(maxOverlap(next.lines.filter((line) => line.type === 'start' || line.type === 'end') as unknown as LedgerLine[]).overall).toBe(1);
    });
  });
}
