// Three `nightshift daemon` processes evaluating the same rules on one PostgreSQL store deliver
// each alert once: the PostgreSQL twin of the SQLite case in test/cli/alerts.test.ts ("three
// daemons evaluating the same rules on one store deliver the alert once"), with the same rule,
// fixture jobs and recording webhook, in a fresh schema dropped afterwards. Needs `npm run build`.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from '../cli/cli-harness.js';
import { startRecordingServer, type RecordedRequest, type RecordingServer } from './alert-test-servers.js';

const url = postgresUrl();
const WEBHOOK_SECRET = 'signing-secret-value';

/** The rules of the SQLite case: a death of `give-up` crosses `failureCount: 1`; every daemon evaluates every 5 s. */
function alertsYaml(origin: string): string {
  return `settings:
  evaluateEvery: 5
  channels: [webhook]
  webhook: { url: "${origin}/hooks/alerts" }
jobFailures:
  - name: give-up-dies
    severity: high
    conditions: { jobPattern: "^give-up$", failureCount: 1, timeWindow: 600 }
`;
}

describe.skipIf(url === null)('nightshift alerts on PostgreSQL', () => {
  let project: Project | null = null;
  let server: RecordingServer | null = null;
  let schema: ReturnType<typeof testSchema> | null = null;
  let daemons: RunningCli[] = [];

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    for (const running of daemons) await running.stop();
    daemons = [];
    await server?.close();
    server = null;
    project?.cleanup();
    project = null;
    await schema?.drop();
    schema = null;
  });

  it('three daemons evaluating the same rules on one store deliver the alert once', async () => {
    server = await startRecordingServer();
    schema = testSchema(url!, 'alerts');
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: `store: { postgres: { schema: '${schema.schema}', poolSize: 4 } },` }),
      'alerts.yaml': alertsYaml(server.origin),
    });
    const env = { DATABASE_URL: url!, ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET };
    const received: RecordedRequest[] = [];
    server.events.on('request', (request: RecordedRequest) => received.push(request));
    // Migrated once beforehand: what is under test is the evaluation, not three racing migrations.
    expect((await project.json<{ store: string }>(['migrate'], env)).store).toBe('postgres');

    daemons = [0, 1, 2].map(() => project!.spawn(['daemon'], env));
    await Promise.all(daemons.map((running) => waitFor('the daemon to be ready', async () => (running.stderr.includes('alerting on') ? true : undefined))));
    await project.json(['enqueue', 'give-up', '--data', '{}'], env);
    await waitFor('the alert', async () => (received.length > 0 ? true : undefined), 20_000);
    // Every daemon evaluates at least twice more (every 5 s): still one delivery, one episode.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body)).toMatchObject({ rule: 'give-up-dies', severity: 'high', subject: { kind: 'job', name: 'give-up' } });
    const page = await project.json<{ alerts: { rule: string; deliveries: { channel: string; state: string }[] }[] }>(['alerts', 'history'], env);
    expect(page.alerts.map((episode) => episode.rule)).toEqual(['give-up-dies']);
    expect(page.alerts[0]!.deliveries).toEqual([expect.objectContaining({ channel: 'webhook', state: 'completed' })]);

    for (const running of daemons) running.kill('SIGTERM');
    for (const running of daemons) expect((await running.exited).code).toBe(0);
  }, 90_000);
});
