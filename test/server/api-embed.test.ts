// The API mounted in an app that already runs, over real loopback HTTP: the fastify plugin, the
// (req, res) handler on node:http and in Express. Whatever the mount, the tokens kept in the store
// are required as `nightshift serve` requires them (both stores), the event feed, the schedules
// and alerting are served from the store, and the OpenAPI document lists what answers. Express:
// mounted under a path, before the app's own routes, behind express.json(). A host fastify app with
// @fastify/swagger keeps a working document of its own.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fastifySwagger from '@fastify/swagger';
import { validate as validateOpenApi } from '@readme/openapi-parser';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiToken, revokeApiToken } from '../../src/client/api-tokens.js';
import { createClient, type Client } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { TOKEN_REFRESH_MS } from '../../src/server/auth.js';
import { createApiRequestHandler, nightshiftApi, type ApiServerOptions } from '../../src/server/index.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { callJson, storedJobs, type Reply } from '../support/http-call.js';

const ping = defineJob({ name: 'ping', schema: z.object({}), handler: () => 'pong' });

/** Closes what a test opened, last first. */
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function listen(server: http.Server): Promise<string> {
  if (!server.listening) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  closers.push(async () => server.closeAllConnections());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Each way to mount the API: resolves with the URL the API's paths start from. */
const MOUNTS: Record<string, (options: ApiServerOptions) => Promise<string>> = {
  'the fastify plugin': async (options) => {
    const app = Fastify();
    await app.register(nightshiftApi, { ...options, prefix: '/jobs-admin' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => app.close());
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/jobs-admin`;
  },
  'the (req, res) handler on node:http': async (options) => {
    const handler = await createApiRequestHandler({ ...options, basePath: '/nightshift' });
    return `${await listen(http.createServer(handler))}/nightshift`;
  },
  'the handler in Express, behind express.json()': async (options) => {
    const app = express();
    app.use(express.json());
    app.use('/jobs', await createApiRequestHandler({ ...options, basePath: '/jobs' }));
    return `${await listen(http.createServer(app))}/jobs`;
  },
};

/** Calls `path` under `base` with `token` (none: no Authorization header); gives up after 10 s rather than hang. */
function caller(base: string) {
  return (method: string, path: string, token: string | null, body?: unknown): Promise<Reply> =>
    callJson(base, method, path, body, token === null ? {} : { authorization: `Bearer ${token}` });
}

/** Polls until `check` holds; the deadline is only a safety net. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 4 * TOKEN_REFRESH_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`the API mounted in an app, on the ${kind.kind} store`, () => {
    let opened: OpenedStore | null = null;
    afterEach(async () => {
      await opened?.cleanup();
      opened = null;
    });

    for (const [mount, mountApi] of Object.entries(MOUNTS)) {
      it(`${mount}: requires the tokens kept in the store, as serve does, and honours their revocation`, async () => {
        opened = await kind.open();
        const store = opened.store;
        const { token: read } = await createApiToken(store, { name: 'ci', scope: 'read' });
        const { token: admin } = await createApiToken(store, { name: 'ops', scope: 'admin' });
        const call = caller(await mountApi({ client: createClient({ store, jobs: [ping] }), store }));

        // No token: nothing is answered, nothing is changed.
        expect(await call('GET', '/api/queues', null)).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
        expect(await call('POST', '/api/jobs', null, { name: 'ping', data: {} })).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
        expect((await call('POST', '/api/queues/default/pause', null)).status).toBe(401);
        expect(await storedJobs(store)).toBe(0);
        expect(await store.queuePausedList()).toEqual([]);

        // Each token with its scope.
        expect((await call('GET', '/api/queues', read)).status).toBe(200);
        expect(await call('POST', '/api/jobs', read, { name: 'ping', data: {} })).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
        expect(await call('POST', '/api/jobs', admin, { name: 'ping', data: {} })).toMatchObject({ status: 201, body: { inserted: true, job: { name: 'ping' } } });
        expect((await call('POST', '/api/queues/default/pause', admin)).status).toBe(200);
        expect(await store.queuePausedList()).toEqual(['default']);

        // Revoked: refused within the refresh interval, like every server of the store.
        await revokeApiToken(store, 'ops');
        await eventually('the revoked token to be refused', async () => (await call('GET', '/api/queues', admin)).status === 401);
        expect((await call('GET', '/api/queues', read)).status).toBe(200);
      }, 40_000);
    }

    it('serves the event feed and the schedules from the store, alerting from rules given, and documents only what answers', async () => {
      opened = await kind.open();
      const store = opened.store;
      const { token } = await createApiToken(store, { name: 'ops', scope: 'admin' });
      const client = createClient({ store, jobs: [ping] });
      const base = await MOUNTS['the fastify plugin']!({ client, store });
      const call = caller(base);

      expect(await call('POST', '/api/schedules', token, { id: 'nightly', jobId: 'ping', schedule: '@daily' })).toMatchObject({ status: 201 });
      expect((await call('GET', '/api/schedules', token)).body.schedules.map((schedule: { id: string }) => schedule.id)).toEqual(['nightly']);
      const stream = new AbortController();
      const events = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: stream.signal });
      expect(events.status).toBe(200);
      expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
      stream.abort();

      const doc = (await call('GET', '/api/openapi.json', null)).body;
      expect((await validateOpenApi(structuredClone(doc))).valid).toBe(true);
      const paths = Object.keys(doc.paths as Record<string, unknown>);
      expect(paths).toEqual(expect.arrayContaining(['/jobs-admin/api/jobs', '/jobs-admin/api/events', '/jobs-admin/api/schedules', '/jobs-admin/api/schedules/{id}/trigger']));
      // Not served here (no metrics, no alert rules): left out, though they answer 404 saying why.
      expect(paths.filter((path) => path.startsWith('/jobs-admin/api/alerts') || path === '/jobs-admin/metrics')).toEqual([]);
      expect(await call('GET', '/api/alerts/config', token)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: expect.stringContaining('alerting is not configured') } } });
      // Every documented read without parameters answers (the event stream is checked below).
      for (const path of paths.filter((p) => !p.includes('{') && p !== '/jobs-admin/api/events' && 'get' in doc.paths[p])) {
        expect((await call('GET', path.slice('/jobs-admin'.length), token)).status, path).toBe(200);
      }

      // With alert rules, alerting is served and documented too.
      const withAlerts = caller(
        await MOUNTS['the fastify plugin']!({ client, store, alerts: { rules: { jobFailures: [{ name: 'ping-failed', severity: 'high', conditions: { jobPattern: '^ping', failureCount: 1 } }] } } }),
      );
      expect(await withAlerts('GET', '/api/alerts/config', token)).toMatchObject({ status: 200, body: { rules: { jobFailures: [{ name: 'ping-failed' }] } } });
      const alertPaths = Object.keys((await withAlerts('GET', '/api/openapi.json', null)).body.paths).filter((path) => path.includes('/api/alerts/'));
      expect(alertPaths).toContain('/jobs-admin/api/alerts/config');
    });

    it('answers 503 rather than as an open API while the store has not said which tokens it keeps', async () => {
      opened = await kind.open();
      const store = opened.store;
      await createApiToken(store, { name: 'ops', scope: 'admin' });
      const call = caller(await MOUNTS['the (req, res) handler on node:http']!({ client: createClient({ store, jobs: [ping] }), store }));
      // The store goes away before the first request: the definitions (which need no store) are not handed out.
      await store.close();
      expect(await call('GET', '/api/definitions', null)).toMatchObject({ status: 503, body: { error: { code: 'STORE_UNAVAILABLE', message: expect.stringContaining('API tokens') } } });
      expect((await call('GET', '/health', null)).status).toBe(200);
    });
  });
}

describe.skipIf(!STORE_KINDS[0]!.available)('embedding the API', () => {
  let opened: OpenedStore | null = null;
  let client: Client;
  afterEach(async () => {
    await opened?.cleanup();
    opened = null;
  });
  const open = async (): Promise<OpenedStore> => {
    opened = await STORE_KINDS[0]!.open();
    client = createClient({ store: opened.store, jobs: [ping] });
    return opened;
  };

  it('refuses to mount without the store that keeps the tokens, unless told the app authenticates requests itself', async () => {
    const { store } = await open();
    await createApiToken(store, { name: 'ops', scope: 'admin' });
    const app = Fastify();
    closers.push(() => app.close());
    await expect(app.register(nightshiftApi, { client })).rejects.toThrow(/needs the store its client works on.*pass \{ client, store \}/);
    await expect(createApiRequestHandler({ client, basePath: '/nightshift' })).rejects.toThrow(/needs the store its client works on/);
    // Said explicitly: the app's own login guards the mount, and the store's tokens are not asked for.
    const call = caller(await MOUNTS['the fastify plugin']!({ client, store, ignoreStoreTokens: true }));
    expect((await call('GET', '/api/queues', null)).status).toBe(200);
  });

  /** An Express app with `mount` applied, listening; `call` gives up after 5 s rather than hang. */
  const expressApp = async (mount: (app: ReturnType<typeof express>) => Promise<void>) => {
    const app = express();
    await mount(app);
    const base = await listen(http.createServer(app));
    const call = (method: string, path: string, body?: unknown): Promise<Reply> =>
      Promise.race([callJson(base, method, path, body, {}), new Promise<Reply>((_, reject) => setTimeout(() => reject(new Error(`${method} ${path}: no answer within 5 s`)), 5000))]);
    return { base, call };
  };

  it('Express: app.use(path, handler) serves the API at the basePath, the mount path included', async () => {
    const { store } = await open();
    const { call } = await expressApp(async (app) => {
      app.use('/jobs', await createApiRequestHandler({ client, store, basePath: '/jobs' }));
      app.use('/elsewhere', await createApiRequestHandler({ client, store }));
    });
    expect((await call('GET', '/jobs/api/queues')).status).toBe(200);
    expect((await call('GET', '/jobs/health')).status).toBe(200);
    const paths = Object.keys((await call('GET', '/jobs/api/openapi.json')).body.paths);
    expect(paths).toContain('/jobs/api/jobs');
    expect(paths.every((path) => path.startsWith('/jobs/'))).toBe(true);
    expect(await call('GET', '/jobs/api/nope')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no route GET /jobs/api/nope' } } });
    // Mounted at /elsewhere without the basePath to match: a 404 that says what to pass.
    expect(await call('GET', '/elsewhere/api/queues')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: expect.stringContaining("pass basePath: '/elsewhere'") } } });
  });

  it("Express: app.use(handler) hands every request outside the API to the app's later routes", async () => {
    const { store } = await open();
    const { base, call } = await expressApp(async (app) => {
      app.use(await createApiRequestHandler({ client, store, basePath: '/nightshift' }));
      app.get('/hello', (_req, res) => res.send('hello from the app'));
      app.get('/nightshift/about', (_req, res) => res.send('the app under the same prefix'));
    });
    expect((await call('GET', '/nightshift/api/queues')).status).toBe(200);
    expect(await (await fetch(`${base}/hello`)).text()).toBe('hello from the app');
    expect(await (await fetch(`${base}/nightshift/about`)).text()).toBe('the app under the same prefix');
    // The API's own namespace stays the API's: an unknown route there is its 404.
    expect(await call('GET', '/nightshift/api/nope')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  });

  it("Express: behind express.json(), the body it parsed is the request's", async () => {
    const { store } = await open();
    const { call } = await expressApp(async (app) => {
      app.use(express.json());
      app.use(await createApiRequestHandler({ client, store, basePath: '/nightshift' }));
    });
    expect(await call('POST', '/nightshift/api/jobs', { name: 'ping', data: {}, key: 'first' })).toMatchObject({ status: 201, body: { job: { name: 'ping', key: 'first' } } });
    expect(await call('POST', '/nightshift/api/jobs/bulk', { name: 'ping', items: [{ data: {} }, { data: {} }] })).toMatchObject({ status: 201 });
    // Refusals as without Express: an unknown job, an unknown field, a body that is not JSON.
    expect(await call('POST', '/nightshift/api/jobs', { name: 'nope', data: {} })).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_JOB' } } });
    expect(await call('POST', '/nightshift/api/jobs', { name: 'ping', data: {}, bogus: 1 })).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST' } } });
    expect(await storedJobs(store)).toBe(3);
    // Without a body (express.json() reads none) and with an empty one, as the route takes it.
    expect((await call('POST', '/nightshift/api/queues/default/pause')).status).toBe(200);
    expect((await call('POST', '/nightshift/api/queues/default/drain', '')).status).toBe(200);
  });

  it('Express: a body a middleware read without keeping it is a 500 saying so, never a request left hanging', async () => {
    const { store } = await open();
    const { call } = await expressApp(async (app) => {
      // Reads the body to its end and keeps nothing (as a logging or signing middleware might).
      app.use((req, _res, next) => {
        req.resume();
        req.on('end', () => next());
      });
      app.use(await createApiRequestHandler({ client, store, basePath: '/nightshift' }));
    });
    expect(await call('POST', '/nightshift/api/jobs', { name: 'ping', data: {} })).toMatchObject({
      status: 500,
      body: { error: { code: 'BODY_ALREADY_READ', message: expect.stringContaining('mount the API before body parsers') } },
    });
    expect(await storedJobs(store)).toBe(0);
    expect((await call('GET', '/nightshift/api/queues')).status).toBe(200);
  });

  it('node:http: requests outside the base path get a 404 in the one error shape', async () => {
    const { store } = await open();
    const base = await listen(http.createServer(await createApiRequestHandler({ client, store, basePath: '/nightshift/' })));
    expect((await callJson(base, 'GET', '/nightshift/api/queues')).status).toBe(200);
    for (const path of ['/', '/favicon.ico', '/nightshiftx/api/queues', '/api/queues']) {
      const reply = await callJson(base, 'GET', path);
      expect(reply, path).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: `no route GET ${path}` } } });
      expect(reply.headers.get('content-type'), path).toMatch(/^application\/json/);
    }
    expect(await callJson(base, 'GET', '/nightshift/api/nope')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no route GET /nightshift/api/nope' } } });
  });

  it('answers with its own status, whatever the app set on the response before (Koa sets 404)', async () => {
    const { store } = await open();
    const handler = await createApiRequestHandler({ client, store, basePath: '/nightshift' });
    // What Koa does before its middleware runs; its middleware then hands ctx.req and ctx.res over (ctx.respond = false).
    const base = await listen(
      http.createServer((req, res) => {
        res.statusCode = 404;
        handler(req, res);
      }),
    );
    expect(await callJson(base, 'GET', '/nightshift/api/queues')).toMatchObject({ status: 200, body: { queues: [{ name: 'default' }] } });
    expect((await callJson(base, 'GET', '/nightshift/health')).status).toBe(200);
    expect((await callJson(base, 'POST', '/nightshift/api/jobs', { name: 'ping', data: {} })).status).toBe(201);
  });

  it('a host fastify app with @fastify/swagger keeps its own document; the API serves its own', async () => {
    const { store } = await open();
    const app = Fastify();
    closers.push(() => app.close());
    await app.register(fastifySwagger, { openapi: { openapi: '3.1.0', info: { title: 'Host app', version: '1.2.3' } } });
    app.get('/host/ping', { schema: { summary: "the host's own route", response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));
    await app.register(nightshiftApi, { prefix: '/jobs-admin', client, store });
    await app.ready();
    const hostDoc = app.swagger() as { info: { title: string }; paths: Record<string, unknown> };
    expect(hostDoc.info.title).toBe('Host app');
    expect(Object.keys(hostDoc.paths)).toEqual(['/host/ping']);
    expect((await validateOpenApi(structuredClone(hostDoc) as never)).valid).toBe(true);

    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const own = (await callJson(base, 'GET', '/jobs-admin/api/openapi.json')).body;
    expect(own.info.title).toBe('Nightshift API');
    expect(Object.keys(own.paths)).toEqual(expect.arrayContaining(['/jobs-admin/api/jobs', '/jobs-admin/api/flows']));
    expect(Object.keys(own.paths)).not.toContain('/host/ping');
    expect((await validateOpenApi(structuredClone(own))).valid).toBe(true);
    expect(await callJson(base, 'GET', '/host/ping')).toMatchObject({ status: 200, body: { ok: true } });
  });
});
