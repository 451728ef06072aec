/**
 * The stores the scheduler suites run against: a fresh SQLite file per test, and a fresh
 * PostgreSQL schema per test when a server is available (see test/support/postgres-server.ts).
 * Each store gets an injected clock so fire times are exact and nothing waits for real minutes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestClock } from '../../src/store/conformance/test-clock.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

export interface OpenedStore {
  store: Store;
  clock: TestClock;
  /** Another store on the same database and clock, as a second process would open it. */
  openAnother(): Promise<Store>;
  cleanup(): Promise<void>;
}

export interface StoreHarness {
  label: string;
  open(startMs: number): Promise<OpenedStore>;
}

const sqlite: StoreHarness = {
  label: 'sqlite',
  async open(startMs) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-scheduler-'));
    const file = path.join(dir, 'test.db');
    const clock = new TestClock(startMs);
    const stores: Store[] = [createSqliteStore({ path: file, clock: clock.fn })];
    await stores[0]!.migrate();
    return {
      store: stores[0]!,
      clock,
      async openAnother() {
        const other = createSqliteStore({ path: file, clock: clock.fn });
        await other.migrate();
        stores.push(other);
        return other;
      },
      async cleanup() {
        for (const store of stores) await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const url = postgresUrl();
const postgres: StoreHarness = {
  label: 'postgres',
  async open(startMs) {
    const { schema, drop } = testSchema(url!, 'sched');
    const clock = new TestClock(startMs);
    const open = () => createPostgresStore({ connectionString: url!, schema, clock: clock.fn, poolSize: 3, listen: false });
    const stores: Store[] = [open()];
    await stores[0]!.migrate();
    return {
      store: stores[0]!,
      clock,
      async openAnother() {
        const other = open();
        await other.migrate();
        stores.push(other);
        return other;
      },
      async cleanup() {
        for (const store of stores) await store.close();
        await drop();
      },
    };
  },
};

/** SQLite always; PostgreSQL when a server was resolved for this run. */
export const storeHarnesses: StoreHarness[] = url === null ? [sqlite] : [sqlite, postgres];
