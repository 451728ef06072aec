/**
 * Several scheduler processes on one store, killed at random and restarted, some with a wrong
 * process clock: every tick still becomes exactly one job, never before its fire time.
 * The processes run the compiled code in dist/ (`npm test` builds first; or `npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { JobRecord, Store } from '../../src/store/types.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(here, 'fixtures', 'scheduler-process.mjs');
const DIST = path.join(here, '..', '..', 'dist', 'scheduler', 'scheduler.js');
const tick = defineJob({ name: 'tick', schema: z.object({}), handler: () => null });

interface Child {
  process: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | string>;
  output(): string;
}

const children = new Set<Child>();

function spawnScheduler(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [SCRIPT], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (): void => {
      if (output.includes('"type":"ready"')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`scheduler process exited (${code}) before it was ready: ${output.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  const handle = { process: child, ready, exited, output: () => output };
  children.add(handle);
  void exited.then(() => children.delete(handle));
  return handle;
}

async function jobsOf(store: Store, scheduleId: string): Promise<JobRecord[]> {
  const all: JobRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.jobList({ filter: { scheduleId }, limit: 1000, cursor });
    all.push(...page.jobs);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

const fireAtOf = (job: JobRecord): number => Date.parse((JSON.parse(job.meta ?? '{}') as { fireAt: string }).fireAt);

/** Polls `condition` (a safety net: the processes work on their own clock) until it holds. */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Checks the jobs against the expected fire times: one job per second from the first to the last
 * fire time, no duplicates, none created before its fire time (store time), and one tick row each.
 */
async function expectExactlyOncePerTick(store: Store, scheduleId: string, firstExpected: number): Promise<number> {
  const jobs = await jobsOf(store, scheduleId);
  const fireTimes = jobs.map(fireAtOf).sort((a, b) => a - b);
  expect(new Set(fireTimes).size).toBe(fireTimes.length);
  const last = fireTimes[fireTimes.length - 1]!;
  const expected: number[] = [];
  for (let time = firstExpected; time <= last; time += 1000) expected.push(time);
  expect(fireTimes).toEqual(expected);
  for (const job of jobs) expect(job.createdAt.getTime()).toBeGreaterThanOrEqual(fireAtOf(job));
  const ticks = await store.scheduleTickList({ scheduleId, limit: 10_000 });
  expect(ticks.filter((t) => t.jobId !== null)).toHaveLength(jobs.length);
  return jobs.length;
}

interface Target {
  label: string;
  open(): Promise<{ store: Store; env: Record<string, string>; cleanup(): Promise<void> }>;
}

const targets: Target[] = [
  {
    label: 'sqlite',
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-multi-scheduler-'));
      const file = path.join(dir, 'test.db');
      const store = createSqliteStore({ path: file, busyTimeoutMs: 10_000 });
      await store.migrate();
      return { store, env: { NS_STORE: 'sqlite', NS_DB: file }, cleanup: async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
    },
  },
];
const url = postgresUrl();
if (url !== null) {
  targets.push({
    label: 'postgres',
    async open() {
      const { schema, drop } = testSchema(url, 'msched');
      const store = createPostgresStore({ connectionString: url, schema, poolSize: 2, listen: false });
      await store.migrate();
      return { store, env: { NS_STORE: 'postgres', NS_PG_URL: url, NS_PG_SCHEMA: schema }, cleanup: async () => { await store.close(); await drop(); } };
    },
  });
}

describe.skipIf(!fs.existsSync(DIST))('scheduler processes on one store (needs `npm run build`)', () => {
  afterEach(async () => {
    for (const child of [...children]) {
      child.process.kill('SIGKILL');
      await child.exited;
    }
  });

  for (const target of targets) {
    it(`${target.label}: three schedulers, random kill -9 and restarts — one job per tick`, async () => {
      const { store, env, cleanup } = await target.open();
      try {
        const manager = createScheduleManager({ store, jobs: [tick] });
        // catchUp covers a moment with every process dead, so no tick may legitimately be missing.
        const schedule = await manager.create({ id: 'every-second', jobId: 'tick', schedule: '* * * * * *', catchUp: 100 });
        const first = schedule.nextRunAt!.getTime();
        const running = [spawnScheduler(env), spawnScheduler(env), spawnScheduler(env)];
        await Promise.all(running.map((child) => child.ready));

        let random = 42;
        const next = (): number => (random = (random * 1103515245 + 12345) % 2 ** 31);
        for (let round = 0; round < 6; round++) {
          // Let at least two more ticks happen, then kill one process hard and start a new one.
          const before = (await jobsOf(store, 'every-second')).length;
          await until('two more ticks', async () => (await jobsOf(store, 'every-second')).length >= before + 2);
          const victim = running.splice(next() % running.length, 1)[0]!;
          victim.process.kill('SIGKILL');
          await victim.exited;
          const replacement = spawnScheduler(env);
          running.push(replacement);
          if (round === 3) {
            // All at once: nothing runs for a moment; catch-up fills the gap exactly once.
            for (const child of running.splice(0)) {
              child.process.kill('SIGKILL');
              await child.exited;
            }
            running.push(spawnScheduler(env), spawnScheduler(env), spawnScheduler(env));
          }
          await Promise.all(running.map((child) => child.ready));
        }
        const before = (await jobsOf(store, 'every-second')).length;
        await until('two final ticks', async () => (await jobsOf(store, 'every-second')).length >= before + 2);
        for (const child of running) child.process.kill('SIGTERM');
        expect(await Promise.all(running.map((child) => child.exited))).toEqual([0, 0, 0]);

        const count = await expectExactlyOncePerTick(store, 'every-second', first);
        expect(count).toBeGreaterThanOrEqual(12);
      } finally {
        await cleanup();
      }
    }, 90_000);

    it(`${target.label}: a process clock 45 s ahead and one running backwards neither duplicate nor fire early`, async () => {
      const { store, env, cleanup } = await target.open();
      try {
        const manager = createScheduleManager({ store, jobs: [tick] });
        const schedule = await manager.create({ id: 'every-second', jobId: 'tick', schedule: '* * * * * *' });
        const first = schedule.nextRunAt!.getTime();
        const running = [
          spawnScheduler({ ...env, NS_CLOCK: 'skew:45000' }),
          spawnScheduler({ ...env, NS_CLOCK: 'backwards' }),
          spawnScheduler({ ...env, NS_CLOCK: 'skew:-30000' }),
        ];
        await Promise.all(running.map((child) => child.ready));
        await until('six ticks', async () => (await jobsOf(store, 'every-second')).length >= 6);
        for (const child of running) child.process.kill('SIGTERM');
        expect(await Promise.all(running.map((child) => child.exited))).toEqual([0, 0, 0]);
        await expectExactlyOncePerTick(store, 'every-second', first);
        // Each distorted process took part (none was locked out by its clock).
        const firing = running.filter((child) => child.output().includes('"type":"fired"'));
        expect(firing.length).toBeGreaterThanOrEqual(1);
        for (const child of running) expect(child.output()).not.toContain('"type":"error"');
      } finally {
        await cleanup();
      }
    }, 60_000);
  }
});
