// alerts.yaml as users already write it: accepted unchanged; anything unknown or invalid is an
// error naming the file, the line and the field.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAlertRulesFile, parseAlertRules } from '../../src/alerts/alert-rules.js';

const USERS_FILE = `settings:
  enabled: true
  channels: [slack]
  slack: { channel: "#worker-alerts", username: "Worker Bot", iconEmoji: ":gear:" }
  throttle: { minInterval: 300, maxAlertsPerJobPerHour: 10 }
jobFailures:
  - name: repeated-failures
    enabled: true
    description: three in a row
    conditions: { consecutiveFailures: 3 }
    severity: high
    channels: [slack]
  - name: critical-job-failure
    conditions: { jobPattern: "^(questmaster|sprintplanner|github-sync)", failureCount: 1 }
    severity: critical
queueHealth:
  - name: dlq-jobs
    conditions: { dlqSize: 1 }
    severity: high
  - name: queue-backlog
    conditions: { pendingJobs: 50 }
    severity: medium
performance:
  - name: low-success-rate
    conditions: { jobPattern: ".*", successRate: 0.8, timeWindow: 3600, minRuns: 5 }
    severity: medium
  - name: duration-spike
    conditions: { jobPattern: ".*", durationIncrease: 2.0, timeWindow: 3600, minRuns: 3 }
    severity: low
`;

describe('alert rules', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });
  const file = (text: string) => {
    dir ??= mkdtempSync(path.join(tmpdir(), 'nightshift-alerts-'));
    const target = path.join(dir, 'alerts.yaml');
    writeFileSync(target, text);
    return target;
  };

  it('accepts the file users already have, unchanged, with defaults filled in', async () => {
    const rules = await loadAlertRulesFile(file(USERS_FILE));
    expect(rules.settings).toMatchObject({ enabled: true, channels: ['slack'], slack: { channel: '#worker-alerts', iconEmoji: ':gear:' }, throttle: { minInterval: 300, maxAlertsPerJobPerHour: 10 }, evaluateEvery: 30, notifyResolved: true });
    expect(rules.jobFailures.map((rule) => [rule.name, rule.severity, rule.enabled])).toEqual([
      ['repeated-failures', 'high', true],
      ['critical-job-failure', 'critical', true],
    ]);
    expect(rules.queueHealth[1]?.conditions).toEqual({ pendingJobs: 50 });
    expect(rules.performance[1]?.conditions).toEqual({ jobPattern: '.*', durationIncrease: 2, timeWindow: 3600, minRuns: 3 });
    expect(rules.schedules).toEqual([]);
  });

  it('refuses an unknown rule field, naming the file, line and field', async () => {
    const target = file(USERS_FILE.replace('    conditions: { dlqSize: 1 }', '    conditions: { dlqSize: 1, dlqSzie: 2 }'));
    await expect(loadAlertRulesFile(target)).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      line: 18,
      message: expect.stringMatching(/alerts\.yaml:18: invalid alert rules: line 18: queueHealth\[0\]\.conditions\.dlqSzie: unknown field/),
    });
    const typo = file(USERS_FILE.replace('    severity: high\n    channels', '    severty: high\n    channels'));
    await expect(loadAlertRulesFile(typo)).rejects.toThrow(/line 11: jobFailures\[0\]\.severty: unknown field/);
  });

  it('refuses bad values with the field and the reason', () => {
    const bad = (input: unknown) => () => parseAlertRules(input);
    expect(bad({ jobFailures: [{ name: 'x', conditions: {} }] })).toThrow(/jobFailures\[0\]\.conditions: needs one of: consecutiveFailures, failureCount, failuresPerHour/);
    expect(bad({ jobFailures: [{ name: 'x', conditions: { jobPattern: '(', failureCount: 1 } }] })).toThrow(/conditions\.jobPattern: not a valid regular expression/);
    expect(bad({ queueHealth: [{ name: 'x', severity: 'urgent', conditions: { dlqSize: 1 } }] })).toThrow(/queueHealth\[0\]\.severity/);
    expect(bad({ performance: [{ name: 'x', conditions: { successRate: 1.5 } }] })).toThrow(/performance\[0\]\.conditions\.successRate/);
    expect(bad({ queueHealth: [{ name: 'x', conditions: { pendingJobs: -1 } }] })).toThrow(/pendingJobs/);
    expect(bad({ queueHealth: [{ name: 'x', conditions: { saturatedForSeconds: 0 } }] })).toThrow(/queueHealth\[0\]\.conditions\.saturatedForSeconds/);
    expect(bad({ queueHealth: [{ name: 'x', conditions: { saturatedForSeconds: 60, saturatedFor: 60 } }] })).toThrow(/conditions\.saturatedFor: unknown field/);
    expect(parseAlertRules({ queueHealth: [{ name: 'x', conditions: { queuePattern: '^mail$', saturatedForSeconds: 120 } }] }).queueHealth[0]?.conditions).toEqual({ queuePattern: '^mail$', saturatedForSeconds: 120 });
    expect(bad({ queueHealth: [{ name: 'same', conditions: { dlqSize: 1 } }], jobFailures: [{ name: 'same', conditions: { failureCount: 1 } }] })).toThrow(/rule names must be unique; repeated: same/);
    expect(bad({ alerts: [] })).toThrow(/alerts: unknown field/);
  });

  it('reports YAML syntax errors and unreadable files with the file name', async () => {
    await expect(loadAlertRulesFile(file('settings: [unclosed\n'))).rejects.toThrow(/alerts\.yaml:\d+: invalid YAML/);
    await expect(loadAlertRulesFile('/nonexistent/alerts.yaml')).rejects.toThrow(/\/nonexistent\/alerts\.yaml: cannot read the alerts file: ENOENT/);
  });
});
