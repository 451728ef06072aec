import { describe, expect, it } from 'vitest';
import { INTEGER_VARIABLES, readEnv, readEnvInteger, sqlitePathFromUrl, type IntegerVariable } from '../../src/config/env.js';
import { parseDuration, RETENTION_BOUNDS } from '../../src/config/setting-rules.js';
import { ConfigError } from '../../src/errors.js';
import { envSetting } from '../../src/worker/worker-options.js';

function envError(env: Record<string, string>): ConfigError {
  try {
    readEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('readEnv accepted an invalid environment');
}

describe('readEnv', () => {
  it('reads nothing from an empty environment, and treats empty values as unset', () => {
    expect(readEnv({})).toEqual({});
    expect(readEnv({ DATABASE_URL: '', MAX_CONCURRENT_JOBS: '  ', LOG_LEVEL: '' })).toEqual({});
  });

  it('reads limits and the log level', () => {
    expect(readEnv({ MAX_CONCURRENT_JOBS: '4', JOB_TIMEOUT_MS: '1500', SHUTDOWN_TIMEOUT_MS: '0', LOG_LEVEL: 'debug' })).toEqual({
      maxConcurrentJobs: 4,
      jobTimeoutMs: 1500,
      shutdownTimeoutMs: 0,
      logLevel: 'debug',
    });
  });

  it('picks the store from DATABASE_URL by scheme', () => {
    expect(readEnv({ DATABASE_URL: 'postgres://u@127.0.0.1/app' }).store).toEqual({ kind: 'postgres', connectionString: 'postgres://u@127.0.0.1/app' });
    expect(readEnv({ DATABASE_URL: 'postgresql://u@127.0.0.1/app' }).store?.kind).toBe('postgres');
    expect(readEnv({ DATABASE_URL: 'sqlite:data/app.db' }).store).toEqual({ kind: 'sqlite', path: 'data/app.db' });
    expect(readEnv({ DATABASE_URL: 'sqlite:///var/lib/app.db' }).store).toEqual({ kind: 'sqlite', path: '/var/lib/app.db' });
    expect(readEnv({ DATABASE_URL: 'file:///var/lib/app.db' }).store).toEqual({ kind: 'sqlite', path: '/var/lib/app.db' });
    expect(readEnv({ DATABASE_URL: './jobs.db' }).store).toEqual({ kind: 'sqlite', path: './jobs.db' });
  });

  it('prefers NIGHTSHIFT_DB, and lets NIGHTSHIFT_STORE choose', () => {
    expect(readEnv({ NIGHTSHIFT_DB: 'a.db', DATABASE_URL: 'postgres://h/app' }).store).toEqual({ kind: 'sqlite', path: 'a.db' });
    expect(readEnv({ NIGHTSHIFT_STORE: 'postgres', NIGHTSHIFT_DB: 'a.db', DATABASE_URL: 'postgres://h/app' }).store).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://h/app',
    });
    // The app's own postgres DATABASE_URL is ignored when Nightshift is told to use SQLite.
    expect(readEnv({ NIGHTSHIFT_STORE: 'sqlite', DATABASE_URL: 'postgres://h/app' }).store).toEqual({ kind: 'sqlite' });
    // Without a URL the pg driver's PG* variables apply.
    expect(readEnv({ NIGHTSHIFT_STORE: 'postgres' }).store).toEqual({ kind: 'postgres' });
  });

  it('lists every invalid variable with what is expected', () => {
    const error = envError({
      MAX_CONCURRENT_JOBS: '0',
      JOB_TIMEOUT_MS: '1.5',
      SHUTDOWN_TIMEOUT_MS: 'soon',
      LOG_LEVEL: 'loud',
      NIGHTSHIFT_STORE: 'redis',
      DATABASE_URL: 'mysql://h/app',
    });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(
      ['DATABASE_URL', 'JOB_TIMEOUT_MS', 'LOG_LEVEL', 'MAX_CONCURRENT_JOBS', 'NIGHTSHIFT_STORE', 'SHUTDOWN_TIMEOUT_MS'].sort(),
    );
    expect(error.message).toContain('MAX_CONCURRENT_JOBS: must be an integer ≥ 1, got "0"');
    expect(error.message).toContain('JOB_TIMEOUT_MS: must be an integer ≥ 1 (ms), got "1.5"');
    expect(error.message).toContain('NIGHTSHIFT_STORE: must be "sqlite" or "postgres", got "redis"');
  });

  it('refuses NIGHTSHIFT_STORE=postgres with a non-postgres DATABASE_URL', () => {
    expect(envError({ NIGHTSHIFT_STORE: 'postgres', DATABASE_URL: 'sqlite:a.db' }).message).toContain('NIGHTSHIFT_STORE is "postgres" but DATABASE_URL is not a postgres:// URL');
  });

  it('maps sqlite URLs to paths', () => {
    expect(sqlitePathFromUrl('sqlite:x.db')).toBe('x.db');
    expect(sqlitePathFromUrl('postgres://h/db')).toBeNull();
    expect(sqlitePathFromUrl('redis://h')).toBeNull();
  });

  it('reads the poll interval, the health-check port, the log format and retention durations', () => {
    expect(
      readEnv({
        POLL_INTERVAL_MS: '250',
        HEALTH_CHECK_PORT: '8081',
        LOG_FORMAT: 'pretty',
        NIGHTSHIFT_RETAIN_COMPLETED: '12h',
        NIGHTSHIFT_RETAIN_CANCELLED: '30m',
        NIGHTSHIFT_RETAIN_DEAD: '90000',
      }),
    ).toEqual({
      pollIntervalMs: 250,
      healthCheckPort: 8081,
      logFormat: 'pretty',
      retention: { completedMs: 12 * 3_600_000, cancelledMs: 30 * 60_000, deadMs: 90_000 },
    });
    expect(readEnv({ NIGHTSHIFT_RETAIN_DEAD: '7d', LOG_FORMAT: 'json' })).toEqual({ retention: { deadMs: 7 * 86_400_000 }, logFormat: 'json' });
    // 0 keeps a finished job until the next prune pass only.
    expect(readEnv({ NIGHTSHIFT_RETAIN_COMPLETED: '0' }).retention).toEqual({ completedMs: 0 });
  });

  it('refuses a port outside 1-65535, a zero poll interval, unknown formats and malformed durations', () => {
    const error = envError({
      HEALTH_CHECK_PORT: '0',
      POLL_INTERVAL_MS: '0',
      LOG_FORMAT: 'xml',
      NIGHTSHIFT_RETAIN_COMPLETED: '7 days',
      NIGHTSHIFT_RETAIN_DEAD: '-1d',
      NIGHTSHIFT_RETAIN_CANCELLED: '1.5h',
    });
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(
      ['HEALTH_CHECK_PORT', 'LOG_FORMAT', 'NIGHTSHIFT_RETAIN_CANCELLED', 'NIGHTSHIFT_RETAIN_COMPLETED', 'NIGHTSHIFT_RETAIN_DEAD', 'POLL_INTERVAL_MS'].sort(),
    );
    expect(error.message).toContain('HEALTH_CHECK_PORT: must be an integer ≥ 1, got "0"');
    expect(error.message).toContain('LOG_FORMAT: must be one of pretty, json, got "xml"');
    expect(error.message).toContain('NIGHTSHIFT_RETAIN_COMPLETED: must be a whole number of ms, or a whole number with a unit: 500ms, 30s, 30m, 12h, 7d, got "7 days"');
    expect(envError({ HEALTH_CHECK_PORT: '65536' }).message).toContain('HEALTH_CHECK_PORT: must be ≤ 65535, got "65536"');
    expect(envError({ NIGHTSHIFT_RETAIN_DEAD: '36500000d' }).message).toContain('NIGHTSHIFT_RETAIN_DEAD: must be at most');
  });

  it('gives the worker and the CLI one set of rules: every value is accepted by both or refused by both', () => {
    const values = ['0', '1', '00', '250', '65535', '10000', '10001', '2147483648', '-1', '1.5', '1e3', '0x10', ' 7 ', 'ten', ''];
    for (const name of Object.keys(INTEGER_VARIABLES) as IntegerVariable[]) {
      for (const raw of values) {
        const env = { [name]: raw };
        const cli = attempt(() => (readEnv(env) as Record<string, unknown>)[INTEGER_VARIABLES[name].setting]);
        expect(attempt(() => readEnvInteger(name, env)), `${name}=${JSON.stringify(raw)}`).toEqual(cli);
        if (name === 'MAX_CONCURRENT_JOBS' || name === 'JOB_TIMEOUT_MS' || name === 'SHUTDOWN_TIMEOUT_MS') {
          expect(attempt(() => envSetting(name, -1, env)), `worker ${name}=${JSON.stringify(raw)}`).toEqual(cli === undefined ? -1 : cli);
        }
      }
    }
    // The case that once disagreed: a grace period of 0 (abort running handlers at once).
    expect(envSetting('SHUTDOWN_TIMEOUT_MS', 30_000, { SHUTDOWN_TIMEOUT_MS: '0' })).toBe(0);
    expect(readEnv({ SHUTDOWN_TIMEOUT_MS: '0' }).shutdownTimeoutMs).toBe(0);
  });

  it('reads one variable without judging the others', () => {
    // An app's own DATABASE_URL for another database is not the worker's business.
    expect(readEnvInteger('MAX_CONCURRENT_JOBS', { MAX_CONCURRENT_JOBS: '3', DATABASE_URL: 'mysql://h/app', LOG_LEVEL: 'loud' })).toBe(3);
  });
});

describe('parseDuration', () => {
  it('reads ms and the units ms, s, m, h, d', () => {
    expect(parseDuration(1500, RETENTION_BOUNDS)).toEqual({ ms: 1500 });
    expect(parseDuration('1500', RETENTION_BOUNDS)).toEqual({ ms: 1500 });
    expect(parseDuration('500ms', RETENTION_BOUNDS)).toEqual({ ms: 500 });
    expect(parseDuration('45s', RETENTION_BOUNDS)).toEqual({ ms: 45_000 });
    expect(parseDuration('30m', RETENTION_BOUNDS)).toEqual({ ms: 1_800_000 });
    expect(parseDuration('12h', RETENTION_BOUNDS)).toEqual({ ms: 43_200_000 });
    expect(parseDuration('7d', RETENTION_BOUNDS)).toEqual({ ms: 604_800_000 });
  });

  it('says what is wrong, with bounds in the units people write', () => {
    expect(parseDuration('1w', RETENTION_BOUNDS)).toEqual({ problem: expect.stringContaining('must be a whole number of ms') });
    expect(parseDuration(1.5, RETENTION_BOUNDS)).toEqual({ problem: expect.stringContaining('must be a whole number of ms') });
    expect(parseDuration(Number.NaN, RETENTION_BOUNDS)).toEqual({ problem: expect.stringContaining('must be a whole number of ms') });
    expect(parseDuration('30m', { min: 3_600_000, max: 10 ** 12, unit: 'ms' })).toEqual({ problem: 'must be at least 1h (3600000 ms)' });
    expect(parseDuration(-1, RETENTION_BOUNDS)).toEqual({ problem: 'must be at least 0 ms' });
  });
});

/** The value `read` returns, or the class name of what it throws. */
function attempt(read: () => unknown): unknown {
  try {
    return read();
  } catch (error) {
    return { threw: (error as Error).constructor.name };
  }
}
