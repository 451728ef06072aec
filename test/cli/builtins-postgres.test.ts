/**
 * On PostgreSQL, any role that may call `<schema>.enqueue()` can insert a job of any name — the
 * SQL function knows no job definitions. A `command` job inserted that way must still never run a
 * program a daemon did not allow: a daemon without the built-in ends it dead as an unknown job,
 * and one with the built-in refuses a program outside its allow-list.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

const url = postgresUrl();

interface JobJson {
  state: string;
  lastError: { name: string; message: string } | null;
}

describe.skipIf(url === null)('a command job enqueued through the PostgreSQL enqueue() function', () => {
  let project: Project | null = null;
  let daemon: RunningCli | null = null;
  let schema: ReturnType<typeof testSchema> | null = null;
  let client: pg.Client | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    await client?.end();
    client = null;
    project?.cleanup();
    project = null;
    await schema?.drop();
    schema = null;
  });

  /** A project on a fresh schema, migrated, with a SQL client; returns the enqueue function's name. */
  async function setUp(extra: string): Promise<{ fn: string; env: Record<string, string> }> {
    schema = testSchema(url!, 'builtins');
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `store: { postgres: { schema: '${schema.schema}', poolSize: 2 } }, ${extra}` }) });
    const env = { DATABASE_URL: url! };
    await project.json(['migrate'], env);
    client = new pg.Client({ connectionString: url! });
    await client.connect();
    return { fn: `${pg.escapeIdentifier(schema.schema)}.enqueue`, env };
  }

  async function enqueueBySql(fn: string, payload: unknown): Promise<string> {
    const { rows } = await client!.query<{ id: string }>(`SELECT ${fn}('command', $1::jsonb) AS id`, [JSON.stringify(payload)]);
    return rows[0]!.id;
  }

  async function deadJob(id: string, env: Record<string, string>): Promise<JobJson> {
    return waitFor(`job ${id} to end dead`, async () => {
      const { job } = await project!.json<{ job: JobJson }>(['job', id], env);
      return job.state === 'dead' ? job : undefined;
    });
  }

  it('a daemon that did not enable the built-in ends it dead as an unknown job, running nothing', async () => {
    const { fn, env } = await setUp('');
    const pwned = join(project!.dir, 'pwned.txt');
    const id = await enqueueBySql(fn, { argv: ['sh', '-c', `id > ${pwned}`] });
    daemon = project!.spawn(['daemon'], env);
    const job = await deadJob(id, env);
    expect(job.lastError?.message).toMatch(/^no job named "command" is registered on worker .* \(known: greet, explode, give-up\)$/);
    expect(existsSync(pwned)).toBe(false);
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });

  it('a daemon that enabled it refuses a program outside the allow-list, running nothing', async () => {
    const { fn, env } = await setUp(`builtins: { command: { allow: [${JSON.stringify(process.execPath)}] } },`);
    const pwned = join(project!.dir, 'pwned.txt');
    const id = await enqueueBySql(fn, { argv: ['/bin/sh', '-c', `id > ${pwned}`] });
    daemon = project!.spawn(['daemon'], env);
    const job = await deadJob(id, env);
    expect(job.lastError).toMatchObject({ name: 'UnrecoverableError', message: expect.stringContaining('refused to run "/bin/sh": not in builtins.command.allow') });
    expect(existsSync(pwned)).toBe(false);
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });
});
