// Alerting in a runtime, operated over real loopback HTTP on both stores: a job that dies fires a
// rule within seconds, delivered to a local stand-in for Slack configured from the environment;
// the alert API shows it (no secret anywhere), silences it, and sends test messages.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { answer, startRecordingServer, type RecordingServer } from './alert-test-servers.js';
import { until } from '../fixtures/sqlite-runtime.js';
import { callJson } from '../support/http-call.js';

const SECRET_PATH = '/services/T0SECRET1/B0SECRET2/XoXoSecretToken42';
const sync = defineJob({
  name: 'sync',
  retry: { attempts: 1 },
  handler: () => {
    throw new Error('upstream said <!channel> no');
  },
});


for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`alert API on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let slack: RecordingServer;
    let hook: RecordingServer;
    let nightshift: Nightshift;
    let base: string;
    const call = (method: string, path: string, body?: unknown) => callJson(base, method, path, body);

    beforeEach(async () => {
      opened = await kind.open();
      slack = await startRecordingServer(answer(200, 'ok'));
      hook = await startRecordingServer(answer(200, 'ok'));
      nightshift = createNightshift({
        store: opened.store,
        jobs: [sync],
        http: { port: 0 },
        stats: { flushMs: 50 },
        pollIntervalMs: 25,
        alerts: {
          env: { NOTIFY_SLACK_ENABLED: 'true', SLACK_WEBHOOK_URL: `${slack.origin}${SECRET_PATH}` },
          rules: {
            settings: { channels: ['slack'], slack: { channel: '#worker-alerts', username: 'Worker Bot' }, webhook: { url: `${hook.origin}/hooks/abc123secret` } },
            jobFailures: [{ name: 'sync-failed', severity: 'high', conditions: { jobPattern: '^sync$', failureCount: 1 } }],
          },
        },
      });
      await nightshift.start();
      base = nightshift.httpAddress!;
    });
    afterEach(async () => {
      await nightshift.stop();
      await slack.close();
      await hook.close();
      await opened.cleanup();
    });

    it('a dead job alerts within seconds; the API shows, silences and tests without showing a secret', async () => {
      const config = await call('GET', '/api/alerts/config');
      expect(config.body.channels).toEqual(['log', 'slack', 'webhook']);
      expect(config.text).not.toContain('SECRET');
      expect(config.text).not.toContain('abc123secret');

      await nightshift.enqueue(sync, {});
      await until(() => slack.requests.length === 1, 'the Slack message');
      const posted = JSON.parse(slack.requests[0]!.body);
      expect(posted).toMatchObject({ channel: '#worker-alerts', username: 'Worker Bot' });
      expect(JSON.stringify(posted)).not.toContain('<!channel>');

      const active = await call('GET', '/api/alerts/active');
      expect(active.body.alerts).toHaveLength(1);
      expect(active.body.alerts[0]).toMatchObject({ rule: 'sync-failed', severity: 'high', subject: { kind: 'job', name: 'sync' }, status: 'delivered' });
      await until(async () => (await call('GET', '/api/alerts/history?severity=high&jobId=sync')).body.alerts[0]?.deliveries[0]?.state === 'completed', 'the delivery to be recorded');
      expect((await call('GET', '/api/alerts/history?severity=low')).body.alerts).toEqual([]);
      expect((await call('GET', '/api/alerts/stats')).body).toMatchObject({ open: 1, last24h: { fired: 1, delivered: 1 } });

      const silence = await call('POST', '/api/alerts/silences', { rule: 'sync-failed', subject: 'sync', forSeconds: 3600, reason: 'deploying' });
      expect(silence).toMatchObject({ status: 201, body: { rule: 'sync-failed', subject: 'sync', reason: 'deploying' } });
      expect((await call('GET', '/api/alerts/silences')).body.silences).toHaveLength(1);
      expect((await call('DELETE', `/api/alerts/silences/${silence.body.id}`)).status).toBe(204);
      expect(await call('DELETE', `/api/alerts/silences/${silence.body.id}`)).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_SILENCE' } } });
      expect(await call('POST', '/api/alerts/silences', { rule: 'no-such-rule', forSeconds: 60 })).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_RULE' } } });
      expect((await call('POST', '/api/alerts/silences', { rule: 'sync-failed', forSeconds: 0 })).status).toBe(400);

      const test = await call('POST', '/api/alerts/test', { channel: 'webhook' });
      expect(test.body.results).toEqual([{ channel: 'webhook', ok: true, error: null }]);
      expect(hook.requests).toHaveLength(1);
      expect(await call('POST', '/api/alerts/test', { channel: 'pager' })).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_CHANNEL' } } });
    });
  });
}
