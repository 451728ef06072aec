import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres-server.js';
import { startRecordingServer, type RecordedRequest, type RecordingServer } from '../alerts/alert-test-servers.js';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

/** The webhook path carries a token in real deployments: it must never be printed. */
const SECRET_PATH = '/hooks/t0ken-in-the-path';
const WEBHOOK_SECRET = 'signing-secret-value';

function alertsYaml(origin: string): string {
  // failureCount reads the per-minute stats: the pass a second after a death flushes the dying
  // process's stats first; the other daemons see the count at their next regular pass (5 s here).
  return `settings:
  evaluateEvery: 5
  channels: [webhook]
  webhook: { url: "${origin}${SECRET_PATH}" }
jobFailures:
  - name: give-up-dies
    severity: high
    conditions: { jobPattern: "^give-up$", failureCount: 1, timeWindow: 600 }
queueHealth:
  - name: dlq
    enabled: false
    conditions: { dlqSize: 5 }
`;
}

describe('nightshift alerts', () => {
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

  async function setUp(): Promise<{ project: Project; server: RecordingServer }> {
    server = await startRecordingServer();
    project = new Project({ 'nightshift.config.ts': fixtureConfig(), 'alerts.yaml': alertsYaml(server.origin) });
    return { project, server };
  }

  it('stops the daemon at start on a broken alerts file, naming file, line and field', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig(),
      'alerts.yaml': 'jobFailures:\n  - name: streak\n    conditions: { consecutiveFailures: 3 }\n    severty: high\n',
    });
    const result = await project.run(['daemon']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('INVALID_CONFIG');
    expect(result.stderr).toMatch(/alerts\.yaml:4/);
    expect(result.stderr).toContain('severty');
    expect(result.stderr).not.toContain('daemon ready');
  });

  it('takes --alerts <file> over the alerts file beside the config, and the config key as a path', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: `alerts: './ops/rules.yaml',` }),
      'ops/rules.yaml': 'jobFailures:\n  - name: from-key\n    conditions: { consecutiveFailures: 2 }\n',
      'other.yaml': 'queueHealth:\n  - name: from-option\n    conditions: { dlqSize: 1 }\n',
    });
    const fromKey = await project.json<{ rules: { jobFailures: { name: string }[] } }>(['alerts', 'status']);
    expect(fromKey.rules.jobFailures.map((rule) => rule.name)).toEqual(['from-key']);
    const fromOption = await project.json<{ from: string; rules: { queueHealth: { name: string }[] } }>(['alerts', 'status', '--alerts', 'other.yaml']);
    expect(fromOption.from).toMatch(/other\.yaml$/);
    expect(fromOption.rules.queueHealth.map((rule) => rule.name)).toEqual(['from-option']);
  });

  it('says alerting is off when there are no rules', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const status = await project.json<{ alerting: boolean }>(['alerts', 'status']);
    expect(status.alerting).toBe(false);
    const history = await project.run(['alerts', 'history']);
    expect(history.code).toBe(1);
    expect(history.stderr).toContain('alerting is off');
  });

  it('lists rules and channel names, never the webhook path or secret; alert:status is the same command', async () => {
    const { project } = await setUp();
    const env = { ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET };
    const text = await project.run(['alerts', 'status'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('give-up-dies');
    expect(text.stdout).toMatch(/dlq\s+queueHealth\s+medium\s+no/);
    expect(text.stdout).toMatch(/channels:\s+log, webhook/);
    expect(text.stdout).toContain('firing now: nothing');
    for (const output of [text.stdout, text.stderr]) {
      expect(output).not.toContain(SECRET_PATH);
      expect(output).not.toContain('t0ken');
      expect(output).not.toContain(WEBHOOK_SECRET);
    }

    expect((await project.run(['alerts'], env)).stdout).toBe(text.stdout);

    const alias = await project.run(['--json', 'alert:status'], env);
    expect(alias.code).toBe(0);
    const status = JSON.parse(alias.stdout) as { alerting: boolean; channels: string[]; rules: { jobFailures: { name: string; severity: string; enabled: boolean }[] }; active: unknown[] };
    expect(status.alerting).toBe(true);
    expect(status.channels).toEqual(['log', 'webhook']);
    expect(status.rules.jobFailures[0]).toMatchObject({ name: 'give-up-dies', severity: 'high', enabled: true });
    expect(status.active).toEqual([]);
    expect(alias.stdout).not.toContain('t0ken');
    expect(alias.stdout).not.toContain(WEBHOOK_SECRET);
  });

  it('sends a test message to the webhook, and exits 1 when a channel fails', async () => {
    const { project, server } = await setUp();
    const ok = await project.run(['alerts', 'test', '--channel', 'webhook'], { ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe('webhook: ok');
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.url).toBe(SECRET_PATH);
    expect(server.requests[0]!.headers['x-nightshift-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);

    server.respondWith((_request, response) => {
      response.writeHead(403).end('no');
    });
    const failed = await project.run(['--json', 'alert:test', '--channel', 'webhook']);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ results: [{ channel: 'webhook', ok: false }] });
    expect(failed.stdout + failed.stderr).not.toContain('t0ken');

    const unknown = await project.run(['alerts', 'test', '--channel', 'pager']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('UNKNOWN_CHANNEL');
  });

  it('silences, lists and unsilences; unknown rules and silences are not-found errors', async () => {
    const { project } = await setUp();
    const silence = await project.json<{ id: string; rule: string; subject: string | null; until: string; reason: string }>([
      'alerts', 'silence', 'give-up-dies', '--subject', 'give-up', '--for', '2h', '--reason', 'maintenance',
    ]);
    expect(silence).toMatchObject({ rule: 'give-up-dies', subject: 'give-up', reason: 'maintenance' });
    const hours = (Date.parse(silence.until) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);

    const listed = await project.json<{ silences: { id: string }[] }>(['alert:silences']);
    expect(listed.silences.map((entry) => entry.id)).toEqual([silence.id]);
    const table = await project.run(['alerts', 'silences']);
    expect(table.stdout).toContain('maintenance');

    const removed = await project.run(['alerts', 'unsilence', silence.id]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`silence ${silence.id} removed`);
    expect((await project.json<{ silences: unknown[] }>(['alerts', 'silences'])).silences).toEqual([]);

    const again = await project.run(['alerts', 'unsilence', silence.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('UNKNOWN_SILENCE');
    const unknownRule = await project.run(['alerts', 'silence', 'no-such-rule', '--for', '1h']);
    expect(unknownRule.code).toBe(1);
    expect(unknownRule.stderr).toContain('UNKNOWN_RULE');
    // The history of a rule that does not exist is a typo said as one, not "no alerts".
    const unknownHistory = await project.run(['alerts', 'history', '--rule', 'no-such-rule']);
    expect(unknownHistory.code).toBe(1);
    expect(unknownHistory.stdout).toBe('');
    expect(unknownHistory.stderr).toBe(`error [UNKNOWN_RULE]: no alert rule "no-such-rule" in ${join(project.dir, 'alerts.yaml')}, and no alert in the history under that name; rules: dlq, give-up-dies\n`);
    const quiet = await project.run(['alerts', 'history', '--rule', 'give-up-dies']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe('no alerts\n');
    const badDuration = await project.run(['alerts', 'silence', 'give-up-dies', '--for', 'soon']);
    expect(badDuration.code).toBe(2);
  });

  it('a daemon with an alerts file delivers one alert to the webhook when a job dies', async () => {
    const { project, server } = await setUp();
    const received: RecordedRequest[] = [];
    server.events.on('request', (request: RecordedRequest) => received.push(request));
    const job = await project.json<{ id: string }>(['enqueue', 'give-up', '--data', '{}']);

    const running = project.spawn(['daemon'], { ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET });
    daemon = running;
    const [request] = (await Promise.race([
      once(server.events, 'request'),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no alert within 20 s; daemon stderr:\n${running.stderr}`)), 20_000)),
    ])) as [RecordedRequest];
    expect(request.url).toBe(SECRET_PATH);
    const body = JSON.parse(request.body) as { rule: string; severity: string; subject: { name: string } };
    expect(body).toMatchObject({ rule: 'give-up-dies', severity: 'high', subject: { name: 'give-up' } });

    // The start-up line names the rules and channels, never the URL.
    const summary = running.stderr.split('\n').find((line) => line.includes('alerting on'));
    expect(summary).toBeDefined();
    expect(summary).toContain('webhook');
    expect(running.stderr).not.toContain('t0ken');
    expect(running.stderr).not.toContain(WEBHOOK_SECRET);

    const history = await waitFor('the delivery to be recorded', async () => {
      const page = await project.json<{ alerts: { rule: string; status: string; deliveries: { channel: string; state: string; attempts: number }[] }[] }>(['alerts', 'history', '--job', 'give-up']);
      const delivered = page.alerts[0]?.deliveries.find((delivery) => delivery.channel === 'webhook' && delivery.state === 'completed');
      return delivered ? page : undefined;
    });
    expect(history.alerts).toHaveLength(1);
    expect(history.alerts[0]).toMatchObject({ rule: 'give-up-dies', status: 'delivered' });
    // A rule since removed from the rules still shows the history it left.
    project.write('other-rules.yaml', 'queueHealth:\n  - name: other\n    conditions: { dlqSize: 5 }\n');
    const removed = await project.json<{ alerts: { rule: string }[] }>(['alerts', 'history', '--rule', 'give-up-dies', '--alerts', 'other-rules.yaml']);
    expect(removed.alerts.map((alert) => alert.rule)).toEqual(['give-up-dies']);
    // A cursor no page returned is a mistake said as one, not "no alerts".
    const garbage = await project.run(['alerts', 'history', '--cursor', 'garbage']);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toContain('alert history: cursor "garbage" is not one a previous page returned');
    const firing = await project.json<{ active: { rule: string }[] }>(['alerts', 'status']);
    expect(firing.active.map((episode) => episode.rule)).toEqual(['give-up-dies']);
    expect((await project.json<{ job: { state: string } }>(['job', job.id])).job.state).toBe('dead');

    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
    // One episode, one delivery: nothing more arrived while the daemon ran on.
    expect(received).toHaveLength(1);
  });

  it('three daemons evaluating the same rules on one store deliver the alert once', async () => {
    const { project, server } = await setUp();
    const received: RecordedRequest[] = [];
    server.events.on('request', (request: RecordedRequest) => received.push(request));
    const daemons = [0, 1, 2].map(() => project.spawn(['daemon'], { ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET }));
    try {
      await Promise.all(daemons.map((running) => waitFor('the daemon to be ready', async () => (running.stderr.includes('alerting on') ? true : undefined))));
      await project.json(['enqueue', 'give-up', '--data', '{}']);
      await waitFor('the alert', async () => (received.length > 0 ? true : undefined));
      // Every daemon evaluates at least twice more (every 5 s): still one delivery, one episode.
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      expect(received).toHaveLength(1);
      const page = await project.json<{ alerts: { rule: string; deliveries: unknown[] }[] }>(['alerts', 'history']);
      expect(page.alerts.map((episode) => episode.rule)).toEqual(['give-up-dies']);
      expect(page.alerts[0]!.deliveries).toHaveLength(1);
    } finally {
      for (const running of daemons) running.kill('SIGTERM');
      for (const running of daemons) expect((await running.exited).code).toBe(0);
    }
  }, 60_000);

  it('serve exposes the rules under /api/alerts without evaluating them', async () => {
    const { project } = await setUp();
    await project.json(['enqueue', 'give-up', '--data', '{}']);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const running = project.spawn(['serve', '--http', String(port)]);
    daemon = running;
    const config = await waitFor('the API to serve the alert rules', async () => {
      const response = await fetch(`${base}/api/alerts/config`);
      return response.status === 200 ? ((await response.json()) as { channels: string[]; rules: { jobFailures: { name: string }[] } }) : undefined;
    });
    expect(config.channels).toEqual(['log', 'webhook']);
    expect(config.rules.jobFailures.map((rule) => rule.name)).toEqual(['give-up-dies']);
    expect(JSON.stringify(config)).not.toContain('t0ken');
    await waitFor('the start-up summary', () => /alerting API only \(not evaluating\): 2 rules/.test(running.stderr));
    const { services } = JSON.parse(running.stderr.split('\n').find((line) => line.includes('"nightshift started"'))!) as { services: string[] };
    expect(services).not.toContain('alerts');
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });
});
