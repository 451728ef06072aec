// The form of a request is checked by the same rules on every route of the HTTP API, over real
// loopback HTTP on both stores (src/server/request-rules.ts): strict query strings (an unknown
// parameter is a 400 naming it, a parameter given twice says "give it once" unless it is a list),
// malformed cursors refused, JSON bodies only (415 naming application/json otherwise), an empty
// body taken as no body where every field is optional, bad combinations of query fields as
// INVALID_REQUEST, 413s that name the limit, and an OpenAPI document that lists what routes answer.
// The routes are walked from the OpenAPI document itself, so a new route is held to the same rules.
import { validate as validateOpenApi } from '@readme/openapi-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../../src/job/payload.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { BULK_BODY_LIMIT } from '../../src/server/api-schemas.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { callJson, storedJobs, type Reply } from '../support/http-call.js';

const report = defineJob({ name: 'report.build', queue: 'mail', handler: async () => undefined });

/** The default body limit of the API's routes: the payload limit plus 64 KiB for the envelope. */
const DEFAULT_BODY_LIMIT = DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024;

interface Operation {
  method: string;
  path: string;
  requestBody?: { required?: boolean };
  responses: Record<string, unknown>;
  parameters?: { name: string; in: string }[];
  security?: unknown[];
}

/** Every operation of the document, as `{ method, path, ...operation }`. */
function operationsOf(doc: { paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ ...operation, method: method.toUpperCase(), path })));
}

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`the form of requests, the same on every route, on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    let base: string;
    let jobId: string;

    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => callJson(base, method, path, body, headers);
    /** A request with a raw body (or none) and exactly the headers given: fetch adds a content-type only to a string body. */
    const raw = async (method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<Reply> => {
      const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      return { status: response.status, body: parsed, text, headers: response.headers };
    };
    /** A documented path with its parameters filled with things that exist. */
    const concrete = (path: string): string =>
      path
        .replace('/api/jobs/{id}', `/api/jobs/${jobId}`)
        .replace('/api/schedules/{id}', '/api/schedules/nightly')
        .replace('/api/alerts/silences/{id}', '/api/alerts/silences/987654')
        .replace('{name}', 'mail');
    const document = async () => (await call('GET', '/api/openapi.json')).body;

    beforeEach(async () => {
      opened = await kind.open();
      nightshift = createNightshift({
        store: opened.store,
        jobs: [report],
        worker: false,
        http: { port: 0 },
        alerts: { rules: { jobFailures: [{ name: 'report-failed', severity: 'high', conditions: { jobPattern: '^report', failureCount: 1 } }] }, evaluate: false },
      });
      await nightshift.start();
      base = nightshift.httpAddress!;
      jobId = (await call('POST', '/api/jobs', { name: 'report.build' })).body.job.id;
      expect((await call('POST', '/api/schedules', { id: 'nightly', jobId: 'report.build', schedule: '@yearly' })).status).toBe(201);
    });
    afterEach(async () => {
      await nightshift.stop();
      await opened.cleanup();
    });

    it('refuses a malformed cursor with 400 INVALID_REQUEST naming cursor, on the jobs list and the alert history alike', async () => {
      for (const path of ['/api/jobs', '/api/alerts/history']) {
        for (const cursor of ['garbage', '', '0', '01', '-1', '99999999999999999999']) {
          const reply = await call('GET', `${path}?cursor=${encodeURIComponent(cursor)}`);
          expect(reply, `${path} ${JSON.stringify(cursor)}`).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', details: { issues: [{ path: 'cursor' }] } } } });
          expect(reply.body.error.message).toContain('not a cursor this list returned');
        }
        // A well-formed cursor is a page, possibly empty.
        expect((await call('GET', `${path}?cursor=1`)).status, path).toBe(200);
      }
      // The cursors the lists hand out still page.
      for (let i = 0; i < 2; i++) await call('POST', '/api/jobs', { name: 'report.build' });
      const first = await call('GET', '/api/jobs?limit=2');
      expect(first.body.jobs).toHaveLength(2);
      const second = await call('GET', `/api/jobs?limit=2&cursor=${first.body.nextCursor}`);
      expect(second.body).toMatchObject({ jobs: [{ id: jobId }], nextCursor: null });
    });

    it('says a job id beyond the largest one is out of range, not that it is no decimal number', async () => {
      for (const id of ['99999999999999999999999', '9223372036854775808']) {
        for (const path of [`/api/jobs/${id}`, `/api/jobs/${id}/why`]) {
          const reply = await call('GET', path);
          expect(reply, path).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', details: { issues: [{ path: 'id', message: 'out of range: job ids go up to 9223372036854775807 (2^63 − 1)' }] } } } });
          expect(reply.body.error.message, path).not.toContain('decimal number');
        }
      }
      // A body's ids are held to the same rule.
      const depends = await call('POST', '/api/jobs', { name: 'report.build', dependsOn: ['99999999999999999999999'] });
      expect(depends).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', details: { issues: [{ path: 'dependsOn.0', message: expect.stringContaining('out of range') }] } } } });
      // The largest id is a well-formed one that names no job here; text that is no number says so.
      expect(await call('GET', '/api/jobs/9223372036854775807')).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
      expect((await call('GET', '/api/jobs/12ab')).body.error).toMatchObject({ code: 'INVALID_REQUEST', details: { issues: [{ path: 'id', message: 'a job id is a decimal number' }] } });
    });

    it('says "give it once" for a parameter sent twice, on every route that takes it; lists may be repeated', async () => {
      for (const path of ['/api/jobs?limit=2&limit=3', '/api/alerts/history?limit=2&limit=3', '/api/schedules/nightly/history?limit=1&limit=2', '/api/stats/timeseries?window=1h&window=24h', '/api/events?after=1&after=2', '/api/jobs?search=a&search=b']) {
        const reply = await call('GET', path);
        const name = new URLSearchParams(path.split('?')[1]).keys().next().value!;
        expect(reply, path).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', details: { issues: [{ path: name, message: 'give it once (it was sent 2 times)' }] } } } });
        expect(reply.body.error.message, path).toBe(`invalid querystring: ${name}: give it once (it was sent 2 times)`);
      }
      // Every mistake in one answer: the repeated parameter, an unknown one, and a bad value.
      const several = await call('GET', '/api/jobs?limit=2&limit=3&bogus=1&state=nope');
      expect(several.body.error.details.issues.map((issue: { path: string }) => issue.path)).toEqual(['limit', 'bogus', 'state.0']);

      // Lists: repeated, comma-separated, or both.
      const cancelled = (await call('POST', '/api/jobs', { name: 'report.build' })).body.job.id;
      await call('POST', `/api/jobs/${cancelled}/cancel`);
      const ids = async (query: string): Promise<string[]> => (await call('GET', `/api/jobs?${query}`)).body.jobs.map((job: { id: string }) => job.id);
      expect(await ids('state=cancelled&state=available')).toEqual([cancelled, jobId]);
      expect(await ids('state=cancelled,dead&state=available')).toEqual([cancelled, jobId]);
      expect(await ids('state=cancelled')).toEqual([cancelled]);
      // The event stream's filters too: both values reach the check of each type (no "give it once").
      const events = await call('GET', '/api/events?type=job:completed&type=job:dead,job:exploded');
      expect(events).toMatchObject({ status: 400, body: { error: { details: { issues: [{ path: 'type', message: expect.stringContaining('unknown event type') }] } } } });
    });

    it('refuses an unknown query parameter with 400 naming it on every route, those without parameters included', async () => {
      const operations = operationsOf(await document());
      // A route that needs a body checks it first; every other route is walked with no body.
      // Health and readiness take any query: a probe's cache buster must not read as "down".
      const walked = operations.filter((operation) => operation.requestBody?.required !== true && !['/health', '/ready'].includes(operation.path));
      expect(walked.length).toBeGreaterThan(25);
      const before = await storedJobs(opened.store);
      for (const operation of walked) {
        const reply = await call(operation.method, `${concrete(operation.path)}?bogus=1`);
        const what = `${operation.method} ${operation.path}`;
        expect(reply.status, `${what}: ${reply.text.slice(0, 200)}`).toBe(400);
        expect(reply.body.error, what).toMatchObject({ code: 'INVALID_REQUEST', details: { issues: [{ path: 'bogus' }] } });
        expect(reply.body.error.message, what).toMatch(/^invalid querystring: bogus: unknown query parameter; this route takes /);
      }
      // Refused before anything ran: no trigger, cancel or drain happened.
      expect(await storedJobs(opened.store)).toBe(before);
      expect((await call('GET', `/api/jobs/${jobId}`)).body.state).toBe('available');
      // The routes left out of the document, and one that needs a body (given a valid one).
      expect((await call('GET', '/api/openapi.json?bogus=1')).status).toBe(400);
      expect((await call('GET', '/health?probe=1&t=1733')).status).toBe(200);
      expect((await call('GET', '/ready?probe=1')).status).toBe(200);
      const stats = await call('GET', '/api/stats?bogus=1');
      expect(stats.body.error.message).toBe('invalid querystring: bogus: unknown query parameter; this route takes no query parameters');
      const list = await call('GET', '/api/jobs?limt=5');
      expect(list.body.error.message).toContain('limt: unknown query parameter; this route takes state, queue, name, search, createdAfter, createdBefore, scheduleId, errorKind, limit, cursor');
      expect((await call('POST', '/api/jobs?bogus=1', { name: 'report.build' })).status).toBe(400);
      expect(await storedJobs(opened.store)).toBe(before);
    });

    it('answers 415 naming application/json for a body of any other content type, on every route that reads a body', async () => {
      const operations = operationsOf(await document()).filter((operation) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(operation.method));
      expect(operations.length).toBeGreaterThan(15);
      const before = await storedJobs(opened.store);
      for (const operation of operations) {
        const what = `${operation.method} ${operation.path}`;
        for (const [body, headers, got] of [
          ['{"name":"report.build"}', { 'content-type': 'text/plain' }, 'content-type text/plain'],
          ['name=report.build', { 'content-type': 'application/x-www-form-urlencoded' }, 'content-type application/x-www-form-urlencoded'],
          ['{"name":"report.build"}', { 'content-type': 'application/vnd.api+json' }, 'content-type application/vnd.api+json'],
          ['{"name":"report.build"}', { 'content-type': 'not a type' }, 'content-type not a type'],
        ] as const) {
          const reply = await raw(operation.method, concrete(operation.path), body, headers);
          expect(reply.status, `${what} ${got}: ${reply.text.slice(0, 200)}`).toBe(415);
          expect(reply.body.error, what).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `send the body as JSON with content-type: application/json (got ${got})` });
        }
        expect(Object.keys(operation.responses), what).toEqual(expect.arrayContaining(['413', '415']));
      }
      expect(await storedJobs(opened.store)).toBe(before);
      expect((await call('GET', `/api/jobs/${jobId}`)).body.state).toBe('available');
      expect((await call('GET', '/api/schedules/nightly')).status).toBe(200);
      // JSON with parameters is JSON.
      expect((await raw('POST', '/api/jobs', '{"name":"report.build"}', { 'content-type': 'application/json; charset=utf-8' })).status).toBe(201);
    });

    it('takes no body, or an empty one whatever its content type, where every body field is optional; says so where a body is needed', async () => {
      const operations = operationsOf(await document()).filter((operation) => operation.requestBody !== undefined);
      const optional = operations.filter((operation) => operation.requestBody!.required === false).map((operation) => `${operation.method} ${operation.path}`);
      expect(optional.sort()).toEqual(['PATCH /api/schedules/{id}', 'POST /api/alerts/test', 'POST /api/jobs/{id}/cancel', 'POST /api/queues/{name}/drain', 'POST /api/schedules/{id}/trigger']);
      for (const operation of operations) {
        const what = `${operation.method} ${operation.path}`;
        for (const type of [null, 'application/json', 'text/plain']) {
          const headers: Record<string, string> = type === null ? {} : { 'content-type': type };
          const reply = await raw(operation.method, concrete(operation.path), type === null ? undefined : '', headers);
          if (operation.requestBody!.required === false) {
            expect(reply.status, `${what} ${JSON.stringify(headers)}: ${reply.text.slice(0, 200)}`).toBeLessThan(300);
          } else {
            expect(reply.status, what).toBe(400);
            expect(reply.body.error, what).toEqual({
              code: 'INVALID_REQUEST',
              message: 'invalid body: (value): this route needs a JSON body, sent with content-type: application/json',
              details: { issues: [{ path: '', message: 'this route needs a JSON body, sent with content-type: application/json' }] },
            });
          }
        }
      }
      // What those empty requests did: each is the request with `{}`.
      expect((await call('GET', `/api/jobs/${jobId}`)).body.state).toBe('cancelled');
      // The test's log channel writes to a silent logger: tried, and said to have written nothing.
      expect((await call('POST', '/api/alerts/test')).body).toEqual({ results: [{ channel: 'log', ok: false, error: expect.stringMatching(/the log level "silent" hides warn lines/) }] });
      expect((await call('GET', '/api/schedules/nightly')).body).toMatchObject({ id: 'nightly', cron: '@yearly', enabled: true });
      // A route without a body field takes an empty body too (e.g. a client that always sends JSON's content-type).
      expect(await raw('POST', '/api/queues/mail/pause', '', { 'content-type': 'application/json' })).toMatchObject({ status: 200, body: { queue: 'mail', paused: true } });
    });

    it('refuses a bad timeseries combination as INVALID_REQUEST naming bucket; the library keeps INVALID_OPTION', async () => {
      const reply = await call('GET', '/api/stats/timeseries?window=7d&bucket=1m');
      expect(reply).toMatchObject({
        status: 400,
        body: { error: { code: 'INVALID_REQUEST', message: 'invalid querystring: bucket: a 7d window takes buckets of 1h or more (older minutes are kept rolled up), got 1m', details: { issues: [{ path: 'bucket' }] } } },
      });
      expect((await call('GET', '/api/stats/timeseries?window=24h&bucket=15m')).status).toBe(200);
      await expect(nightshift.client.timeseries({ window: '7d', bucket: '1m' })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    });

    it('names the body limit in bytes in a 413: the default one, and the larger one of bulk and flows', async () => {
      const big = 'x'.repeat(DEFAULT_BODY_LIMIT);
      const one = await call('POST', '/api/jobs', { name: 'report.build', data: big });
      expect(one).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', details: { limitBytes: DEFAULT_BODY_LIMIT } } } });
      expect(one.body.error.message).toBe(`request body is larger than the limit of this route, ${DEFAULT_BODY_LIMIT} bytes (1.06 MiB)`);
      const huge = 'x'.repeat(BULK_BODY_LIMIT);
      for (const [path, body] of [
        ['/api/jobs/bulk', { name: 'report.build', items: [{ data: huge }] }],
        ['/api/flows', { name: 'report.build', data: huge }],
      ] as const) {
        const reply = await call('POST', path, body);
        expect(reply, path).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', details: { limitBytes: BULK_BODY_LIMIT } } } });
        expect(reply.body.error.message, path).toContain(`${BULK_BODY_LIMIT} bytes (32 MiB)`);
      }
    });

    it('refuses a priority in another case or as a string over HTTP with INVALID_REQUEST, as every malformed field; the library says INVALID_OPTION', async () => {
      for (const priority of ['HIGH', '5']) {
        const reply = await call('POST', '/api/jobs', { name: 'report.build', priority });
        expect(reply, priority).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', details: { issues: [{ path: 'priority' }] } } } });
        await expect(nightshift.enqueue('report.build', {}, { priority: priority as never }), priority).rejects.toMatchObject({ code: 'INVALID_OPTION' });
      }
    });

    it('documents 400 on every route, 413 and 415 on those that read a body, 429 on those behind a token, Last-Event-ID, and /metrics', async () => {
      const doc = await document();
      const result = await validateOpenApi(structuredClone(doc));
      expect(result.valid, JSON.stringify(result).slice(0, 500)).toBe(true);
      for (const operation of operationsOf(doc)) {
        const what = `${operation.method} ${operation.path}`;
        const codes = Object.keys(operation.responses);
        expect(codes, what).toContain('400');
        if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(operation.method)) expect(codes, what).toEqual(expect.arrayContaining(['413', '415']));
        if (codes.includes('401')) expect(codes, what).toContain('429');
        // Every route but health and readiness is behind a token.
        if (!['/health', '/ready'].includes(operation.path)) expect(codes, what).toEqual(expect.arrayContaining(['401', '403', '429']));
      }
      const events = doc.paths['/api/events'].get;
      expect(events.parameters.find((parameter: { in: string }) => parameter.in === 'header')).toMatchObject({ name: 'last-event-id', required: false, schema: { type: 'string' } });
      const metrics = doc.paths['/metrics'].get;
      expect(Object.keys(metrics.responses['200'].content)).toEqual(['text/plain; version=0.0.4']);
      // The document's default security (a bearer token) applies: not `security: []` as health has.
      expect(metrics.security).toBeUndefined();
      expect(doc.security).toEqual([{ bearer: [] }]);
      expect(doc.paths['/health'].get.security).toEqual([]);
    });
  });
}

describe.skipIf(!STORE_KINDS[0]!.available)('the documented 413, 429 and /metrics behind a token', () => {
  let opened: OpenedStore;
  let nightshift: Nightshift;
  const TOKEN = 'reader-token-0123456789abcdef';
  const ADMIN = 'admin-token-0123456789abcdef';
  afterEach(async () => {
    await nightshift.stop();
    await opened.cleanup();
  });

  it('answers them in the documented shape (every reply is checked against its schema in the tests)', async () => {
    opened = await STORE_KINDS[0]!.open();
    nightshift = createNightshift({
      store: opened.store,
      jobs: [report],
      worker: false,
      http: { port: 0, bodyLimitBytes: 4096, authFailureLimit: 2, tokens: [{ name: 'reader', token: TOKEN, scope: 'read' }, { name: 'ops', token: ADMIN, scope: 'admin' }] },
    });
    await nightshift.start();
    const base = nightshift.httpAddress!;
    const as = (token: string) => ({ authorization: `Bearer ${token}` });

    // A configured limit is the one named.
    const big = await callJson(base, 'POST', '/api/jobs', { name: 'report.build', data: 'x'.repeat(5000) }, as(ADMIN));
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is larger than the limit of this route, 4096 bytes (4 KiB)', details: { limitBytes: 4096 } } } });

    const metrics = await fetch(`${base}/metrics`, { headers: as(TOKEN) });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await metrics.text()).toContain('# TYPE nightshift_jobs_completed_total counter');
    expect((await fetch(`${base}/metrics`)).status).toBe(401);

    for (let i = 0; i < 2; i++) expect((await callJson(base, 'GET', '/api/stats', undefined, as('wrong-token-0123456789abcdef'))).status).toBe(401);
    for (const path of ['/api/stats', '/metrics']) {
      const limited = await callJson(base, 'GET', path, undefined, as(TOKEN));
      expect(limited, path).toMatchObject({ status: 429, body: { error: { code: 'TOO_MANY_FAILED_LOGINS' } } });
      expect(Number(limited.headers.get('retry-after')), path).toBeGreaterThan(0);
    }
  });
});
