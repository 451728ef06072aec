/**
 * Throttle and debounce with two processes enqueueing one key at the same time (real child
 * processes on the built package), on SQLite and PostgreSQL: one throttled job and one debounced
 * job come out, whatever the interleaving.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { killAll, spawnJsonLineProcess } from '../fixtures/child-workers.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'enqueue-burst-process.mjs');
const url = postgresUrl();

const KINDS = [
  {
    kind: 'sqlite',
    available: true,
    async open(): Promise<{ store: Store; env: Record<string, string>; cleanup(): Promise<void> }> {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-burst-'));
      const file = path.join(dir, 'jobs.db');
      const store = createSqliteStore({ path: file });
      await store.migrate();
      return { store, env: { NS_DB: file }, cleanup: async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    kind: 'postgres',
    available: url !== null,
    async open(): Promise<{ store: Store; env: Record<string, string>; cleanup(): Promise<void> }> {
      const { schema, drop } = testSchema(url!, 'burst');
      const store = createPostgresStore({ connectionString: url!, schema, poolSize: 2 });
      await store.migrate();
      return { store, env: { NS_PG_URL: url!, NS_SCHEMA: schema }, cleanup: async () => { await store.close(); await drop(); } };
    },
  },
];

for (const kind of KINDS) {
  describe.skipIf(!kind.available)(`throttle and debounce from two processes: ${kind.kind}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      await killAll();
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    it('two processes enqueueing one key 20 times each make one throttled and one debounced job, holding the last payload', { timeout: 60_000 }, async () => {
      const opened = await kind.open();
      cleanups.push(() => opened.cleanup());
      const processes = ['a', 'b'].map((tag) => spawnJsonLineProcess({ args: [SCRIPT], env: { LOG_LEVEL: 'silent', ...opened.env, NS_TAG: tag, NS_COUNT: '20' }, waitTimeoutMs: 50_000 }));
      const done = (await Promise.all(processes.map((child) => child.waitForLine((line) => line.type === 'done')))) as unknown as { throttled: string[]; debounced: string[] }[];
      const throttledIds = new Set(done.flatMap((d) => d.throttled));
      const debouncedIds = new Set(done.flatMap((d) => d.debounced));
      expect(throttledIds.size).toBe(1);
      expect(debouncedIds.size).toBe(1);
      const stored = (await opened.store.jobList({ limit: 100 })).jobs;
      expect(stored).toHaveLength(2);
      // The debounced job holds a payload from the last round of one of the processes.
      const debounced = stored.find((job) => job.id === [...debouncedIds][0])!;
      expect(JSON.parse(debounced.payload)).toMatchObject({ i: 19 });
      expect(debounced.state).toBe('scheduled');
    });
  });
}
