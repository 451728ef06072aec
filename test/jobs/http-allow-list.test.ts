/**
 * The built-in `http` job sends requests only where `builtins.http.allow` says, redirects
 * included, and never to link-local / cloud metadata addresses the list does not name itself.
 * Real requests to a real loopback server, which records every request it gets: a refused job
 * must not have reached it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnrecoverableError } from '../../src/errors.js';
import type { JobContext } from '../../src/job/define-job.js';
import { validatePayload } from '../../src/job/schema.js';
import { builtinJobs } from '../../src/jobs/builtin-jobs.js';
import { HttpAllowList, lookupRefusingMetadata, metadataHostReason, parseHttpAllowEntry, systemLookup, type LookupFunction } from '../../src/jobs/http-allow-list.js';
import { createHttpJob } from '../../src/jobs/http-job.js';
import { createSilentLogger } from '../../src/observe/logger.js';
import { storeHarnesses, type OpenedStore } from '../scheduler/store-harness.js';
import { runThroughWorker } from './builtin-worker-run.js';

function context(): JobContext {
  return {
    id: '1',
    name: 'http',
    queue: 'default',
    attempt: 1,
    maxAttempts: 1,
    log: createSilentLogger(),
    signal: new AbortController().signal,
    now: () => new Date(),
    heartbeat: async () => undefined,
    progress: () => undefined,
    publish: () => undefined,
    enqueue: () => Promise.reject(new Error('not expected')),
    enqueueMany: () => Promise.reject(new Error('not expected')),
    childResults: () => Promise.reject(new Error('not expected')),
  };
}

async function run(job: ReturnType<typeof createHttpJob>, input: unknown): Promise<unknown> {
  const payload = await validatePayload(job.name, job.schema, input);
  return job.handler(payload as never, context());
}

/** Every request the loopback server got, as `METHOD /path`. */
const seen: string[] = [];
let server: http.Server;
let port: number;
let origin: string;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    const url = new URL(request.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/fail')) {
      response.writeHead(500, { 'content-type': 'text/plain' }).end('down');
    } else if (url.pathname.startsWith('/redirect')) {
      response.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/' }).end();
    } else {
      response.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${url.pathname}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
});

describe('allow-list entries', () => {
  it('match hosts on any port and scheme, ports when written, and URL prefixes by whole path segments', () => {
    const list = new HttpAllowList(['hooks.example.org', 'Example.COM.:8443', '[::1]', 'https://api.example.net/v1', 'http://10.0.0.5:8080/']);
    const allowed = (url: string): string | undefined => list.match(new URL(url))?.written;
    expect(allowed('https://hooks.example.org/a')).toBe('hooks.example.org');
    expect(allowed('http://HOOKS.example.org.:9000/a?b=c')).toBe('hooks.example.org');
    expect(allowed('https://example.com:8443/')).toBe('Example.COM.:8443');
    expect(allowed('https://example.com/')).toBeUndefined();
    expect(allowed('http://[::1]:3000/x')).toBe('[::1]');
    expect(allowed('https://api.example.net/v1')).toBe('https://api.example.net/v1');
    expect(allowed('https://api.example.net:443/v1/users?x=1')).toBe('https://api.example.net/v1');
    expect(allowed('https://api.example.net/v10')).toBeUndefined();
    expect(allowed('https://api.example.net/v1/../admin')).toBeUndefined();
    expect(allowed('https://api.example.net/v1/%2e%2e/admin')).toBeUndefined();
    expect(allowed('http://api.example.net/v1/')).toBeUndefined();
    expect(allowed('https://api.example.net:8443/v1/')).toBeUndefined();
    expect(allowed('http://10.0.0.5:8080/anything')).toBe('http://10.0.0.5:8080/');
    expect(allowed('http://10.0.0.5/anything')).toBeUndefined();
    expect(allowed('https://hooks.example.org@evil.example/')).toBeUndefined();
    expect(allowed('https://evil.example/hooks.example.org')).toBeUndefined();
    expect(allowed('https://hooks.example.org.evil.example/')).toBeUndefined();
  });

  it('refuse malformed entries with what is wrong', () => {
    expect(() => parseHttpAllowEntry('*.example.org')).toThrow('wildcards are not supported');
    expect(() => parseHttpAllowEntry('ftp://example.org/')).toThrow('only http:// and https://');
    expect(() => parseHttpAllowEntry('https://user:pw@example.org/')).toThrow('credentials');
    expect(() => parseHttpAllowEntry('https://example.org/?q=1')).toThrow('no query or fragment');
    expect(() => parseHttpAllowEntry('example.org/path')).toThrow('write a host');
    expect(() => parseHttpAllowEntry('::1')).toThrow('brackets');
    expect(() => parseHttpAllowEntry('')).toThrow('must not be empty');
  });

  it('know link-local and metadata hosts in every spelling the URL parser accepts', () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://0xa9fea9fe/',
      'http://2852039166/',
      'http://169.254.169.254./',
      'http://[::ffff:169.254.169.254]/',
      'http://[fe80::1]/',
      'http://[fd00:ec2::254]/',
      'http://100.100.100.200/',
      'http://Metadata.Google.Internal./computeMetadata/v1/',
      'http://metadata/',
    ]) {
      const host = new URL(url).hostname.replace(/\.$/, '');
      expect(metadataHostReason(host), url).not.toBeNull();
    }
    for (const host of ['127.0.0.1', '10.0.0.1', '[::1]', 'example.org', '169.253.255.255', '169.255.0.1']) expect(metadataHostReason(host), host).toBeNull();
  });
});

describe('the http job', () => {
  it('sends nothing to a URL outside the allow-list, and says how to allow it', async () => {
    const job = createHttpJob({ allow: [`${origin}/allowed/`] });
    expect(await run(job, { url: `${origin}/allowed/ok` })).toMatchObject({ status: 200, body: 'hello from /allowed/ok' });
    const refused = run(job, { url: `${origin}/secret`, method: 'POST', body: { x: 1 } });
    await expect(refused).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(refused).rejects.toThrow(
      `refused POST ${origin}/secret: ${origin}/secret is outside every builtins.http.allow entry for 127.0.0.1 (${origin}/allowed/) (allowed: ${origin}/allowed/); add the host or a URL prefix there to allow it`,
    );
    await expect(run(job, { url: `http://localhost:${port}/allowed/ok` })).rejects.toThrow(/localhost:\d+ is not in builtins\.http\.allow/);
    expect(seen).toEqual(['GET /allowed/ok']);
  });

  it('follows redirects only to allowed URLs', async () => {
    const job = createHttpJob({ allow: [`${origin}/allowed/`, `${origin}/redirect`] });
    const hop = (to: string, status = 302): string => `${origin}/redirect?status=${status}&to=${encodeURIComponent(to)}`;
    expect(await run(job, { url: hop('/allowed/target') })).toMatchObject({ status: 200, body: 'hello from /allowed/target' });
    // 307 keeps the method and body; 303 turns them into a GET.
    await run(job, { url: hop('/allowed/kept', 307), method: 'PUT', body: {} });
    await run(job, { url: hop('/allowed/seen-other', 303), method: 'PUT', body: {} });
    expect(seen.splice(0)).toEqual([
      `GET /redirect?status=302&to=${encodeURIComponent('/allowed/target')}`,
      'GET /allowed/target',
      `PUT /redirect?status=307&to=${encodeURIComponent('/allowed/kept')}`,
      'PUT /allowed/kept',
      `PUT /redirect?status=303&to=${encodeURIComponent('/allowed/seen-other')}`,
      'GET /allowed/seen-other',
    ]);

    await expect(run(job, { url: hop('/secret') })).rejects.toThrow(`refused the redirect of GET ${origin}/redirect?… to ${origin}/secret: ${origin}/secret is outside every builtins.http.allow entry for 127.0.0.1`);
    await expect(run(job, { url: hop('http://169.254.169.254/latest/meta-data/iam/') })).rejects.toThrow(
      /refused the redirect of .* to http:\/\/169\.254\.169\.254\/latest\/meta-data\/iam\/: 169\.254\.169\.254 is a link-local \/ cloud metadata address/,
    );
    // The redirects were answered; their targets were never asked.
    expect(seen.filter((request) => !request.startsWith('GET /redirect'))).toEqual([]);
  });

  it('refuses link-local and metadata hosts even where the list allows every other host, unless it names them', async () => {
    const job = createHttpJob({ allow: ['127.0.0.1', 'metadata.goog'] });
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://0xa9fea9fe/', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]/', 'http://100.100.100.200/', 'http://metadata.google.internal/']) {
      const refused = run(job, { url });
      await expect(refused, url).rejects.toBeInstanceOf(UnrecoverableError);
      await expect(refused, url).rejects.toThrow(/link-local \/ cloud metadata address|cloud metadata host name/);
      await expect(refused, url).rejects.toThrow(/unless builtins\.http\.allow names it itself \(add ".*" there to allow it\)/);
    }
  });

  it('checks the addresses a name resolves to when connecting, so DNS cannot lead it to a metadata address', async () => {
    // A resolver answering like a DNS server under someone else's control; the connection is real.
    const answers: Record<string, string> = { 'app.test': '127.0.0.1', 'rebound.test': '169.254.169.254', 'metadata.google.internal': '127.0.0.1' };
    const lookup: LookupFunction = (hostname, options, callback) => {
      const address = answers[hostname];
      if (address === undefined) return systemLookup(hostname, options, callback);
      if (options.all) callback(null, [{ address, family: 4 }]);
      else callback(null, address, 4);
    };
    const job = createHttpJob({ allow: ['app.test', 'rebound.test', 'metadata.google.internal'] }, { lookup });
    // The lookup is what the socket connects with: app.test reaches the loopback server.
    expect(await run(job, { url: `http://app.test:${port}/via-dns` })).toMatchObject({ status: 200, body: 'hello from /via-dns' });
    const refused = run(job, { url: `http://rebound.test:${port}/latest/meta-data/` });
    await expect(refused).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(refused).rejects.toThrow(`GET http://rebound.test:${port}/latest/meta-data/: refused: rebound.test resolves to 169.254.169.254; 169.254.169.254 is a link-local / cloud metadata address`);
    // Named in the list itself: allowed, whatever it resolves to.
    expect(await run(job, { url: `http://metadata.google.internal:${port}/named` })).toMatchObject({ status: 200 });
    expect(seen).toEqual(['GET /via-dns', 'GET /named']);

    // The guard alone, on the system resolver: localhost is fine.
    const guarded = lookupRefusingMetadata();
    const resolved = await new Promise<unknown>((resolve, reject) => guarded('localhost', { all: true }, (error, address) => (error ? reject(error) : resolve(address))));
    expect(Array.isArray(resolved) && resolved.length > 0).toBe(true);
  });

  it('never shows a URL\'s query in its errors: a key there stays out of logs, job records and alerts', async () => {
    const job = createHttpJob({ allow: [`${origin}/fail`, `${origin}/redirect`] });
    const failed = run(job, { url: `${origin}/fail/ping?apikey=QSECRET&x=1` });
    await expect(failed).rejects.toThrow(`GET ${origin}/fail/ping?… answered 500 Internal Server Error: down`);
    const refused = run(job, { url: `${origin}/redirect?to=${encodeURIComponent(`${origin}/elsewhere?token=RSECRET#frag`)}` });
    await expect(refused).rejects.toThrow(`refused the redirect of GET ${origin}/redirect?… to ${origin}/elsewhere?…: `);
    for (const error of [await failed.catch((e: unknown) => e), await refused.catch((e: unknown) => e)]) {
      expect(String((error as Error).message)).not.toMatch(/SECRET|frag/);
    }
    expect(seen.splice(0)).toEqual(['GET /fail/ping?apikey=QSECRET&x=1', `GET /redirect?to=${encodeURIComponent(`${origin}/elsewhere?token=RSECRET#frag`)}`]);
  });

  it('rejects URLs carrying credentials up front', async () => {
    const job = createHttpJob({ allow: ['127.0.0.1'] });
    await expect(validatePayload('http', job.schema, { url: `http://user:pw@127.0.0.1:${port}/` })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
  });
});

for (const harness of storeHarnesses) {
  describe(`the http job through a worker on ${harness.label}`, () => {
    let opened: OpenedStore;
    beforeEach(async () => {
      opened = await harness.open(Date.now());
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    it('completes an allowed request and ends a refused one dead without sending it', async () => {
      const jobs = builtinJobs({ http: { allow: [`${origin}/hooks/`] } });
      expect(await runThroughWorker(opened, jobs, 'http', { url: `${origin}/hooks/nightly`, method: 'POST', body: {} })).toMatchObject({ state: 'completed', result: { status: 200 } });
      const refused = await runThroughWorker(opened, jobs, 'http', { url: `${origin}/admin/delete-everything`, method: 'POST', body: {} });
      expect(refused).toMatchObject({ state: 'dead', error: { message: expect.stringContaining(`${origin}/admin/delete-everything is outside every builtins.http.allow entry for 127.0.0.1`) } });
      const metadata = await runThroughWorker(opened, jobs, 'http', { url: 'http://169.254.169.254/latest/meta-data/' });
      expect(metadata).toMatchObject({ state: 'dead', error: { message: expect.stringContaining('169.254.169.254 is a link-local / cloud metadata address') } });
      expect(seen).toEqual(['POST /hooks/nightly']);
    });
  });
}
