/**
 * `builtins:` in the code config and in a YAML schedule file: off unless configured, validated
 * with the same rules in both places, and every mistake reported with its file (and line, in YAML).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { validateConfig } from '../../src/config/validate-config.js';
import { ConfigError } from '../../src/errors.js';
import { createJobRegistry } from '../../src/scheduler/schedule-definition.js';
import { loadScheduleFile } from '../../src/scheduler/schedule-file.js';

const dirs: string[] = [];
function projectDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-builtins-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const node = process.execPath;
const appJob = `{ name: 'report', queue: 'default', schema: { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } }, handler: () => 1 }`;
const codeConfig = (extra = ''): string => `export default { jobs: [${appJob}], ${extra} };\n`;
const jobNames = async (options: Parameters<typeof loadConfig>[0]): Promise<string[]> => (await loadConfig({ env: {}, ...options })).jobs.map((job) => job.name);

async function configErrorOf(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('validating builtins', () => {
  it('accepts the documented shapes', () => {
    const builtins = { command: { allow: ['/usr/local/bin/backup', 'pg_dump'], env: ['PATH', 'HOME'], inputEnv: ['BACKUP_LEVEL'] }, http: { allow: ['https://api.example.com/v1/', 'hooks.example.org', '127.0.0.1:8080', '[::1]'] } };
    expect(validateConfig({ jobs: [], builtins }).builtins).toEqual(builtins);
    expect(validateConfig({ jobs: [], builtins: {} }).builtins).toEqual({});
  });

  it('reports every mistake with its path', () => {
    let error: ConfigError | undefined;
    try {
      validateConfig(
        {
          jobs: [],
          builtins: { command: { allow: ['bin/backup', ''], env: ['NOT-A-NAME'], passEnv: [] }, http: { allow: ['*.example.org', 'ftp://x/'] }, shell: {} },
        },
        '/app/nightshift.config.ts',
      );
    } catch (caught) {
      error = caught as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const byPath = Object.fromEntries(error!.issues.map((issue) => [issue.path, issue.message]));
    expect(byPath).toMatchObject({
      'builtins.command.allow.0': 'must be an absolute path or a bare program name (looked up in PATH)',
      'builtins.command.allow.1': 'must be an absolute path or a bare program name (looked up in PATH)',
      'builtins.command.env.0': expect.stringContaining('must be an environment variable name'),
      'builtins.command': 'unknown option "passEnv"',
      'builtins.http.allow.0': 'wildcards are not supported: list each host',
      'builtins.http.allow.1': expect.stringContaining('only http:// and https://'),
      builtins: 'unknown option "shell"',
    });
    const empty = (() => {
      try {
        return validateConfig({ jobs: [], builtins: { command: {}, http: { allow: [] } } });
      } catch (caught) {
        return caught as ConfigError;
      }
    })() as ConfigError;
    expect(empty.issues).toEqual([
      { path: 'builtins.command.allow', message: 'is required (array)' },
      { path: 'builtins.http.allow', message: expect.stringContaining('must list at least one host or URL prefix (leave builtins.http out to keep the job off)') },
    ]);
  });
});

describe('loading builtins', () => {
  it('enables neither built-in job by default, with or without a config file', async () => {
    expect(await jobNames({ cwd: projectDir({ 'nightshift.config.mjs': codeConfig() }) })).toEqual(['report']);
    expect(await jobNames({ cwd: projectDir({}), required: false })).toEqual([]);
    // A schedule file without builtins enables nothing either.
    expect(await jobNames({ cwd: projectDir({ 'cron.yaml': 'schedules: []\n' }), configPath: 'cron.yaml', required: false })).toEqual([]);
  });

  it('enables exactly what the code config lists', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': codeConfig(`builtins: { http: { allow: ['hooks.example.org'] } }`) });
    expect(await jobNames({ cwd: dir })).toEqual(['report', 'http']);
    const both = projectDir({ 'nightshift.config.mjs': codeConfig(`builtins: { http: { allow: ['hooks.example.org'] }, command: { allow: [${JSON.stringify(node)}, 'sh'] } }`) });
    expect(await jobNames({ cwd: both })).toEqual(['report', 'http', 'command']);
  });

  it('enables what the schedule file in use lists: given by --config, or named by the config', async () => {
    const yaml = `builtins:\n  command:\n    allow: [${JSON.stringify(node)}]\nschedules: []\n`;
    expect(await jobNames({ cwd: projectDir({ 'ops/cron.yaml': yaml }), configPath: 'ops/cron.yaml', required: false })).toEqual(['command']);
    expect(await jobNames({ cwd: projectDir({ 'nightshift.config.mjs': codeConfig(`schedules: './ops/cron.yaml'`), 'ops/cron.yaml': yaml }) })).toEqual(['report', 'command']);
    // Another file than the one in use enables nothing.
    expect(await jobNames({ cwd: projectDir({ 'nightshift.config.mjs': codeConfig(`schedules: './other.yaml'`), 'ops/cron.yaml': yaml, 'other.yaml': 'schedules: []\n' }) })).toEqual(['report']);
  });

  it('refuses builtins set in both the code config and the schedule file', async () => {
    const dir = projectDir({
      'nightshift.config.mjs': codeConfig(`schedules: './cron.yaml', builtins: { http: { allow: ['hooks.example.org'] } }`),
      'cron.yaml': 'schedules: []\nbuiltins:\n  http:\n    allow: [example.org]\n',
    });
    const error = await configErrorOf(loadConfig({ cwd: dir, env: {} }));
    expect(error.message).toBe(`${join(dir, 'cron.yaml')}:2: "builtins" is set here and in ${join(dir, 'nightshift.config.mjs')}; keep it in one place`);
  });

  it('reports invalid YAML builtins with the file and the line of each problem', async () => {
    const dir = projectDir({ 'cron.yaml': 'schedules: []\nbuiltins:\n  command:\n    allow:\n      - /usr/bin/backup\n      - bin/relative\n  http:\n    allow: ["*.example.org"]\n' });
    const error = await configErrorOf(loadConfig({ cwd: dir, env: {}, configPath: 'cron.yaml', required: false }));
    expect(error.file).toBe(join(dir, 'cron.yaml'));
    expect(error.line).toBe(6);
    expect(error.issues).toEqual([
      { path: 'builtins.command.allow.1', message: 'line 6: must be an absolute path or a bare program name (looked up in PATH)' },
      { path: 'builtins.http.allow.0', message: 'line 8: wildcards are not supported: list each host' },
    ]);
  });

  it('reports a program not found on PATH as a config error naming the file, and the line in YAML', async () => {
    const code = projectDir({ 'nightshift.config.mjs': codeConfig(`builtins: { command: { allow: ['sh', 'no-such-program-xyz'] } }`) });
    const fromCode = await configErrorOf(loadConfig({ cwd: code, env: {} }));
    expect(fromCode.message).toMatch(/nightshift\.config\.mjs: invalid configuration: builtins\.command\.allow\.1: "no-such-program-xyz" is not an executable file in any directory of PATH/);
    const yaml = projectDir({ 'cron.yaml': 'schedules: []\nbuiltins:\n  command:\n    allow:\n      - sh\n      - no-such-program-xyz\n' });
    const fromYaml = await configErrorOf(loadConfig({ cwd: yaml, env: {}, configPath: 'cron.yaml', required: false }));
    expect(fromYaml.message).toMatch(new RegExp(`^${join(yaml, 'cron.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6: invalid configuration: builtins\\.command\\.allow\\.1: "no-such-program-xyz"`));
  });

  it('refuses an app job named like a built-in the config enables', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': `export default { jobs: [${appJob.replace("'report'", "'command'")}], builtins: { command: { allow: ['sh'] } } };\n` });
    const error = await configErrorOf(loadConfig({ cwd: dir, env: {} }));
    expect(error.message).toContain('builtins.command: the app defines its own job named "command"; rename it, or leave builtins.command out');
  });
});

describe('a YAML schedule naming a built-in job that is off', () => {
  it('is a config error naming the file, the line of its jobId, and how to enable the job', async () => {
    const dir = projectDir({
      'nightshift.config.mjs': codeConfig(`schedules: './scheduler.yaml'`),
      'scheduler.yaml': [
        'schedules:',
        '  - id: report.nightly',
        '    jobId: report',
        '    schedule: "0 3 * * *"',
        '  - id: backup',
        '    schedule: "30 2 * * *"',
        '    jobId: command',
        '    input: { argv: ["sh", "-c", "id > pwned.txt"] }',
        '',
      ].join('\n'),
    });
    const config = await loadConfig({ cwd: dir, env: {} });
    const error = await configErrorOf(loadScheduleFile(config.schedules as string, { jobs: createJobRegistry([...config.jobs]) }));
    expect(error.file).toBe(join(dir, 'scheduler.yaml'));
    expect(error.line).toBe(7);
    expect(error.message).toBe(
      `${join(dir, 'scheduler.yaml')}:7: schedules[1].jobId: unknown job "command"; known jobs: report (the built-in "command" job is off; enable it with builtins: { command: { allow: [programs] } } in the config or the schedule file) (UNKNOWN_JOB)`,
    );
  });
});
