// The store-call timer on a real SQLite store: every call reaches the store with its params and
// is reported once with its outcome; a method that throws still gives a rejected promise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { timeStore } from '../../src/observe/store-timing.js';
import { insertAndClaim } from '../../src/store/conformance/conformance-fixtures.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function openStore(): Promise<Store> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-timing-'));
  dirs.push(dir);
  const store = createSqliteStore({ path: path.join(dir, 'jobs.db') });
  await store.migrate();
  return store;
}

describe('timeStore', () => {
  it('passes each call on with its params and reports it once, ok or not', async () => {
    const store = await openStore();
    const calls: [string, number, boolean][] = [];
    let observing = true;
    const timed = timeStore(store, () => (observing ? (method, seconds, ok) => calls.push([method, seconds, ok]) : null));
    const job = await insertAndClaim(timed);
    expect((await timed.jobGet({ id: job.id }))?.id).toBe(job.id);
    expect(calls.map(([method, , ok]) => [method, ok])).toEqual([
      ['jobInsertMany', true],
      ['jobFetch', true],
      ['jobGet', true],
    ]);
    expect(calls.every(([, seconds]) => seconds >= 0 && seconds < 60)).toBe(true);
    // Without an observer the call still goes through, unreported.
    observing = false;
    expect((await timed.jobGet({ id: job.id }))?.id).toBe(job.id);
    expect(calls).toHaveLength(3);
    observing = true;
    await store.close();
    await expect(timed.jobGet({ id: job.id })).rejects.toMatchObject({ name: 'StoreError' });
    expect(calls.at(-1)?.slice(0, 1).concat(calls.at(-1)![2])).toEqual(['jobGet', false]);
  });

  it('turns a method that throws into a rejected promise, reported as an error', async () => {
    const store = await openStore();
    const thrown = new Error('thrown, not rejected');
    // The real store, with one method that throws before returning a promise.
    const throwing = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'jobAttempts') {
          return () => {
            throw thrown;
          };
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const calls: [string, boolean][] = [];
    const timed = timeStore(throwing, () => (method, _seconds, ok) => calls.push([method, ok]));
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = timed.jobAttempts({ id: '1' });
    }).not.toThrow();
    await expect(result).rejects.toBe(thrown);
    expect(calls).toEqual([['jobAttempts', false]]);
    const untimed = timeStore(throwing, () => null);
    await expect(untimed.jobAttempts({ id: '1' })).rejects.toBe(thrown);
    await store.close();
  });
});
