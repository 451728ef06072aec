// Security of the HTTP API: scoped tokens on every route, open only on loopback, cross-site
// changes refused, repeated failed logins slowed down.
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const ping = defineJob({ name: 'ping', schema: z.object({}), handler: () => 'pong' });
const TOKENS = {
  read: 'read-token-0123456789abcdef',
  enqueue: 'enqueue-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
};
const REVOKED = 'revoked-token-0123456789abcdef';

/** A request over node:http, which sends the Host header it is given (fetch sets its own). */
function httpRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: init.method ?? 'GET', headers: init.headers ?? {} }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end(init.body);
  });
}

/** Every route with the scope it needs (null: none) and a request that is valid apart from auth. */
// `stream`: the route answers with a stream that never ends (SSE); the request is aborted once its headers arrived.
const ROUTES: { method: string; path: string; scope: 'read' | 'enqueue' | 'admin' | null; body?: unknown; stream?: boolean }[] = [
  { method: 'GET', path: '/health', scope: null },
  { method: 'GET', path: '/ready', scope: null },
  { method: 'GET', path: '/metrics', scope: 'read' },
  { method: 'GET', path: '/api/jobs', scope: 'read' },
  { method: 'GET', path: '/api/jobs/1', scope: 'read' },
  { method: 'GET', path: '/api/jobs/1/why', scope: 'read' },
  { method: 'GET', path: '/api/definitions', scope: 'read' },
  { method: 'GET', path: '/api/queues', scope: 'read' },
  { method: 'GET', path: '/api/workers', scope: 'read' },
  { method: 'GET', path: '/api/stats', scope: 'read' },
  { method: 'GET', path: '/api/alerts/config', scope: 'read' },
  { method: 'GET', path: '/api/alerts/active', scope: 'read' },
  { method: 'GET', path: '/api/alerts/history', scope: 'read' },
  { method: 'GET', path: '/api/alerts/stats', scope: 'read' },
  { method: 'GET', path: '/api/alerts/silences', scope: 'read' },
  { method: 'POST', path: '/api/alerts/test', scope: 'admin', body: {} },
  { method: 'POST', path: '/api/alerts/silences', scope: 'admin', body: { rule: 'x', forSeconds: 60 } },
  { method: 'DELETE', path: '/api/alerts/silences/1', scope: 'admin' },
  { method: 'GET', path: '/api/stats/timeseries?window=24h', scope: 'read' },
  { method: 'GET', path: '/api/events', scope: 'read', stream: true },
  { method: 'POST', path: '/api/jobs', scope: 'enqueue', body: { name: 'ping', data: {} } },
  { method: 'POST', path: '/api/jobs/bulk', scope: 'enqueue', body: { name: 'ping', items: [{ data: {} }] } },
  { method: 'POST', path: '/api/jobs/1/cancel', scope: 'admin', body: {} },
  { method: 'POST', path: '/api/jobs/1/retry', scope: 'admin' },
  { method: 'POST', path: '/api/queues/default/pause', scope: 'admin' },
  { method: 'POST', path: '/api/queues/default/resume', scope: 'admin' },
  { method: 'POST', path: '/api/queues/default/drain', scope: 'admin' },
  { method: 'POST', path: '/api/jobs/retry', scope: 'admin', body: { state: ['dead'] } },
  { method: 'POST', path: '/api/jobs/cancel', scope: 'admin', body: { state: ['scheduled'] } },
  { method: 'POST', path: '/api/jobs/delete', scope: 'admin', body: { state: ['dead'] } },
  { method: 'DELETE', path: '/api/jobs/987654', scope: 'admin' },
  // Schedules, in an order that works: the create (the one accepted request is the admin's) makes
  // the schedule the later routes name, and the delete comes last.
  { method: 'POST', path: '/api/schedules', scope: 'admin', body: { id: 'ping.hourly', jobId: 'ping', schedule: '@hourly' } },
  { method: 'GET', path: '/api/schedules', scope: 'read' },
  { method: 'GET', path: '/api/schedules/stats', scope: 'read' },
  { method: 'GET', path: '/api/schedules/ping.hourly', scope: 'read' },
  { method: 'GET', path: '/api/schedules/ping.hourly/history', scope: 'read' },
  { method: 'PATCH', path: '/api/schedules/ping.hourly', scope: 'admin', body: { description: 'every hour' } },
  { method: 'POST', path: '/api/schedules/ping.hourly/pause', scope: 'admin' },
  { method: 'POST', path: '/api/schedules/ping.hourly/resume', scope: 'admin' },
  { method: 'POST', path: '/api/schedules/ping.hourly/trigger', scope: 'admin' },
  { method: 'DELETE', path: '/api/schedules/ping.hourly', scope: 'admin' },
];
const RANK = { read: 0, enqueue: 1, admin: 2 } as const;

describe.skipIf(!STORE_KINDS[0]!.available)('HTTP API security', () => {
  let opened: OpenedStore;
  let nightshift: Nightshift;

  beforeEach(async () => {
    opened = await STORE_KINDS[0]!.open();
  });
  afterEach(async () => {
    await nightshift?.stop();
    await opened.cleanup();
  });

  async function start(http: Parameters<typeof createNightshift>[0]['http']) {
    nightshift = createNightshift({ store: opened.store, jobs: [ping], worker: false, http });
    await nightshift.start();
    await nightshift.enqueue(ping, {}); // job 1, for the routes that name it
    return nightshift.httpAddress!;
  }

  it('every route × no token / wrong scope / right scope / revoked token', async () => {
    const base = await start({
      port: 0,
      authFailureLimit: 1000, // the matrix itself sends a wrong token to every route
      tokens: [
        { name: 'reader', token: TOKENS.read, scope: 'read' },
        { name: 'ci', token: TOKENS.enqueue, scope: 'enqueue' },
        // Stored as a digest, as a token store would keep it.
        { name: 'ops', sha256: (await import('node:crypto')).createHash('sha256').update(TOKENS.admin).digest('hex'), scope: 'admin' },
      ],
    });
    for (const route of ROUTES) {
      const send = async (token: string | null) => {
        const abort = route.stream ? new AbortController() : null;
        const reply = await fetch(`${base}${route.path}`, {
          method: route.method,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(route.body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
          ...(abort ? { signal: abort.signal } : {}),
        });
        // A stream is cut once its status is known; every other reply is read whole, as a client does.
        if (abort && reply.ok) {
          abort.abort();
          return { status: reply.status, json: async () => null };
        }
        const text = await reply.text();
        return { status: reply.status, json: async () => JSON.parse(text) as unknown };
      };
      const where = `${route.method} ${route.path}`;
      if (route.scope === null) {
        expect((await send(null)).status, where).toBe(200);
        continue;
      }
      const none = await send(null);
      expect(none.status, `${where} without a token`).toBe(401);
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
      expect((await send(REVOKED)).status, `${where} revoked`).toBe(401);
      for (const scope of ['read', 'enqueue', 'admin'] as const) {
        const reply = await send(TOKENS[scope]);
        if (RANK[scope] < RANK[route.scope]) {
          expect(reply.status, `${where} with ${scope}`).toBe(403);
          expect(((await reply.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
        } else {
          // Authorized: whatever the route answers, it is not an auth refusal (a deleted-already job is 404).
          expect([401, 403, 429], `${where} with ${scope}`).not.toContain(reply.status);
        }
      }
    }
  });

  it('NIGHTSHIFT_API_TOKEN is an admin token', async () => {
    const base = await start({ port: 0, env: { NIGHTSHIFT_API_TOKEN: TOKENS.admin } });
    expect((await fetch(`${base}/api/queues`)).status).toBe(401);
    expect((await fetch(`${base}/api/queues/default/pause`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.admin}` } })).status).toBe(200);
  });

  it('without a token it refuses to listen beyond loopback, and says how to fix it', async () => {
    nightshift = createNightshift({ store: opened.store, jobs: [ping], worker: false, http: { host: '0.0.0.0', port: 0 } });
    await expect(nightshift.start()).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without an API token.*NIGHTSHIFT_API_TOKEN/);
  });

  it('refuses changes from another site, allows reads and same-origin changes', async () => {
    const base = await start({ port: 0 });
    const host = new URL(base).host;
    const post = (headers: Record<string, string>) => fetch(`${base}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'ping', data: {} }) });
    const evil = await post({ origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(((await evil.json()) as { error: { code: string } }).error.code).toBe('CROSS_SITE_REQUEST');
    expect((await post({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'null' })).status).toBe(403);
    expect((await post({ origin: `http://${host}`, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    expect((await fetch(`${base}/api/queues`, { headers: { origin: 'https://evil.example' } })).status).toBe(200);
    const stats = await opened.store.jobStats();
    expect(stats.totals.available).toBe(2); // job 1 and the same-origin one
  });

  it('without a token it answers only requests addressed to this machine (DNS rebinding), or to allowedHosts', async () => {
    const base = await start({ port: 0, allowedHosts: ['ops.internal'] });
    const port = new URL(base).port;
    // What a page of evil.example makes its browser send once its name resolves to 127.0.0.1:
    // to the browser the API is same-origin, so only the Host header tells.
    const asHost = (host: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
      httpRequest(`${base}/api/queues`, { ...init, headers: { ...init.headers, host } });
    const rebound = await httpRequest(`${base}/api/jobs`, {
      method: 'POST',
      headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ping', data: {} }),
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: { code: 'HOST_NOT_ALLOWED', message: expect.stringContaining('DNS rebinding') } });
    expect((await asHost(`evil.example:${port}`)).status).toBe(403);
    expect((await asHost('EVIL.example')).status).toBe(403);
    expect((await asHost(`127.0.0.1.evil.example:${port}`)).status).toBe(403);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `app.localhost:${port}`, `[::1]:${port}`, `ops.internal:${port}`, 'ops.internal']) {
      expect((await asHost(host)).status, host).toBe(200);
    }
    // Health needs no token and says nothing worth rebinding for.
    expect((await httpRequest(`${base}/health`, { headers: { host: 'evil.example' } })).status).toBe(200);
    expect((await opened.store.jobStats()).totals.available ?? 0).toBe(1); // job 1 only: the rebound enqueue stored nothing
  });

  it('with a token any Host is answered (the token is what a rebinding page does not have)', async () => {
    const base = await start({ port: 0, tokens: [{ name: 'ops', token: TOKENS.admin, scope: 'admin' }] });
    const reply = await httpRequest(`${base}/api/queues`, { headers: { host: 'api.example.com', authorization: `Bearer ${TOKENS.admin}` } });
    expect(reply.status).toBe(200);
  });

  it('allows changes from configured origins only', async () => {
    const base = await start({ port: 0, allowedOrigins: ['https://ops.example.com'] });
    const post = (origin: string) => fetch(`${base}/api/queues/default/pause`, { method: 'POST', headers: { origin } });
    expect((await post('https://ops.example.com')).status).toBe(200);
    expect((await post('https://other.example.com')).status).toBe(403);
  });

  it('slows down repeated failed authentication from one address', async () => {
    const base = await start({ port: 0, tokens: [{ name: 'ops', token: TOKENS.admin, scope: 'admin' }] });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await fetch(`${base}/api/queues`, { headers: { authorization: 'Bearer wrong-token-000000000000' } })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    const locked = await fetch(`${base}/api/queues`, { headers: { authorization: `Bearer ${TOKENS.admin}` } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
