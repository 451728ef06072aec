// Debounced enqueues of one key, made at once from one client, keep the last call's data, on both
// stores: on PostgreSQL they would otherwise go out on several connections and commit in any order.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const url = postgresUrl();
/** Both stores; PostgreSQL with a pool wide enough for ten calls to go out at once. */
const KINDS: { kind: string; available: boolean; open(): Promise<{ store: Store; cleanup(): Promise<void> }> }[] = [
  {
    kind: 'sqlite',
    available: true,
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-debounce-'));
      const store = createSqliteStore({ path: path.join(dir, 'jobs.db') });
      await store.migrate();
      return { store, cleanup: async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    kind: 'postgres',
    available: url !== null,
    async open() {
      const { schema, drop } = testSchema(url!, 'debounce');
      const store = createPostgresStore({ connectionString: url!, schema, poolSize: 10 });
      await store.migrate();
      return { store, cleanup: async () => { await store.close(); await drop(); } };
    },
  },
];

const sync = defineJob({ name: 'doc.sync', schema: z.object({ i: z.number() }), handler: () => undefined });

for (const kind of KINDS) {
  describe.skipIf(!kind.available)(`debounce call order on ${kind.kind}`, () => {
    let opened: { store: Store; cleanup(): Promise<void> } | null = null;
    afterEach(async () => {
      await opened?.cleanup();
      opened = null;
    });

    it('ten calls at once: one job, with the last call\'s data, every time', async () => {
      opened = await kind.open();
      const client = createClient({ store: opened.store, jobs: [sync] });
      for (let round = 0; round < 10; round++) {
        const key = `doc-${round}`;
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => client.enqueue(sync, { i }, { debounce: { key, delayMs: 20_000 } })));
        const ids = new Set(results.map((result) => result.job.id));
        expect(ids.size, `round ${round}`).toBe(1);
        const stored = await client.get([...ids][0]!);
        expect(stored.payload, `round ${round}`).toEqual({ i: 9 });
      }
    });
  });
}
