import Fastify, { type FastifyInstance } from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readEnvFlag } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';
import { handleError } from '../../src/server/http-errors.js';
import { replySerializerCompiler } from '../../src/server/reply-serializer.js';

const replySchema = z.object({ id: z.string(), count: z.number(), when: z.string().nullable() });

/** A fastify app on loopback with one route per reply under test, all documented by `replySchema`. */
async function serve(check: boolean): Promise<{ app: FastifyInstance; url: string; logged: string[] }> {
  const logged: string[] = [];
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => void logged.push(line) } } });
  app.setSerializerCompiler(replySerializerCompiler(check));
  app.setErrorHandler(handleError);
  const api = app.withTypeProvider<ZodTypeProvider>();
  const replies: Record<string, unknown> = {
    exact: { id: 'a', count: 1, when: null },
    reordered: { when: '2026-01-01T00:00:00.000Z', count: 2, id: 'b' },
    extra: { id: 'c', count: 3, when: null, secret: 'not documented' },
    wrongType: { id: 'd', count: '4', when: null },
    missing: { id: 'e', when: null },
  };
  for (const [path, value] of Object.entries(replies)) {
    api.get(`/${path}`, { schema: { response: { 200: replySchema } } }, async () => value as z.infer<typeof replySchema>);
  }
  // A reply deeper than JSON.stringify can walk (stored values never are: parseStoredJson refuses them).
  let tree: unknown = 0;
  for (let i = 0; i < 20_000; i++) tree = [tree];
  api.get('/deep', { schema: { response: { 200: z.object({ tree: z.unknown() }) } } }, async () => ({ tree }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, logged };
}

async function get(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

describe('replies and their documented schemas', () => {
  let app: FastifyInstance | null = null;
  afterEach(async () => {
    await app?.close();
    app = null;
  });

  it('with checking on, answers 500 for a reply its schema does not describe exactly, and logs which route', async () => {
    const served = await serve(true);
    app = served.app;
    expect(await get(`${served.url}/exact`)).toEqual({ status: 200, body: { id: 'a', count: 1, when: null } });
    // Key order is the serializer's business, not the schema's.
    expect(await get(`${served.url}/reordered`)).toEqual({ status: 200, body: { when: '2026-01-01T00:00:00.000Z', count: 2, id: 'b' } });
    for (const path of ['extra', 'wrongType', 'missing']) {
      const reply = await get(`${served.url}/${path}`);
      expect(reply, path).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; see the server log' } } });
    }
    const log = served.logged.join('\n');
    expect(log).toContain('the reply of GET /extra does not match its documented schema');
    expect(log).toContain('not documented');
    expect(log).toContain('the reply of GET /wrongType does not match its documented schema');
    expect(log).toContain('the reply of GET /missing does not match its documented schema');
  });

  it('with checking off (the default outside tests), writes every reply as it was built', async () => {
    const served = await serve(false);
    app = served.app;
    expect(await get(`${served.url}/extra`)).toEqual({ status: 200, body: { id: 'c', count: 3, when: null, secret: 'not documented' } });
    expect(await get(`${served.url}/wrongType`)).toEqual({ status: 200, body: { id: 'd', count: '4', when: null } });
    expect(served.logged).toEqual([]);
  });

  it.each([true, false])('with checking %s, a reply too deep to write is a 500 whose log names the route, not a bare stack overflow', async (check) => {
    const served = await serve(check);
    app = served.app;
    expect(await get(`${served.url}/deep`)).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; see the server log' } } });
    expect(await get(`${served.url}/exact`)).toEqual({ status: 200, body: { id: 'a', count: 1, when: null } });
    expect(served.logged.join('\n')).toContain('the reply of GET /deep nests too deeply to be written as JSON');
  });

  it('NIGHTSHIFT_CHECK_REPLIES reads as on/off, and anything else is a config error naming it', () => {
    expect(readEnvFlag('NIGHTSHIFT_CHECK_REPLIES', {})).toBe(false);
    expect(readEnvFlag('NIGHTSHIFT_CHECK_REPLIES', { NIGHTSHIFT_CHECK_REPLIES: ' ' })).toBe(false);
    for (const on of ['1', 'true', 'YES', 'on']) expect(readEnvFlag('NIGHTSHIFT_CHECK_REPLIES', { NIGHTSHIFT_CHECK_REPLIES: on }), on).toBe(true);
    for (const off of ['0', 'false', 'No', 'off']) expect(readEnvFlag('NIGHTSHIFT_CHECK_REPLIES', { NIGHTSHIFT_CHECK_REPLIES: off }), off).toBe(false);
    expect(() => readEnvFlag('NIGHTSHIFT_CHECK_REPLIES', { NIGHTSHIFT_CHECK_REPLIES: 'maybe' })).toThrow(ConfigError);
    expect(() => readEnvFlag('NIGHTSHIFT_CHECK_REPLIES', { NIGHTSHIFT_CHECK_REPLIES: 'maybe' })).toThrow(/NIGHTSHIFT_CHECK_REPLIES: must be 1, true/);
  });

  it('is on in this test suite, so every API test checks the replies it reads', () => {
    expect(readEnvFlag('NIGHTSHIFT_CHECK_REPLIES')).toBe(true);
  });
});
