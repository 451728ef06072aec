/**
 * The built-in `command` and `http` jobs through the `nightshift` binary: off unless the config
 * enables them, and then limited to their allow-lists — as docs/scheduling.md describes. A job
 * that must not run would have created `pwned.txt`; its absence proves no program ran.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

interface JobJson {
  id: string;
  name: string;
  state: string;
  result: unknown;
  lastError: { name: string; message: string } | null;
}

const node = process.execPath;

describe('nightshift CLI and the built-in jobs', () => {
  let project: Project | null = null;
  let daemon: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project?.cleanup();
    project = null;
  });

  const pwnedPayload = (dir: string): string => JSON.stringify({ argv: ['sh', '-c', `id > ${join(dir, 'pwned.txt')}`] });

  it('rejects enqueueing a built-in the config does not enable, and stores nothing', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const command = await project.run(['enqueue', 'command', '--data', pwnedPayload(project.dir)]);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('error [UNKNOWN_JOB]: unknown job "command"; known jobs: explode, give-up, greet');
    const http = await project.run(['enqueue', 'http', '--data', '{"url":"http://169.254.169.254/latest/meta-data/"}']);
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('error [UNKNOWN_JOB]: unknown job "http"');
    expect((await project.json<{ jobs: unknown[] }>(['jobs'])).jobs).toEqual([]);
    // A daemon on this config has nothing of the kind to run either.
    expect(existsSync(join(project.dir, 'pwned.txt'))).toBe(false);
  });

  it('opts in from the code config: runs allowed programs, and ends any other dead without running it', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: `builtins: { command: { allow: [${JSON.stringify(node)}] } },` }),
    });
    const { jobs: listed } = await project.json<{ jobs: { name: string }[] }>(['list']);
    expect(listed.map((job) => job.name)).toEqual(['command', 'explode', 'give-up', 'greet']);

    const allowed = await project.json<JobJson>(['enqueue', 'command', '--data', JSON.stringify({ argv: [node, '-e', 'console.log("allowed")'] })]);
    const refused = await project.json<JobJson>(['enqueue', 'command', '--data', pwnedPayload(project.dir), '--attempts', '3']);
    daemon = project.spawn(['daemon']);
    const done = await waitFor('the allowed command to complete', async () => {
      const { job } = await project!.json<{ job: JobJson }>(['job', allowed.id]);
      return job.state === 'completed' ? job : undefined;
    });
    expect(done.result).toMatchObject({ exitCode: 0, stdout: 'allowed\n' });
    const dead = await waitFor('the refused command to die', async () => {
      const { job } = await project!.json<{ job: JobJson }>(['job', refused.id]);
      return job.state === 'dead' ? job : undefined;
    });
    // Dead at the first attempt, whatever attempts remained: refusing again would change nothing.
    expect(dead.lastError).toMatchObject({
      name: 'UnrecoverableError',
      message: `refused to run "sh": not in builtins.command.allow (allowed: ${node}); add it there (an absolute path, or a name looked up in PATH) to allow it`,
    });
    expect(existsSync(join(project.dir, 'pwned.txt'))).toBe(false);
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });

  it('opts in from the schedule file: its builtins enable the job its schedules use', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: "schedules: './scheduler.yaml'," }),
      'scheduler.yaml': `builtins:\n  command:\n    allow: [${JSON.stringify(node)}]\nschedules:\n  - id: hello\n    jobId: command\n    schedule: "* * * * * *"\n    input: { argv: ${JSON.stringify([node, '-e', 'console.log("tick")'])} }\n`,
    });
    daemon = project.spawn(['daemon']);
    const ran = await waitFor('a scheduled command to complete', async () => {
      const { jobs } = await project!.json<{ jobs: JobJson[] }>(['jobs', '--job', 'command', '--state', 'completed']);
      return jobs[0];
    });
    expect(ran.result).toMatchObject({ stdout: 'tick\n' });
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });

  it('a YAML-only deployment (a schedule file, no code config): every command takes its built-ins as the jobs', async () => {
    project = new Project({
      'cron.yaml': `builtins:\n  command:\n    allow: [${JSON.stringify(node)}]\nschedules:\n  - id: hello\n    jobId: command\n    schedule: "0 3 * * *"\n    input: { argv: ${JSON.stringify([node, '-e', 'console.log("tick")'])} }\n`,
    });
    const config = ['--config', 'cron.yaml'];
    expect((await project.json<{ jobs: { name: string }[] }>([...config, 'list'])).jobs.map((job) => job.name)).toEqual(['command']);
    const ran = await project.run([...config, '--json', 'run', 'command', '--input', JSON.stringify({ argv: [node, '-e', 'console.log("now")'] })]);
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ state: 'completed', result: { exitCode: 0, stdout: 'now\n' } });
    const enqueued = await project.json<JobJson>([...config, 'enqueue', 'command', '--data', JSON.stringify({ argv: [node, '-e', '1'] })]);
    expect(enqueued).toMatchObject({ name: 'command', state: 'available' });
    expect((await project.json<{ created: string[] }>([...config, 'schedules', 'sync'])).created).toEqual(['hello']);
    // Without the schedule file there are no jobs: an unknown job, as before, naming where jobs come from.
    const unknown = await project.run([...config, 'run', 'greet']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`error [UNKNOWN_JOB]: unknown job "greet"; jobs in the built-ins ${join(project.dir, 'cron.yaml')} enables`);
    // Without --config a code config is still required.
    const bare = await project.run(['list']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('no config file found');
  });

  it('stops with the schedule file and line when a schedule uses a built-in that is off', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: "schedules: './scheduler.yaml'," }),
      'scheduler.yaml': `schedules:\n  - id: greet-cron\n    jobId: greet\n    schedule: "@daily"\n    input: { who: cron }\n  - id: backup\n    jobId: command\n    schedule: "@daily"\n    input: ${pwnedPayload('.')}\n`,
    });
    const sync = await project.run(['schedules', 'sync']);
    expect(sync.code).toBe(1);
    const where = `${join(project.dir, 'scheduler.yaml')}:7: schedules[1].jobId: unknown job "command"`;
    expect(sync.stderr).toContain(where);
    expect(sync.stderr).toContain('the built-in "command" job is off; enable it with builtins: { command: { allow: [programs] } }');
    const running = project.spawn(['daemon']);
    daemon = running;
    const exit = await running.exited;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain(where);
    // Nothing was written: not even the valid schedule. Listing checks the file, and fails the same way.
    const show = await project.run(['schedules', 'show', 'greet-cron']);
    expect(show.code).toBe(1);
    expect(show.stderr).toContain('UNKNOWN_SCHEDULE');
    const list = await project.run(['schedules']);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain(where);
    expect(existsSync(join(project.dir, 'pwned.txt'))).toBe(false);
  });
});
