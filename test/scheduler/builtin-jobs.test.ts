import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnrecoverableError } from '../../src/errors.js';
import type { JobContext } from '../../src/job/define-job.js';
import { validatePayload } from '../../src/job/schema.js';
import { ConfigError } from '../../src/errors.js';
import { CommandFailedError, createCommandJob } from '../../src/jobs/command-job.js';
import { createHttpJob } from '../../src/jobs/http-job.js';
import { builtinJobs, withBuiltinJobs } from '../../src/jobs/builtin-jobs.js';
import { defineJob } from '../../src/job/define-job.js';
import { z } from 'zod';
import { createSilentLogger } from '../../src/observe/logger.js';
import { NightshiftEvents } from '../../src/observe/events.js';
import { createScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import { createWorker } from '../../src/worker/worker.js';
import { storeHarnesses } from './store-harness.js';

/** A handler context as a worker would build it, with a controllable signal. */
function context(controller = new AbortController()): JobContext {
  return {
    id: '1',
    name: 'test',
    queue: 'default',
    attempt: 1,
    maxAttempts: 1,
    log: createSilentLogger(),
    signal: controller.signal,
    now: () => new Date(),
    heartbeat: async () => undefined,
    progress: () => undefined,
    publish: () => undefined,
    // The built-in jobs never enqueue follow-ups.
    enqueue: () => Promise.reject(new Error('not expected: the built-in jobs do not enqueue')),
    enqueueMany: () => Promise.reject(new Error('not expected: the built-in jobs do not enqueue')),
    childResults: () => Promise.reject(new Error('not expected: the built-in jobs have no dependencies')),
  };
}

type BuiltinJob = ReturnType<typeof createHttpJob> | ReturnType<typeof createCommandJob>;

/** Runs a built-in job's handler on `input` after validating it, as the worker does. */
async function run<T>(job: BuiltinJob, input: unknown, ctx = context()): Promise<T> {
  const payload = await validatePayload(job.name, job.schema, input);
  return (await job.handler(payload as never, ctx)) as T;
}

describe('the http job', () => {
  let server: http.Server;
  let base: string;
  // Any port of the loopback address: the test server's, and port 1 where nothing listens.
  const httpJob = createHttpJob({ allow: ['127.0.0.1'] });
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
        if (request.url === '/ok') {
          response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ received: body.length }));
        } else if (request.url === '/big') {
          response.writeHead(200).end('x'.repeat(100_000));
        } else if (request.url === '/missing') {
          response.writeHead(404).end('no such thing');
        } else if (request.url === '/broken') {
          response.writeHead(503).end('try later');
        } else if (request.url === '/slow') {
          setTimeout(() => response.writeHead(200).end('late'), 5_000).unref();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends method, headers and a JSON body, and records status and a body excerpt', async () => {
    const result = await run<{ status: number; body: string }>(httpJob, { url: `${base}/ok`, method: 'PUT', headers: { 'x-token': 'abc' }, body: { hello: 'world' } });
    expect(result).toMatchObject({ status: 201, body: '{"received":17}', bodyTruncated: false });
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'PUT', url: '/ok', body: '{"hello":"world"}' });
    expect(request.headers['x-token']).toBe('abc');
    expect(request.headers['content-type']).toBe('application/json');
  });

  it('defaults to GET, or POST when there is a body; keeps only maxBodyBytes of the answer', async () => {
    const result = await run<{ body: string; bodyTruncated: boolean }>(httpJob, { url: `${base}/big`, maxBodyBytes: 10 });
    expect(result).toMatchObject({ body: 'xxxxxxxxxx', bodyTruncated: true });
    expect(seen.at(-1)!.method).toBe('GET');
    await run(httpJob, { url: `${base}/ok`, body: [1] });
    expect(seen.at(-1)!.method).toBe('POST');
  });

  it('fails for good on a 4xx and retryably on a 5xx, with the status and body in the message', async () => {
    const notFound = run(httpJob, { url: `${base}/missing` });
    await expect(notFound).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(notFound).rejects.toThrow(/answered 404 Not Found: no such thing/);
    const unavailable = run(httpJob, { url: `${base}/broken` });
    await expect(unavailable).rejects.toThrow(/answered 503 Service Unavailable: try later/);
    await expect(unavailable).rejects.not.toBeInstanceOf(UnrecoverableError);
  });

  it('fails on timeout, and stops when the job signal fires', async () => {
    await expect(run(httpJob, { url: `${base}/slow`, timeoutMs: 100 })).rejects.toThrow(/no complete answer within 100 ms/);
    const controller = new AbortController();
    const pending = run(httpJob, { url: `${base}/slow` }, context(controller));
    controller.abort(new Error('job cancelled'));
    await expect(pending).rejects.toThrow('job cancelled');
    await expect(run(httpJob, { url: 'http://127.0.0.1:1/refused' })).rejects.toThrow(/request failed/);
  });

  it('rejects bad input up front', async () => {
    await expect(validatePayload('http', httpJob.schema, { url: 'ftp://x/y' })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await expect(validatePayload('http', httpJob.schema, { url: `${base}/ok`, method: 'FETCH' })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await expect(validatePayload('http', httpJob.schema, { url: `${base}/ok`, extra: 1 })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
  });
});

describe('the command job', () => {
  let dir: string;
  let commandJob: ReturnType<typeof createCommandJob>;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-command-'));
    // An absolute path that does not exist is allowed as written (it may be installed later).
    commandJob = createCommandJob({ allow: [process.execPath, 'sh', path.join(dir, 'does-not-exist')], env: ['PATH'], inputEnv: ['GREETING'] });
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs argv without a shell, in cwd with env, and records exit code and output tails', async () => {
    const result = await run<{ exitCode: number; stdout: string; stderr: string }>(commandJob, {
      argv: [process.execPath, '-e', 'console.log(process.cwd(), process.env.GREETING, process.argv[1]); console.error("warn")', '$HOME; echo no'],
      cwd: dir,
      env: { GREETING: 'hi' },
    });
    expect(result.exitCode).toBe(0);
    // The argument reached the program verbatim: no shell expanded $HOME or split on ";".
    expect(result.stdout.trim()).toBe(`${fs.realpathSync(dir)} hi $HOME; echo no`);
    expect(result.stderr.trim()).toBe('warn');
  });

  it('keeps only the last tailBytes of output', async () => {
    const result = await run<{ stdout: string }>(commandJob, { argv: [process.execPath, '-e', 'process.stdout.write("a".repeat(50000) + "END")'], tailBytes: 5 });
    expect(result.stdout).toBe('aaEND');
  });

  it('fails on a non-zero exit, with the exit code and stderr tail', async () => {
    const failing = run(commandJob, { argv: [process.execPath, '-e', 'console.error("disk full"); process.exit(3)'] });
    await expect(failing).rejects.toBeInstanceOf(CommandFailedError);
    await expect(failing).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining('exited with code 3; stderr: disk full') });
    await expect(run(commandJob, { argv: [path.join(dir, 'does-not-exist')] })).rejects.toThrow(/cannot run/);
  });

  it('uses a shell only when asked, with one command line', async () => {
    const result = await run<{ stdout: string }>(commandJob, { argv: ['echo "$((6 * 7))" | tr 4 X'], shell: true });
    expect(result.stdout.trim()).toBe('X2');
    await expect(validatePayload('command', commandJob.schema, { argv: ['echo', 'x'], shell: true })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await expect(validatePayload('command', commandJob.schema, { argv: [] })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
  });

  it('kills the process (and what it started) when the job signal fires', async () => {
    const pidFile = path.join(dir, 'grandchild.pid');
    const controller = new AbortController();
    const pending = run(commandJob, { argv: [`sleep 60 & echo $! > ${pidFile}; wait`], shell: true, killGraceMs: 1000 }, context(controller));
    // Wait until the grandchild exists (a safety-net poll of a file the command writes).
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, 'utf8').trim() === '') {
      if (Date.now() > deadline) throw new Error('the command never started');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const grandchild = Number(fs.readFileSync(pidFile, 'utf8').trim());
    controller.abort(new Error('job timed out'));
    await expect(pending).rejects.toThrow('job timed out');
    // The grandchild got the group's SIGTERM; wait (safety net) until it is gone or a zombie.
    const gone = (): boolean => {
      try {
        return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${grandchild}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    const until = Date.now() + 5_000;
    while (!gone() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(gone()).toBe(true);
  });
});

for (const harness of storeHarnesses) {
  describe(`built-in jobs from a schedule, run by a worker, on ${harness.label}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('a command schedule fires, a worker runs it, and the result is in the history', async () => {
      const opened = await harness.open(Date.parse('2026-01-05T08:59:59Z'));
      cleanups.push(() => opened.cleanup());
      const events = new NightshiftEvents();
      const jobs = builtinJobs({ command: { allow: [process.execPath] } });
      const manager = createScheduleManager({ store: opened.store, jobs });
      await manager.create({ id: 'echo', jobId: 'command', schedule: '0 9 * * *', input: { argv: [process.execPath, '-e', 'console.log("from cron")'] } });
      const worker = createWorker({ store: opened.store, jobs, events, pollIntervalMs: 20, clock: opened.clock.fn });
      cleanups.push(() => worker.stop());
      await worker.start();
      const completed = events.waitFor('job:completed', (event) => event.job.scheduleId === 'echo');
      opened.clock.set(Date.parse('2026-01-05T09:00:00Z'));
      await createScheduler({ store: opened.store, jobs, events }).runOnce();
      const { result } = await completed;
      expect(result).toMatchObject({ exitCode: 0, stdout: 'from cron\n' });
      const [entry] = await manager.history('echo');
      expect(entry?.job?.state).toBe('completed');
      expect(JSON.parse(entry!.job!.result!)).toMatchObject({ exitCode: 0 });
      expect((await manager.get('echo'))?.lastOutcome?.state).toBe('completed');
    });
  });
}

describe('builtinJobs and withBuiltinJobs', () => {
  it('enable nothing unless configured, then exactly what is configured', () => {
    expect(builtinJobs({})).toEqual([]);
    expect(withBuiltinJobs([], {})).toEqual([]);
    expect(builtinJobs({ http: { allow: ['hooks.example.org'] } }).map((job) => job.name)).toEqual(['http']);
    expect(builtinJobs({ command: { allow: ['sh'] } }).map((job) => job.name)).toEqual(['command']);
    const mine = defineJob({ name: 'report', schema: z.object({}), handler: () => null });
    const merged = withBuiltinJobs([mine], { command: { allow: [process.execPath] }, http: { allow: ['127.0.0.1'] } });
    expect(merged.map((job) => job.name)).toEqual(['report', 'http', 'command']);
    expect(merged[0]).toBe(mine);
  });

  it('refuse an app job named like an enabled built-in, and invalid settings, with the setting to fix', () => {
    const mine = defineJob({ name: 'http', schema: z.object({}), handler: () => null });
    expect(withBuiltinJobs([mine], {}).map((job) => job.name)).toEqual(['http']);
    expect(() => withBuiltinJobs([mine], { http: { allow: ['hooks.example.org'] } })).toThrow(/builtins\.http: the app defines its own job named "http"/);
    expect(() => builtinJobs({ command: { allow: [] } })).toThrow(ConfigError);
    expect(() => builtinJobs({ command: { allow: ['no-such-program-anywhere'] } })).toThrow(/builtins\.command\.allow\.0: "no-such-program-anywhere" is not an executable file in any directory of PATH/);
    expect(() => builtinJobs({ http: { allow: ['*.example.org'] } })).toThrow(/builtins\.http\.allow\.0: wildcards are not supported/);
  });
});
