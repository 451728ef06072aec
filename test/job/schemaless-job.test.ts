// Jobs without a schema: any JSON payload, still serializability- and size-checked, typed unknown
// or by a type parameter.
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { openRuntime, type Runtime } from '../fixtures/sqlite-runtime.js';

describe('defineJob without a schema', () => {
  let runtime: Runtime | null = null;
  afterEach(async () => {
    await runtime?.close();
    runtime = null;
  });

  it('accepts any JSON payload and hands it to the handler unchanged', async () => {
    const seen: unknown[] = [];
    const plain = defineJob({
      name: 'plain',
      handler: (payload) => {
        expectTypeOf(payload).toBeUnknown();
        seen.push(payload);
      },
    });
    runtime = await openRuntime([plain]);
    const payloads = [{ userId: 42, tags: ['a'] }, [1, 2, 3], 'text', 7, null, true];
    for (const payload of payloads) await runtime.client.enqueue(plain, payload);
    const done = new Promise<void>((resolve) => {
      let n = 0;
      runtime!.events.on('job:completed', () => {
        if (++n === payloads.length) resolve();
      });
    });
    await runtime.worker.start();
    await done;
    expect(seen).toEqual(expect.arrayContaining(payloads));
    expect(seen).toHaveLength(payloads.length);
  });

  it('still refuses what JSON cannot carry and what is too large, by name and by definition', async () => {
    const plain = defineJob({ name: 'plain', handler: () => undefined });
    runtime = await openRuntime([plain]);
    const codeOf = (run: () => Promise<unknown>) => run().then(() => 'none', (error: unknown) => (error instanceof ValidationError ? error.code : String(error)));
    expect(await codeOf(() => runtime!.client.enqueue(plain, { f: () => 1 }))).toBe('PAYLOAD_NOT_SERIALIZABLE');
    expect(await codeOf(() => runtime!.client.enqueue('plain', { n: Number.NaN }))).toBe('PAYLOAD_NOT_SERIALIZABLE');
    expect(await codeOf(() => runtime!.client.enqueue(plain, undefined))).toBe('PAYLOAD_NOT_SERIALIZABLE');
    expect(await codeOf(() => runtime!.client.enqueue(plain, 'x'.repeat(2 * 1024 * 1024)))).toBe('PAYLOAD_TOO_LARGE');
    const stats = await runtime.store.jobStats();
    expect(Object.values(stats.totals).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('types payload and enqueue through a type parameter', () => {
    const typed = defineJob<{ userId: number }>({
      name: 'typed',
      handler: ({ userId }) => {
        expectTypeOf(userId).toBeNumber();
        return userId;
      },
    });
    expectTypeOf<Parameters<typeof typed.handler>[0]>().toEqualTypeOf<{ userId: number }>();
    expect(typed.schema['~standard'].validate({ anything: true })).toEqual({ value: { anything: true } });
  });

  it('still refuses a schema that is not one', () => {
    expect(() => defineJob({ name: 'bad', schema: { parse: () => 1 } as never, handler: () => undefined })).toThrow(/Standard Schema \(or left out/);
  });
});
