import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readAlertRules } from '../../src/config/alert-rules-source.js';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';

const dirs: string[] = [];
function projectDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-alerts-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const config = (alerts: string): string => `export default { jobs: [], ${alerts} };\n`;
const RULE_FILE = 'jobFailures:\n  - name: streak\n    conditions: { consecutiveFailures: 3 }\n';

describe('alert rules in the configuration', () => {
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('is off without an `alerts` key or an alerts file', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': config('') });
    const resolved = await loadConfig({ cwd: dir, env: {} });
    expect(resolved.alerts).toBeNull();
    expect(await readAlertRules(resolved)).toBeNull();
  });

  it('finds alerts.yaml, else alerts.yml, beside the config file', async () => {
    const dir = projectDir({ 'app/nightshift.config.mjs': config(''), 'app/alerts.yml': RULE_FILE });
    const resolved = await loadConfig({ cwd: dir, configPath: 'app/nightshift.config.mjs', env: {} });
    expect(resolved.alerts).toEqual({ kind: 'file', file: join(dir, 'app', 'alerts.yml') });
    const loaded = await readAlertRules(resolved);
    expect(loaded?.rules.jobFailures.map((rule) => rule.name)).toEqual(['streak']);
  });

  it('resolves an `alerts` path from the config file, and a given file wins over it', async () => {
    const dir = projectDir({
      'app/nightshift.config.mjs': config(`alerts: 'ops/rules.yaml',`),
      'app/ops/rules.yaml': RULE_FILE,
      'app/alerts.yaml': 'queueHealth:\n  - name: ignored\n    conditions: { dlqSize: 1 }\n',
      'cli.yaml': 'queueHealth:\n  - name: given\n    conditions: { dlqSize: 1 }\n',
    });
    const resolved = await loadConfig({ cwd: dir, configPath: 'app/nightshift.config.mjs', env: {} });
    expect(resolved.alerts).toEqual({ kind: 'file', file: join(dir, 'app', 'ops', 'rules.yaml') });
    const given = await readAlertRules(resolved, { file: 'cli.yaml', cwd: dir });
    expect(given?.rules.queueHealth.map((rule) => rule.name)).toEqual(['given']);
    expect(given?.from).toBe(join(dir, 'cli.yaml'));
  });

  it('reads inline rules, and names the config file and the field under `alerts` when they are wrong', async () => {
    const good = projectDir({ 'nightshift.config.mjs': config(`alerts: { jobFailures: [{ name: 'inline', severity: 'high', conditions: { failureCount: 2 } }] },`) });
    const loaded = await readAlertRules(await loadConfig({ cwd: good, env: {} }));
    expect(loaded?.rules.jobFailures[0]).toMatchObject({ name: 'inline', severity: 'high' });

    const bad = projectDir({ 'nightshift.config.mjs': config(`alerts: { jobFailures: [{ name: 'inline', severity: 'urgent', conditions: { failureCount: 2 } }] },`) });
    const error = await readAlertRules(await loadConfig({ cwd: bad, env: {} })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(join(bad, 'nightshift.config.mjs'));
    expect((error as ConfigError).message).toContain('alerts.jobFailures[0].severity');
  });

  it('names the file, line and field of an invalid alerts file, and a missing one', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': config(''), 'alerts.yaml': 'settings:\n  evaluateEvery: 1\n' });
    const error = await readAlertRules(await loadConfig({ cwd: dir, env: {} })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/alerts\.yaml:2: .*settings\.evaluateEvery/);

    const missing = projectDir({ 'nightshift.config.mjs': config(`alerts: './nope.yaml',`) });
    const notFound = await readAlertRules(await loadConfig({ cwd: missing, env: {} })).catch((caught: unknown) => caught);
    expect((notFound as ConfigError).message).toContain(`${join(missing, 'nope.yaml')}: cannot read the alerts file`);
  });

  it('refuses an `alerts` value that is neither a path nor rules', async () => {
    const dir = projectDir({ 'nightshift.config.mjs': config(`alerts: 42,`) });
    await expect(loadConfig({ cwd: dir, env: {} })).rejects.toThrow(/alerts: must be a path to an alerts YAML file/);
  });
});
