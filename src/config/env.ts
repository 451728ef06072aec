import { fileURLToPath } from 'node:url';
import type { LevelWithSilent } from 'pino';
import { ConfigError, type ValidationIssue } from '../errors.js';
import { LOG_LEVELS } from '../observe/logger.js';
import { formatIssues } from './validate-config.js';

/**
 * Settings read from environment variables. They win over the config file, so one build can run
 * against different databases and limits per deployment.
 *
 * | Variable              | Meaning                                                                 |
 * |-----------------------|-------------------------------------------------------------------------|
 * | `NIGHTSHIFT_DB`       | SQLite database file                                                    |
 * | `DATABASE_URL`        | `postgres://…`/`postgresql://…` → PostgreSQL; `sqlite:path`, `file:` URL or a plain path → SQLite |
 * | `NIGHTSHIFT_STORE`    | `sqlite` or `postgres`: which store to use when both kinds are configured |
 * | `MAX_CONCURRENT_JOBS` | integer ≥ 1: caps every queue's concurrency (and is the default)        |
 * | `JOB_TIMEOUT_MS`      | integer ≥ 1, ms: time limit of every queue, replacing the file's        |
 * | `SHUTDOWN_TIMEOUT_MS` | integer ≥ 0, ms: grace period of a graceful stop                        |
 * | `LOG_LEVEL`           | `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`          |
 *
 * Empty variables count as unset.
 */
export interface EnvSettings {
  /** The store chosen by the environment; a missing path/URL means "take it from the file or the default". */
  store?: { kind: 'sqlite'; path?: string } | { kind: 'postgres'; connectionString?: string };
  maxConcurrentJobs?: number;
  jobTimeoutMs?: number;
  shutdownTimeoutMs?: number;
  logLevel?: LevelWithSilent;
}

type Env = Readonly<Record<string, string | undefined>>;

const POSTGRES_URL = /^postgres(ql)?:\/\//i;
const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The SQLite file named by a `DATABASE_URL`, or null when the URL names another kind of database. */
export function sqlitePathFromUrl(url: string): string | null {
  if (POSTGRES_URL.test(url)) return null;
  if (/^file:/i.test(url)) return fileURLToPath(url);
  if (/^sqlite:/i.test(url)) {
    // sqlite:data/app.db, sqlite:///abs/app.db and sqlite://rel/app.db all name files.
    const rest = url.slice('sqlite:'.length);
    return rest.startsWith('//') ? rest.slice(2) : rest;
  }
  if (ANY_URL.test(url)) return null;
  return url;
}

/**
 * Reads and validates the Nightshift environment variables. Throws one `ConfigError` listing
 * every invalid variable, with what is expected.
 */
export function readEnv(env: Env = process.env): EnvSettings {
  const issues: ValidationIssue[] = [];
  const settings: EnvSettings = {};
  const get = (key: string): string | undefined => {
    const value = env[key]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };

  const integer = (key: string, min: number, unit: string): number | undefined => {
    const raw = get(key);
    if (raw === undefined) return undefined;
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min) {
      issues.push({ path: key, message: `must be an integer ≥ ${min}${unit}, got ${JSON.stringify(raw)}` });
      return undefined;
    }
    return value;
  };

  const maxConcurrentJobs = integer('MAX_CONCURRENT_JOBS', 1, '');
  if (maxConcurrentJobs !== undefined) settings.maxConcurrentJobs = maxConcurrentJobs;
  const jobTimeoutMs = integer('JOB_TIMEOUT_MS', 1, ' (ms)');
  if (jobTimeoutMs !== undefined) settings.jobTimeoutMs = jobTimeoutMs;
  const shutdownTimeoutMs = integer('SHUTDOWN_TIMEOUT_MS', 0, ' (ms)');
  if (shutdownTimeoutMs !== undefined) settings.shutdownTimeoutMs = shutdownTimeoutMs;

  const logLevel = get('LOG_LEVEL');
  if (logLevel !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(logLevel)) settings.logLevel = logLevel as LevelWithSilent;
    else issues.push({ path: 'LOG_LEVEL', message: `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}` });
  }

  const storeKind = get('NIGHTSHIFT_STORE');
  const sqliteFile = get('NIGHTSHIFT_DB');
  const databaseUrl = get('DATABASE_URL');
  const urlIsPostgres = databaseUrl !== undefined && POSTGRES_URL.test(databaseUrl);
  const urlSqlitePath = databaseUrl === undefined ? null : sqlitePathFromUrl(databaseUrl);
  if (databaseUrl !== undefined && !urlIsPostgres && urlSqlitePath === null) {
    issues.push({
      path: 'DATABASE_URL',
      message: `must be a postgres:// or postgresql:// URL, a sqlite: URL or a file path, got a URL with scheme "${databaseUrl.split(':')[0]}"`,
    });
  }
  if (storeKind !== undefined && storeKind !== 'sqlite' && storeKind !== 'postgres') {
    issues.push({ path: 'NIGHTSHIFT_STORE', message: `must be "sqlite" or "postgres", got ${JSON.stringify(storeKind)}` });
  } else if (storeKind === 'postgres') {
    if (databaseUrl !== undefined && !urlIsPostgres) {
      issues.push({ path: 'DATABASE_URL', message: 'NIGHTSHIFT_STORE is "postgres" but DATABASE_URL is not a postgres:// URL' });
    }
    // Without DATABASE_URL the pg driver falls back to PGHOST, PGUSER, … .
    settings.store = urlIsPostgres ? { kind: 'postgres', connectionString: databaseUrl } : { kind: 'postgres' };
  } else if (storeKind === 'sqlite') {
    // A postgres DATABASE_URL may belong to the app itself; NIGHTSHIFT_STORE=sqlite says to ignore it.
    const path = sqliteFile ?? urlSqlitePath ?? undefined;
    settings.store = path === undefined ? { kind: 'sqlite' } : { kind: 'sqlite', path };
  } else if (sqliteFile !== undefined) {
    settings.store = { kind: 'sqlite', path: sqliteFile };
  } else if (urlIsPostgres) {
    settings.store = { kind: 'postgres', connectionString: databaseUrl };
  } else if (urlSqlitePath !== null) {
    settings.store = { kind: 'sqlite', path: urlSqlitePath };
  }

  if (issues.length > 0) {
    throw new ConfigError(`invalid environment: ${formatIssues(issues)}`, { issues });
  }
  return settings;
}
