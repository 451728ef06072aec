import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

interface JobJson {
  id: string;
  state: string;
  attempt: number;
  result: unknown;
}

describe('nightshift daemon', () => {
  let project: Project | null = null;
  let daemon: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project?.cleanup();
    project = null;
  });

  it('processes enqueued jobs, retries failures, and exits 0 on SIGTERM', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const ok = await project.json<JobJson>(['enqueue', 'greet', '--data', '{"who":"daemon"}']);
    const bad = await project.json<JobJson>(['enqueue', 'explode', '--data', '{}']);

    const running = project.spawn(['daemon']);
    daemon = running;
    const done = await waitFor('the greet job to complete', async () => {
      const { job } = await project!.json<{ job: JobJson }>(['job', ok.id]);
      return job.state === 'completed' ? job : undefined;
    });
    expect(done.result).toEqual({ greeting: 'hello daemon' });

    // explode has 2 attempts 10 ms apart: both run, then it is dead.
    const dead = await waitFor('the explode job to die', async () => {
      const details = await project!.json<{ job: JobJson; attempts: { outcome: string; error: { message: string } | null }[] }>(['job', bad.id]);
      return details.job.state === 'dead' ? details : undefined;
    });
    expect(dead.attempts.map((attempt) => attempt.outcome)).toEqual(['failed', 'dead']);
    expect(dead.attempts[1]?.error?.message).toBe('kaboom');

    // Logs are JSON lines on stderr.
    const ready = running.stderr.split('\n').find((line) => line.includes('"daemon ready"'));
    expect(ready).toBeDefined();
    expect(JSON.parse(ready!)).toMatchObject({ level: 30, msg: 'daemon ready', jobs: ['greet', 'explode', 'give-up'] });

    running.kill('SIGTERM');
    const exit = await running.exited;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toContain('"daemon stopped"');
  });

  it('waits for running handlers on the first signal and exits at once on the second', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({
        extra: `shutdownTimeoutMs: 60000,`,
      }).replace(
        'jobs: [greet, explode, giveUp],',
        `jobs: [greet, explode, giveUp, defineJob({
    name: 'slow',
    schema: z.object({}),
    // Runs until aborted: only an immediate exit can end the daemon while it runs.
    handler: (_payload, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'))),
  })],`,
      ),
    });
    const slow = await project.json<JobJson>(['enqueue', 'slow']);
    const running = project.spawn(['daemon']);
    daemon = running;
    await waitFor('the slow job to start', async () => (await project!.json<{ job: JobJson }>(['job', slow.id])).job.state === 'running');

    running.kill('SIGINT');
    await waitFor('the graceful shutdown to begin', () => running.stderr.includes('shutting down gracefully'));
    // The handler never finishes and the grace period is a minute: the daemon is still waiting.
    expect(running.child.exitCode).toBeNull();
    running.kill('SIGINT');
    const exit = await running.exited;
    expect(exit.code).toBe(130);
    expect(exit.stderr).toContain('second signal');
  });

  it('fires schedules from a YAML file given with --config', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig(),
      'schedules.yaml': 'schedules:\n  - id: greet-every-second\n    jobId: greet\n    schedule: "* * * * * *"\n    input: { who: cron }\n',
    });
    const running = project.spawn(['--config', 'schedules.yaml', 'daemon']);
    daemon = running;
    const fired = await waitFor('a scheduled greet job to complete', async () => {
      const { jobs } = await project!.json<{ jobs: (JobJson & { scheduleId: string | null; payload: unknown })[] }>(['jobs', '--job', 'greet', '--state', 'completed']);
      return jobs.find((job) => job.scheduleId === 'greet-every-second');
    });
    expect(fired.payload).toEqual({ who: 'cron' });
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('refuses to start with an invalid schedule file, naming the file', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig(),
      'schedules.yaml': 'schedules:\n  - jobId: greet\n    schedule: "every day"\n    input: { who: cron }\n',
    });
    const running = project.spawn(['--config', 'schedules.yaml', 'daemon']);
    daemon = running;
    const exit = await running.exited;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain('error [INVALID_CONFIG]');
    expect(exit.stderr).toContain('schedules.yaml');
  });
});
