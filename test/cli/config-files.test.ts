import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, distIndexUrl, fixtureConfig, Project } from './cli-harness.js';

describe('nightshift CLI config files', () => {
  const projects: Project[] = [];
  const project = (files: Record<string, string>): Project => {
    const created = new Project(files);
    projects.push(created);
    return created;
  };

  beforeAll(() => assertBuilt());
  afterEach(() => {
    for (const created of projects.splice(0)) created.cleanup();
  });

  it('finds nightshift.config.mjs in the working directory and a --config path elsewhere', async () => {
    const mjs = project({
      'nightshift.config.mjs': `import { defineConfig, defineJob } from '${distIndexUrl}';
const schema = { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } };
export default defineConfig({ jobs: [defineJob({ name: 'plain-js', schema, handler: () => 1 })] });
`,
    });
    const found = await mjs.json<{ jobs: { name: string }[] }>(['list']);
    expect(found.jobs.map((job) => job.name)).toContain('plain-js');

    const elsewhere = project({ 'config/app.config.ts': fixtureConfig() });
    const listed = await elsewhere.json<{ jobs: { name: string }[] }>(['--config', 'config/app.config.ts', 'list']);
    expect(listed.jobs.map((job) => job.name)).toContain('greet');
  });

  it('reports a missing config file with its path, and creates nothing', async () => {
    const empty = project({});
    const noFile = await empty.run(['list']);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain(`error [INVALID_CONFIG]: ${join(empty.dir, 'nightshift.config.ts')}: no config file found`);
    const explicit = await empty.run(['--config', 'missing.config.ts', 'enqueue', 'greet', '--data', '{}']);
    expect(explicit.code).toBe(1);
    expect(explicit.stderr).toContain(`${join(empty.dir, 'missing.config.ts')}: config file not found`);
    expect(existsSync(empty.dbPath)).toBe(false);
  });

  it('reports a config file that throws, with file and line', async () => {
    const throwing = project({
      'nightshift.config.ts': `import { defineConfig } from 'nightshift';
const port: number = Number('x');
if (Number.isNaN(port)) throw new Error('PORT is not set');
export default defineConfig({ jobs: [] });
`,
    });
    const result = await throwing.run(['enqueue', 'greet', '--data', '{}']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error [INVALID_CONFIG]: ${join(throwing.dir, 'nightshift.config.ts')}:3: failed to load: PORT is not set`);
    expect(existsSync(throwing.dbPath)).toBe(false);
  });

  it('reports every problem of an invalid config shape with its path', async () => {
    const invalid = project({
      'nightshift.config.ts': `export default {
  jobs: [{ name: 'not-a-job' }],
  queues: { 'bad queue': { concurrency: 0 }, ok: { timeoutMs: 'soon' } },
  store: { sqlite: { pth: './x.db' } },
  leaseMs: 10,
  logLevel: 'loud',
  retries: 3,
};
`,
    });
    const result = await invalid.run(['list']);
    expect(result.code).toBe(1);
    const message = result.stderr;
    expect(message).toContain(`error [INVALID_CONFIG]: ${join(invalid.dir, 'nightshift.config.ts')}: invalid configuration:`);
    expect(message).toContain('jobs.0: must be a job created with defineJob()');
    expect(message).toContain('queues.bad queue.concurrency: must be an integer ≥ 1');
    expect(message).toContain('queues.bad queue: queue name must be');
    expect(message).toContain('queues.ok.timeoutMs: must be an integer ≥ 1 (ms)');
    expect(message).toContain('store.sqlite: unknown option "pth"');
    expect(message).toContain('leaseMs: must be an integer ≥ 1000 (ms)');
    expect(message).toContain('logLevel: must be one of');
    expect(message).toContain('(config): unknown option "retries"');
  });

  it('rejects duplicate job names and a config without a default export', async () => {
    const duplicate = project({
      'nightshift.config.ts': fixtureConfig().replace('jobs: [greet, explode, giveUp]', 'jobs: [greet, explode, greet]'),
    });
    const dup = await duplicate.run(['list']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('jobs.2: duplicate job name "greet" (also jobs.0)');

    const noDefault = project({ 'nightshift.config.ts': 'export const jobs = [];\n' });
    const none = await noDefault.run(['list']);
    expect(none.stderr).toContain('has no default export');
  });

  it('shares one library instance between the CLI and the config, whichever way it is imported', async () => {
    // UnrecoverableError is recognised with instanceof: with two copies of the library the worker
    // would retry the job instead of failing it for good.
    for (const importFrom of ['nightshift', distIndexUrl]) {
      const shared = project({ 'nightshift.config.ts': fixtureConfig({ importFrom }) });
      const result = await shared.run(['--json', 'run', 'give-up']);
      expect(result.code).toBe(1);
      const { id } = JSON.parse(result.stdout) as { id: string };
      const details = await shared.json<{ job: { state: string; lastError: { kind: string } } }>(['job', id]);
      expect(details.job.state).toBe('dead');
      expect(details.job.lastError.kind).toBe('unrecoverable');
    }
  });

  it('uses NIGHTSHIFT_DB and DATABASE_URL over the config file', async () => {
    const env = project({
      'nightshift.config.ts': fixtureConfig({ extra: "store: { sqlite: { path: './from-file.db' } }," }),
    });
    await env.json(['enqueue', 'greet', '--data', '{"who":"file"}']);
    expect(existsSync(join(env.dir, 'from-file.db'))).toBe(true);

    await env.json(['enqueue', 'greet', '--data', '{"who":"env"}'], { NIGHTSHIFT_DB: 'env.db' });
    const fromEnv = await env.json<{ jobs: { payload: unknown }[] }>(['jobs'], { NIGHTSHIFT_DB: 'env.db' });
    expect(fromEnv.jobs.map((job) => job.payload)).toEqual([{ who: 'env' }]);

    const fromUrl = await env.json<{ jobs: { payload: unknown }[] }>(['jobs'], { DATABASE_URL: `sqlite:${join(env.dir, 'env.db')}` });
    expect(fromUrl.jobs.map((job) => job.payload)).toEqual([{ who: 'env' }]);
  });

  it('treats a .yaml --config as a schedule file and still loads jobs from the working directory', async () => {
    const yaml = project({
      'nightshift.config.ts': fixtureConfig(),
      'schedules.yaml': 'schedules:\n  - jobId: greet\n    schedule: "0 * * * *"\n    input: { who: cron }\n',
    });
    const listed = await yaml.json<{ jobs: { name: string }[] }>(['--config', 'schedules.yaml', 'list']);
    expect(listed.jobs.map((job) => job.name)).toContain('greet');
    const missing = await yaml.run(['--config', 'nope.yaml', 'list']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`${join(yaml.dir, 'nope.yaml')}: schedule file not found`);
  });
});
