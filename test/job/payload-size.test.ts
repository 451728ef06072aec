// An oversized payload is refused before its JSON text is built, so one bad enqueue cannot
// exhaust the process's memory; what is JSON-safe and within the limit still serializes exactly.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { serializePayload } from '../../src/job/payload.js';

function refusal(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('serializePayload size checks', () => {
  it('refuses a 200 MB string without building its JSON text', () => {
    const big = 'x'.repeat(200 * 1024 * 1024);
    global.gc?.();
    const before = process.memoryUsage();
    const error = refusal(() => serializePayload({ blob: big }, 1024 * 1024));
    const after = process.memoryUsage();
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.message).toContain('the limit is 1048576 bytes');
    // Serializing would have added at least 200 MB of string; allow far less than that.
    expect(after.rss - before.rss).toBeLessThan(50 * 1024 * 1024);
  });

  it('refuses many small parts and a large Buffer early too', () => {
    const many = Array.from({ length: 300_000 }, (_, i) => ({ i }));
    expect(refusal(() => serializePayload(many, 1024 * 1024)).code).toBe('PAYLOAD_TOO_LARGE');
    expect(refusal(() => serializePayload({ file: Buffer.alloc(2 * 1024 * 1024) }, 1024 * 1024)).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('still names a cycle or an unserializable value, even inside a large payload', () => {
    const cyclic: Record<string, unknown> = { pad: 'x'.repeat(2000) };
    cyclic.self = cyclic;
    expect(refusal(() => serializePayload(cyclic, 1000)).message).toContain('payload.self is a circular reference');
    expect(refusal(() => serializePayload({ pad: 'x'.repeat(2000), f: () => 1 }, 1000)).code).toBe('PAYLOAD_NOT_SERIALIZABLE');
    const deep: Record<string, unknown> = {};
    let at = deep;
    // Deep, but within the nesting limit (256 levels): the value itself is what gets named.
    for (let i = 0; i < 250; i++) at = (at.next = {}) as Record<string, unknown>;
    at.bad = Number.NaN;
    expect(refusal(() => serializePayload(deep)).code).toBe('PAYLOAD_NOT_SERIALIZABLE');
    expect(refusal(() => serializePayload(deep)).message).toMatch(/^payload\.next\.next\..*\.bad is NaN/);
  });

  it('serializes what fits exactly as JSON.stringify does, counting UTF-8 bytes', () => {
    const value = { a: [1, 'two', null, true, { b: new Date(0) }], s: 'é😀\u0000' };
    expect(serializePayload(value)).toBe(JSON.stringify(value));
    // 400 three-byte characters: 400 characters, 1202 bytes.
    expect(refusal(() => serializePayload('€'.repeat(400), 1000)).message).toContain('1202 bytes');
    expect(serializePayload('€'.repeat(300), 1000)).toBe(JSON.stringify('€'.repeat(300)));
  });
});
