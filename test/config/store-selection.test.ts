// Which store the environment picks over the config's: NIGHTSHIFT_STORE=postgres naming no server
// is a configuration error saying what to set; NIGHTSHIFT_STORE=sqlite over a PostgreSQL config
// is allowed, with a notice naming the file it then uses.
import { describe, expect, it } from 'vitest';
import { readEnv } from '../../src/config/env.js';
import { resolveStore, storeOverrideNotice, storeSpec } from '../../src/config/resolve-store.js';
import { ConfigError } from '../../src/errors.js';

function specError(...args: Parameters<typeof storeSpec>): ConfigError {
  try {
    storeSpec(...args);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('storeSpec accepted the store');
}

describe('NIGHTSHIFT_STORE=postgres', () => {
  it('needs a server named by DATABASE_URL, the config or the pg driver’s variables', () => {
    const env = readEnv({ NIGHTSHIFT_STORE: 'postgres' });
    const error = specError(undefined, env, '/srv');
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain('NIGHTSHIFT_STORE is "postgres" but no PostgreSQL server is configured: set DATABASE_URL');
    expect(error.message).toContain('store: { postgres: { connectionString } }');
    expect(error.issues.map((issue) => issue.path)).toEqual(['NIGHTSHIFT_STORE']);
    // A SQLite config does not name a PostgreSQL server either.
    expect(specError({ sqlite: { path: 'jobs.db' } }, env, '/srv').message).toContain('no PostgreSQL server is configured');

    expect(storeSpec({ postgres: { connectionString: 'postgres://db/app', schema: 'jobs' } }, env)).toEqual({ kind: 'postgres', connectionString: 'postgres://db/app', schema: 'jobs' });
    // The config's section counts even without a URL: the driver's defaults are then the user's choice.
    expect(storeSpec({ postgres: { schema: 'jobs' } }, env)).toEqual({ kind: 'postgres', schema: 'jobs' });
    expect(storeSpec(undefined, readEnv({ NIGHTSHIFT_STORE: 'postgres', DATABASE_URL: 'postgres://db/app' }))).toEqual({ kind: 'postgres', connectionString: 'postgres://db/app' });
    for (const name of ['PGHOST', 'PGUSER', 'PGDATABASE']) {
      expect(storeSpec(undefined, readEnv({ NIGHTSHIFT_STORE: 'postgres', [name]: 'x' }))).toEqual({ kind: 'postgres' });
    }
  });

  it('is refused before anything is opened', async () => {
    await expect(resolveStore({ config: undefined, env: readEnv({ NIGHTSHIFT_STORE: 'postgres' }) })).rejects.toThrow('no PostgreSQL server is configured');
  });
});

describe('NIGHTSHIFT_STORE=sqlite over another store', () => {
  it('uses the default file, with a notice naming it', () => {
    const env = readEnv({ NIGHTSHIFT_STORE: 'sqlite' });
    const config = { postgres: { connectionString: 'postgres://db/app' } };
    const spec = storeSpec(config, env, '/srv');
    expect(spec).toEqual({ kind: 'sqlite', path: '/srv/data/nightshift.db' });
    expect(storeOverrideNotice(config, env, spec)).toBe(
      "NIGHTSHIFT_STORE=sqlite replaces the config's PostgreSQL store: using SQLite /srv/data/nightshift.db (NIGHTSHIFT_DB names another file)",
    );
  });

  it('says nothing when a setting named the file, or the config is SQLite or absent', () => {
    const config = { postgres: { connectionString: 'postgres://db/app' } };
    const named = readEnv({ NIGHTSHIFT_STORE: 'sqlite', NIGHTSHIFT_DB: 'jobs.db' });
    expect(storeOverrideNotice(config, named, storeSpec(config, named, '/srv'))).toBeNull();
    const bare = readEnv({ NIGHTSHIFT_STORE: 'sqlite' });
    expect(storeOverrideNotice({ sqlite: { path: 'jobs.db' } }, bare, storeSpec({ sqlite: { path: 'jobs.db' } }, bare, '/srv'))).toBeNull();
    expect(storeOverrideNotice(undefined, bare, storeSpec(undefined, bare, '/srv'))).toBeNull();
    const postgres = readEnv({ DATABASE_URL: 'postgres://db/app' });
    expect(storeOverrideNotice(config, postgres, storeSpec(config, postgres, '/srv'))).toBeNull();
  });
});
