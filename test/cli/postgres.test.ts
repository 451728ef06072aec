import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project, waitFor } from './cli-harness.js';

const url = postgresUrl();

/** The same CLI on PostgreSQL, chosen by DATABASE_URL over a config that names only the schema. */
describe.skipIf(url === null)('nightshift CLI on PostgreSQL', () => {
  let project: Project;
  let schema: ReturnType<typeof testSchema>;
  let env: Record<string, string>;

  beforeAll(() => {
    assertBuilt();
    schema = testSchema(url!, 'cli');
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `store: { postgres: { schema: '${schema.schema}', poolSize: 2 } },` }) });
    env = { DATABASE_URL: url! };
  });
  afterAll(async () => {
    project.cleanup();
    await schema.drop();
  });

  it('migrates, enqueues, runs and lists jobs', async () => {
    const migrated = await project.json<{ store: string; target: string }>(['migrate'], env);
    expect(migrated.store).toBe('postgres');
    expect(migrated.target).toContain(`schema ${schema.schema}`);

    const run = await project.json<{ state: string; result: unknown }>(['run', 'greet', '--input', '{"who":"pg"}'], env);
    expect(run).toMatchObject({ state: 'completed', result: { greeting: 'hello pg' } });

    const queued = await project.json<{ id: string }>(['enqueue', 'greet', '--data', '{"who":"daemon"}'], env);
    const daemon = project.spawn(['daemon'], env);
    try {
      await waitFor('the daemon to complete the job on PostgreSQL', async () => {
        const { job } = await project.json<{ job: { state: string } }>(['job', queued.id], env);
        return job.state === 'completed';
      });
      daemon.kill('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
    } finally {
      await daemon.stop();
    }
    const stats = await project.json<{ totals: Record<string, number> }>(['stats'], env);
    expect(stats.totals.completed).toBe(2);
  });

  it('nothing is stored for a payload failing its schema', async () => {
    const result = await project.run(['enqueue', 'greet', '--data', '{"who": ""}'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('INVALID_PAYLOAD');
    const { jobs } = await project.json<{ jobs: { payload: unknown }[] }>(['jobs'], env);
    expect(jobs.map((job) => job.payload)).not.toContainEqual({ who: '' });
  });
});
