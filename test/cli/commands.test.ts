import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project } from './cli-harness.js';

interface JobJson {
  id: string;
  name: string;
  queue: string;
  state: string;
  attempt: number;
  maxAttempts: number;
  priority: number;
  payload: unknown;
  result: unknown;
  key: string | null;
  lastError: { name: string; message: string } | null;
}

describe('nightshift CLI commands', () => {
  let project: Project;

  // Each test gets its own project directory, hence its own SQLite database.
  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
  });
  afterEach(() => project.cleanup());

  it('lists the registered jobs as a table and as JSON', async () => {
    const table = await project.run(['list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+QUEUE\s+ATTEMPTS\s+BACKOFF\s+TIMEOUT\s+DESCRIPTION/);
    expect(table.stdout).toMatch(/greet\s+default\s+3\s+exp 1\.0s/);

    const { jobs } = await project.json<{ jobs: Record<string, unknown>[] }>(['list']);
    // Only the config's jobs: the built-in http and command jobs exist only where the config enables them.
    expect(jobs.map((job) => job.name)).toEqual(['explode', 'give-up', 'greet']);
    expect(jobs.find((job) => job.name === 'explode')).toMatchObject({ queue: 'risky', attempts: 2, backoff: 'fixed 10ms', timeoutMs: 5000 });
    expect(jobs.find((job) => job.name === 'greet')).toMatchObject({ description: 'says hello', timeoutMs: 300_000 });
  });

  it('enqueues a job and shows it in jobs, job and stats', async () => {
    const enqueued = await project.json<JobJson & { inserted: boolean }>(['enqueue', 'greet', '--data', '{"who":"ada"}', '--priority', '7', '--delay', '60000', '--key', 'ada-1']);
    expect(enqueued).toMatchObject({ name: 'greet', queue: 'default', state: 'scheduled', priority: 7, key: 'ada-1', inserted: true });

    // Same key while the first is unfinished: nothing new.
    const again = await project.json<JobJson & { inserted: boolean }>(['enqueue', 'greet', '--data', '{"who":"ada"}', '--key', 'ada-1']);
    expect(again).toMatchObject({ id: enqueued.id, inserted: false });
    // A named priority, and one below the default.
    expect(await project.json<JobJson>(['enqueue', 'greet', '--data', '{"who":"bo"}', '--priority', 'high'])).toMatchObject({ priority: 100 });
    expect(await project.json<JobJson>(['enqueue', 'greet', '--data', '{"who":"cy"}', '--priority', '-5'])).toMatchObject({ priority: -5 });
    // Attempts up to the bound the API and the library take (2^31 - 1), no lower.
    expect(await project.json<JobJson>(['enqueue', 'greet', '--data', '{"who":"di"}', '--attempts', '2000000'])).toMatchObject({ maxAttempts: 2_000_000 });
    const tooMany = await project.run(['enqueue', 'greet', '--data', '{"who":"di"}', '--attempts', '2147483648']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(/--attempts.*2147483647/);

    const page = await project.json<{ jobs: JobJson[]; nextCursor: string | null }>(['jobs', '--job', 'greet', '--state', 'scheduled']);
    expect(page.jobs.map((job) => job.id)).toContain(enqueued.id);
    expect(page.jobs.find((job) => job.id === enqueued.id)?.payload).toEqual({ who: 'ada' });

    const details = await project.json<{ job: JobJson; attempts: unknown[] }>(['job', enqueued.id]);
    expect(details.job).toMatchObject({ id: enqueued.id, name: 'greet', state: 'scheduled', payload: { who: 'ada' } });
    expect(details.attempts).toEqual([]);

    const text = await project.run(['job', enqueued.id]);
    expect(text.stdout).toMatch(/state:\s+scheduled/);
    expect(text.stdout).toMatch(/why:\s+not due yet: it runs at \d{4}-/);
    expect(details).toMatchObject({ why: { code: 'scheduled', jobId: enqueued.id } });
    expect(text.stdout).toContain('attempts: none yet');

    const stats = await project.json<{ totals: Record<string, number>; queues: { queue: string; counts: Record<string, number> }[] }>(['stats']);
    expect(stats.queues.find((queue) => queue.queue === 'default')?.counts.scheduled).toBeGreaterThanOrEqual(1);
    expect((await project.run(['stats'])).stdout).toMatch(/^QUEUE\s+SCHEDULED\s+AVAILABLE/);
  });

  it('pages through jobs with --limit and --cursor', async () => {
    for (const who of ['p1', 'p2', 'p3']) await project.json(['enqueue', 'greet', '--data', JSON.stringify({ who }), '--queue', 'paging']);
    const first = await project.json<{ jobs: JobJson[]; nextCursor: string | null }>(['jobs', '--queue', 'paging', '--limit', '2']);
    expect(first.jobs.map((job) => job.payload)).toEqual([{ who: 'p3' }, { who: 'p2' }]);
    expect(first.nextCursor).not.toBeNull();
    const second = await project.json<{ jobs: JobJson[]; nextCursor: string | null }>(['jobs', '--queue', 'paging', '--limit', '2', '--cursor', first.nextCursor!]);
    expect(second.jobs.map((job) => job.payload)).toEqual([{ who: 'p1' }]);
    expect(second.nextCursor).toBeNull();
  });

  it('runs a job in-process and prints its result', async () => {
    const result = await project.run(['run', 'greet', '--input', '{"who":"bram"}']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('completed');
    expect(result.stdout).toContain('"greeting": "hello bram"');

    const json = await project.json<{ id: string; state: string; result: unknown }>(['run', 'greet', '--input', '{"who":"chen"}']);
    expect(json).toMatchObject({ state: 'completed', result: { greeting: 'hello chen' } });
    // The run is recorded like any other execution.
    const details = await project.json<{ job: JobJson; attempts: { outcome: string }[] }>(['job', json.id]);
    expect(details.job.state).toBe('completed');
    expect(details.attempts.map((attempt) => attempt.outcome)).toEqual(['completed']);
  });

  it('lets a job run in-process enqueue other jobs of the config by name through its context', async () => {
    project.write(
      'nightshift.config.ts',
      fixtureConfig().replace(
        'jobs: [greet, explode, giveUp],',
        `jobs: [greet, explode, giveUp, defineJob({
    name: 'fan-out',
    schema: z.object({ names: z.array(z.string()) }),
    handler: async ({ names }, ctx) => (await ctx.enqueueMany('greet', names.map((who) => ({ who })))).map((result) => result.job.id),
  })],`,
      ),
    );
    const run = await project.json<{ state: string; result: string[] }>(['run', 'fan-out', '--input', '{"names":["ada","bo"]}']);
    expect(run.state).toBe('completed');
    expect(run.result).toHaveLength(2);
    // The children wait on greet's own queue for the workers, not on the run's private one.
    const children = await Promise.all(run.result.map(async (id) => (await project.json<{ job: JobJson & { queue: string; payload: unknown } }>(['job', id])).job));
    expect(children.map((job) => [job.state, job.queue, job.payload])).toEqual([
      ['available', 'default', { who: 'ada' }],
      ['available', 'default', { who: 'bo' }],
    ]);
  });

  it('exits 1 when the job run fails, with the error on stderr and one attempt only', async () => {
    const result = await project.run(['--json', 'run', 'explode']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('kaboom');
    const summary = JSON.parse(result.stdout) as { id: string; state: string };
    expect(summary.state).toBe('failed');
    const details = await project.json<{ job: JobJson; attempts: { outcome: string }[] }>(['job', summary.id]);
    expect(details.job.state).toBe('dead');
    expect(details.attempts.map((attempt) => attempt.outcome)).toEqual(['dead']);
  });

  it('cancels and retries jobs', async () => {
    const job = await project.json<JobJson>(['enqueue', 'greet', '--data', '{"who":"dara"}', '--delay', '3600000']);
    const cancelled = await project.json<JobJson>(['cancel', job.id, '--reason', 'not needed']);
    expect(cancelled).toMatchObject({ id: job.id, state: 'cancelled' });

    // Cancelling a completed job is refused with a clear message and exit code 1.
    const completed = await project.json<{ id: string }>(['run', 'greet', '--input', '{"who":"eve"}']);
    const refused = await project.run(['cancel', completed.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error \[INVALID_STATE\]: .*completed/);

    const retried = await project.json<JobJson>(['retry', job.id]);
    expect(retried).toMatchObject({ id: job.id, state: 'available' });
  });

  it('reports unknown and malformed job ids', async () => {
    const missing = await project.run(['job', '987654']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error [JOB_NOT_FOUND]: job 987654 not found');
    const malformed = await project.run(['retry', 'abc']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('job id must be a decimal number');
  });

  it('migrates explicitly', async () => {
    const result = await project.json<{ migrated: boolean; target: string }>(['migrate']);
    expect(result).toMatchObject({ migrated: true, store: 'sqlite' });
    expect(result.target).toContain(project.dbPath);
  });
});

describe('nightshift CLI bad input', () => {
  let project: Project;

  // Each test gets its own project directory, hence its own SQLite database.
  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
  });
  afterEach(() => project.cleanup());

  async function expectNothingStored(): Promise<void> {
    const { jobs } = await project.json<{ jobs: unknown[] }>(['jobs']);
    expect(jobs).toEqual([]);
  }

  it('rejects an unknown job name', async () => {
    const result = await project.run(['enqueue', 'no-such-job', '--data', '{}']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error [UNKNOWN_JOB]: unknown job "no-such-job"; known jobs: explode, give-up, greet');
    const run = await project.run(['run', 'no-such-job']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown job "no-such-job"');
    await expectNothingStored();
  });

  it('rejects invalid --data JSON', async () => {
    const result = await project.run(['enqueue', 'greet', '--data', '{who: ada}']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/error \[INVALID_OPTION\]: --data is not valid JSON \(.+\); quote it for the shell/);
    const run = await project.run(['run', 'greet', '--input', 'nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--input is not valid JSON');
    await expectNothingStored();
  });

  it('rejects a payload failing the job schema, naming the field', async () => {
    const result = await project.run(['enqueue', 'greet', '--data', '{"who": 42}']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/error \[INVALID_PAYLOAD\]: invalid payload for job "greet": who: /);
    const run = await project.run(['run', 'greet', '--input', '{}']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('INVALID_PAYLOAD');
    await expectNothingStored();
  });

  it('rejects bad option values and unknown commands with exit code 2', async () => {
    const priority = await project.run(['enqueue', 'greet', '--data', '{"who":"x"}', '--priority', '2000000']);
    expect(priority.code).toBe(2);
    expect(priority.stderr).toContain("option '--priority <n>' argument '2000000' is invalid");
    const named = await project.run(['enqueue', 'greet', '--data', '{"who":"x"}', '--priority', 'urgent']);
    expect(named.code).toBe(2);
    expect(named.stderr).toContain('critical (1000), high (100), normal (0), low (-100)');
    const state = await project.run(['jobs', '--state', 'sleeping']);
    expect(state.code).toBe(2);
    expect(state.stderr).toContain('unknown state "sleeping"');
    const command = await project.run(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'frobnicate'");
    await expectNothingStored();
  });

  it('rejects invalid environment values, listing each', async () => {
    const result = await project.run(['enqueue', 'greet', '--data', '{"who":"x"}'], {
      MAX_CONCURRENT_JOBS: 'many',
      JOB_TIMEOUT_MS: '-5',
      LOG_LEVEL: 'chatty',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error [INVALID_CONFIG]: invalid environment:');
    expect(result.stderr).toContain('MAX_CONCURRENT_JOBS: must be an integer ≥ 1, got "many"');
    expect(result.stderr).toContain('JOB_TIMEOUT_MS: must be an integer ≥ 1 (ms), got "-5"');
    expect(result.stderr).toContain('LOG_LEVEL: must be one of');
    const url = await project.run(['jobs'], { DATABASE_URL: 'mysql://db/app' });
    expect(url.code).toBe(1);
    expect(url.stderr).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL, a sqlite: URL or a file path');
    const store = await project.run(['jobs'], { NIGHTSHIFT_STORE: 'redis' });
    expect(store.stderr).toContain('NIGHTSHIFT_STORE: must be "sqlite" or "postgres", got "redis"');
    await expectNothingStored();
  });

  it('does not print stacks unless LOG_LEVEL=debug', async () => {
    const quiet = await project.run(['enqueue', 'greet', '--data', '{"who": 1}']);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    const debug = await project.run(['enqueue', 'greet', '--data', '{"who": 1}'], { LOG_LEVEL: 'debug' });
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});
