// Retention and the poll interval from the code config, a YAML schedule file and the environment:
// one rule for each, errors naming file and line, the environment winning.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineConfig } from '../../src/config/define-config.js';
import { loadConfig, resolveConfig } from '../../src/config/load-config.js';
import { validateConfig } from '../../src/config/validate-config.js';
import { ConfigError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const job = defineJob({ name: 'report', schema: z.object({}), handler: () => undefined });

function configError(value: unknown): ConfigError {
  try {
    validateConfig(value, '/app/nightshift.config.ts');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('validateConfig accepted an invalid config');
}

const dirs: string[] = [];
function projectDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-retention-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('prune and pollIntervalMs in the code config', () => {
  it('accepts durations and turns them into ms', () => {
    const config = validateConfig(
      defineConfig({ jobs: [job], prune: { completed: '12h', cancelled: '30m', dead: 7 * DAY, ticks: '2d', interval: '30s' }, pollIntervalMs: 250 }),
    );
    expect(config.prune).toEqual({ completed: 12 * HOUR, cancelled: 30 * 60_000, dead: 7 * DAY, ticks: 2 * DAY, interval: 30_000 });
    expect(config.pollIntervalMs).toBe(250);
    expect(validateConfig({ jobs: [], prune: false }).prune).toBe(false);
  });

  it('lists every bad value with what is expected', () => {
    const error = configError({ jobs: [], prune: { completed: '7 days', ticks: '30m', interval: 10, keep: 3 }, pollIntervalMs: 0 });
    const byPath = Object.fromEntries(error.issues.map((issue) => [issue.path, issue.message]));
    expect(byPath).toEqual({
      'prune.completed': 'must be a whole number of ms, or a whole number with a unit: 500ms, 30s, 30m, 12h, 7d, got "7 days"',
      'prune.ticks': 'must be at least 1h (3600000 ms), got "30m"',
      'prune.interval': 'must be at least 1s (1000 ms), got 10',
      prune: 'unknown option "keep"',
      pollIntervalMs: 'must be an integer ≥ 1 (ms)',
    });
    expect(configError({ jobs: [], prune: true }).issues).toEqual([{ path: 'prune', message: expect.stringContaining('must be false (no pruning) or {') }]);
  });

  it('applies the bounds the environment uses: a shutdown grace of 0 is valid, a timer past 2^31-1 ms is not', () => {
    expect(validateConfig({ jobs: [], shutdownTimeoutMs: 0 }).shutdownTimeoutMs).toBe(0);
    expect(configError({ jobs: [], shutdownTimeoutMs: 2 ** 31 }).issues).toEqual([{ path: 'shutdownTimeoutMs', message: 'must be ≤ 2147483647 (ms)' }]);
    expect(configError({ jobs: [], queues: { q: { timeoutMs: 2 ** 31 } } }).issues).toEqual([{ path: 'queues.q.timeoutMs', message: 'must be ≤ 2147483647 (ms)' }]);
  });
});

describe('resolveConfig: retention', () => {
  const file = '/app/nightshift.config.ts';

  it('uses the pruner defaults when nothing is set', () => {
    expect(resolveConfig({ jobs: [job] }, { file, env: {} }).prune).toEqual({ retention: {} });
  });

  it('lets NIGHTSHIFT_RETAIN_* win over the file, field by field', () => {
    const config = validateConfig({ jobs: [job], prune: { completed: '1d', dead: '30d', ticks: '2d', interval: '5m' }, pollIntervalMs: 500 });
    const resolved = resolveConfig(config, { file, env: { retention: { completedMs: HOUR }, pollIntervalMs: 100 } });
    expect(resolved.prune).toEqual({ retention: { completedMs: HOUR, deadMs: 30 * DAY, ticksOlderThanMs: 2 * DAY }, intervalMs: 300_000 });
    expect(resolved.pollIntervalMs).toBe(100);
  });

  it('refuses a retention from the environment when the config turns pruning off', () => {
    expect(resolveConfig({ jobs: [job], prune: false }, { file, env: {} }).prune).toBe(false);
    expect(() => resolveConfig({ jobs: [job], prune: false }, { file, env: { retention: { deadMs: DAY } } })).toThrow(
      'NIGHTSHIFT_RETAIN_DEAD sets a retention, but "prune: false" turns pruning off; remove one of them',
    );
  });

  it('keeps HEALTH_CHECK_PORT for the HTTP server to come', () => {
    expect(resolveConfig({ jobs: [job] }, { file, env: { healthCheckPort: 8081 } }).healthCheckPort).toBe(8081);
  });
});

describe('prune and pollIntervalMs in a YAML schedule file', () => {
  const code = 'export default { jobs: [] };\n';

  it('reads them next to the schedules', async () => {
    const dir = projectDir({
      'nightshift.config.mjs': code,
      'cron.yaml': 'prune:\n  completed: 10m\n  dead: 14d\n  interval: 2s\npollIntervalMs: 200\nschedules: []\n',
    });
    const config = await loadConfig({ cwd: dir, env: { NIGHTSHIFT_RETAIN_DEAD: '1d' }, configPath: 'cron.yaml' });
    expect(config.prune).toEqual({ retention: { completedMs: 600_000, deadMs: DAY }, intervalMs: 2000 });
    expect(config.pollIntervalMs).toBe(200);
  });

  it('reports a bad value with the file and its line', async () => {
    const dir = projectDir({
      'nightshift.config.mjs': code,
      'cron.yaml': 'schedules: []\nprune:\n  completed: 10m\n  cancelled: soon\n',
    });
    const error = await loadConfig({ cwd: dir, env: {}, configPath: 'cron.yaml' }).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(join(dir, 'cron.yaml'));
    expect((error as ConfigError).line).toBe(4);
    expect((error as ConfigError).message).toContain('prune.cancelled: line 4: must be a whole number of ms');
  });

  it('refuses the same setting in the code config and the schedule file', async () => {
    const dir = projectDir({
      'nightshift.config.mjs': 'export default { jobs: [], pollIntervalMs: 100, schedules: "cron.yaml" };\n',
      'cron.yaml': 'schedules: []\npollIntervalMs: 200\n',
    });
    await expect(loadConfig({ cwd: dir, env: {} })).rejects.toThrow(`${join(dir, 'cron.yaml')}:2: "pollIntervalMs" is set here and in ${join(dir, 'nightshift.config.mjs')}; keep it in one place`);
  });

  it('ties a contradiction with the environment to the line that turned pruning off', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': code, 'cron.yaml': 'schedules: []\nprune: false\n' });
    const error = await loadConfig({ cwd: dir, env: { NIGHTSHIFT_RETAIN_COMPLETED: '1h' }, configPath: 'cron.yaml' }).catch((thrown: unknown) => thrown);
    expect((error as ConfigError).line).toBe(2);
    expect((error as ConfigError).message).toContain('NIGHTSHIFT_RETAIN_COMPLETED sets a retention');
  });
});
