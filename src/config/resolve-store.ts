import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { StoreConfig } from './define-config.js';
import { PG_SERVER_VARIABLES, type EnvSettings } from './env.js';
import { isStoreInstance } from './validate-config.js';
import type { Store } from '../store/types.js';

/** Default SQLite database file, relative to the working directory. */
export const DEFAULT_SQLITE_PATH = './data/nightshift.db';

/** The store that will be used, after environment overrides, before anything is opened. */
export type StoreSpec =
  | { kind: 'sqlite'; path: string; busyTimeoutMs?: number }
  | { kind: 'postgres'; connectionString?: string; schema?: string; poolSize?: number; listen?: boolean }
  | { kind: 'instance'; store: Store };

/**
 * Decides which store to use. The environment wins over the file: `NIGHTSHIFT_DB`/`DATABASE_URL`
 * replace the file's path or URL while the file's other settings of the same kind (schema,
 * pool size, busy timeout) still apply. With neither, SQLite at `./data/nightshift.db`.
 * Relative SQLite paths resolve from `cwd`.
 *
 * Throws a `ConfigError` for `NIGHTSHIFT_STORE=postgres` when nothing names a server: no
 * `DATABASE_URL`, no `store.postgres` in the file, no `PGHOST`/`PGUSER`/`PGDATABASE`.
 */
export function storeSpec(config: StoreConfig | undefined, env: EnvSettings = {}, cwd: string = process.cwd()): StoreSpec {
  const fromEnv = env.store;
  if (config !== undefined && isStoreInstance(config) && fromEnv === undefined) return { kind: 'instance', store: config };
  const file = config !== undefined && !isStoreInstance(config) ? config : undefined;
  const kind = fromEnv?.kind ?? (file && 'postgres' in file ? 'postgres' : 'sqlite');
  if (kind === 'postgres') {
    if (env.postgresUnnamed && !(file && 'postgres' in file)) {
      const message =
        'NIGHTSHIFT_STORE is "postgres" but no PostgreSQL server is configured: set DATABASE_URL (postgres://user:password@host:5432/database), ' +
        `or store: { postgres: { connectionString } } in the config file (or the pg driver's ${PG_SERVER_VARIABLES.join(', ')})`;
      throw new ConfigError(message, { issues: [{ path: 'NIGHTSHIFT_STORE', message }] });
    }
    const options = file && 'postgres' in file ? file.postgres : {};
    const connectionString = (fromEnv?.kind === 'postgres' ? fromEnv.connectionString : undefined) ?? options.connectionString;
    return { kind: 'postgres', ...options, ...(connectionString === undefined ? {} : { connectionString }) };
  }
  const options = file && 'sqlite' in file ? file.sqlite : {};
  const path = (fromEnv?.kind === 'sqlite' ? fromEnv.path : undefined) ?? options.path ?? DEFAULT_SQLITE_PATH;
  return { kind: 'sqlite', path: resolve(cwd, path), ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }) };
}

/**
 * A warning for a store the environment chose without naming it: `NIGHTSHIFT_STORE=sqlite` (no
 * `NIGHTSHIFT_DB`, no SQLite `DATABASE_URL`) over a config whose store is PostgreSQL or a Store
 * instance. That is allowed — SQLite has a default file, handy to try something locally — but a
 * deployment that meant its PostgreSQL store would otherwise go on, silently, on an empty
 * `./data/nightshift.db`. Null in every other case.
 */
export function storeOverrideNotice(config: StoreConfig | undefined, env: EnvSettings, spec: StoreSpec): string | null {
  if (spec.kind !== 'sqlite' || env.store?.kind !== 'sqlite' || env.store.path !== undefined) return null;
  if (config === undefined || (!isStoreInstance(config) && 'sqlite' in config)) return null;
  const replaced = isStoreInstance(config) ? `${config.kind} store` : 'PostgreSQL store';
  return `NIGHTSHIFT_STORE=sqlite replaces the config's ${replaced}: using SQLite ${spec.path} (NIGHTSHIFT_DB names another file)`;
}

/** A one-line description of a store spec for logs and CLI output (never includes a password). */
export function describeStoreSpec(spec: StoreSpec): string {
  if (spec.kind === 'sqlite') return `SQLite ${spec.path}`;
  if (spec.kind === 'instance') return `${spec.store.kind} store (from the config)`;
  let where = 'PostgreSQL (PG* environment)';
  if (spec.connectionString) {
    try {
      const url = new URL(spec.connectionString);
      url.password = url.password ? '***' : '';
      where = `PostgreSQL ${url.toString()}`;
    } catch {
      where = 'PostgreSQL (unparsable connection string)';
    }
  }
  return spec.schema ? `${where} schema ${spec.schema}` : where;
}

/**
 * Opens the store described by the config and the environment (see `storeSpec`). For SQLite the
 * database directory is created when missing. The store is not migrated here: the runtime does
 * it on start, `nightshift migrate` does it explicitly.
 *
 * A Store instance from the config that the environment overrides is closed, so its connections
 * do not keep the process alive.
 */
export async function resolveStore(options: {
  config: StoreConfig | undefined;
  env?: EnvSettings;
  cwd?: string;
  logger?: Logger;
}): Promise<{ store: Store; spec: StoreSpec }> {
  let spec: StoreSpec;
  try {
    spec = storeSpec(options.config, options.env, options.cwd);
  } catch (error) {
    // Refused (NIGHTSHIFT_STORE=postgres naming no server): the config's own store is not used either.
    if (options.config !== undefined && isStoreInstance(options.config)) await options.config.close().catch(() => undefined);
    throw error;
  }
  if (spec.kind !== 'instance' && options.config !== undefined && isStoreInstance(options.config)) {
    await options.config.close();
  }
  const logger = options.logger;
  if (spec.kind === 'instance') return { store: spec.store, spec };
  if (spec.kind === 'sqlite') {
    mkdirSync(dirname(spec.path), { recursive: true });
    // Imported lazily so a PostgreSQL deployment never loads the native SQLite module and vice versa.
    const { createSqliteStore } = await import('../store/sqlite/sqlite-store.js');
    const store = createSqliteStore({
      path: spec.path,
      ...(spec.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: spec.busyTimeoutMs }),
      ...(logger ? { logger } : {}),
    });
    return { store, spec };
  }
  const { createPostgresStore } = await import('../store/postgres/postgres-store.js');
  const store = createPostgresStore({
    ...(spec.connectionString === undefined ? {} : { connectionString: spec.connectionString }),
    ...(spec.schema === undefined ? {} : { schema: spec.schema }),
    ...(spec.poolSize === undefined ? {} : { poolSize: spec.poolSize }),
    ...(spec.listen === undefined ? {} : { listen: spec.listen }),
    ...(logger ? { logger } : {}),
  });
  return { store, spec };
}
