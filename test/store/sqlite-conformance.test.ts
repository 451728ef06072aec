import { mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreConformance, TestClock } from '../../src/store/conformance/index.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';

runStoreConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-sqlite-'));
  const path = join(dir, 'jobs.db');
  const clock = new TestClock();
  const stores: Store[] = [createSqliteStore({ path, clock: clock.fn })];
  return {
    store: stores[0]!,
    clock,
    // A second connection to the same file, as another process would open it.
    async openAnother() {
      const other = createSqliteStore({ path, clock: clock.fn });
      await other.migrate();
      stores.push(other);
      return other;
    },
    async cleanup() {
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
    async endWithoutSettling({ id, state }) {
      const raw = new Database(path);
      try {
        raw.prepare('UPDATE nightshift_jobs SET state = ?, finished_at = ?, lease_token = NULL, lease_expires_at = NULL WHERE id = ?').run(state, clock.now(), Number(id));
      } finally {
        raw.close();
      }
    },
  };
});
