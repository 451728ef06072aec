import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LevelWithSilent } from 'pino';
import { ConfigError, type ValidationIssue } from '../errors.js';
import type { Retention } from '../maintenance/pruner.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../observe/logger.js';
import { boundsIssue, HTTP_PORT_BOUNDS, parseDuration, RETENTION_BOUNDS, SETTING_BOUNDS, type IntegerBounds } from './setting-rules.js';

/**
 * Settings read from environment variables: the one place they are parsed, with one set of rules
 * (the bounds in setting-rules.ts, shared with the config file). They win over the config file,
 * so one build can run against different databases and limits per deployment.
 *
 * | Variable              | Meaning                                                                 |
 * |-----------------------|-------------------------------------------------------------------------|
 * | `NIGHTSHIFT_DB`       | SQLite database file                                                    |
 * | `DATABASE_URL`        | `postgres://…`/`postgresql://…` → PostgreSQL; `sqlite:path`, `file:` URL or a plain path → SQLite |
 * | `NIGHTSHIFT_STORE`    | `sqlite` or `postgres`: which store to use when both kinds are configured; `postgres` needs a server named by `DATABASE_URL`, the config's `store.postgres` or `PGHOST`/`PGUSER`/`PGDATABASE` |
 * | `MAX_CONCURRENT_JOBS` | integer 1 … 10 000: caps every queue's concurrency (and is the default) |
 * | `JOB_TIMEOUT_MS`      | integer ≥ 1, ms: time limit of every queue, replacing the file's        |
 * | `SHUTDOWN_TIMEOUT_MS` | integer ≥ 0, ms: grace period of a graceful stop; 0 aborts running handlers at once |
 * | `POLL_INTERVAL_MS`    | integer ≥ 1, ms: base time between a queue's fallback polls             |
 * | `HEALTH_CHECK_PORT`   | integer 1 … 65 535: `nightshift daemon` / `serve` serve the HTTP API (health, ready, metrics, REST) on 127.0.0.1 at this port; wins over the config's `http.host`/`http.port` |
 * | `NIGHTSHIFT_HTTP`     | `[host:]port` (`8080`, `0.0.0.0:8080`, `[::1]:8080`): where `daemon` / `serve` serve the HTTP API; wins over `HEALTH_CHECK_PORT` and the config's `http.host`/`http.port` |
 * | `LOG_LEVEL`           | `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`          |
 * | `LOG_FORMAT`          | `pretty` or `json`; unset: pretty when stderr is a terminal, else JSON  |
 * | `NIGHTSHIFT_RETAIN_COMPLETED` / `_CANCELLED` / `_DEAD` | duration (`7d`, `12h`, `30m`, `45s`, `500ms` or plain ms): how long finished jobs of that state are kept |
 * | `NIGHTSHIFT_CHECK_REPLIES` | on/off (`1`/`0`): the HTTP API checks every reply against its documented schema (`readEnvFlag`) |
 *
 * Why 0 is or is not valid for each number is written next to its bounds (setting-rules.ts).
 * Empty variables count as unset.
 */
export interface EnvSettings {
  /** The store chosen by the environment; a missing path/URL means "take it from the file or the default". */
  store?: { kind: 'sqlite'; path?: string } | { kind: 'postgres'; connectionString?: string };
  maxConcurrentJobs?: number;
  jobTimeoutMs?: number;
  shutdownTimeoutMs?: number;
  pollIntervalMs?: number;
  /** `HEALTH_CHECK_PORT`: the HTTP API's port (host 127.0.0.1). */
  healthCheckPort?: number;
  /** `NIGHTSHIFT_HTTP`: where the HTTP API listens. */
  http?: ListenAddress;
  /**
   * Set when `NIGHTSHIFT_STORE=postgres` names no server: no `DATABASE_URL`, and none of the pg
   * driver's `PG_SERVER_VARIABLES`. Only the config file's `store.postgres` can name it then;
   * `storeSpec` refuses to go on without (the driver would fail with "no PostgreSQL user name
   * specified in startup packet", which does not say what to set).
   */
  postgresUnnamed?: true;
  logLevel?: LevelWithSilent;
  logFormat?: LogFormat;
  /** Job retention from `NIGHTSHIFT_RETAIN_*`, in ms; only the variables that are set. */
  retention?: Pick<Retention, 'completedMs' | 'cancelledMs' | 'deadMs'>;
}

/** The integer variables, each with the setting it fills and its bounds (the config file's too). */
export const INTEGER_VARIABLES = {
  MAX_CONCURRENT_JOBS: { setting: 'maxConcurrentJobs', bounds: SETTING_BOUNDS.concurrency },
  JOB_TIMEOUT_MS: { setting: 'jobTimeoutMs', bounds: SETTING_BOUNDS.timeoutMs },
  SHUTDOWN_TIMEOUT_MS: { setting: 'shutdownTimeoutMs', bounds: SETTING_BOUNDS.shutdownTimeoutMs },
  POLL_INTERVAL_MS: { setting: 'pollIntervalMs', bounds: SETTING_BOUNDS.pollIntervalMs },
  HEALTH_CHECK_PORT: { setting: 'healthCheckPort', bounds: SETTING_BOUNDS.healthCheckPort },
} as const satisfies Record<string, { setting: keyof EnvSettings; bounds: IntegerBounds }>;

export type IntegerVariable = keyof typeof INTEGER_VARIABLES;

/** The retention variables and the `Retention` field each sets. */
export const RETENTION_VARIABLES = {
  NIGHTSHIFT_RETAIN_COMPLETED: 'completedMs',
  NIGHTSHIFT_RETAIN_CANCELLED: 'cancelledMs',
  NIGHTSHIFT_RETAIN_DEAD: 'deadMs',
} as const;

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
 * The pg driver's variables that name a PostgreSQL server or account. With one of them set,
 * `NIGHTSHIFT_STORE=postgres` needs no `DATABASE_URL`: the driver reads them (and PGPORT,
 * PGPASSWORD, …).
 */
export const PG_SERVER_VARIABLES = ['PGHOST', 'PGUSER', 'PGDATABASE'] as const;

/** Where an HTTP server listens. */
export interface ListenAddress {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
}

/** A host in `[host:]port`: a name or IPv4 address, or an IPv6 address in brackets. */
const LISTEN_HOST = String.raw`\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+`;

/**
 * Parses `[host:]port` — `8080`, `127.0.0.1:8080`, `0.0.0.0:8080`, `[::1]:8080` — as `--http` and
 * `NIGHTSHIFT_HTTP` take it. Port 0 picks a free port.
 */
export function parseListenAddress(text: string): ListenAddress | { problem: string } {
  const match = new RegExp(`^(?:(${LISTEN_HOST}):)?(\\d{1,5})$`).exec(text.trim());
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port > HTTP_PORT_BOUNDS.max) return { problem: `must be [host:]port with a port from 0 to 65535 (e.g. 8080 or 0.0.0.0:8080), got ${JSON.stringify(text)}` };
  const host = match[1]?.replace(/^\[|\]$/g, '');
  return host === undefined ? { port } : { host, port };
}

/**
 * A host to listen on as the config's `http.host` takes it: what `[host:]port` takes before the
 * colon, or an IPv6 address without brackets (`::1`, as `createNightshift` takes it). Returns it
 * without brackets, or null when it is neither.
 */
export function parseListenHost(text: string): string | null {
  const host = text.trim();
  if (new RegExp(`^(?:${LISTEN_HOST})$`).test(host)) {
    const bare = host.replace(/^\[|\]$/g, '');
    return host.startsWith('[') && isIP(bare) !== 6 ? null : bare;
  }
  return isIP(host) === 6 ? host : null;
}

/** A variable's value, trimmed; undefined when unset or empty. */
function valueOf(env: Env, key: string): string | undefined {
  const value = env[key]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Parses an integer variable's text: digits only (no sign, exponent, hex or fraction), within `bounds`. */
function parseInteger(raw: string, bounds: IntegerBounds): { value: number } | { problem: string } {
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  const problem = boundsIssue(value, bounds);
  return problem === null ? { value } : { problem: `${problem}, got ${JSON.stringify(raw)}` };
}

/**
 * Reads one integer variable with exactly the rules `readEnv` applies; undefined when unset.
 * Throws a `ConfigError` naming the variable when it is invalid. The worker takes its
 * environment defaults from here, so library and CLI accept and refuse the same values; other
 * variables are not looked at (an app's own `DATABASE_URL=mysql://…` is none of the worker's business).
 */
export function readEnvInteger(name: IntegerVariable, env: Env = process.env): number | undefined {
  const raw = valueOf(env, name);
  if (raw === undefined) return undefined;
  const parsed = parseInteger(raw, INTEGER_VARIABLES[name].bounds);
  if ('problem' in parsed) {
    const issues = [{ path: name, message: parsed.problem }];
    throw new ConfigError(`invalid environment: ${name}: ${parsed.problem}`, { issues });
  }
  return parsed.value;
}

/** The on/off variables, read where they apply (`readEnvFlag`). */
export const FLAG_VARIABLES = {
  NIGHTSHIFT_CHECK_REPLIES: 'the HTTP API checks every reply against its documented schema (tests, development)',
} as const;

/**
 * Reads an on/off variable: `1`/`true`/`yes`/`on` → true, `0`/`false`/`no`/`off` or unset → false
 * (any case). Anything else is a `ConfigError` naming the variable, not a silent "off".
 */
export function readEnvFlag(name: keyof typeof FLAG_VARIABLES, env: Env = process.env): boolean {
  const raw = valueOf(env, name);
  if (raw === undefined) return false;
  const value = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  const message = `must be 1, true, yes, on, 0, false, no or off, got ${JSON.stringify(raw)}`;
  throw new ConfigError(`invalid environment: ${name}: ${message}`, { issues: [{ path: name, message }] });
}

/**
 * Reads and validates the Nightshift environment variables. Throws one `ConfigError` listing
 * every invalid variable, with what is expected.
 */
export function readEnv(env: Env = process.env): EnvSettings {
  const issues: ValidationIssue[] = [];
  const settings: EnvSettings = {};
  const get = (key: string): string | undefined => valueOf(env, key);

  for (const [name, { setting, bounds }] of Object.entries(INTEGER_VARIABLES)) {
    const raw = get(name);
    if (raw === undefined) continue;
    const parsed = parseInteger(raw, bounds);
    if ('problem' in parsed) issues.push({ path: name, message: parsed.problem });
    else settings[setting] = parsed.value;
  }

  for (const [name, field] of Object.entries(RETENTION_VARIABLES)) {
    const raw = get(name);
    if (raw === undefined) continue;
    const parsed = parseDuration(raw, RETENTION_BOUNDS);
    if ('problem' in parsed) issues.push({ path: name, message: `${parsed.problem}, got ${JSON.stringify(raw)}` });
    else settings.retention = { ...settings.retention, [field]: parsed.ms };
  }

  const http = get('NIGHTSHIFT_HTTP');
  if (http !== undefined) {
    const parsed = parseListenAddress(http);
    if ('problem' in parsed) issues.push({ path: 'NIGHTSHIFT_HTTP', message: parsed.problem });
    else settings.http = parsed;
  }

  const logLevel = get('LOG_LEVEL');
  if (logLevel !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(logLevel)) settings.logLevel = logLevel as LevelWithSilent;
    else issues.push({ path: 'LOG_LEVEL', message: `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}` });
  }
  const logFormat = get('LOG_FORMAT');
  if (logFormat !== undefined) {
    if ((LOG_FORMATS as readonly string[]).includes(logFormat)) settings.logFormat = logFormat as LogFormat;
    else issues.push({ path: 'LOG_FORMAT', message: `must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(logFormat)}` });
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
    // Without DATABASE_URL the pg driver falls back to PGHOST, PGUSER, … ; without those either,
    // the server can only come from the config file, which storeSpec checks.
    settings.store = urlIsPostgres ? { kind: 'postgres', connectionString: databaseUrl } : { kind: 'postgres' };
    if (!urlIsPostgres && PG_SERVER_VARIABLES.every((name) => get(name) === undefined)) settings.postgresUnnamed = true;
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
    const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    throw new ConfigError(`invalid environment: ${listed}`, { issues });
  }
  return settings;
}
