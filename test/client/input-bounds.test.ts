// Input that no store could keep, or keep the same way, is refused before the store with
// INVALID_OPTION and the documented bound in the message — identically on SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, type Client } from '../../src/client/client.js';
import { ValidationError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { MAX_DELAY_MS } from '../../src/job/input-bounds.js';
import { snooze } from '../../src/job/outcomes.js';
import { createScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const anything = defineJob({ name: 'anything', schema: z.any(), handler: async () => undefined });

function codeOf(run: () => unknown): Promise<{ code: string; message: string }> {
  return Promise.resolve()
    .then(run)
    .then(
      () => ({ code: 'none', message: 'resolved' }),
      (error: unknown) => ({ code: error instanceof ValidationError ? error.code : `not a ValidationError: ${String(error)}`, message: (error as Error).message }),
    );
}

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`input bounds on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let client: Client;

    beforeEach(async () => {
      opened = await kind.open();
      client = createClient({ store: opened.store, jobs: [anything] });
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    async function stored(): Promise<number> {
      const stats = await opened.store.jobStats();
      return Object.values(stats.totals).reduce((sum, n) => sum + n, 0);
    }

    it.each([
      ['delayMs 1e20', { delayMs: 1e20 }, String(MAX_DELAY_MS)],
      ['delayMs Number.MAX_VALUE', { delayMs: Number.MAX_VALUE }, String(MAX_DELAY_MS)],
      ['delayMs just past the maximum', { delayMs: MAX_DELAY_MS + 1 }, String(MAX_DELAY_MS)],
      ['runAt in year 10000', { runAt: new Date(Date.UTC(10000, 0, 1)) }, '9999-12-31T23:59:59.999Z'],
      ['runAt before 1970', { runAt: new Date(-1) }, '1970-01-01T00:00:00.000Z'],
      ['runAt an Invalid Date', { runAt: new Date(Number.NaN) }, 'valid Date'],
      ['a key with a NUL byte', { key: 'org\u00001' }, 'NUL'],
      ['a key with an unpaired surrogate', { key: 'emoji \uD83D cut' }, 'surrogate'],
      ['a key with a lone low surrogate', { key: '\uDE00 tail' }, 'surrogate'],
      ['maxAttempts past 2^31-1', { maxAttempts: 2 ** 31 }, '2147483647'],
    ])('refuses %s with INVALID_OPTION and writes nothing', async (_what, options, inMessage) => {
      const result = await codeOf(() => client.enqueue('anything', {}, options as never));
      expect(result.code).toBe('INVALID_OPTION');
      expect(result.message).toContain(inMessage);
      const many = await codeOf(() => client.enqueueMany('anything', [{}, {}], options as never));
      expect(many.code).toBe('INVALID_OPTION');
      expect(await stored()).toBe(0);
    });

    it('accepts the largest delay and the bounds of runAt, and a key with a whole emoji', async () => {
      const far = await client.enqueue('anything', {}, { delayMs: MAX_DELAY_MS });
      expect(far.job.state).toBe('scheduled');
      const last = await client.enqueue('anything', {}, { runAt: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)) });
      expect(last.job.runAt.toISOString()).toBe('9999-12-31T23:59:59.999Z');
      const first = await client.enqueue('anything', {}, { runAt: new Date(0) });
      expect(first.job.runAt.getTime()).toBe(0);
      const keyed = await client.enqueue('anything', {}, { key: 'user 😀 42' });
      expect((await client.enqueue('anything', {}, { key: 'user 😀 42' })).inserted).toBe(false);
      expect(keyed.job.key).toBe('user 😀 42');
    });

    it('refuses a cancel reason and a list filter no store can keep', async () => {
      const { job } = await client.enqueue('anything', {});
      expect((await codeOf(() => client.cancel(job.id, 'bad\u0000reason'))).code).toBe('INVALID_OPTION');
      expect((await client.get(job.id)).state).not.toBe('cancelled');
      expect((await codeOf(() => client.list({ nameContains: 'x\uD800' }))).code).toBe('INVALID_OPTION');
    });

    it('refuses a schedule description no store can keep, and stores nothing', async () => {
      const manager = createScheduleManager({ store: opened.store, jobs: [anything] });
      const result = await codeOf(() => manager.create({ id: 'nightly', jobId: 'anything', schedule: '0 3 * * *', description: 'night\u0000ly' }));
      expect(result.code).not.toBe('none');
      expect(result.message).toContain('description');
      expect(await opened.store.scheduleList({})).toEqual([]);
    });
  });
}

describe('bounds of job definitions and handler outcomes', () => {
  it('refuses backoff settings past the maximum delay', () => {
    const define = (backoff: unknown) => () =>
      defineJob({ name: 'x', schema: z.any(), retry: { backoff: backoff as never }, handler: async () => undefined });
    expect(define({ type: 'fixed', delayMs: 1e20 })).toThrow(/at most 3153600000000 ms/);
    expect(define({ type: 'exponential', delayMs: 1000, maxDelayMs: Number.MAX_VALUE })).toThrow(/maxDelayMs must be at most/);
    expect(define({ type: 'exponential', delayMs: Number.NaN })).toThrow(/delayMs must be a finite number/);
    expect(define({ type: 'linear', delayMs: 5 })).toThrow(/retry.backoff must be/);
    expect(() => defineJob({ name: 'x', schema: z.any(), retry: { attempts: 2 ** 31 }, handler: async () => undefined })).toThrow(/retry.attempts/);
  });

  it('snooze refuses a delay past the maximum with INVALID_OPTION', () => {
    for (const delay of [1e20, Number.MAX_SAFE_INTEGER, MAX_DELAY_MS + 1, Number.NaN, -1]) {
      let caught: unknown;
      try {
        snooze(delay);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      expect((caught as ValidationError).code).toBe('INVALID_OPTION');
    }
    expect(snooze(MAX_DELAY_MS).delayMs).toBe(MAX_DELAY_MS);
  });
});
