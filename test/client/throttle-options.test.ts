// throttle and debounce options: checked with the other enqueue options, before the store.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/client/client.js';
import { ValidationError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { openTempStore, type TempStore } from '../fixtures/sqlite-runtime.js';

const sync = defineJob({ name: 'org.sync', handler: () => undefined });

describe('throttle and debounce options', () => {
  let temp: TempStore;
  let client: Client;
  beforeEach(async () => {
    temp = await openTempStore();
    client = createClient({ store: temp.store, jobs: [sync] });
  });
  afterEach(async () => {
    await temp.cleanup();
  });

  it('throttle returns the job of the window; debounce moves the pending one; enqueueMany shares them', async () => {
    const first = await client.enqueue(sync, { n: 1 }, { throttle: { key: 'acme', perMs: 60_000 } });
    const second = await client.enqueue(sync, { n: 2 }, { throttle: { key: 'acme', perMs: 60_000 } });
    expect([first.inserted, second.inserted, second.job.id]).toEqual([true, false, first.job.id]);
    const a = await client.enqueue(sync, { v: 1 }, { debounce: { key: 'doc', delayMs: 1_000, maxDelayMs: 5_000 } });
    const b = await client.enqueue(sync, { v: 2 }, { debounce: { key: 'doc', delayMs: 1_000 } });
    expect([a.inserted, b.inserted, b.job.id, b.job.payload]).toEqual([true, false, a.job.id, { v: 2 }]);
    const many = await client.enqueueMany(sync, [{ v: 3 }, { v: 4 }], { debounce: { key: 'doc', delayMs: 1_000 } });
    expect(many.map((r) => [r.job.id, r.inserted])).toEqual([
      [a.job.id, false],
      [a.job.id, false],
    ]);
    expect((await client.get(a.job.id)).payload).toEqual({ v: 4 });
  });

  it('refuses bad or conflicting options, storing nothing', async () => {
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ throttle: { key: 'k', perMs: 0 } }, /throttle.perMs must be a whole number of ms from 1/],
      [{ throttle: { key: '', perMs: 1000 } }, /key must be a string of 1 to 256/],
      [{ throttle: 'fast' }, /throttle must be \{ key, perMs \}/],
      [{ debounce: { key: 'k', delayMs: -1 } }, /debounce.delayMs must be a whole number/],
      [{ debounce: { key: 'k', delayMs: 5000, maxDelayMs: 1000 } }, /maxDelayMs \(1000\) must be at least delayMs \(5000\)/],
      [{ debounce: { key: 'k', delayMs: 10 }, delayMs: 5 }, /debounce sets the run time/],
      [{ debounce: { key: 'k', delayMs: 10 }, throttle: { key: 'k', perMs: 10 } }, /throttle or debounce, not both/],
      [{ throttle: { key: 'k', perMs: 10 }, key: 'dedupe' }, /do not combine with key or dependsOn/],
    ];
    for (const [options, message] of refusals) {
      const error = await client.enqueue(sync, {}, options as never).then(
        () => null,
        (thrown: unknown) => thrown,
      );
      expect(error, String(message)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe('INVALID_OPTION');
      expect((error as ValidationError).message).toMatch(message);
    }
    const inFlow = await client.flow({ job: sync, data: {}, children: [{ job: sync, data: {}, options: { throttle: { key: 'k', perMs: 10 } } }] }).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect((inFlow as ValidationError).message).toMatch(/throttle and debounce are not for jobs of a flow/);
    expect((await client.list({ limit: 10 })).jobs).toEqual([]);
  });
});
