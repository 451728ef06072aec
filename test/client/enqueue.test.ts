import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, type Client } from '../../src/client/client.js';
import { NightshiftError, ValidationError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { NightshiftEvents } from '../../src/observe/events.js';
import { openTempStore, TestClock, type TempStore } from '../fixtures/sqlite-runtime.js';

const sendEmail = defineJob({
  name: 'email.send',
  queue: 'mail',
  schema: z.object({ to: z.string().email(), subject: z.string().min(1), attempts: z.number().int().optional() }),
  retry: { attempts: 5 },
  priority: 7,
  handler: async () => undefined,
});
const anything = defineJob({ name: 'anything', schema: z.any(), handler: async () => undefined });

let temp: TempStore;
let clock: TestClock;
let client: Client;
let events: NightshiftEvents;

beforeEach(async () => {
  clock = new TestClock();
  temp = await openTempStore({ clock });
  events = new NightshiftEvents();
  client = createClient({ store: temp.store, jobs: [sendEmail, anything], events, maxPayloadBytes: 1000 });
});
afterEach(async () => {
  await temp.cleanup();
});

async function storedCount(): Promise<number> {
  const stats = await temp.store.jobStats();
  return Object.values(stats.totals).reduce((sum, n) => sum + n, 0);
}

/** Runs `attempt`, expects a ValidationError with `code`, and checks nothing was written. */
async function rejects(attempt: () => Promise<unknown>, code: string): Promise<ValidationError> {
  let caught: unknown;
  try {
    await attempt();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected the call to throw').toBeInstanceOf(ValidationError);
  expect((caught as NightshiftError).code).toBe(code);
  expect(await storedCount()).toBe(0);
  return caught as ValidationError;
}

describe('enqueue', () => {
  it('stores a typed job with defaults from its definition and emits job:enqueued', async () => {
    const seen = events.waitFor('job:enqueued');
    const { job, inserted } = await client.enqueue(sendEmail, { to: 'a@example.com', subject: 'hi' });
    expect(inserted).toBe(true);
    expect(job).toMatchObject({ name: 'email.send', queue: 'mail', priority: 7, maxAttempts: 5, state: 'available', attempt: 0 });
    expect(job.payload).toEqual({ to: 'a@example.com', subject: 'hi' });
    expect(job.id).toMatch(/^\d+$/);
    expect((await seen).job.id).toBe(job.id);
    expect(await storedCount()).toBe(1);
  });

  it('enqueues by name and applies options', async () => {
    const runAt = new Date(clock.now() + 60_000);
    const { job } = await client.enqueue('email.send', { to: 'b@example.com', subject: 's' }, { runAt, priority: 1_000_000, queue: 'urgent', maxAttempts: 1, timeoutMs: 500 });
    expect(job).toMatchObject({ queue: 'urgent', priority: 1_000_000, maxAttempts: 1, timeoutMs: 500, state: 'scheduled' });
    expect(job.runAt.getTime()).toBe(runAt.getTime());
  });

  it('computes delayMs from the store clock', async () => {
    const { job } = await client.enqueue(anything, 1, { delayMs: 5000 });
    expect(job.runAt.getTime()).toBe(clock.now() + 5000);
    expect(job.state).toBe('scheduled');
  });

  it('returns the existing job for a duplicate key', async () => {
    const first = await client.enqueue(anything, { n: 1 }, { key: 'k-1' });
    const second = await client.enqueue(anything, { n: 2 }, { key: 'k-1' });
    expect(first.inserted).toBe(true);
    expect(second.inserted).toBe(false);
    expect(second.job.id).toBe(first.job.id);
    expect(second.job.payload).toEqual({ n: 1 });
    expect(await storedCount()).toBe(1);
  });

  it('enqueues inside the caller\'s transaction: rolled back means never stored', async () => {
    const db = new Database(temp.file);
    try {
      db.exec('BEGIN IMMEDIATE');
      await client.enqueue(anything, { n: 1 }, { tx: db });
      db.exec('ROLLBACK');
      expect(await storedCount()).toBe(0);
      db.exec('BEGIN IMMEDIATE');
      const { job } = await client.enqueue(anything, { n: 2 }, { tx: db });
      db.exec('COMMIT');
      expect(await storedCount()).toBe(1);
      expect((await client.get(job.id)).payload).toEqual({ n: 2 });
    } finally {
      db.close();
    }
  });

  it('refuses an unknown job name, listing the known ones', async () => {
    const error = await rejects(() => client.enqueue('email.sned', {}), 'UNKNOWN_JOB');
    expect(error.message).toContain('email.sned');
    expect(error.message).toContain('email.send');
    expect(error.message).toContain('anything');
  });

  it('refuses a payload failing the schema, listing every field', async () => {
    const error = await rejects(() => client.enqueue(sendEmail, { to: 'not-an-email', subject: '' } as never), 'INVALID_PAYLOAD');
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['subject', 'to']);
    expect(error.message).toContain('to:');
    expect(error.message).toContain('subject:');
  });

  it('refuses an oversized payload', async () => {
    const error = await rejects(() => client.enqueue(anything, { blob: 'x'.repeat(2000) }), 'PAYLOAD_TOO_LARGE');
    expect(error.message).toMatch(/limit is 1000 bytes/);
  });

  it.each([
    ['a function', { callback: () => 1 }, 'payload.callback'],
    ['a BigInt', { amount: 10n }, 'payload.amount'],
    ['a symbol', { tag: Symbol('x') }, 'payload.tag'],
    ['NaN', { ratio: Number.NaN }, 'payload.ratio'],
    ['a Map', { map: new Map() }, 'payload.map'],
  ])('refuses a payload holding %s', async (_label, payload, where) => {
    const error = await rejects(() => client.enqueue(anything, payload), 'PAYLOAD_NOT_SERIALIZABLE');
    expect(error.message).toContain(where);
  });

  it('refuses a payload with a cycle', async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const error = await rejects(() => client.enqueue(anything, cyclic), 'PAYLOAD_NOT_SERIALIZABLE');
    expect(error.message).toContain('circular');
  });

  it.each([
    ['negative delay', { delayMs: -1 }],
    ['NaN delay', { delayMs: Number.NaN }],
    ['infinite delay', { delayMs: Number.POSITIVE_INFINITY }],
    ['delay and runAt together', { delayMs: 10, runAt: new Date() }],
    ['an invalid runAt', { runAt: new Date('nope') }],
    ['a runAt that is not a Date', { runAt: '2026-01-01' }],
    ['priority below the minimum', { priority: -1_000_001 }],
    ['an unknown priority name', { priority: 'urgent' }],
    ['a priority name in another case', { priority: 'HIGH' }],
    ['NaN priority', { priority: Number.NaN }],
    ['fractional priority', { priority: 1.5 }],
    ['priority above the maximum', { priority: 1_000_001 }],
    ['zero maxAttempts', { maxAttempts: 0 }],
    ['fractional maxAttempts', { maxAttempts: 2.5 }],
    ['an empty key', { key: '' }],
    ['a key over 256 characters', { key: 'k'.repeat(257) }],
    ['a zero timeout', { timeoutMs: 0 }],
    ['a NaN timeout', { timeoutMs: Number.NaN }],
    ['an unknown option', { delay: 5 }],
  ])('refuses %s with INVALID_OPTION', async (_label, options) => {
    await rejects(() => client.enqueue(anything, {}, options as never), 'INVALID_OPTION');
  });

  it.each([
    ['empty', ''],
    ['longer than 128 characters', 'q'.repeat(129)],
    ['with a space', 'my queue'],
    ['with SQL', "q'; DROP TABLE nightshift_jobs; --"],
    ['with a path traversal', '../etc'],
    ['with a newline', 'q\nx'],
    ['with unicode', 'очередь'],
  ])('refuses a queue name %s', async (_label, queue) => {
    await rejects(() => client.enqueue(anything, {}, { queue }), 'INVALID_NAME');
  });

  it.each([
    ['empty', ''],
    ['longer than 128 characters', 'j'.repeat(129)],
    ['with hostile characters', '<script>alert(1)</script>'],
    ['starting with a dot', '.hidden'],
  ])('refuses a job name %s', async (_label, name) => {
    await rejects(() => client.enqueue(name, {}), 'INVALID_NAME');
  });
});

describe('enqueueMany', () => {
  it('inserts thousands of jobs in one call, in order', async () => {
    const payloads = Array.from({ length: 5000 }, (_, index) => ({ n: index }));
    const results = await client.enqueueMany(anything, payloads, { priority: 3 });
    expect(results).toHaveLength(5000);
    expect(results.every((result) => result.inserted)).toBe(true);
    expect(results[4999]!.job.payload).toEqual({ n: 4999 });
    expect(results[0]!.job.priority).toBe(3);
    expect(await storedCount()).toBe(5000);
  });

  it('stores nothing when one item is invalid, and names its index', async () => {
    const payloads = [
      { to: 'a@example.com', subject: 'ok' },
      { to: 'b@example.com', subject: 'ok' },
      { to: 'broken', subject: 'ok' },
    ];
    const error = await rejects(() => client.enqueueMany(sendEmail, payloads), 'INVALID_PAYLOAD');
    expect(error.message).toMatch(/^item 2:/);
    expect(error.issues[0]?.path).toBe('2.to');
  });

  it('stores nothing when one item is not serializable', async () => {
    const error = await rejects(() => client.enqueueMany(anything, [{ a: 1 }, { b: 2n }]), 'PAYLOAD_NOT_SERIALIZABLE');
    expect(error.message).toContain('item 1');
  });

  it('de-duplicates with per-item keys', async () => {
    await client.enqueue(anything, { id: 'a' }, { key: 'a' });
    const results = await client.enqueueMany(anything, [{ id: 'a' }, { id: 'b' }], { keyOf: (payload) => (payload as { id: string }).id });
    expect(results.map((result) => result.inserted)).toEqual([false, true]);
    expect(await storedCount()).toBe(2);
  });

  it('refuses a shared key', async () => {
    await rejects(() => client.enqueueMany(anything, [1, 2], { key: 'x' } as never), 'INVALID_OPTION');
  });
});
