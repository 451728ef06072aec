// alerts.yaml as users already write it: accepted unchanged; anything unknown or invalid is an
// error naming the file, the line and the field.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { loadAlertRulesFile, parseAlertRules } from '../../src/alerts/alert-rules.js';
import { setUpAlerting } from '../../src/alerts/alert-runtime.js';
import { createLogChannel } from '../../src/alerts/channels/index.js';

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
    // An empty channel list would deliver nowhere: said at load (leaving it out means the default).
    expect(bad({ settings: { channels: [] } })).toThrow(/settings\.channels: name at least one channel/);
    expect(bad({ queueHealth: [{ name: 'x', channels: [], conditions: { dlqSize: 1 } }] })).toThrow(/queueHealth\[0\]\.channels: name at least one channel/);
    // The webhook's URL gets the channel's own check at load, and the message shows none of it.
    for (const url of ['https://user:RulesSecret1@hooks.example.com/x', 'ftp://hooks.example.com/RulesSecret1', 'not a url RulesSecret1', '']) {
      const error = (() => {
        try {
          parseAlertRules({ settings: { webhook: { url } } });
          return null;
        } catch (thrown) {
          return thrown as Error;
        }
      })();
      expect(error?.message, url).toMatch(/settings\.webhook\.url: (must|is required)/);
      expect(error?.message).not.toContain('RulesSecret1');
    }
  });

  it('refuses a channel that is not one Nightshift has, naming the field, line and the known channels', async () => {
    const known = 'known channels: log, slack, discord, email, webhook';
    const target = file('queueHealth:\n  - name: z\n    conditions: { pendingJobs: 1 }\n    channels: [log, pagerduty]\n');
    await expect(loadAlertRulesFile(target)).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      line: 4,
      issues: [{ path: 'queueHealth[0].channels[1]', message: `unknown channel "pagerduty" (rule z); ${known}` }],
      message: expect.stringMatching(/alerts\.yaml:4: invalid alert rules: line 4: queueHealth\[0\]\.channels\[1\]: unknown channel "pagerduty"/),
    });
    // A channel that code gives the runtime under its own name may be named.
    const custom = await loadAlertRulesFile(target, { channels: ['pagerduty'] });
    expect(custom.queueHealth[0]?.channels).toEqual(['log', 'pagerduty']);
    const settings = file('settings:\n  channels: [slak]\njobFailures:\n  - name: streak\n    conditions: { consecutiveFailures: 3 }\n');
    await expect(loadAlertRulesFile(settings)).rejects.toThrow(`line 2: settings.channels[0]: unknown channel "slak" (the default of every rule); ${known}`);
    // Listed with the schema's own problems: one error names everything to fix.
    expect(() => parseAlertRules({ jobFailures: [{ name: 'x', severty: 'high', channels: ['pager'], conditions: { failureCount: 1 } }] })).toThrow(
      /jobFailures\[0\]\.severty: unknown field.*; jobFailures\[0\]\.channels\[0\]: unknown channel "pager" \(rule x\)/,
    );
    expect(() => parseAlertRules({ settings: { channels: ['pager'] } }, { channels: ['pagerduty'] })).toThrow(`settings.channels[0]: unknown channel "pager" (the default of every rule); known channels: log, slack, discord, email, webhook, pagerduty`);
  });

  it('the runtime checks channel names against the channels it is given, parsed rules too', () => {
    const logger = pino({ level: 'silent' });
    const input = { queueHealth: [{ name: 'z', conditions: { pendingJobs: 1 }, channels: ['pagerduty'] }] };
    expect(() => setUpAlerting({ rules: input }, logger)).toThrow(/queueHealth\[0\]\.channels\[0\]: unknown channel "pagerduty"/);
    const pager = { ...createLogChannel({ logger }), name: 'pagerduty' };
    const parsed = parseAlertRules(input, { channels: ['pagerduty'] });
    expect(() => setUpAlerting({ rules: parsed }, logger)).toThrow(/queueHealth\[0\]\.channels\[0\]: unknown channel "pagerduty"/);
    expect(setUpAlerting({ rules: parsed, channels: [pager] }, logger).unconfigured).toEqual([]);
    expect(setUpAlerting({ rules: input, channels: [pager] }, logger).channels.has('pagerduty')).toBe(true);
    // A known channel that is not configured here is no error (another process may have it): it is listed.
    const slack = setUpAlerting({ env: {}, rules: { settings: { channels: ['slack'] }, queueHealth: [{ name: 'z', conditions: { pendingJobs: 1 } }, { name: 'off', enabled: false, conditions: { dlqSize: 1 } }, { name: 'own', conditions: { dlqSize: 1 }, channels: ['log', 'webhook'] }] } }, logger);
    expect(slack.unconfigured).toEqual([
      { channel: 'slack', rules: ['z'], setup: expect.stringContaining('NOTIFY_SLACK_ENABLED=true') },
      { channel: 'webhook', rules: ['own'], setup: 'set settings.webhook.url in the rules' },
    ]);
  });

  it('reports YAML syntax errors and unreadable files with the file name', async () => {
    await expect(loadAlertRulesFile(file('settings: [unclosed\n'))).rejects.toThrow(/alerts\.yaml:\d+: invalid YAML/);
    await expect(loadAlertRulesFile('/nonexistent/alerts.yaml')).rejects.toThrow(/\/nonexistent\/alerts\.yaml: cannot read the alerts file: ENOENT/);
  });
});
