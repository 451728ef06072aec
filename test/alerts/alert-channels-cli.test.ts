// Channel names in the rules, through the built `nightshift` binary: a name that is not a channel
// Nightshift has stops `alerts status` and the daemon with the field, line and known channels; a
// known channel this environment has not configured is shown by `alerts status`, warned about once
// at daemon start, and an alert sent only to it is recorded as `undelivered` with no delivery.
// Needs `npm run build`.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from '../cli/cli-harness.js';
import { startRecordingServer, type RecordingServer } from './alert-test-servers.js';

/** No channel variables from the test's own environment: Slack, Discord and email are off. */
const NO_CHANNELS = {
  NOTIFY_SLACK_ENABLED: undefined,
  SLACK_WEBHOOK_URL: undefined,
  SLACK_BOT_TOKEN: undefined,
  SLACK_CHANNEL: undefined,
  NOTIFY_DISCORD_ENABLED: undefined,
  NOTIFY_EMAIL_ENABLED: undefined,
  ALERT_WEBHOOK_SECRET: undefined,
};
const KNOWN = 'known channels: log, slack, discord, email, webhook';

interface Status {
  channels: string[];
  unconfiguredChannels: { channel: string; rules: string[]; setup: string | null }[];
  active: { rule: string; status: string; deliveries: { channel: string; state: string }[] }[];
}

describe('alert channels in the CLI', () => {
  let project: Project | null = null;
  let daemon: RunningCli | null = null;
  let server: RecordingServer | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    await server?.close();
    server = null;
    project?.cleanup();
    project = null;
  });

  it('refuses a channel Nightshift does not have in alerts status and at daemon start, naming the field, line and known channels', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig(),
      'a3.yaml': 'queueHealth:\n  - name: z\n    conditions: { pendingJobs: 1 }\n    channels: [pagerduty]\n',
      'a4.yaml': 'settings:\n  channels: [log, pagerduty]\nqueueHealth:\n  - name: z\n    conditions: { pendingJobs: 1 }\n',
    });
    const status = await project.run(['alerts', 'status', '--alerts', 'a3.yaml'], NO_CHANNELS);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('INVALID_CONFIG');
    expect(status.stderr).toMatch(/a3\.yaml:4/);
    expect(status.stderr).toContain(`queueHealth[0].channels[0]: unknown channel "pagerduty" (rule z); ${KNOWN}`);
    expect(status.stdout).not.toContain('pendingJobs');

    const settings = await project.run(['alerts', 'status', '--alerts', 'a4.yaml'], NO_CHANNELS);
    expect(settings.code).toBe(1);
    expect(settings.stderr).toContain(`settings.channels[1]: unknown channel "pagerduty" (the default of every rule); ${KNOWN}`);

    const started = await project.run(['daemon', '--alerts', 'a3.yaml'], NO_CHANNELS);
    expect(started.code).toBe(1);
    expect(started.stderr).toContain('INVALID_CONFIG');
    expect(started.stderr).toContain('unknown channel "pagerduty"');
    expect(started.stderr).not.toContain('daemon ready');
  });

  it('refuses an unknown channel in rules written inline in the config, under the alerts key', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: `alerts: { queueHealth: [{ name: 'z', conditions: { pendingJobs: 1 }, channels: ['pagerduty'] }] },` }),
    });
    const status = await project.run(['alerts', 'status'], NO_CHANNELS);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('alerts.queueHealth[0].channels[0]: unknown channel "pagerduty"');
  });

  it('alerts status shows a known channel this environment has not configured, and not once it is', async () => {
    server = await startRecordingServer();
    project = new Project({
      'nightshift.config.ts': fixtureConfig(),
      'alerts.yaml': 'settings:\n  channels: [slack]\nqueueHealth:\n  - name: z\n    conditions: { pendingJobs: 1 }\n  - name: logged\n    channels: [log]\n    conditions: { dlqSize: 1 }\n',
    });
    const text = await project.run(['alerts', 'status'], NO_CHANNELS);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/channels:\s+log\n/);
    expect(text.stdout).toMatch(/not configured:\s+slack \(rules z\): a daemon with this environment sends nothing to it; set NOTIFY_SLACK_ENABLED=true/);
    const json = await project.json<Status>(['alerts', 'status'], NO_CHANNELS);
    expect(json.channels).toEqual(['log']);
    expect(json.unconfiguredChannels).toEqual([{ channel: 'slack', rules: ['z'], setup: expect.stringContaining('SLACK_WEBHOOK_URL') }]);

    const withSlack = { ...NO_CHANNELS, NOTIFY_SLACK_ENABLED: 'true', SLACK_WEBHOOK_URL: `${server.origin}/slack` };
    const configured = await project.json<Status>(['alerts', 'status'], withSlack);
    expect(configured.channels).toEqual(['log', 'slack']);
    expect(configured.unconfiguredChannels).toEqual([]);
    expect((await project.run(['alerts', 'status'], withSlack)).stdout).not.toContain('not configured');
  });

  it('the daemon warns once at start per unconfigured channel, and records an alert sent only there as undelivered', async () => {
    server = await startRecordingServer();
    project = new Project({
      'nightshift.config.ts': fixtureConfig(),
      'alerts.yaml': `settings:
  evaluateEvery: 5
  channels: [slack]
  webhook: { url: "${server.origin}/hook" }
queueHealth:
  - name: z
    conditions: { pendingJobs: 1 }
  - name: y
    channels: [slack, webhook]
    conditions: { pendingJobs: 1 }
`,
    });
    // A job an hour away: pending while the daemon runs, as in the report.
    await project.json(['enqueue', 'greet', '--data', '{"who":"later"}', '--delay', '3600000'], NO_CHANNELS);
    const running = project.spawn(['daemon'], NO_CHANNELS);
    daemon = running;
    await waitFor('the daemon to be ready', () => running.stderr.includes('alerting on'));
    const warnings = () => running.stderr.split('\n').filter((line) => line.includes('alert channel \\"slack\\" is not configured'));
    expect(warnings()).toHaveLength(1);
    expect(JSON.parse(warnings()[0]!)).toMatchObject({ level: 40, channel: 'slack', rules: ['z', 'y'] });

    const status = await waitFor('both alerts to open', async () => {
      const json = await project!.json<Status>(['alerts', 'status'], NO_CHANNELS);
      return json.active.length === 2 && json.active.every((episode) => episode.status !== 'delivered' || episode.deliveries[0]?.state === 'completed') ? json : undefined;
    }, 20_000);
    const byRule = Object.fromEntries(status.active.map((episode) => [episode.rule, episode]));
    expect(byRule.z).toMatchObject({ status: 'undelivered', deliveries: [] });
    expect(byRule.y).toMatchObject({ status: 'delivered', deliveries: [{ channel: 'webhook', state: 'completed' }] });
    expect(server.requests.map((request) => JSON.parse(request.body).rule)).toEqual(['y']);
    const history = await project.run(['alerts', 'history'], NO_CHANNELS);
    expect(history.stdout).toMatch(/\bz\b.*\bundelivered\b/);

    // Passes went on every 5 s: still one warning for the channel.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(warnings()).toHaveLength(1);
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  }, 60_000);
});
