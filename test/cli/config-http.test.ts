// The config file's `http` section from the CLI: it makes `serve` and `daemon` listen where it
// says and answer as it says (allowed origins, insecure, token digests); `--http`, NIGHTSHIFT_HTTP
// and HEALTH_CHECK_PORT win over its address, in that order; invalid values stop the command
// naming the file and the field.
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

/** Variables that would change where the API listens or whether it needs a token: unset in every child. */
const CLEAN = { NIGHTSHIFT_HTTP: undefined, HEALTH_CHECK_PORT: undefined, NIGHTSHIFT_API_TOKEN: undefined };
const ALLOWED = 'https://ops.example.com';

describe('the config http section from the CLI', () => {
  let project: Project | null = null;
  const running: RunningCli[] = [];

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    for (const child of running.splice(0)) await child.stop();
    project?.cleanup();
    project = null;
  });

  function start(args: string[], env: Record<string, string | undefined> = {}): RunningCli {
    const child = project!.spawn(args, { ...CLEAN, ...env });
    running.push(child);
    return child;
  }

  /** The fields of the first JSON log line with this message, once it is written. */
  function logLine(child: RunningCli, message: string): Promise<Record<string, unknown>> {
    return waitFor(`"${message}" in the log`, () => {
      const line = child.stderr.split('\n').find((text) => text.includes(`"msg":"${message}"`));
      if (line) return JSON.parse(line) as Record<string, unknown>;
      if (child.child.exitCode !== null) throw new Error(`exited ${child.child.exitCode}: ${child.stderr}`);
      return undefined;
    });
  }

  function enqueue(base: string, origin: string): Promise<Response> {
    return fetch(`${base}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ name: 'greet', data: { who: origin } }),
    });
  }

  /** A POST from the allowed origin is taken; one from another site is refused. */
  async function expectOriginsAsConfigured(base: string): Promise<void> {
    expect((await enqueue(base, ALLOWED)).status).toBe(201);
    const refused = await enqueue(base, 'https://elsewhere.example.net');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('CROSS_SITE_REQUEST');
  }

  it('serve listens where the section says (port 0: a free one) and takes changes from its allowed origins only', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `http: { port: 0, allowedOrigins: ['${ALLOWED}'] },` }) });
    const serve = start(['serve']);
    const { http } = await logLine(serve, 'API server ready');
    expect(http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(http).not.toBe('http://127.0.0.1:0');
    await expectOriginsAsConfigured(http as string);
    serve.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
  });

  it('daemon serves the API because the section is there, runs the jobs it takes, and --no-http keeps it off', async () => {
    const port = await freePort();
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `http: { host: '127.0.0.1', port: ${port}, allowedOrigins: ['${ALLOWED}'] },` }) });
    const daemon = start(['daemon']);
    const ready = await logLine(daemon, 'daemon ready');
    const base = `http://127.0.0.1:${port}`;
    expect(ready.http).toBe(base);
    await expectOriginsAsConfigured(base);
    await waitFor('the accepted job to complete', async () => {
      const { jobs } = (await (await fetch(`${base}/api/jobs?state=completed`)).json()) as { jobs: { name: string }[] };
      return jobs.length === 1;
    });
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);

    const quiet = start(['daemon', '--no-http'], { NIGHTSHIFT_HTTP: `127.0.0.1:${port}` });
    expect((await logLine(quiet, 'daemon ready')).http).toBeNull();
    await expect(fetch(`${base}/health`)).rejects.toThrow();
    quiet.kill('SIGTERM');
    expect((await quiet.exited).code).toBe(0);
  });

  it('takes the address from --http, else NIGHTSHIFT_HTTP, else HEALTH_CHECK_PORT, else the config', async () => {
    const [fromConfig, fromHealthPort, fromEnv, fromFlag] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `http: { port: ${fromConfig}, allowedOrigins: ['${ALLOWED}'] },` }) });
    const cases: [string[], Record<string, string>, number][] = [
      [['serve', '--http', `127.0.0.1:${fromFlag}`], { NIGHTSHIFT_HTTP: String(fromEnv), HEALTH_CHECK_PORT: String(fromHealthPort) }, fromFlag],
      [['serve'], { NIGHTSHIFT_HTTP: String(fromEnv), HEALTH_CHECK_PORT: String(fromHealthPort) }, fromEnv],
      [['daemon', '--no-scheduler'], { HEALTH_CHECK_PORT: String(fromHealthPort) }, fromHealthPort],
      [['serve'], {}, fromConfig],
    ];
    for (const [args, env, port] of cases) {
      const child = start(args, env);
      const ready = await logLine(child, args[0] === 'serve' ? 'API server ready' : 'daemon ready');
      expect(ready.http, `${args.join(' ')} with ${JSON.stringify(env)}`).toBe(`http://127.0.0.1:${port}`);
      // Wherever it listens, the config's other settings apply.
      await expectOriginsAsConfigured(`http://127.0.0.1:${port}`);
      child.kill('SIGTERM');
      expect((await child.exited).code).toBe(0);
    }
  });

  it('insecure in the config lets the API listen beyond loopback without a token', async () => {
    // `::ffff:127.0.0.1` is loopback to the kernel, but not one of the API's loopback names: it
    // needs a token or `insecure`, as 0.0.0.0 would, without opening a port to the network.
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `http: { host: '::ffff:127.0.0.1', port: 0 },` }) });
    const refused = await project.run(['serve'], CLEAN);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('refusing to listen on ::ffff:127.0.0.1 without an API token');

    project.write('nightshift.config.ts', fixtureConfig({ extra: `http: { host: '::ffff:127.0.0.1', port: 0, insecure: true },` }));
    const serve = start(['serve']);
    const { http } = await logLine(serve, 'API server ready');
    expect(http).toMatch(/^http:\/\/\[::ffff:127\.0\.0\.1\]:\d+$/);
    expect(serve.stderr).toContain('WITHOUT a token');
    expect((await fetch(`${(http as string).replace('[::ffff:127.0.0.1]', '127.0.0.1')}/api/queues`)).status).toBe(200);
    serve.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
  });

  it('accepts tokens by digest, and then requires one', async () => {
    const token = 'nst_config-file-token-0123456789';
    const sha256 = createHash('sha256').update(token, 'utf8').digest('hex');
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `http: { port: 0, tokens: [{ name: 'ci', sha256: '${sha256}', scope: 'read' }] },` }) });
    const serve = start(['serve']);
    const base = (await logLine(serve, 'API server ready')).http as string;
    expect((await fetch(`${base}/api/queues`)).status).toBe(401);
    expect((await fetch(`${base}/api/queues`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    serve.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
  });

  it('refuses invalid values, naming the file and each field, before anything listens', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({
        extra: `http: { port: 80800, allowedOrigins: ['https://ops.example.com/'], allowedHosts: ['jobs.internal:8080'], tokens: [{ name: 'ci', token: 'nst_plain-text-token-in-a-file', scope: 'admin' }] },`,
      }),
    });
    for (const command of ['serve', 'daemon']) {
      const result = await project.run([command], CLEAN);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(`error [INVALID_CONFIG]: ${project.dir}/nightshift.config.ts: invalid configuration: `);
      expect(result.stderr).toContain('http.port: must be ≤ 65535');
      expect(result.stderr).toContain('http.allowedOrigins.0: must be an origin as browsers send it');
      expect(result.stderr).toContain('did you mean "https://ops.example.com"?');
      expect(result.stderr).toContain('http.allowedHosts.0: must be a host name without port');
      expect(result.stderr).toContain('http.tokens.0.token: a token in plain text does not belong in a config file');
      expect(result.stderr).not.toContain('nst_plain-text-token-in-a-file');
    }
  });
});
