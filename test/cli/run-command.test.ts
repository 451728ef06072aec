import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

interface JobJson {
  id: string;
  name: string;
  queue: string;
  state: string;
  attempt: number;
  payload: unknown;
  runAt: string;
  createdAt: string;
}

interface JobDetailsJson {
  job: JobJson;
  attempts: { outcome: string; workerId: string; startedAt: string }[];
}

/** The fixture config plus a job that takes a while, on the risky queue. */
function configWithSlowJob(): string {
  return fixtureConfig().replace(
    'jobs: [greet, explode, giveUp],',
    `jobs: [greet, explode, giveUp, defineJob({
    name: 'slow',
    queue: 'risky',
    handler: async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return 'slept';
    },
  })],`,
  );
}

describe('nightshift run: the job keeps its own queue', () => {
  let project: Project;
  let daemon: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({ 'nightshift.config.ts': configWithSlowJob() });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project.cleanup();
  });

  it('stores the run on the job\'s queue (no throw-away queue in stats) and a retry hands it to that queue\'s workers', async () => {
    const failed = await project.run(['--json', 'run', 'explode']);
    expect(failed.code).toBe(1);
    const { id } = JSON.parse(failed.stdout) as { id: string; queue: string };
    expect(JSON.parse(failed.stdout)).toMatchObject({ state: 'failed', queue: 'risky' });

    const stored = await project.json<JobDetailsJson>(['job', id]);
    expect(stored.job).toMatchObject({ queue: 'risky', state: 'dead' });
    const stats = await project.json<{ queues: { queue: string }[] }>(['stats']);
    expect(stats.queues.map((queue) => queue.queue)).toEqual(['risky']);
    const jobs = await project.json<{ jobs: JobJson[] }>(['jobs']);
    expect(jobs.jobs.map((job) => [job.id, job.queue])).toEqual([[id, 'risky']]);

    const retried = await project.json<JobJson>(['retry', id]);
    expect(retried).toMatchObject({ id, queue: 'risky', state: 'available' });
    // A daemon consuming the queue runs it (and it fails again: the job always throws).
    daemon = project.spawn(['daemon']);
    const done = await waitFor('the retried job to run on its queue', async () => {
      const details = await project.json<JobDetailsJson>(['job', id]);
      return details.attempts.length === 2 && details.job.state === 'dead' ? details : undefined;
    });
    expect(done.attempts.map((attempt) => attempt.outcome)).toEqual(['dead', 'dead']);
  });

  it('a job that snoozes during the run waits on its own queue for the workers', async () => {
    project.write(
      'nightshift.config.ts',
      configWithSlowJob()
        .replace("import { defineConfig, defineJob, UnrecoverableError }", "import { defineConfig, defineJob, snooze, UnrecoverableError }")
        .replace('jobs: [greet, explode, giveUp,', "jobs: [greet, explode, giveUp, defineJob({ name: 'later', queue: 'risky', handler: async () => snooze(60_000) }),"),
    );
    const run = await project.json<{ id: string; state: string; runAt: string }>(['run', 'later']);
    expect(run.state).toBe('snoozed');
    const { job } = await project.json<JobDetailsJson>(['job', run.id]);
    expect(job).toMatchObject({ queue: 'risky', state: 'scheduled' });
  });

  it('is claimed by the run, not by a daemon consuming the same queue', async () => {
    daemon = project.spawn(['daemon']);
    const ready = await waitFor('the daemon to start', () => daemon!.stderr.split('\n').find((line) => line.includes('"worker started"')));
    const daemonWorker = (JSON.parse(ready) as { workerId: string }).workerId;

    const run = await project.json<{ id: string; state: string; result: unknown; queue: string }>(['run', 'slow']);
    expect(run).toMatchObject({ state: 'completed', result: 'slept', queue: 'risky' });
    const details = await project.json<JobDetailsJson>(['job', run.id]);
    expect(details.attempts).toHaveLength(1);
    expect(details.attempts[0]!.workerId).not.toBe(daemonWorker);
    // Held back an hour until the run claimed it, then due from that claim: the stored run_at is
    // not an hour after the job ran.
    expect(Date.parse(details.job.runAt)).toBeLessThanOrEqual(Date.parse(details.attempts[0]!.startedAt));
    expect(Date.parse(details.job.runAt)).toBeGreaterThanOrEqual(Date.parse(details.job.createdAt));
  });
});

describe('nightshift run: input fields and hints', () => {
  let project: Project;

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig().replace(
        'jobs: [greet, explode, giveUp],',
        `jobs: [greet, explode, giveUp, defineJob({ name: 'echo', handler: async (input) => input })],`,
      ),
    });
  });
  afterEach(() => project.cleanup());

  it('takes --input-<field> <value> and --input-<field>=<value>, JSON when it parses, on top of --input', async () => {
    const greet = await project.json<{ result: unknown }>(['run', 'greet', '--input-who', 'ada']);
    expect(greet.result).toEqual({ greeting: 'hello ada' });

    const echo = await project.json<{ result: unknown }>([
      'run', 'echo',
      '--input', '{"org":"base","keep":1}',
      '--input-org', 'acme',
      '--input-days=7',
      '--input-flags', '[1,"two"]',
      '--input-quoted', '"7"',
      '--input-text', 'not json',
    ]);
    expect(echo.result).toEqual({ org: 'acme', keep: 1, days: 7, flags: [1, 'two'], quoted: '7', text: 'not json' });
  });

  it('refuses other options with the command that would work, and leaves nothing behind', async () => {
    const result = await project.run(['run', 'greet', '--who', 'ada']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nightshift run greet --input-who ada');
    // enqueue's option for the payload: the hint names run's.
    const asEnqueue = await project.run(['run', 'greet', '--data', '{"who": "ada"}']);
    expect(asEnqueue.code).toBe(2);
    expect(asEnqueue.stderr).toContain(`nightshift run greet --input '{"who": "ada"}'`);
    const missing = await project.run(['run', 'greet', '--input-who']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--input-who needs a value');
    const notObject = await project.run(['run', 'greet', '--input', '[1]', '--input-who', 'x']);
    expect(notObject.code).toBe(2);
    expect((await project.json<{ jobs: unknown[] }>(['jobs'])).jobs).toEqual([]);
  });

  it('`job <name> --field value` says which command runs a job, with the input rewritten for it', async () => {
    const byName = await project.run(['job', 'greet', '--who', 'ada']);
    expect(byName.code).toBe(2);
    expect(byName.stderr).toContain('"greet" is a job name');
    expect(byName.stderr).toContain('nightshift run greet --input-who ada');
    expect(byName.stderr).toContain(`--input '{"who":"ada"}'`);

    const byId = await project.run(['job', '12', '--org', 'X']);
    expect(byId.code).toBe(2);
    expect(byId.stderr).toContain('nightshift run <job> --input-org X');

    const unknown = await project.run(['job', 'no.such.job']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('job id must be a decimal number');
    expect(unknown.stderr).toContain("nightshift run <job> --input '{…}'");

    // Showing a stored job is unchanged.
    const enqueued = await project.json<JobJson>(['enqueue', 'greet', '--data', '{"who":"x"}']);
    expect((await project.json<JobDetailsJson>(['job', enqueued.id])).job.id).toBe(enqueued.id);
  });
});

describe('nightshift jobs: the next-page hint', () => {
  let project: Project;

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
  });
  afterEach(() => project.cleanup());

  it('keeps the filters and page size, so running it shows the next page of the same list', async () => {
    for (const who of ['a', 'b', 'c']) await project.json(['enqueue', 'greet', '--data', JSON.stringify({ who }), '--queue', 'paging']);
    await project.json(['enqueue', 'greet', '--data', '{"who":"elsewhere"}']);
    const first = await project.run(['jobs', '--queue', 'paging', '--job', 'greet', '--state', 'available', '--limit', '2']);
    expect(first.code).toBe(0);
    const hint = /^more: (.*)$/m.exec(first.stdout)?.[1];
    expect(hint).toMatch(/^nightshift jobs --state available --queue paging --job greet --limit 2 --cursor \S+$/);

    const args = hint!.split(' ').slice(1);
    const second = await project.run(args);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('more:');
    const rows = second.stdout.split('\n').filter((line) => /^\s*\d+\s/.test(line));
    expect(rows).toHaveLength(1);
    expect(second.stdout).toContain('paging');
  });
});
