// CORS over real loopback HTTP: pages of the origins in allowedOrigins may call the API from a
// browser — preflights answered, answers (errors and event streams included) readable — on the
// server that `serve` and `daemon` run and through a mount; every other origin gets no CORS header,
// its preflights are refused and its changing requests still refused, and without a list the API
// sends no CORS header at all.
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { createApiRequestHandler, nightshiftApi } from '../../src/server/index.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { storedJobs } from '../support/http-call.js';
import { freePort } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from '../cli/cli-harness.js';

const ping = defineJob({ name: 'ping', schema: z.object({}), handler: () => 'pong' });
const ALLOWED = 'https://ops.example.com';
const OTHER = 'https://evil.example';
const ADMIN = 'admin-token-0123456789abcdef';

/** What a browser sends before a cross-origin POST with a token and a JSON body. */
function preflight(url: string, origin: string, method = 'POST', headers = 'authorization, content-type'): Promise<Response> {
  return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });
}

function expectPreflightAllowed(response: Response, what: string): void {
  expect(response.status, what).toBe(204);
  expect(response.headers.get('access-control-allow-origin'), what).toBe(ALLOWED);
  const methods = (response.headers.get('access-control-allow-methods') ?? '').split(/,\s*/);
  expect(methods, what).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']));
  const headers = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
  expect(headers, what).toEqual(expect.arrayContaining(['authorization', 'content-type', 'last-event-id']));
  expect(Number(response.headers.get('access-control-max-age')), what).toBeGreaterThan(0);
  expect(response.headers.get('vary'), what).toMatch(/\bOrigin\b/);
  // Bearer tokens, never cookies.
  expect(response.headers.get('access-control-allow-credentials'), what).toBeNull();
}

describe.skipIf(!STORE_KINDS[0]!.available)('CORS', () => {
  let opened: OpenedStore;
  let nightshift: Nightshift | null = null;
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    while (closers.length > 0) await closers.pop()!();
    await nightshift?.stop();
    nightshift = null;
    await opened.cleanup();
  });

  /** The API as `serve` and `daemon` run it (createNightshift's `http`, from the config's `http` section). */
  async function serve(http: { allowedOrigins?: string[] }): Promise<string> {
    opened = await STORE_KINDS[0]!.open();
    nightshift = createNightshift({ store: opened.store, jobs: [ping], worker: false, http: { port: 0, tokens: [{ name: 'ops', token: ADMIN, scope: 'admin' }], ...http } });
    await nightshift.start();
    return nightshift.httpAddress!;
  }

  it('answers preflights and tags answers for a listed origin; refuses other origins as before', async () => {
    const base = await serve({ allowedOrigins: [ALLOWED] });
    const auth = { authorization: `Bearer ${ADMIN}` };
    for (const [path, method] of [
      ['/api/jobs', 'POST'],
      ['/api/jobs/12/cancel', 'POST'],
      ['/api/jobs/12', 'DELETE'],
      ['/api/schedules/reports%2Fdaily', 'PATCH'],
      ['/api/events', 'GET'],
      ['/metrics', 'GET'],
    ] as const) {
      expectPreflightAllowed(await preflight(`${base}${path}`, ALLOWED, method), `${method} ${path}`);
    }

    // The request itself: 201, readable by the page.
    const post = (origin: string, headers: Record<string, string> = auth) =>
      fetch(`${base}/api/jobs`, { method: 'POST', headers: { origin, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'ping', data: {} }) });
    const created = await post(ALLOWED);
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(created.headers.get('vary')).toMatch(/\bOrigin\b/);
    // Refusals too, with the headers a page needs to act on them.
    const refused = await post(ALLOWED, {});
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(refused.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('www-authenticate');
    expect((await fetch(`${base}/api/nope`, { headers: { origin: ALLOWED } })).headers.get('access-control-allow-origin')).toBe(ALLOWED);

    // The event stream, as a fetch-based EventSource of that page reads it.
    const stream = new AbortController();
    const events = await fetch(`${base}/api/events`, { headers: { origin: ALLOWED, ...auth }, signal: stream.signal });
    expect(events.status).toBe(200);
    expect(events.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    stream.abort();

    // Another origin: its preflight refused, its changes refused (even with a token), its reads not readable.
    const other = await preflight(`${base}/api/jobs`, OTHER);
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('CROSS_SITE_REQUEST');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const evil = await post(OTHER);
    expect(evil.status).toBe(403);
    expect(((await evil.json()) as { error: { code: string } }).error.code).toBe('CROSS_SITE_REQUEST');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const read = await fetch(`${base}/api/queues`, { headers: { origin: OTHER, ...auth } });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
    expect(await storedJobs(opened.store)).toBe(1);
  });

  it('without allowedOrigins sends no CORS header, and refuses preflights', async () => {
    const base = await serve({});
    const refused = await preflight(`${base}/api/jobs`, ALLOWED);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('allowedOrigins');
    const read = await fetch(`${base}/api/queues`, { headers: { origin: ALLOWED, authorization: `Bearer ${ADMIN}` } });
    expect(read.status).toBe(200);
    for (const name of ['access-control-allow-origin', 'access-control-expose-headers', 'vary']) expect(read.headers.get(name), name).toBeNull();
    // An OPTIONS that is no preflight is an unknown route, as it was.
    expect((await fetch(`${base}/api/jobs`, { method: 'OPTIONS' })).status).toBe(404);
  });

  it('through a mount: the fastify plugin and the handler in Express', async () => {
    opened = await STORE_KINDS[0]!.open();
    const client = createClient({ store: opened.store, jobs: [ping] });
    const options = { client, store: opened.store, allowedOrigins: [ALLOWED] };

    const fastify = Fastify();
    closers.push(() => fastify.close());
    await fastify.register(nightshiftApi, { ...options, prefix: '/jobs-admin' });
    await fastify.listen({ host: '127.0.0.1', port: 0 });
    const fastifyBase = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}/jobs-admin`;

    const app = express();
    app.use(express.json());
    app.use('/jobs', await createApiRequestHandler({ ...options, basePath: '/jobs' }));
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const expressBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jobs`;

    for (const base of [fastifyBase, expressBase]) {
      expectPreflightAllowed(await preflight(`${base}/api/jobs`, ALLOWED), base);
      const created = await fetch(`${base}/api/jobs`, { method: 'POST', headers: { origin: ALLOWED, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ping', data: {} }) });
      expect(created.status, base).toBe(201);
      expect(created.headers.get('access-control-allow-origin'), base).toBe(ALLOWED);
      expect((await preflight(`${base}/api/jobs`, OTHER)).status, base).toBe(403);
    }
  });
});

describe('CORS of nightshift serve, from the config', () => {
  let project: Project | null = null;
  let running: RunningCli | null = null;
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await running?.stop();
    project?.cleanup();
    running = null;
    project = null;
  });

  it("answers a preflight of a page of http.allowedOrigins, and refuses another origin's", async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: `http: { allowedOrigins: ['${ALLOWED}'] },` }) });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    running = project.spawn(['serve', '--http', String(port)]);
    await waitFor('the API to be ready', async () => (await fetch(`${base}/ready`)).status === 200);
    expectPreflightAllowed(await preflight(`${base}/api/jobs`, ALLOWED), 'serve');
    expect((await preflight(`${base}/api/jobs`, OTHER)).status).toBe(403);
    const created = await fetch(`${base}/api/jobs`, { method: 'POST', headers: { origin: ALLOWED, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'greet', data: { who: 'a page' } }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });
});
