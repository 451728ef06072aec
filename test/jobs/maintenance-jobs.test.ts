/**
 * The built-in `maintenance.retry` and `maintenance.cleanup` jobs, on a real SQLite file and a
 * real PostgreSQL schema: registered as a config registers them (`builtins: { maintenance: true }`,
 * through `resolveConfig`, so each run opens the configured store itself), run by a real runtime,
 * and checked job by job against what they must and must not touch. The seeded jobs are written
 * through a second store on the same database whose clock is set back, so "died 2 hours ago" and
 * "finished 40 days ago" are the store's own timestamps.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, resolveConfig } from '../../src/config/load-config.js';
import { validateConfig } from '../../src/config/validate-config.js';
import type { StoreConfig } from '../../src/config/define-config.js';
import { ConfigError } from '../../src/errors.js';
import { withBuiltinJobs } from '../../src/jobs/builtin-jobs.js';
import { retryBackoffMs, timesRetried } from '../../src/jobs/maintenance-retry-job.js';
import { createNightshift } from '../../src/nightshift.js';
import { createJobRegistry } from '../../src/scheduler/schedule-definition.js';
import { loadScheduleFile } from '../../src/scheduler/schedule-file.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AttemptRecord, JobRecord, Store } from '../../src/store/types.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
/** Seeded jobs live here; the runtime consumes only `default`, so nothing runs them. */
const SEED_QUEUE = 'seeded';

interface Database {
  kind: 'sqlite' | 'postgres';
  /** The config's `store:` for this database. */
  storeConfig: StoreConfig;
  /** A store on it whose clock is `Date.now() + offsetMs`. */
  open(offset: { ms: number }): Store;
  cleanup(): Promise<void>;
}

const url = postgresUrl();
const KINDS: { kind: 'sqlite' | 'postgres'; available: boolean; create(): Database }[] = [
  {
    kind: 'sqlite',
    available: true,
    create() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-maintenance-'));
      const file = path.join(dir, 'jobs.db');
      return {
        kind: 'sqlite',
        storeConfig: { sqlite: { path: file } },
        open: (offset) => createSqliteStore({ path: file, clock: () => Date.now() + offset.ms }),
        async cleanup() {
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    kind: 'postgres',
    available: url !== null,
    create() {
      const { schema, drop } = testSchema(url!, 'maint');
      return {
        kind: 'postgres',
        storeConfig: { postgres: { connectionString: url!, schema } },
        open: (offset) => createPostgresStore({ connectionString: url!, schema, poolSize: 2, clock: () => Date.now() + offset.ms }),
        cleanup: drop,
      };
    },
  },
];

const toClose: Store[] = [];
const toCleanup: Database[] = [];
afterEach(async () => {
  for (const store of toClose.splice(0)) await store.close();
  for (const db of toCleanup.splice(0)) await db.cleanup();
});

/** The jobs a config with `builtins: { maintenance: true }` on this database resolves to. */
function configuredJobs(db: Database) {
  const config = validateConfig({ jobs: [], store: db.storeConfig, builtins: { maintenance: true } });
  return resolveConfig(config, { file: null, env: {}, builtinJobs: withBuiltinJobs }).jobs;
}

/** Inserts a job of `name` on the seed queue (one attempt). */
async function insert(store: Store, name: string): Promise<string> {
  const [row] = await store.jobInsertMany({
    jobs: [{ name, queue: SEED_QUEUE, payload: '{}', priority: 0, maxAttempts: 1, runAt: null, key: null, timeoutMs: null, scheduleId: null, meta: null }],
  });
  return row!.job.id;
}

/** Claims job `id` and finishes its attempt with `outcome`. */
async function finish(store: Store, id: string, outcome: 'dead' | 'completed'): Promise<void> {
  const [claimed] = await store.jobFetch({ queue: SEED_QUEUE, limit: 1, owner: 'seeder', leaseMs: 60_000, ids: [id] });
  expect(claimed?.id).toBe(id);
  const finish = outcome === 'dead' ? ({ outcome: 'dead', error: { name: 'Error', message: 'boom', stack: null, kind: 'error' } } as const) : ({ outcome: 'completed', result: null } as const);
  await store.jobFinishMany({ items: [{ id, token: claimed!.lease!.token, finish }] });
}

/** A job of `name` that died `deaths` times (retried by hand between deaths), the last time at the store's now. */
async function deadJob(store: Store, offset: { ms: number }, name: string, deaths: number, lastDeathAgoMs: number, spacingMs = HOUR): Promise<string> {
  const base = offset.ms;
  offset.ms = base - lastDeathAgoMs - (deaths - 1) * spacingMs;
  const id = await insert(store, name);
  for (let death = 1; death <= deaths; death++) {
    if (death > 1) {
      offset.ms += spacingMs;
      await store.jobRetry({ id });
    }
    await finish(store, id, 'dead');
  }
  offset.ms = base;
  return id;
}

/** Runs `name` with `input` on a runtime whose jobs are `jobs`; resolves with its result. */
async function runOnRuntime(store: Store, jobs: ReturnType<typeof configuredJobs>, name: string, input: unknown): Promise<unknown> {
  const nightshift = createNightshift({ store, jobs, queues: { default: { concurrency: 1 } }, pollIntervalMs: 20, prune: false, processRegistry: false });
  const { job } = await nightshift.client.enqueue(name, input);
  const done = new Promise<unknown>((resolve, reject) => {
    nightshift.events.on('job:completed', (event) => {
      if (event.job.id === job.id) resolve(event.result);
    });
    nightshift.events.on('job:failed', (event) => {
      if (event.job.id === job.id) reject(new Error(`${name} failed: ${event.error.message}`));
    });
  });
  await nightshift.start();
  try {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${name} did not finish within 15 s`)), 15_000).unref());
    return await Promise.race([done, timeout]);
  } finally {
    await nightshift.stop();
  }
}

/** What a job looks like, minus what a retry changes — to compare before and after. */
const snapshot = (job: JobRecord | null) => job && { state: job.state, attempt: job.attempt, maxAttempts: job.maxAttempts, finishedAt: job.finishedAt?.getTime() ?? null, runAt: job.runAt.getTime() };

describe('retry counting and backoff', () => {
  const attempt = (outcome: AttemptRecord['outcome']): AttemptRecord => ({ jobId: '1', attempt: 1, workerId: 'w', startedAt: new Date(0), finishedAt: new Date(0), durationMs: 0, outcome, error: null, result: null });

  it('counts deaths (dead or lost attempts) minus the current one', () => {
    expect(timesRetried([])).toBe(0);
    expect(timesRetried([attempt('failed'), attempt('dead')])).toBe(0);
    expect(timesRetried([attempt('dead'), attempt('failed'), attempt('dead')])).toBe(1);
    expect(timesRetried([attempt('lost'), attempt('dead'), attempt('lost')])).toBe(2);
  });

  it('waits 2^n minutes after the n-th retry, at most half the window', () => {
    expect(retryBackoffMs(0, 24)).toBe(0);
    expect(retryBackoffMs(1, 24)).toBe(2 * 60_000);
    expect(retryBackoffMs(3, 24)).toBe(8 * 60_000);
    expect(retryBackoffMs(20, 24)).toBe(12 * HOUR);
    expect(retryBackoffMs(20, 1)).toBe(HOUR / 2);
  });
});

for (const kind of KINDS) {
  describe.skipIf(!kind.available)(`maintenance built-ins on ${kind.kind}`, () => {
    it('maintenance.retry retries exactly the recently dead jobs it may, and touches nothing else', async () => {
      const db = kind.create();
      toCleanup.push(db);
      const offset = { ms: 0 };
      const store = db.open(offset);
      toClose.push(store);
      await store.migrate();

      const fresh = await deadJob(store, offset, 'report.build', 1, 2 * HOUR);
      const retriedOnce = await deadJob(store, offset, 'report.build', 2, 3 * HOUR);
      const excluded = await deadJob(store, offset, 'billing.charge', 1, 2 * HOUR);
      const outOfRetries = await deadJob(store, offset, 'report.build', 4, 2 * HOUR);
      const inBackoff = await deadJob(store, offset, 'report.build', 3, 60_000); // 2 retries: waits 4 minutes
      const tooOld = await deadJob(store, offset, 'report.build', 1, 30 * HOUR);
      const maintenanceDead = await deadJob(store, offset, 'maintenance.cleanup', 1, HOUR);
      offset.ms = -HOUR;
      const completed = await insert(store, 'report.build');
      await finish(store, completed, 'completed');
      const cancelled = await insert(store, 'report.build');
      await store.jobCancel({ id: cancelled, reason: 'test' });
      const waiting = await insert(store, 'report.build');
      offset.ms = 0;

      const untouched = [excluded, outOfRetries, inBackoff, tooOld, maintenanceDead, completed, cancelled, waiting];
      const before = new Map(await Promise.all(untouched.map(async (id) => [id, snapshot(await store.jobGet({ id }))] as const)));

      const result = await runOnRuntime(store, configuredJobs(db), 'maintenance.retry', { lookbackHours: 24, maxRetries: 3, excludeJobs: ['billing.charge'] });
      // In the window: fresh, retriedOnce, excluded, outOfRetries, inBackoff, maintenanceDead.
      expect(result).toEqual({ retried: 2, skipped: 4, scanned: 6 });

      for (const id of [fresh, retriedOnce]) {
        const job = await store.jobGet({ id });
        expect(job?.state, `job ${id}`).toBe('available');
        expect(job?.finishedAt).toBeNull();
      }
      for (const id of untouched) expect(snapshot(await store.jobGet({ id })), `job ${id}`).toEqual(before.get(id));

      // Run again: the two just retried are not dead any more; nothing else became eligible.
      const again = await runOnRuntime(store, configuredJobs(db), 'maintenance.retry', { excludeJobs: ['billing.charge'] });
      expect(again).toEqual({ retried: 0, skipped: 4, scanned: 4 });
    }, 60_000);

    it('maintenance.retry stops at maxRetries across runs and waits out the backoff', async () => {
      const db = kind.create();
      toCleanup.push(db);
      const offset = { ms: 0 };
      const store = db.open(offset);
      toClose.push(store);
      await store.migrate();
      const jobs = configuredJobs(db);
      // Died 10 minutes ago after one retry: backoff 2 minutes, passed; maxRetries 2 allows one more.
      const id = await deadJob(store, offset, 'sync.run', 2, 10 * 60_000);
      expect(await runOnRuntime(store, jobs, 'maintenance.retry', { maxRetries: 2 })).toEqual({ retried: 1, skipped: 0, scanned: 1 });
      // It dies again now: 2 retries used.
      const [claimed] = await store.jobFetch({ queue: SEED_QUEUE, limit: 1, owner: 'seeder', leaseMs: 60_000, ids: [id] });
      await store.jobFinishMany({ items: [{ id, token: claimed!.lease!.token, finish: { outcome: 'dead', error: { name: 'Error', message: 'again', stack: null, kind: 'error' } } }] });
      expect(await runOnRuntime(store, jobs, 'maintenance.retry', { maxRetries: 2 })).toEqual({ retried: 0, skipped: 1, scanned: 1 });
      // With a higher limit it is still in its backoff (2 retries: 4 minutes).
      expect(await runOnRuntime(store, jobs, 'maintenance.retry', { maxRetries: 5 })).toEqual({ retried: 0, skipped: 1, scanned: 1 });
      expect((await store.jobGet({ id }))?.state).toBe('dead');
    }, 60_000);

    it('maintenance.cleanup deletes finished jobs older than retentionDays, with their attempts, and nothing else', async () => {
      const db = kind.create();
      toCleanup.push(db);
      const offset = { ms: -40 * DAY };
      const store = db.open(offset);
      toClose.push(store);
      await store.migrate();

      const oldCompleted = await insert(store, 'report.build');
      await finish(store, oldCompleted, 'completed');
      const oldDead = await insert(store, 'report.build');
      await finish(store, oldDead, 'dead');
      const oldCancelled = await insert(store, 'report.build');
      await store.jobCancel({ id: oldCancelled, reason: 'test' });
      // Created 40 days ago, still waiting: never deleted, whatever its age.
      const oldWaiting = await insert(store, 'report.build');
      // Created 40 days ago, finished 2 days ago: kept (age counts from finishing).
      const lateFinisher = await insert(store, 'report.build');
      offset.ms = -2 * DAY;
      await finish(store, lateFinisher, 'completed');
      const recentDead = await insert(store, 'report.build');
      await finish(store, recentDead, 'dead');
      offset.ms = 0;

      const result = await runOnRuntime(store, configuredJobs(db), 'maintenance.cleanup', { retentionDays: 30 });
      expect(result).toEqual({ deleted: 3 });
      for (const id of [oldCompleted, oldDead, oldCancelled]) {
        expect(await store.jobGet({ id }), `job ${id}`).toBeNull();
        expect(await store.jobAttempts({ id })).toEqual([]);
      }
      for (const id of [oldWaiting, lateFinisher, recentDead]) expect(await store.jobGet({ id }), `job ${id}`).not.toBeNull();
      expect((await store.jobAttempts({ id: lateFinisher })).length).toBe(1);

      // A shorter retention reaches the two finished ones; the waiting job stays.
      expect(await runOnRuntime(store, configuredJobs(db), 'maintenance.cleanup', { retentionDays: 1 })).toEqual({ deleted: 2 });
      expect((await store.jobGet({ id: oldWaiting }))?.state).toBe('available');
    }, 60_000);
  });
}

describe('maintenance built-ins in a YAML schedule file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  function scheduleFile(text: string): { dir: string; file: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-maintenance-yaml-'));
    dirs.push(dir);
    const file = path.join(dir, 'scheduler.yaml');
    fs.writeFileSync(file, text);
    return { dir, file };
  }
  const load = async (text: string) => {
    const { dir, file } = scheduleFile(text);
    const config = await loadConfig({ cwd: dir, configPath: file, required: false, env: { NIGHTSHIFT_DB: path.join(dir, 'jobs.db') } });
    return { config, schedules: () => loadScheduleFile(file, { jobs: createJobRegistry([...config.jobs]) }) };
  };

  it('accepts the documented shapes and fills the defaults', async () => {
    const { config, schedules } = await load(`builtins:
  maintenance: true
schedules:
  - id: retry-failed
    jobId: maintenance.retry
    schedule: "*/15 * * * *"
    input: { lookbackHours: 24, maxRetries: 3, excludeJobs: ["billing.charge"] }
  - id: retry-defaults
    jobId: maintenance.retry
    schedule: "*/15 * * * *"
  - id: cleanup
    jobId: maintenance.cleanup
    schedule: "0 3 * * *"
    input: { retentionDays: 30 }
`);
    expect(config.jobs.map((job) => job.name)).toEqual(['maintenance.retry', 'maintenance.cleanup']);
    const stored = await schedules();
    expect(stored.map((schedule) => [schedule.jobName, JSON.parse(schedule.input)])).toEqual([
      ['maintenance.retry', { lookbackHours: 24, maxRetries: 3, excludeJobs: ['billing.charge'] }],
      ['maintenance.retry', {}],
      ['maintenance.cleanup', { retentionDays: 30 }],
    ]);
  });

  it('refuses unknown fields and out-of-range values, naming each', async () => {
    const { schedules } = await load(`builtins:
  maintenance: true
schedules:
  - id: retry-failed
    jobId: maintenance.retry
    schedule: "*/15 * * * *"
    input: { lookbackHours: 0, maxRetries: 3, exclude: ["billing.charge"] }
  - id: cleanup
    jobId: maintenance.cleanup
    schedule: "0 3 * * *"
    input: { retentionDays: -1 }
  - id: cleanup-names
    jobId: maintenance.retry
    schedule: "0 3 * * *"
    input: { excludeJobs: ["not a name"] }
`);
    const error = await schedules().then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const messages = (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n');
    expect(messages).toMatch(/schedules\[0\]\.input.*Unrecognized key: "exclude"/);
    expect(messages).toMatch(/schedules\[0\]\.input\.lookbackHours/);
    expect(messages).toMatch(/schedules\[1\]\.input\.retentionDays/);
    expect(messages).toMatch(/schedules\[2\]\.input\.excludeJobs\.0:.*must be a job name/);
  });

  it('is off unless enabled, and says how to enable it', async () => {
    const { config, schedules } = await load(`schedules:
  - id: cleanup
    jobId: maintenance.cleanup
    schedule: "0 3 * * *"
`);
    expect(config.jobs).toEqual([]);
    const error = await schedules().then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(String((error as Error).message)).toContain('builtins: { maintenance: true }');
  });
});
