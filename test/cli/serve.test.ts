// The HTTP API from the CLI: `serve` alone, `daemon --http` beside the worker, NIGHTSHIFT_HTTP,
// tokens created and revoked with `tokens`, and a refusal to listen beyond loopback without one.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

describe('nightshift serve, daemon --http and tokens', () => {
  let project: Project | null = null;
  let running: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await running?.stop();
    running = null;
    project?.cleanup();
    project = null;
  });

  async function ready(base: string): Promise<number | undefined> {
    try {
      return (await fetch(`${base}/ready`)).status;
    } catch {
      return undefined;
    }
  }

  it('serve: the API alone; tokens created with the CLI are required, revoked ones refused; SIGTERM exits 0', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    running = project.spawn(['serve', '--http', String(port)]);
    await waitFor('the API to be ready', async () => (await ready(base)) === 200);
    const enqueued = await fetch(`${base}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'greet', data: { who: 'http' } }) });
    expect(enqueued.status).toBe(201);
    const workers = (await (await fetch(`${base}/api/workers`)).json()) as { workers: { roles: string[] }[] };
    expect(workers.workers.map((w) => w.roles)).toEqual([['api']]);

    const created = await project.json<{ token: string; name: string; scope: string }>(['tokens', 'create', '--name', 'ci', '--scope', 'enqueue']);
    expect(created).toMatchObject({ name: 'ci', scope: 'enqueue' });
    expect(created.token).toMatch(/^nst_/);
    const listed = await project.run(['tokens', 'list']);
    expect(listed.stdout).toContain('ci');
    expect(listed.stdout).not.toContain(created.token);
    await waitFor('the server to require a token', async () => (await fetch(`${base}/api/queues`)).status === 401);
    expect((await fetch(`${base}/api/queues`, { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(200);
    expect((await project.run(['tokens', 'revoke', 'ci'])).code).toBe(0);
    await waitFor('the revoked token to be refused', async () => (await fetch(`${base}/api/queues`, { headers: { authorization: `Bearer ${created.token}` } })).status === 401);
    const again = await project.run(['tokens', 'revoke', 'ci']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('no unrevoked token is named "ci"');

    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('daemon --http serves the API beside the worker; NIGHTSHIFT_HTTP does the same', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    running = project.spawn(['daemon'], { NIGHTSHIFT_HTTP: `127.0.0.1:${port}` });
    await waitFor('the API to be ready', async () => (await ready(base)) === 200);
    const { job } = (await (await fetch(`${base}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'greet', data: { who: 'api' } }) })).json()) as { job: { id: string } };
    const done = await waitFor('the job to complete', async () => {
      const shown = (await (await fetch(`${base}/api/jobs/${job.id}`)).json()) as { state: string; result: unknown };
      return shown.state === 'completed' ? shown : undefined;
    });
    expect(done.result).toEqual({ greeting: 'hello api' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^nightshift_jobs_completed_total\{queue="default",job="greet"\} 1$/m);
    const workers = (await (await fetch(`${base}/api/workers`)).json()) as { workers: { roles: string[] }[] };
    expect(workers.workers[0]?.roles).toEqual(['worker', 'scheduler', 'api']);
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('refuses to listen beyond loopback without a token, saying how to fix it', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const result = await project.run(['serve', '--http', '0.0.0.0:0']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('error [INVALID_CONFIG]: refusing to listen on 0.0.0.0 without an API token');
    const bad = await project.run(['serve', '--http', 'nope:port']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--http must be [host:]port');
  });
});
