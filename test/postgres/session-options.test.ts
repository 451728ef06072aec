// The store's own connections run with PostgreSQL's JIT off (its compiling cost more than
// Nightshift's reads ever gain), and PGOPTIONS still reaches them, after, so it can turn it back on.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS, DEFAULT_QUERY_TIMEOUT_MS, sessionOptions, storePoolConfig } from '../../src/store/postgres/postgres-store.js';
import { postgresUrl } from '../support/postgres-server.js';
import { jobInput, pgFixture } from './pg-test-fixtures.js';

const url = postgresUrl();
const timeouts = { connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS, queryTimeoutMs: DEFAULT_QUERY_TIMEOUT_MS, idleInTransactionTimeoutMs: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS };

describe('postgres: session options of the store’s own pool', () => {
  it('are jit = off, followed by PGOPTIONS when it says anything', () => {
    expect(sessionOptions(undefined)).toBe('-c jit=off');
    expect(sessionOptions('  ')).toBe('-c jit=off');
    expect(sessionOptions('-c statement_timeout=5s')).toBe('-c jit=off -c statement_timeout=5s');
    expect(storePoolConfig({ connectionString: 'postgres://x@127.0.0.1/db' }, timeouts, undefined).options).toBe('-c jit=off');
    expect(storePoolConfig({}, timeouts, '-c search_path=app').options).toBe('-c jit=off -c search_path=app');
  });
});

describe.skipIf(url === null)('postgres: the store’s own pool on a real server', () => {
  const pools: pg.Pool[] = [];
  const fx = url === null ? null : pgFixture(url, 'sessopt');
  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.end();
    await fx?.cleanup();
  });

  /** What a session of a pool made from the store's settings reports for `names`. */
  async function settingsOf(pgOptions: string | undefined, names: string[]): Promise<Record<string, string>> {
    const pool = new pg.Pool(storePoolConfig({ connectionString: url!, poolSize: 1 }, timeouts, pgOptions));
    pools.push(pool);
    const found: Record<string, string> = {};
    for (const name of names) found[name] = (await pool.query<{ value: string }>('SELECT current_setting($1) AS value', [name])).rows[0]!.value;
    return found;
  }

  it('runs its sessions with jit off and the idle-in-transaction timeout, and keeps what PGOPTIONS sets', async () => {
    expect(await settingsOf(undefined, ['jit', 'application_name', 'idle_in_transaction_session_timeout'])).toEqual({
      jit: 'off',
      application_name: 'nightshift',
      idle_in_transaction_session_timeout: '1min',
    });
    expect(await settingsOf('-c statement_timeout=4321', ['jit', 'statement_timeout'])).toEqual({ jit: 'off', statement_timeout: '4321ms' });
    // PGOPTIONS comes after: it can turn the JIT back on.
    expect(await settingsOf('-c jit=on', ['jit'])).toEqual({ jit: 'on' });
  });

  it('works as a store with those settings: migrate, enqueue, claim', async () => {
    const store = fx!.open({ poolSize: 2, listen: false });
    await store.migrate();
    const [inserted] = await store.jobInsertMany({ jobs: [jobInput({ queue: 'jit' })] });
    expect(inserted!.inserted).toBe(true);
    const claimed = await store.jobFetch({ queue: 'jit', limit: 1, owner: 'w-1', leaseMs: 30_000 });
    expect(claimed.map((job) => job.id)).toEqual([inserted!.job.id]);
  });
});
