import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeStoreSpec, resolveStore, storeSpec } from '../../src/config/resolve-store.js';

describe('storeSpec', () => {
  it('defaults to SQLite at ./data/nightshift.db in the working directory', () => {
    expect(storeSpec(undefined, {}, '/srv/app')).toEqual({ kind: 'sqlite', path: '/srv/app/data/nightshift.db' });
  });

  it('takes the file settings, with environment paths and URLs winning', () => {
    expect(storeSpec({ sqlite: { path: 'jobs.db', busyTimeoutMs: 100 } }, {}, '/srv')).toEqual({ kind: 'sqlite', path: '/srv/jobs.db', busyTimeoutMs: 100 });
    expect(storeSpec({ sqlite: { path: 'jobs.db', busyTimeoutMs: 100 } }, { store: { kind: 'sqlite', path: '/data/x.db' } }, '/srv')).toEqual({
      kind: 'sqlite',
      path: '/data/x.db',
      busyTimeoutMs: 100,
    });
    expect(storeSpec({ postgres: { connectionString: 'postgres://file/db', schema: 'jobs' } }, { store: { kind: 'postgres', connectionString: 'postgres://env/db' } })).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://env/db',
      schema: 'jobs',
    });
    // The environment can switch kinds: the file's SQLite settings no longer apply.
    expect(storeSpec({ sqlite: { path: 'jobs.db' } }, { store: { kind: 'postgres', connectionString: 'postgres://env/db' } })).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://env/db',
    });
  });

  it('never prints a password', () => {
    expect(describeStoreSpec({ kind: 'postgres', connectionString: 'postgres://user:secret@127.0.0.1:5432/app' })).toBe('PostgreSQL postgres://user:***@127.0.0.1:5432/app');
  });
});

describe('resolveStore', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('opens SQLite in a directory it creates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightshift-store-'));
    dirs.push(dir);
    const { store, spec } = await resolveStore({ config: undefined, env: {}, cwd: dir });
    try {
      expect(spec).toEqual({ kind: 'sqlite', path: join(dir, 'data', 'nightshift.db') });
      await store.migrate();
      expect(store.kind).toBe('sqlite');
      expect(existsSync(join(dir, 'data', 'nightshift.db'))).toBe(true);
    } finally {
      await store.close();
    }
  });
});
