/**
 * Shared set-up of the PostgreSQL-specific tests: stores on fresh schemas, admin clients, job
 * inputs and a bounded condition poll (a deadline as a safety net, never a sleep to synchronise).
 */
import pg from 'pg';
import { createPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.js';
import type { JobInsert, Store } from '../../src/store/types.js';
import { testSchema } from '../support/postgres-server.js';

/** A job insert with defaults: queue `default`, priority 0, 3 attempts, due now, no key. */
export function jobInput(overrides: Partial<JobInsert> = {}): JobInsert {
  return {
    name: 'pg.test',
    queue: 'default',
    payload: '{}',
    priority: 0,
    maxAttempts: 3,
    runAt: null,
    key: null,
    timeoutMs: null,
    scheduleId: null,
    meta: null,
    ...overrides,
  };
}

/** A fresh schema plus a way to open stores on it; `cleanup()` closes them and drops the schema. */
export function pgFixture(url: string, prefix = 'pgt') {
  const { schema, drop } = testSchema(url, prefix);
  const stores: Store[] = [];
  const clients: pg.Client[] = [];
  const pools: pg.Pool[] = [];
  return {
    schema,
    open(options: Partial<PostgresStoreOptions> = {}): Store {
      const store = createPostgresStore({ connectionString: url, schema, poolSize: 3, ...options });
      stores.push(store);
      return store;
    },
    async client(applicationName = 'nightshift-test'): Promise<pg.Client> {
      const client = new pg.Client({ connectionString: url, application_name: applicationName });
      client.on('error', () => undefined);
      await client.connect();
      clients.push(client);
      return client;
    },
    pool(options: pg.PoolConfig = {}): pg.Pool {
      const pool = new pg.Pool({ connectionString: url, max: 3, ...options });
      pool.on('error', () => undefined);
      pools.push(pool);
      return pool;
    },
    async cleanup(): Promise<void> {
      for (const store of stores.splice(0)) await store.close();
      for (const client of clients.splice(0)) await client.end().catch(() => undefined);
      for (const pool of pools.splice(0)) await pool.end().catch(() => undefined);
      await drop();
    },
  };
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs` (a safety net). */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Backend pids of connections whose application_name is `name`. */
export async function backendPids(admin: pg.Client, name: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [name]);
  return rows.map((row) => row.pid);
}

/** Backend pid of the LISTEN connection of a store on `schema`, or null. */
export async function listenerPid(admin: pg.Client, schema: string): Promise<number | null> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'nightshift-listener' AND query = $1`,
    [`LISTEN ${pg.escapeIdentifier(`nightshift:${schema}`)}`],
  );
  return rows[0]?.pid ?? null;
}
