// Alerts to a channel the evaluating process has not configured (the Slack variables unset), on
// both stores: the runtime warns once at start per channel, naming the rules that use it; an
// alert with no configured channel is recorded as `undelivered` with no delivery job — never as
// `delivered` — and the API (replies checked against their schemas) says so; an alert with one
// configured channel among others is delivered there; an undelivered episode neither holds later
// alerts back as the throttle does after a delivery, nor sends a "resolved" message.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAlertRules, type AlertRulesInput } from '../../src/alerts/alert-rules.js';
import { createAlertService } from '../../src/alerts/alert-service.js';
import { createAlertsAdmin } from '../../src/alerts/alerts-admin.js';
import { createWebhookChannel, type AlertChannel } from '../../src/alerts/channels/index.js';
import { ALERT_DELIVERY_JOB, createAlertDeliveryJob } from '../../src/alerts/deliver-job.js';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { emptyDelta } from '../../src/observe/stats-recorder.js';
import { TestClock } from '../../src/store/conformance/test-clock.js';
import type { StatsDelta } from '../../src/store/types.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { until } from '../fixtures/sqlite-runtime.js';
import { callJson } from '../support/http-call.js';
import { answer, startRecordingServer, type RecordingServer } from './alert-test-servers.js';

const dead = (name: string, count: number): StatsDelta => ({ ...emptyDelta('default', name), dead: count });

const sync = defineJob({
  name: 'sync',
  retry: { attempts: 1 },
  handler: () => {
    throw new Error('upstream down');
  },
});

/** A real pino logger whose lines are kept, parsed. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`alerts to unconfigured channels on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift | null = null;
    let receiver: RecordingServer | null = null;

    beforeEach(async () => {
      opened = await kind.open();
    });
    afterEach(async () => {
      await nightshift?.stop();
      nightshift = null;
      await receiver?.close();
      receiver = null;
      await opened.cleanup();
    });

    it('warns once at start naming the rules, and records an alert with no configured channel as undelivered, as the API shows', async () => {
      const { lines, logger } = capture();
      nightshift = createNightshift({
        store: opened.store,
        jobs: [sync],
        http: { port: 0 },
        stats: { flushMs: 50 },
        pollIntervalMs: 25,
        logger,
        alerts: {
          env: {},
          rules: {
            settings: { channels: ['slack'] },
            jobFailures: [{ name: 'sync-failed', severity: 'high', conditions: { jobPattern: '^sync$', failureCount: 1 } }],
            queueHealth: [{ name: 'backlog', conditions: { pendingJobs: 1000 } }],
          },
        },
      });
      await nightshift.start();
      const base = nightshift.httpAddress!;
      const warnings = () => lines.filter((line) => line.channel === 'slack' && String(line.msg).startsWith('alert channel "slack" is not configured'));
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]).toMatchObject({ level: 40, rules: ['sync-failed', 'backlog'] });
      expect(warnings()[0]!.msg).toContain('NOTIFY_SLACK_ENABLED=true');

      await nightshift.enqueue(sync, {});
      await until(async () => (await callJson(base, 'GET', '/api/alerts/active')).body.alerts.length === 1, 'the alert to open');
      const active = await callJson(base, 'GET', '/api/alerts/active');
      expect(active.status).toBe(200);
      expect(active.body.alerts[0]).toMatchObject({ rule: 'sync-failed', subject: { kind: 'job', name: 'sync' }, status: 'undelivered', deliveries: [] });
      expect((await callJson(base, 'GET', '/api/alerts/history')).body.alerts).toEqual([expect.objectContaining({ rule: 'sync-failed', status: 'undelivered', deliveries: [] })]);
      expect((await callJson(base, 'GET', '/api/alerts/stats')).body).toMatchObject({ open: 1, last24h: { fired: 1, delivered: 0, throttled: 0, silenced: 0 } });
      expect((await nightshift.client.list({ job: ALERT_DELIVERY_JOB })).jobs).toEqual([]);
      expect(lines.find((line) => String(line.msg).startsWith('alert undelivered'))).toMatchObject({ level: 40, rule: 'sync-failed', suppressed: 'undelivered' });
      // Said once: not again at the alert, nor at later passes.
      expect(warnings()).toHaveLength(1);
    });

    it('delivers through the configured channel among others; an undelivered episode holds nothing back and resolves silently', async () => {
      const clock = new TestClock(Date.now());
      await opened.cleanup();
      opened = await kind.open({ clock: clock.fn });
      receiver = await startRecordingServer(answer(200, 'ok'));
      const channels = new Map<string, AlertChannel>([['webhook', createWebhookChannel({ url: `${receiver.origin}/hook` })]]);
      nightshift = createNightshift({ store: opened.store, jobs: [createAlertDeliveryJob(channels)], pollIntervalMs: 25 });
      await nightshift.start();
      const rules: AlertRulesInput = {
        settings: { channels: ['slack'], throttle: { minInterval: 3600, maxAlertsPerJobPerHour: 10 } },
        jobFailures: [
          { name: 'mixed', channels: ['slack', 'webhook'], conditions: { jobPattern: '^sync$', failureCount: 1, timeWindow: 600 } },
          { name: 'slack-only', conditions: { jobPattern: '^mail$', failureCount: 1, timeWindow: 600 } },
        ],
      };
      const service = createAlertService({ store: opened.store as never, rules: parseAlertRules(rules), channelNames: [...channels.keys()] });
      const admin = createAlertsAdmin({ store: opened.store as never, rules: parseAlertRules(rules), channels });
      const statuses = async () => Object.fromEntries((await admin.active()).map((episode) => [episode.rule, episode.status]));

      await opened.store.statsAdd({ deltas: [dead('sync', 1), dead('mail', 1)] });
      await service.evaluate();
      expect(await statuses()).toEqual({ mixed: 'delivered', 'slack-only': 'undelivered' });
      await until(() => receiver!.requests.length === 1, 'the webhook delivery');
      expect(JSON.parse(receiver.requests[0]!.body)).toMatchObject({ rule: 'mixed', subject: { name: 'sync' } });
      await until(async () => (await admin.active()).find((episode) => episode.rule === 'mixed')?.deliveries[0]?.state === 'completed', 'the delivery to complete');
      expect((await admin.active()).find((episode) => episode.rule === 'slack-only')?.deliveries).toEqual([]);
      expect(await admin.stats()).toMatchObject({ last24h: { fired: 2, delivered: 1, throttled: 0, silenced: 0 } });

      // Both clear: only the delivered one says "resolved".
      clock.advance(700_000);
      expect((await service.evaluate()).resolved.map((episode) => episode.rule).sort()).toEqual(['mixed', 'slack-only']);
      nightshift.worker!.wake();
      await until(() => receiver!.requests.length === 2, 'the resolved message');
      expect(JSON.parse(receiver.requests[1]!.body)).toMatchObject({ rule: 'mixed', resolved: true });

      // Both fire again within minInterval: the delivered key is throttled; the undelivered one,
      // which sent nothing, is recorded as undelivered again rather than throttled.
      await opened.store.statsAdd({ deltas: [dead('sync', 1), dead('mail', 1)] });
      await service.evaluate();
      expect(await statuses()).toEqual({ mixed: 'throttled', 'slack-only': 'undelivered' });
      nightshift.worker!.wake();
      await until(async () => (await nightshift!.client.list({ job: ALERT_DELIVERY_JOB, state: ['available', 'scheduled', 'running', 'retryable'] })).jobs.length === 0, 'the deliveries to finish');
      expect((await nightshift.client.list({ job: ALERT_DELIVERY_JOB })).jobs).toHaveLength(2);
      expect(receiver.requests).toHaveLength(2);
    });
  });
}
