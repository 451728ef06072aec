// The servers the benchmark runs against: a throw-away PostgreSQL database created for the run
// (each case then uses its own schema in it; the name carries the runner's pid so that two runs
// on one server do not drop each other's data) and the Redis server (each case uses its own key
// prefix and deletes its keys). Also reads the server versions for the report.
import pg from 'pg';

/** Database created on the PostgreSQL server for the run and dropped afterwards. */
export const BENCH_DATABASE = `nightshift_bench_${process.pid}`;

/**
 * Creates a fresh bench database (dropping a leftover of the same name) and returns its URL.
 * @param {string} adminUrl Connection string of an existing database on the server.
 * @returns {Promise<{ url: string, serverVersion: string }>}
 */
export async function createBenchDatabase(adminUrl) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(BENCH_DATABASE)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(BENCH_DATABASE)}`);
    const { rows } = await client.query('SHOW server_version');
    const url = new URL(adminUrl);
    url.pathname = `/${BENCH_DATABASE}`;
    return { url: url.toString(), serverVersion: rows[0].server_version };
  } finally {
    await client.end();
  }
}

/** Drops the bench database. */
export async function dropBenchDatabase(adminUrl) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(BENCH_DATABASE)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * Checks that Redis answers and returns its version.
 * @param {string} url
 */
export async function redisVersion(url) {
  // Loaded here: the tables that need no Redis (HTTP) run without the peers' packages installed.
  const { default: IORedis } = await import('ioredis');
  const client = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await client.connect();
    const info = await client.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    client.disconnect();
  }
}
