// The alerting loop over a real store: throttled per rule and subject and per job per hour, a
// failed delivery tried again at the next pass, an unconfigured channel reported, never thrown.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAlertRules } from '../../src/alerts/alert-rules.js';
import { createAlertService, type AlertChannel, type AlertMessage } from '../../src/alerts/alert-service.js';
import { STATS_BUCKET_COUNT, type StatsDelta } from '../../src/store/types.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const failures = (name: string, dead: number): StatsDelta => ({
  queue: 'default',
  name,
  enqueued: 0,
  completed: 0,
  failed: 0,
  dead,
  cancelled: 0,
  durationBuckets: new Array(STATS_BUCKET_COUNT).fill(0),
  durationSumMs: 0,
  waitBuckets: new Array(STATS_BUCKET_COUNT).fill(0),
  waitSumMs: 0,
});

/** A channel that keeps what it receives, and fails while `down` is set. */
function recordingChannel(name: string): AlertChannel & { received: AlertMessage[]; down: boolean } {
  const channel = {
    name,
    received: [] as AlertMessage[],
    down: false,
    async send(message: AlertMessage) {
      if (channel.down) throw new Error(`${name} is down`);
      channel.received.push(message);
    },
  };
  return channel;
}

describe.skipIf(!STORE_KINDS[0]!.available)('alert service', () => {
  let opened: OpenedStore;
  beforeEach(async () => {
    opened = await STORE_KINDS[0]!.open();
  });
  afterEach(async () => {
    await opened.cleanup();
  });

  it('sends each firing once per minInterval, caps alerts per job per hour, and retries a failed delivery', async () => {
    await opened.store.statsAdd({ deltas: [failures('sync', 5), failures('mail', 1)] });
    const rules = parseAlertRules({
      settings: { channels: ['slack'], throttle: { minInterval: 300, maxAlertsPerJobPerHour: 1 }, dashboardUrl: 'https://ops.example.com/nightshift' },
      jobFailures: [
        { name: 'any-failure', conditions: { failureCount: 1 }, severity: 'critical', description: 'something failed' },
        { name: 'many-failures', conditions: { failureCount: 5 }, channels: ['slack', 'pager'] },
      ],
    });
    const slack = recordingChannel('slack');
    slack.down = true;
    const service = createAlertService({ store: opened.store, rules, channels: new Map([['slack', slack]]) });
    // Slack is down: nothing is sent, and the throttle slot is given back.
    expect(await service.evaluate()).toEqual([]);
    slack.down = false;
    const sent = await service.evaluate();
    // One alert per job name per hour (maxAlertsPerJobPerHour: 1): any-failure for both names; many-failures for sync is over the cap.
    expect(sent.map((message) => `${message.rule}|${message.subject.name}`).sort()).toEqual(['any-failure|mail', 'any-failure|sync']);
    expect(slack.received).toHaveLength(2);
    const sync = slack.received.find((message) => message.subject.name === 'sync')!;
    expect(sync).toMatchObject({
      severity: 'critical',
      title: '[CRITICAL] any-failure: job sync',
      description: 'something failed',
      measured: '5 failed attempts in 3600 s',
      threshold: 'failureCount ≥ 1',
      link: 'https://ops.example.com/nightshift/jobs?name=sync',
    });
    expect(sync.id).toMatch(/^[0-9a-f]{32}$/);
    // Within minInterval nothing is sent again.
    expect(await service.evaluate()).toEqual([]);
    expect(slack.received).toHaveLength(2);
  });

  it('an alert for an unconfigured channel is logged, and the other channels still get it', async () => {
    await opened.store.statsAdd({ deltas: [failures('sync', 2)] });
    const rules = parseAlertRules({ jobFailures: [{ name: 'fail', conditions: { failureCount: 1 }, channels: ['pager', 'slack'] }] });
    const slack = recordingChannel('slack');
    const logged: unknown[] = [];
    const logger = { error: (...args: unknown[]) => logged.push(args), warn: () => undefined } as never;
    const service = createAlertService({ store: opened.store, rules, channels: new Map([['slack', slack]]), logger });
    expect((await service.evaluate()).map((message) => message.rule)).toEqual(['fail']);
    expect(slack.received).toHaveLength(1);
    expect(JSON.stringify(logged)).toContain('alert channel \\"pager\\" is not configured');
  });
});
