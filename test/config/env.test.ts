import { describe, expect, it } from 'vitest';
import { readEnv, sqlitePathFromUrl } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';

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
});
