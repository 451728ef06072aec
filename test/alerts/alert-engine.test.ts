// Alerting end to end on both stores: rules evaluated by several services at once open each
// episode once; its delivery is a job that reaches a real local webhook receiver (retried after a
// 500, recorded as two attempts); silences and throttling hold; a cleared condition resolves once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAlertRules, type AlertRulesInput } from '../../src/alerts/alert-rules.js';
import { createAlertService } from '../../src/alerts/alert-service.js';
import { createAlertsAdmin } from '../../src/alerts/alerts-admin.js';
import { createWebhookChannel, type AlertChannel } from '../../src/alerts/channels/index.js';
import { ALERT_DELIVERY_JOB, createAlertDeliveryJob } from '../../src/alerts/deliver-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { TestClock } from '../../src/store/conformance/test-clock.js';
import type { StatsDelta } from '../../src/store/types.js';
import { emptyDelta } from '../../src/observe/stats-recorder.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { answer, startRecordingServer, type RecordingServer } from './alert-test-servers.js';
import { until } from '../fixtures/sqlite-runtime.js';

const dead = (name: string, count: number): StatsDelta => ({ ...emptyDelta('default', name), dead: count });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`alerting end to end on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let clock: TestClock;
    let receiver: RecordingServer;
    let runtime: Nightshift;
    let channels: Map<string, AlertChannel>;

    beforeEach(async () => {
      clock = new TestClock(Date.now());
      opened = await kind.open({ clock: clock.fn });
      receiver = await startRecordingServer(answer(200, 'ok'));
      channels = new Map<string, AlertChannel>([['webhook', createWebhookChannel({ url: `${receiver.origin}/hook`, secret: 'shh' })]]);
      runtime = createNightshift({ store: opened.store, jobs: [createAlertDeliveryJob(channels, { firstRetryDelayMs: 200 })], pollIntervalMs: 25 });
      await runtime.start();
    });
    afterEach(async () => {
      await runtime.stop();
      await receiver.close();
      await opened.cleanup();
    });

    const service = (input: AlertRulesInput) => createAlertService({ store: opened.store as never, rules: parseAlertRules(input), channelNames: [...channels.keys()] });

    it('three evaluators open one episode, delivered once (retried after a 500); it resolves once when the condition clears', async () => {
      await opened.store.statsAdd({ deltas: [dead('sync', 2)] });
      const rules: AlertRulesInput = { settings: { channels: ['webhook'] }, jobFailures: [{ name: 'failures', conditions: { failureCount: 1, timeWindow: 600 }, severity: 'high' }] };
      receiver.respondWith((request, response) => {
        // The first delivery attempt fails with a 500; the retry succeeds.
        answer(receiver.requests.length === 1 ? 500 : 200, 'ok')(request, response);
      });
      const passes = await Promise.all([service(rules).evaluate(), service(rules).evaluate(), service(rules).evaluate()]);
      expect(passes.flatMap((pass) => pass.opened)).toHaveLength(1);
      await until(async () => (await runtime.client.list({ job: ALERT_DELIVERY_JOB, state: 'retryable' })).jobs.length === 1, 'the failed attempt to be stored');
      clock.advance(1_000); // the retry's backoff, on the store's clock
      runtime.worker!.wake();
      await until(() => receiver.requests.length >= 2, 'the retried delivery');
      const [first, second] = receiver.requests;
      expect(first!.headers['idempotency-key']).toBe(second!.headers['idempotency-key']);
      // The title names the rule and subject; each channel puts the severity or status before it, once.
      expect(JSON.parse(second!.body)).toMatchObject({ rule: 'failures', severity: 'high', title: 'failures: job sync', subject: { kind: 'job', name: 'sync' }, measured: '2 failed attempts in 600 s' });
      const admin = createAlertsAdmin({ store: opened.store as never, rules: parseAlertRules(rules), channels });
      await until(async () => (await admin.history({})).episodes[0]?.deliveries[0]?.state === 'completed', 'the delivery job to complete');
      const [episode] = (await admin.history({})).episodes;
      expect(episode).toMatchObject({ rule: 'failures', status: 'delivered', resolvedAt: null, deliveries: [{ channel: 'webhook', kind: 'fired', state: 'completed', attempts: 2 }] });
      // Still firing: nothing new is sent.
      await service(rules).evaluate();
      // Ten minutes later the window is empty: the episode resolves once, with a resolved message.
      clock.advance(700_000);
      const resolved = await Promise.all([service(rules).evaluate(), service(rules).evaluate()]);
      expect(resolved.flatMap((pass) => pass.resolved)).toHaveLength(1);
      runtime.worker!.wake();
      await until(() => receiver.requests.length >= 3, 'the resolved message');
      expect(JSON.parse(receiver.requests[2]!.body)).toMatchObject({ rule: 'failures', resolved: true, title: 'failures: job sync' });
      // Two deliveries in all (fired, resolved), both completed once their finishes are written.
      await until(async () => (await runtime.client.list({ job: ALERT_DELIVERY_JOB, state: 'completed' })).jobs.length === 2, 'both deliveries to complete');
      expect((await runtime.client.list({ job: ALERT_DELIVERY_JOB })).jobs).toHaveLength(2);
    });

    it('a silence or the throttle records the episode without sending anything', async () => {
      await opened.store.statsAdd({ deltas: [dead('sync', 1), dead('mail', 1)] });
      const rules: AlertRulesInput = { settings: { channels: ['webhook'], throttle: { minInterval: 3600, maxAlertsPerJobPerHour: 10 } }, jobFailures: [{ name: 'failures', conditions: { failureCount: 1, timeWindow: 600 } }] };
      const admin = createAlertsAdmin({ store: opened.store as never, rules: parseAlertRules(rules), channels });
      await admin.silence({ rule: 'failures', subject: 'mail', forMs: 7_200_000, reason: 'known outage' });
      await service(rules).evaluate();
      await until(() => receiver.requests.length >= 1, 'the one delivery');
      expect(receiver.requests.map((request) => JSON.parse(request.body).subject.name)).toEqual(['sync']);
      const statuses = Object.fromEntries((await admin.active()).map((episode) => [episode.subject.name, episode.status]));
      expect(statuses).toEqual({ sync: 'delivered', mail: 'silenced' });
      // sync clears and fires again within minInterval: recorded as throttled, not sent.
      clock.advance(700_000);
      await service(rules).evaluate();
      await opened.store.statsAdd({ deltas: [dead('sync', 1)] });
      await service(rules).evaluate();
      expect((await admin.active()).find((episode) => episode.subject.name === 'sync')?.status).toBe('throttled');
      runtime.worker!.wake();
      // Every delivery job there is has finished: the fired and the resolved message of the first
      // sync episode, and none for the silenced or the throttled one.
      await until(async () => (await runtime.client.list({ job: ALERT_DELIVERY_JOB, state: ['available', 'scheduled', 'running', 'retryable'] })).jobs.length === 0, 'the deliveries to finish');
      expect((await runtime.client.list({ job: ALERT_DELIVERY_JOB, state: 'completed' })).jobs).toHaveLength(2);
      expect(receiver.requests.map((request) => [JSON.parse(request.body).subject.name, JSON.parse(request.body).resolved ?? false])).toEqual([
        ['sync', false],
        ['sync', true],
      ]);
      expect(await admin.stats()).toMatchObject({ last24h: { delivered: 1, throttled: 1, silenced: 1 } });
      expect(await admin.test('webhook')).toEqual([{ channel: 'webhook', ok: true, error: null }]);
      await expect(admin.test('pager')).rejects.toThrow(/no alert channel "pager"/);
    });

    it('a silence added while an episode is open holds its "resolved" message too', async () => {
      await opened.store.statsAdd({ deltas: [dead('sync', 1)] });
      const rules: AlertRulesInput = { settings: { channels: ['webhook'] }, jobFailures: [{ name: 'failures', conditions: { failureCount: 1, timeWindow: 600 } }] };
      const admin = createAlertsAdmin({ store: opened.store as never, rules: parseAlertRules(rules), channels });
      await service(rules).evaluate();
      runtime.worker!.wake();
      await until(() => receiver.requests.length === 1, 'the fired message');
      await admin.silence({ rule: 'failures', subject: 'sync', forMs: 7_200_000, reason: 'looking into it' });
      // The failure leaves the window: the episode resolves, recorded, and nothing is sent.
      clock.advance(700_000);
      const pass = await service(rules).evaluate();
      expect(pass.resolved.map((episode) => episode.subject)).toEqual(['sync']);
      expect(await admin.active()).toEqual([]);
      runtime.worker!.wake();
      await until(async () => (await runtime.client.list({ job: ALERT_DELIVERY_JOB, state: ['available', 'scheduled', 'running', 'retryable'] })).jobs.length === 0, 'the deliveries to finish');
      expect((await runtime.client.list({ job: ALERT_DELIVERY_JOB })).jobs).toHaveLength(1);
      expect(receiver.requests.map((request) => JSON.parse(request.body).resolved ?? false)).toEqual([false]);
    });
  });
}
