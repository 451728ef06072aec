// Which store the CLI opens when the environment and the config disagree: NIGHTSHIFT_STORE=postgres
// naming no server stops with what to set (not the pg driver's "no PostgreSQL user name specified
// in startup packet"); NIGHTSHIFT_STORE=sqlite over a PostgreSQL config says which file it uses,
// on stderr, so that `--json` output stays clean; a schema name the store would refuse is refused
// when the config is read.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project } from './cli-harness.js';

/** Nothing from the surrounding environment may name a PostgreSQL server. */
const NO_PG = { PGHOST: undefined, PGUSER: undefined, PGDATABASE: undefined, PGPORT: undefined, PGPASSWORD: undefined };

describe('store selection from the CLI', () => {
  let project: Project | null = null;

  beforeAll(() => assertBuilt());
  afterEach(() => {
    project?.cleanup();
    project = null;
  });

  it('NIGHTSHIFT_STORE=postgres with no server configured: a configuration error saying what to set', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    for (const args of [['jobs'], ['daemon']]) {
      const result = await project.run(args, { ...NO_PG, NIGHTSHIFT_STORE: 'postgres' });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain('error [INVALID_CONFIG]: NIGHTSHIFT_STORE is "postgres" but no PostgreSQL server is configured: set DATABASE_URL');
      expect(result.stderr).toContain('store: { postgres: { connectionString } }');
      expect(result.stderr).not.toContain('startup packet');
    }
    expect(existsSync(project.dbPath)).toBe(false);
  });

  it('NIGHTSHIFT_STORE=sqlite over a PostgreSQL config: SQLite at the default file, named on stderr', async () => {
    // A server that does not exist: SQLite is used, so it is never asked.
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `store: { postgres: { connectionString: 'postgres://nobody@127.0.0.1:1/none' } },` }) });
    const result = await project.run(['--json', 'jobs'], { ...NO_PG, NIGHTSHIFT_STORE: 'sqlite' });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ jobs: [] });
    expect(result.stderr).toContain(`NIGHTSHIFT_STORE=sqlite replaces the config's PostgreSQL store: using SQLite ${project.dbPath}`);
    expect(existsSync(project.dbPath)).toBe(true);

    // A file named by NIGHTSHIFT_DB is a choice, not a surprise: nothing to say.
    const named = await project.run(['--json', 'jobs'], { ...NO_PG, NIGHTSHIFT_STORE: 'sqlite', NIGHTSHIFT_DB: join(project.dir, 'other.db') });
    expect(named.code, named.stderr).toBe(0);
    expect(named.stderr).not.toContain('replaces the config');
  });

  it('refuses a schema name the PostgreSQL store would refuse, naming the file and field', async () => {
    const schema = 'a'.repeat(50);
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `store: { postgres: { connectionString: 'postgres://nobody@127.0.0.1:1/none', schema: '${schema}' } },` }) });
    const result = await project.run(['jobs'], NO_PG);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`error [INVALID_CONFIG]: ${project.dir}/nightshift.config.ts: invalid configuration: store.postgres.schema: schema "${schema}" is not accepted; use 1–48 characters`);
  });

  const url = postgresUrl();
  it.skipIf(url === null)('NIGHTSHIFT_STORE=postgres with the server in the config: runs there', async () => {
    const schema = testSchema(url!, 'sel');
    try {
      project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `store: { postgres: { connectionString: '${url}', schema: '${schema.schema}', poolSize: 2 } },` }) });
      const migrated = await project.json<{ store: string; target: string }>(['migrate'], { ...NO_PG, NIGHTSHIFT_STORE: 'postgres' });
      expect(migrated.store).toBe('postgres');
      expect(migrated.target).toContain(`schema ${schema.schema}`);
    } finally {
      await schema.drop();
    }
  });
});
