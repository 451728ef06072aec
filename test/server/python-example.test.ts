// examples/python/enqueue_and_wait.py, run by this machine's python3 against a real server with a
// real worker on SQLite: it enqueues over HTTP with a bearer token, polls until the job finished
// and prints the result; a dead job, an unknown job and a wrong token end with their exit codes.
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../examples/python/enqueue_and_wait.py');
const TOKEN = 'python-example-token-0123456789';

function findPython(): string | null {
  const probe = spawnSync('python3', ['-c', 'import sys; print(sys.version_info[0])'], { encoding: 'utf8' });
  return probe.status === 0 && probe.stdout.trim() === '3' ? 'python3' : null;
}
const python = findPython();
if (python === null) {
  if (process.env.CI === 'true') throw new Error('python3 is not on PATH; the Python example cannot be tested (CI=true never skips)');
  console.warn('\n*** SKIPPING test/server/python-example.test.ts: python3 is not on PATH, so examples/python/enqueue_and_wait.py is NOT tested ***\n');
}

const summarize = defineJob({
  name: 'text.summarize',
  queue: 'nlp',
  schema: z.object({ text: z.string().min(1) }),
  handler: async ({ text }) => ({ words: text.split(/\s+/).length, first: text.split(/\s+/)[0] }),
});
const broken = defineJob({
  name: 'always.fails',
  retry: { attempts: 1 },
  handler: () => {
    throw new Error('upstream down');
  },
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    // This process's environment (python3 may need more than PATH to start, e.g. pyenv's), without
    // the variables the script reads: only what the test gives it.
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    if (!('NIGHTSHIFT_URL' in env)) delete childEnv.NIGHTSHIFT_URL;
    if (!('NIGHTSHIFT_API_TOKEN' in env)) delete childEnv.NIGHTSHIFT_API_TOKEN;
    execFile(python!, [SCRIPT, ...args], { env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(python === null)('the Python example against a real server and worker', () => {
  let opened: OpenedStore;
  let nightshift: Nightshift;
  let url: string;

  beforeAll(async () => {
    opened = await STORE_KINDS[0]!.open();
    nightshift = createNightshift({
      store: opened.store,
      jobs: [summarize, broken],
      pollIntervalMs: 20,
      http: { port: 0, tokens: [{ name: 'python', token: TOKEN, scope: 'enqueue' }], env: {} },
    });
    await nightshift.start();
    url = nightshift.httpAddress!;
  });
  afterAll(async () => {
    await nightshift?.stop();
    await opened?.cleanup();
  });

  it('enqueues with a token, waits for the worker and prints the result', async () => {
    const run = await runScript(['text.summarize', JSON.stringify({ text: 'nightly jobs from python' })], { NIGHTSHIFT_URL: url, NIGHTSHIFT_API_TOKEN: TOKEN });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ words: 4, first: 'nightly' });
    expect(run.stderr).toMatch(/^job \d+ \(text\.summarize\) is available/);
    const id = /^job (\d+)/.exec(run.stderr)![1]!;
    const job = await nightshift.client.get(id);
    expect(job).toMatchObject({ state: 'completed', queue: 'nlp', payload: { text: 'nightly jobs from python' } });
  });

  it('exits 1 with the last error when the job dies', async () => {
    const run = await runScript(['always.fails'], { NIGHTSHIFT_URL: `${url}/`, NIGHTSHIFT_API_TOKEN: TOKEN });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/ended dead after 1 attempt\(s\): upstream down/);
  });

  it('exits 2 with the API error code for an unknown job, an invalid payload and a bad or missing token', async () => {
    const stored = async () => Object.values((await opened.store.jobStats()).totals).reduce((sum, n) => sum + n, 0);
    const before = await stored();
    const unknown = await runScript(['no.such.job', '{}'], { NIGHTSHIFT_URL: url, NIGHTSHIFT_API_TOKEN: TOKEN });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/UNKNOWN_JOB: .*no\.such\.job.*\(HTTP 404\)/);
    const invalid = await runScript(['text.summarize', '{"text": ""}'], { NIGHTSHIFT_URL: url, NIGHTSHIFT_API_TOKEN: TOKEN });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/INVALID_PAYLOAD: .*\(HTTP 400\)/);
    const wrong = await runScript(['text.summarize', '{"text": "x"}'], { NIGHTSHIFT_URL: url, NIGHTSHIFT_API_TOKEN: 'not-the-token-00000000' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/UNAUTHENTICATED: .*\(HTTP 401\)/);
    const missing = await runScript(['text.summarize', '{"text": "x"}'], { NIGHTSHIFT_URL: url });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/UNAUTHENTICATED: send an API token/);
    const notJson = await runScript(['text.summarize', '{text'], { NIGHTSHIFT_URL: url, NIGHTSHIFT_API_TOKEN: TOKEN });
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/the payload is not JSON/);
    expect(await stored()).toBe(before);
  });
});
