import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';
import * as nightshift from '../../src/index.js';

const dirs: string[] = [];
function projectDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const passthroughSchema = `{ '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } }`;

describe('loadConfig', () => {
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('loads a TypeScript config whose `nightshift` import is this very module instance', async () => {
    const dir = projectDir({
      'nightshift.config.ts': `import { defineConfig, defineJob, NightshiftEvents } from 'nightshift';
const schema: any = ${passthroughSchema};
const expected = (globalThis as { expectedEventsClass?: unknown }).expectedEventsClass;
export default defineConfig({
  jobs: [defineJob({ name: 'typed', schema, handler: () => 1 })],
  logLevel: 'warn',
  workerId: expected === NightshiftEvents ? 'same-instance' : 'another-instance',
});
`,
    });
    (globalThis as { expectedEventsClass?: unknown }).expectedEventsClass = nightshift.NightshiftEvents;
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.file).toBe(join(dir, 'nightshift.config.ts'));
    expect(config.jobs.map((job) => job.name)).toEqual(['typed']);
    expect(config.logLevel).toBe('warn');
    expect(config.workerId).toBe('same-instance');
  });

  it('accepts a default export that is an (async) function', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': 'export default async () => ({ jobs: [], workerId: "from-fn" });\n' });
    expect((await loadConfig({ cwd: dir, env: {} })).workerId).toBe('from-fn');
  });

  it('reports a throwing config function with the file', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': 'export default () => { throw new Error("no secrets"); };\n' });
    await expect(loadConfig({ cwd: dir, env: {} })).rejects.toThrow(`${join(dir, 'nightshift.config.mjs')}:1: the exported config function threw: no secrets`);
  });

  it('runs without a config file only when not required', async () => {
    const dir = projectDir({});
    await expect(loadConfig({ cwd: dir, env: {} })).rejects.toBeInstanceOf(ConfigError);
    const config = await loadConfig({ cwd: dir, env: { MAX_CONCURRENT_JOBS: '3' }, required: false });
    expect(config.file).toBeNull();
    expect(config.jobs).toEqual([]);
    expect(config.env.maxConcurrentJobs).toBe(3);
  });

  it('validates the environment before loading the file', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': 'throw new Error("should not load");\n' });
    await expect(loadConfig({ cwd: dir, env: { JOB_TIMEOUT_MS: 'x' } })).rejects.toThrow('JOB_TIMEOUT_MS');
  });

  it('takes a .yml --config as the schedule file', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': 'export default { jobs: [], schedules: "other.yaml" };\n', 'cron.yml': 'schedules: []\n' });
    const config = await loadConfig({ cwd: dir, env: {}, configPath: 'cron.yml' });
    expect(config.schedules).toBe(join(dir, 'cron.yml'));
    expect(config.file).toBe(join(dir, 'nightshift.config.mjs'));
  });
});
