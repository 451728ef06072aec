// Deeply nested payloads: enqueue refuses nesting past MAX_PAYLOAD_DEPTH with a ValidationError
// naming the limit (never a stack overflow, however deep), the same way on both stores because it
// is decided before either; what is at the limit is stored and read back unchanged; and a stored
// value deeper than the limit (written around the checks) reads as a parse error, not a crash.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/client/client.js';
import { jobToJson } from '../../src/client/job-json.js';
import { ValidationError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { MAX_PAYLOAD_DEPTH } from '../../src/job/input-bounds.js';
import { toAttempt, toJob } from '../../src/job/job-view.js';
import { parseStoredJson, serializePayload } from '../../src/job/payload.js';
import { createNightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { storedJobs } from '../support/http-call.js';

/** `levels` arrays nested in one another around `leaf`, as a value (built without recursion). */
function nestedArrays(levels: number, leaf: unknown = 0): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

/** `levels` objects nested under key `k`. */
function nestedObjects(levels: number, leaf: unknown = 0): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = { k: value };
  return value;
}

/** The JSON text of `levels` nested arrays. */
const nestedText = (levels: number): string => `${'['.repeat(levels)}0${']'.repeat(levels)}`;

function refusal(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

const LIMIT_MESSAGE = `more than ${MAX_PAYLOAD_DEPTH} levels deep`;

describe('serializePayload: the nesting limit', () => {
  it('is 256 levels, counted as JSON nests them', () => {
    expect(MAX_PAYLOAD_DEPTH).toBe(256);
  });

  it('stores a payload nested exactly to the limit unchanged, and refuses one level more with the path', () => {
    // The payload object is level 1, so `n` may hold 255 levels of arrays.
    const atLimit = { label: 'x', n: nestedArrays(MAX_PAYLOAD_DEPTH - 1) };
    expect(serializePayload(atLimit)).toBe(JSON.stringify(atLimit));
    const over = { label: 'x', n: nestedArrays(MAX_PAYLOAD_DEPTH) };
    const error = refusal(() => serializePayload(over));
    expect(error.code).toBe('PAYLOAD_NOT_SERIALIZABLE');
    expect(error.message).toContain(LIMIT_MESSAGE);
    // The message shows the first steps of the path; the issue has all of it.
    expect(error.message).toContain('(at payload.n.0.0.0.0.…)');
    expect(error.issues).toEqual([{ path: ['n', ...Array(MAX_PAYLOAD_DEPTH - 1).fill('0')].join('.'), message: `nested ${LIMIT_MESSAGE}` }]);
    expect(refusal(() => serializePayload(nestedObjects(MAX_PAYLOAD_DEPTH + 1))).code).toBe('PAYLOAD_NOT_SERIALIZABLE');
    expect(serializePayload(nestedObjects(MAX_PAYLOAD_DEPTH))).toBe(JSON.stringify(nestedObjects(MAX_PAYLOAD_DEPTH)));
  });

  it.each([2_500, 5_000, 100_000])('refuses %i levels (arrays and objects) with the typed error, not a stack overflow', (levels) => {
    for (const value of [{ label: 'x', n: nestedArrays(levels) }, nestedObjects(levels), [1, 'two', nestedArrays(levels)]]) {
      const error = refusal(() => serializePayload(value));
      expect(error.code).toBe('PAYLOAD_NOT_SERIALIZABLE');
      expect(error.message).toContain(LIMIT_MESSAGE);
    }
  });

  it('still names a cycle, a function or NaN met before the limit', () => {
    const cyclic: Record<string, unknown> = { a: { b: {} } };
    (cyclic.a as { b: Record<string, unknown> }).b.back = cyclic;
    expect(refusal(() => serializePayload(cyclic)).message).toContain('payload.a.b.back is a circular reference');
    const badFirst = { bad: Number.NaN, deep: nestedArrays(5_000) };
    expect(refusal(() => serializePayload(badFirst)).message).toContain('payload.bad is NaN');
    expect(refusal(() => serializePayload({ f: () => 1, deep: nestedArrays(5_000) })).message).toContain('payload.f is a function');
    // A cycle deeper in than the limit is endless nesting: the depth error, still typed.
    const tail: Record<string, unknown> = {};
    const long = nestedObjects(MAX_PAYLOAD_DEPTH + 10, tail) as Record<string, unknown>;
    tail.loop = long;
    expect(refusal(() => serializePayload(long)).code).toBe('PAYLOAD_NOT_SERIALIZABLE');
  });

  it('counts what a Buffer and a toJSON method serialize to', () => {
    // `{"type":"Buffer","data":[…]}`: two levels.
    const bufferAt = (enclosing: number) => nestedArrays(enclosing, Buffer.from('hi'));
    expect(JSON.parse(serializePayload(bufferAt(MAX_PAYLOAD_DEPTH - 2)))).toBeDefined();
    expect(refusal(() => serializePayload(bufferAt(MAX_PAYLOAD_DEPTH - 1))).message).toContain(LIMIT_MESSAGE);
    // A Date is a string.
    expect(serializePayload(nestedArrays(MAX_PAYLOAD_DEPTH, new Date(0)))).toBe(JSON.stringify(nestedArrays(MAX_PAYLOAD_DEPTH, new Date(0))));
    // What any other toJSON returns is read from the text: too deep for the limit, and too deep for JSON.stringify.
    const returning = (value: unknown) => ({ toJSON: () => value });
    expect(refusal(() => serializePayload({ x: returning(nestedArrays(MAX_PAYLOAD_DEPTH)) })).message).toContain(LIMIT_MESSAGE);
    expect(refusal(() => serializePayload({ x: returning(nestedArrays(100_000)) })).message).toContain(LIMIT_MESSAGE);
    expect(serializePayload({ x: returning(nestedArrays(MAX_PAYLOAD_DEPTH - 1)) })).toBe(JSON.stringify({ x: nestedArrays(MAX_PAYLOAD_DEPTH - 1) }));
  });

  it('checks wide payloads as before: many small parts, deep enough to be real', () => {
    const rows = Array.from({ length: 2_000 }, (_, i) => ({ id: i, tags: ['a', 'b'], address: { city: 'X', geo: { lat: 1, lng: 2 } } }));
    expect(serializePayload({ rows })).toBe(JSON.stringify({ rows }));
  });
});

describe('parseStoredJson and the job view: stored values past the limit', () => {
  it('counts real nesting, not brackets: inside strings or side by side they do not add up', () => {
    const inStrings = { a: '['.repeat(5_000), b: `\\"${'{'.repeat(600)}` };
    expect(parseStoredJson(JSON.stringify(inStrings))).toEqual({ ok: true, value: inStrings });
    const wide = { rows: Array.from({ length: 2_000 }, (_, i) => ({ id: i, v: [i, [i]] })) };
    expect(parseStoredJson(JSON.stringify(wide))).toEqual({ ok: true, value: wide });
    const deepAfterWide = { rows: wide.rows, tail: nestedArrays(MAX_PAYLOAD_DEPTH) };
    expect(parseStoredJson(JSON.stringify(deepAfterWide)).ok).toBe(false);
    const deepObjects = nestedObjects(MAX_PAYLOAD_DEPTH + 1);
    expect(parseStoredJson(JSON.stringify(deepObjects)).ok).toBe(false);
    expect(parseStoredJson(JSON.stringify(nestedObjects(MAX_PAYLOAD_DEPTH))).ok).toBe(true);
  });

  it('parses what enqueue accepts, and reports a deeper value as unreadable without parsing it', () => {
    expect(parseStoredJson(nestedText(MAX_PAYLOAD_DEPTH))).toEqual({ ok: true, value: nestedArrays(MAX_PAYLOAD_DEPTH) });
    const deep = parseStoredJson(nestedText(5_000));
    expect(deep.ok).toBe(false);
    expect(!deep.ok && deep.error).toContain(LIMIT_MESSAGE);
    expect(parseStoredJson('{"a":')).toMatchObject({ ok: false });
  });

  it('a job and an attempt with too-deep stored values become views that serialize', () => {
    const now = new Date();
    const record = {
      id: '1', name: 'deep.job', queue: 'default', state: 'completed' as const, priority: 0, attempt: 1, maxAttempts: 3,
      runAt: now, createdAt: now, attemptedAt: now, finishedAt: now, key: null, timeoutMs: null, lease: null, lastError: null,
      scheduleId: null, meta: null, concurrencyKey: null, concurrencyLimit: null,
      payload: nestedText(5_000), result: `{"r":${nestedText(5_000)}}`, progress: '{"ok":1}',
    };
    const job = toJob(record);
    expect(job.payload).toBeUndefined();
    expect(job.result).toBeUndefined();
    expect(job.progress).toEqual({ ok: 1 });
    expect(job.parseErrors.map((error) => error.field)).toEqual(['payload', 'result']);
    expect(job.parseErrors[0]!.message).toContain(LIMIT_MESSAGE);
    expect(JSON.parse(JSON.stringify(jobToJson(job)))).toMatchObject({ payload: null, result: null, progress: { ok: 1 } });
    const attempt = toAttempt({ jobId: '1', attempt: 1, workerId: 'w', startedAt: now, finishedAt: now, durationMs: 1, outcome: 'completed', error: null, result: nestedText(5_000) });
    expect(attempt.result).toBeUndefined();
    expect(attempt.resultError).toContain(LIMIT_MESSAGE);
  });
});

const schemaless = defineJob({ name: 'deep.job', handler: async () => undefined });
const deepResult = defineJob({ name: 'deep.result', retry: { attempts: 1 }, handler: async () => ({ tree: nestedArrays(5_000) }) });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`enqueue and results on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let client: Client;
    beforeEach(async () => {
      opened = await kind.open();
      client = createClient({ store: opened.store, jobs: [schemaless] });
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    it('enqueue and enqueueMany refuse too-deep payloads before the store; the limit itself round-trips', async () => {
      await expect(client.enqueue('deep.job', { label: 'x', n: nestedArrays(3_000) })).rejects.toMatchObject({ code: 'PAYLOAD_NOT_SERIALIZABLE', message: expect.stringContaining(LIMIT_MESSAGE) });
      const bulk = await client.enqueueMany('deep.job', [{ ok: 1 }, nestedObjects(MAX_PAYLOAD_DEPTH + 1)]).catch((error: unknown) => error);
      expect(bulk).toBeInstanceOf(ValidationError);
      expect((bulk as ValidationError).message).toMatch(/^item 1: payload nests arrays and objects more than 256 levels deep/);
      expect((bulk as ValidationError).issues[0]!.path).toMatch(/^1\.k\.k\./);
      expect(await storedJobs(opened.store)).toBe(0);

      const atLimit = { label: 'x', n: nestedArrays(MAX_PAYLOAD_DEPTH - 1) };
      const { job } = await client.enqueue('deep.job', atLimit);
      expect(job.payload).toEqual(atLimit);
      const read = await client.get(job.id);
      expect(read.payload).toEqual(atLimit);
      expect(read.parseErrors).toEqual([]);
    });

    it('a handler returning a too-deep result fails its attempt with the typed error instead of crashing the worker', async () => {
      const nightshift = createNightshift({ store: opened.store, jobs: [deepResult], pollIntervalMs: 20, rescue: false, prune: false });
      await nightshift.start();
      try {
        const { job } = await nightshift.client.enqueue('deep.result', {});
        const deadline = Date.now() + 10_000;
        while ((await nightshift.client.get(job.id)).state !== 'dead' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        const finished = await nightshift.client.get(job.id);
        expect(finished.state).toBe('dead');
        expect(finished.lastError?.message).toContain(LIMIT_MESSAGE);
        expect(finished.result).toBeNull();
      } finally {
        await nightshift.stop();
      }
    });
  });
}
