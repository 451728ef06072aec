// GET /api/workers lists every live process on the store — here a worker in another process —
// with its roles and queues, and forgets it when it stops.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { killAll, spawnWorker, stopAll } from '../fixtures/child-workers.js';
import { spawnPgWorker } from '../postgres/fixtures/pg-child-workers.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import fs from 'node:fs';
import os from 'node:os';

interface WorkerView {
  id: string;
  pid: number;
  roles: string[];
  queues: { queue: string; concurrency: number; busy: number }[];
}

async function workers(base: string): Promise<WorkerView[]> {
  return ((await (await fetch(`${base}/api/workers`)).json()) as { workers: WorkerView[] }).workers;
}

describe('GET /api/workers', () => {
  let nightshift: Nightshift | null = null;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await stopAll(10_000);
    await killAll();
    await nightshift?.stop();
    nightshift = null;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  for (const kind of ['sqlite', 'postgres'] as const) {
    const url = postgresUrl();
    it.skipIf(kind === 'postgres' && url === null)(`on ${kind}: shows a worker of another process, then not once it stopped`, async () => {
      let store;
      let child;
      if (kind === 'sqlite') {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-workers-'));
        cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
        const file = path.join(dir, 'jobs.db');
        store = createSqliteStore({ path: file });
        await store.migrate();
        child = spawnWorker({ NS_DB: file, NS_WORKER_ID: 'remote-worker', NS_CONCURRENCY: '7' });
      } else {
        const schema = testSchema(url!, 'workers');
        cleanups.push(schema.drop);
        store = createPostgresStore({ connectionString: url!, schema: schema.schema, poolSize: 2 });
        await store.migrate();
        child = spawnPgWorker({ NS_PG_URL: url!, NS_SCHEMA: schema.schema, NS_WORKER_ID: 'remote-worker', NS_CONCURRENCY: '7' });
      }
      const opened = store;
      cleanups.push(() => opened.close());
      nightshift = createNightshift({ store, jobs: [], worker: false, http: { port: 0 } });
      await nightshift.start();
      const base = nightshift.httpAddress!;
      await child.waitForLine((line) => line.type === 'ready');
      let seen = await workers(base);
      for (let i = 0; i < 100 && !seen.some((w) => w.id === 'remote-worker'); i++) seen = await workers(base);
      const remote = seen.find((w) => w.id === 'remote-worker');
      expect(remote).toMatchObject({ pid: child.pid, roles: ['worker'], queues: [{ queue: 'default', concurrency: 7, busy: 0 }] });
      // The API process registers itself too.
      expect(seen.find((w) => w.roles.includes('api'))?.pid).toBe(process.pid);
      // The queue view says who consumes the queue.
      const queues = ((await (await fetch(`${base}/api/queues`)).json()) as { queues: { name: string; consumers: number; concurrency: number; running: number }[] }).queues;
      expect(queues.find((q) => q.name === 'default')).toMatchObject({ consumers: 1, concurrency: 7, running: 0 });
      child.process.kill('SIGTERM');
      await child.exited;
      expect((await workers(base)).some((w) => w.id === 'remote-worker')).toBe(false);
      const after = ((await (await fetch(`${base}/api/queues`)).json()) as { queues: { name: string; consumers: number; concurrency: number }[] }).queues;
      // "No worker consumes queue default": what an operator needs to see.
      expect(after.find((q) => q.name === 'default') ?? { consumers: 0, concurrency: 0 }).toMatchObject({ consumers: 0, concurrency: 0 });
    });
  }
});
