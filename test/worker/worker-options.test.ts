import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { createWorker } from '../../src/worker/worker.js';
import { envSetting } from '../../src/worker/worker-options.js';
import { gate, openRuntime, openTempStore, type Runtime, type TempStore } from '../fixtures/sqlite-runtime.js';

const job = defineJob({ name: 'opt', schema: z.object({}), handler: async () => undefined });

let runtime: Runtime | null = null;
let temp: TempStore | null = null;
const savedEnv = { ...process.env };
afterEach(async () => {
  process.env = { ...savedEnv };
  await runtime?.close();
  runtime = null;
  await temp?.cleanup();
  temp = null;
});

describe('worker options', () => {
  it('reads its environment defaults with the CLI rules (config/env.ts) and refuses junk', () => {
    expect(envSetting('MAX_CONCURRENT_JOBS', 7, {})).toBe(7);
    expect(envSetting('MAX_CONCURRENT_JOBS', 7, { MAX_CONCURRENT_JOBS: '12' })).toBe(12);
    // 0 is a valid grace period (abort at once), as in the CLI.
    expect(envSetting('SHUTDOWN_TIMEOUT_MS', 7, { SHUTDOWN_TIMEOUT_MS: '0' })).toBe(0);
    for (const raw of ['0', '-1', '1.5', 'ten', '1e3', '0x10']) {
      expect(() => envSetting('MAX_CONCURRENT_JOBS', 7, { MAX_CONCURRENT_JOBS: raw })).toThrow(ConfigError);
    }
  });

  it('refuses unusable options with a ConfigError naming them', async () => {
    temp = await openTempStore();
    const store = temp.store;
    expect(() => createWorker({ store, jobs: [job], leaseMs: 10 })).toThrow(/leaseMs/);
    expect(() => createWorker({ store, jobs: [job], queues: { default: { concurrency: 0 } } })).toThrow(/queues.default.concurrency/);
    expect(() => createWorker({ store, jobs: [job], queues: { default: { prefetch: -1 } } })).toThrow(/queues.default.prefetch must be an integer ≥ 0/);
    expect(() => createWorker({ store, jobs: [job], queues: { default: { prefetch: 1.5 } } })).toThrow(/queues.default.prefetch/);
    // Flow control: limits are integers ≥ 1, and a rate limit needs both of its numbers.
    expect(() => createWorker({ store, jobs: [job], queues: { default: { globalConcurrency: 0 } } })).toThrow(/queues.default.globalConcurrency must be an integer ≥ 1/);
    expect(() => createWorker({ store, jobs: [job], queues: { default: { rateLimit: { max: 0, perMs: 1000 } } } })).toThrow(/queues.default.rateLimit.max must be an integer ≥ 1/);
    expect(() => createWorker({ store, jobs: [job], queues: { default: { rateLimit: { max: 5, perMs: -1 } } } })).toThrow(/queues.default.rateLimit.perMs must be an integer ≥ 1/);
    expect(() => createWorker({ store, jobs: [job], queues: { default: { rateLimit: { max: 5 } as never } } })).toThrow(/queues.default.rateLimit needs both max and perMs/);
    expect(() => createWorker({ store, jobs: [job], queues: { default: { rateLimit: 'fast' as never } } })).toThrow(/queues.default.rateLimit must be \{ max, perMs \}/);
    expect(() => createWorker({ store, jobs: [job], queues: { 'bad queue': {} } })).toThrow(/queue name/);
    expect(() => createWorker({ store, jobs: [job], id: 'has space' })).toThrow(/worker id/);
    expect(() => createWorker({ store, jobs: [job, defineJob({ name: 'opt', schema: z.object({}), handler: async () => 1 })] })).toThrow(/two different jobs/);
    process.env.MAX_CONCURRENT_JOBS = 'lots';
    expect(() => createWorker({ store, jobs: [job] })).toThrow(/MAX_CONCURRENT_JOBS/);
  });

  it('takes the default concurrency from MAX_CONCURRENT_JOBS', async () => {
    process.env.MAX_CONCURRENT_JOBS = '2';
    const release = gate();
    let running = 0;
    let peak = 0;
    const held = defineJob({
      name: 'held.env',
      schema: z.object({}),
      handler: async () => {
        peak = Math.max(peak, ++running);
        await release.promise;
        running--;
      },
    });
    runtime = await openRuntime([held]);
    const { client, events, worker } = runtime;
    await client.enqueueMany(held, [{}, {}, {}, {}, {}]);
    let started = 0;
    const twoStarted = new Promise<void>((resolve) => events.on('job:started', () => ++started === 2 && resolve()));
    await worker.start();
    await twoStarted;
    let done = 0;
    const allDone = new Promise<void>((resolve) => events.on('job:completed', () => ++done === 5 && resolve()));
    release.open();
    await allDone;
    expect(peak).toBe(2);
  });
});
