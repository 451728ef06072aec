import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { resolveConfig } from '../../src/config/load-config.js';
import { loadSchemaNameCheck, validateConfig } from '../../src/config/validate-config.js';
import { ConfigError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { defineConfig, type ScheduleEntry } from '../../src/config/define-config.js';
import type { ScheduleDefinition } from '../../src/scheduler/schedule-definition.js';

const send = defineJob({ name: 'email.send', queue: 'email', schema: z.object({ to: z.string() }), handler: () => undefined });
const report = defineJob({ name: 'report', schema: z.object({}), timeoutMs: 1000, handler: () => undefined });

// The store's schema-name rule, as loadConfig passes it.
const schemaNameCheck = await loadSchemaNameCheck();

function configError(value: unknown): ConfigError {
  try {
    validateConfig(value, '/app/nightshift.config.ts', { schemaNameCheck });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('validateConfig accepted an invalid config');
}

describe('validateConfig', () => {
  it('accepts a full config and returns it unchanged', () => {
    const config = defineConfig({
      jobs: [send, report],
      queues: { email: { concurrency: 3, timeoutMs: 10_000 } },
      store: { postgres: { connectionString: 'postgres://127.0.0.1/app', schema: 'jobs', poolSize: 5, listen: false } },
      schedules: [{ jobId: 'report', schedule: '0 * * * *', input: {}, overlap: 'skip' }],
      leaseMs: 15_000,
      shutdownTimeoutMs: 5_000,
      logLevel: 'warn',
      maxPayloadBytes: 4096,
      workerId: 'worker-1',
      setup: () => undefined,
    });
    expect(validateConfig(config)).toEqual(config);
    expect(validateConfig({ jobs: [], store: { sqlite: { path: 'x.db' } }, schedules: './s.yaml' }).schedules).toBe('./s.yaml');
  });

  it('accepts a Store instance as the store', () => {
    const store = { kind: 'fake', migrate: () => undefined, close: () => undefined, jobInsertMany: () => undefined, jobFetch: () => undefined, jobFinishMany: () => undefined };
    expect(validateConfig({ jobs: [], store }).store).toBe(store);
  });

  it('lists every problem with its path and the file', () => {
    const error = configError({
      jobs: [send, 'report', send],
      queues: { 'no spaces': {}, email: { concurrency: 1.5 }, reports: { prefetch: -1 }, api: { rateLimit: { max: 0, perMs: 1000, burst: 3 } }, llm: { globalConcurrency: -2 } },
      store: { postgres: { connectionString: 'mysql://x', schema: 'Drop Table' } },
      schedules: 42,
      leaseMs: 5,
      maxPayloadBytes: 0,
      workerId: '',
      setup: 'yes',
      typo: true,
    });
    const byPath = Object.fromEntries(error.issues.map((issue) => [issue.path, issue.message]));
    expect(byPath).toMatchObject({
      'jobs.1': expect.stringContaining('defineJob()'),
      'jobs.2': 'duplicate job name "email.send" (also jobs.0)',
      'queues.no spaces': expect.stringContaining('queue name must be'),
      'queues.email.concurrency': 'must be an integer ≥ 1',
      'queues.reports.prefetch': 'must be an integer ≥ 0',
      'queues.api.rateLimit.max': 'must be an integer ≥ 1',
      'queues.api.rateLimit': expect.stringContaining('burst'),
      'queues.llm.globalConcurrency': 'must be an integer ≥ 1',
      'store.postgres.connectionString': 'must start with postgres:// or postgresql://',
      'store.postgres.schema': expect.stringContaining('is not accepted; use 1–48 characters'),
      schedules: 'must be a YAML file path or a list of schedules',
      leaseMs: 'must be an integer ≥ 1000 (ms)',
      maxPayloadBytes: 'must be an integer ≥ 1 (bytes)',
      workerId: expect.stringContaining('must be 1-128 characters'),
      setup: 'must be a function',
      '': 'unknown option "typo"',
    });
    expect(error.message.startsWith('/app/nightshift.config.ts: invalid configuration: ')).toBe(true);
    expect(error.file).toBe('/app/nightshift.config.ts');
  });

  it('checks inline schedules with the same shape as a YAML entry, naming the entry and field', () => {
    const error = configError({
      jobs: [report],
      schedules: [
        { jobId: 'report', schedule: '0 * * * *' },
        { jobId: 'report', schedule: '0 3 * * *', timzone: 'Europe/Paris' },
        { schedule: '0 4 * * *', overlap: 'sometimes' },
      ],
    });
    expect(error.issues).toEqual([
      { path: 'schedules.1', message: 'unknown option "timzone"' },
      { path: 'schedules.2.jobId', message: 'is required (string)' },
      { path: 'schedules.2.overlap', message: expect.stringContaining('allow') },
    ]);
    // A config entry and a YAML entry are one type: every field of the one is accepted by the other.
    const entry: ScheduleEntry = { jobId: 'report', schedule: '@daily', catchUp: 2, overlap: 'queue', queue: 'reports', priority: 5, maxAttempts: 2, timeoutMs: 1000 };
    const definition: ScheduleDefinition = entry;
    expect(validateConfig({ jobs: [report], schedules: [definition] }).schedules).toEqual([entry]);
  });

  it('explains a store setting that is neither kind', () => {
    expect(configError({ jobs: [], store: { mongo: {} } }).issues).toEqual([
      { path: 'store', message: expect.stringContaining('must be { sqlite: { path } }, { postgres:') },
    ]);
  });

  it('rejects values that are not objects', () => {
    expect(configError(null).message).toContain('the configuration must be an object');
    expect(configError([]).message).toContain('got an array');
    expect(configError({}).issues).toEqual([{ path: 'jobs', message: 'must be a list of job definitions (defineJob(...))' }]);
  });
});

describe('resolveConfig', () => {
  const config = defineConfig({ jobs: [send, report], queues: { email: { concurrency: 20, timeoutMs: 10_000 }, idle: { prefetch: 0 } }, schedules: 'schedules.yaml' });

  it('fills queue defaults for every queue named by the file or a job', () => {
    const resolved = resolveConfig(config, { file: '/app/nightshift.config.ts', env: {} });
    expect(resolved.queues).toEqual({
      default: { concurrency: 10, timeoutMs: 300_000 },
      email: { concurrency: 20, timeoutMs: 10_000 },
      idle: { concurrency: 10, timeoutMs: 300_000, prefetch: 0 },
    });
    // A schedule file resolves next to the config that names it.
    expect(resolved.schedules).toBe('/app/schedules.yaml');
    expect(resolved.logLevel).toBeUndefined();
  });

  it('lets the environment win: MAX_CONCURRENT_JOBS caps, JOB_TIMEOUT_MS replaces', () => {
    const resolved = resolveConfig(
      { ...config, shutdownTimeoutMs: 1000, logLevel: 'error' },
      { file: '/app/nightshift.config.ts', env: { maxConcurrentJobs: 4, jobTimeoutMs: 2000, shutdownTimeoutMs: 50, logLevel: 'debug' } },
    );
    expect(resolved.queues.email).toEqual({ concurrency: 4, timeoutMs: 2000 });
    expect(resolved.queues.default).toEqual({ concurrency: 4, timeoutMs: 2000 });
    expect(resolved.shutdownTimeoutMs).toBe(50);
    expect(resolved.logLevel).toBe('debug');
  });

  it('uses a --config schedule file over the config\'s schedules', () => {
    expect(resolveConfig(config, { file: '/app/nightshift.config.ts', env: {}, scheduleFile: '/etc/cron.yaml' }).schedules).toBe('/etc/cron.yaml');
  });
});
