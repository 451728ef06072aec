// Retention set in a YAML schedule file reaches the daemon's pruner: finished jobs past it are
// deleted, with their attempts, while those still inside their state's retention stay.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

interface JobJson {
  id: string;
  state: string;
}

describe('nightshift daemon: retention from the schedule file', () => {
  let project: Project | null = null;
  let daemon: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project?.cleanup();
    project = null;
  });

  it('prunes completed jobs kept 0 ms, and keeps dead ones for their default 7 days', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig(),
      'cron.yaml': 'prune:\n  completed: 0\n  interval: 1s\nschedules: []\n',
    });
    const done = await project.json<JobJson>(['enqueue', 'greet', '--data', '{"who":"prune"}']);
    const failed = await project.json<JobJson>(['enqueue', 'explode', '--data', '{}']);

    const running = project.spawn(['daemon', '--config', 'cron.yaml']);
    daemon = running;
    // The pruner logs each pass that deleted jobs: the signal that the greet job is gone.
    const pruned = await waitFor('a prune pass that deleted a job', () =>
      running.stderr
        .split('\n')
        .filter((line) => line.includes('"pruned finished jobs past their retention"'))
        .map((line) => JSON.parse(line) as { deleted: number })[0],
    );
    expect(pruned.deleted).toBe(1);

    const gone = await project.run(['--json', 'job', done.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('NOT_FOUND');
    await waitFor('the explode job to die', async () => (await project!.json<{ job: JobJson }>(['job', failed.id])).job.state === 'dead');

    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
    // Still there after the passes that ran while it was dead: 7 days is the default for dead jobs.
    expect((await project.json<{ job: JobJson }>(['job', failed.id])).job.state).toBe('dead');
  });
});
