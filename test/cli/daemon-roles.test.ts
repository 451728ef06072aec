import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

interface JobJson {
  id: string;
  name: string;
  state: string;
  attempt: number;
  scheduleId: string | null;
  result: unknown;
}

/** A schedule file firing every second; `entries` are YAML list items without the leading dash. */
const everySecond = (entries: readonly string[]): string =>
  `schedules:\n${entries.map((entry) => `  - ${entry.trim().split('\n').join('\n    ')}\n    schedule: "* * * * * *"`).join('\n')}\n`;

/** `builtins:` of a schedule file enabling `command` for this Node binary, and `http` for `hosts`. */
const builtinsYaml = (hosts: readonly string[] = []): string =>
  `builtins:\n  command:\n    allow: [${JSON.stringify(process.execPath)}]\n${hosts.length > 0 ? `  http:\n    allow: ${JSON.stringify(hosts)}\n` : ''}`;

const commandEntry = `id: print-one
jobId: command
input: { argv: ${JSON.stringify([process.execPath, '-e', 'console.log(1)'])} }`;

/** The `daemon ready` log line of a daemon. */
function readyLine(daemon: RunningCli): Record<string, unknown> | undefined {
  const line = daemon.stderr.split('\n').find((text) => text.includes('"daemon ready"'));
  return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
}

describe('nightshift daemon roles and YAML schedules of built-in jobs', () => {
  let project: Project | null = null;
  let daemon: RunningCli | null = null;
  let server: Server | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project?.cleanup();
    project = null;
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = null;
  });

  const jobsOf = async (name: string): Promise<JobJson[]> => (await project!.json<{ jobs: JobJson[] }>(['jobs', '--job', name])).jobs;

  it('runs `command` and `http` schedules from a YAML file given after the subcommand, next to the code config jobs', async () => {
    const requests: { method: string; url: string; body: string }[] = [];
    server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        requests.push({ method: request.method ?? '', url: request.url ?? '', body });
        response.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    project = new Project({
      'nightshift.config.ts': fixtureConfig(),
      // Elsewhere than the working directory, as operators keep it: named by an absolute path.
      'ops/scheduler.yaml': builtinsYaml([`127.0.0.1:${port}`]) + everySecond([
        commandEntry,
        `id: ping\njobId: http\ninput: { url: "http://127.0.0.1:${port}/ping", method: POST, body: { from: nightshift } }`,
        'id: greet-cron\njobId: greet\ninput: { who: yaml }',
      ]),
    });
    const running = project.spawn(['daemon', '--config', join(project.dir, 'ops', 'scheduler.yaml')]);
    daemon = running;

    const printed = await waitFor('a scheduled command job to complete', async () =>
      (await jobsOf('command')).find((job) => job.scheduleId === 'print-one' && job.state === 'completed'),
    );
    expect(printed.result).toMatchObject({ exitCode: 0, stdout: '1\n' });
    const pinged = await waitFor('a scheduled http job to complete', async () =>
      (await jobsOf('http')).find((job) => job.scheduleId === 'ping' && job.state === 'completed'),
    );
    expect(pinged.result).toMatchObject({ status: 200, body: 'pong' });
    expect(requests[0]).toEqual({ method: 'POST', url: '/ping', body: '{"from":"nightshift"}' });
    // The app's own jobs come from the code config in the working directory.
    await waitFor('a scheduled greet job to complete', async () => (await jobsOf('greet')).some((job) => job.scheduleId === 'greet-cron' && job.state === 'completed'));
    expect(readyLine(running)).toMatchObject({ roles: ['worker', 'scheduler'], jobs: ['greet', 'explode', 'give-up', 'http', 'command'] });

    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('runs a YAML-only deployment (no code config) with the built-in jobs it enables', async () => {
    project = new Project({ 'scheduler.yaml': builtinsYaml() + everySecond([commandEntry]) });
    const running = project.spawn(['daemon', '--config', 'scheduler.yaml']);
    daemon = running;
    const printed = await waitFor('a scheduled command job to complete', async () => (await jobsOf('command')).find((job) => job.state === 'completed'));
    expect(printed.result).toMatchObject({ stdout: '1\n' });
    expect(readyLine(running)).toMatchObject({ jobs: ['command'] });
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('--no-worker enqueues ticks but runs nothing, and starts no rescuer or pruner', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: "schedules: './schedules.yaml'," }),
      'schedules.yaml': everySecond(['id: greet-cron\njobId: greet\ninput: { who: yaml }']),
    });
    const running = project.spawn(['daemon', '--no-worker']);
    daemon = running;
    // Several ticks: time enough for a worker, had one been started, to claim the first.
    const ticks = await waitFor('three ticks to be enqueued', async () => {
      const jobs = await jobsOf('greet');
      return jobs.length >= 3 ? jobs : undefined;
    });
    for (const job of ticks) expect(job).toMatchObject({ scheduleId: 'greet-cron', state: 'available', attempt: 0 });
    expect(readyLine(running)).toMatchObject({ roles: ['scheduler'], services: ['event-feed', 'stats-recorder', 'scheduler'] });
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);

    // A worker-only daemon then runs what the scheduler left.
    const worker = project.spawn(['daemon', '--no-scheduler']);
    daemon = worker;
    await waitFor('the enqueued ticks to complete', async () => {
      const states = new Map((await jobsOf('greet')).map((job) => [job.id, job.state]));
      return ticks.every((job) => states.get(job.id) === 'completed');
    });
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  it('--no-scheduler neither syncs the declared schedules nor fires stored ones', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: "schedules: './schedules.yaml'," }),
      'schedules.yaml': everySecond(['id: greet-cron\njobId: greet\ninput: { who: yaml }']),
    });
    await project.json(['schedules', 'sync']);
    // Declared after the sync: only a sync would store it.
    project.write('schedules.yaml', everySecond(['id: greet-cron\njobId: greet\ninput: { who: yaml }', 'id: greet-later\njobId: greet\ninput: { who: later }']));
    // A job due in 2.5 s: once it has run, a scheduler would have fired the every-second schedule.
    const delayed = await project.json<JobJson>(['enqueue', 'greet', '--data', '{"who":"manual"}', '--delay', '2500']);

    const running = project.spawn(['daemon', '--no-scheduler']);
    daemon = running;
    await waitFor('the delayed job to complete', async () => (await project!.json<{ job: JobJson }>(['job', delayed.id])).job.state === 'completed');
    expect(readyLine(running)).toMatchObject({ roles: ['worker'], services: ['event-feed', 'stats-recorder', 'worker', 'rescuer', 'pruner', 'process-registry'] });
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);

    const jobs = await jobsOf('greet');
    expect(jobs.map((job) => job.id)).toEqual([delayed.id]);
    // The list shows what the file declares: the later entry was never stored.
    const { schedules } = await project.json<{ schedules: { id: string; declaration: string }[] }>(['schedules']);
    expect(schedules.map((schedule) => [schedule.id, schedule.declaration])).toEqual([
      ['greet-cron', 'stored'],
      ['greet-later', 'not-stored'],
    ]);
  });

  it('refuses --no-worker together with --no-scheduler', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const result = await project.run(['daemon', '--no-worker', '--no-scheduler']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('leave the daemon nothing to run');
  });
});
