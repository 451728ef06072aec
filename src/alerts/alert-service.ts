/**
 * The alerting loop. Every `evaluateEvery` seconds (and a second after a job dies, so failure
 * streaks alert within seconds) it evaluates the rules, then, through the store:
 * - a firing with no open episode opens one — once across every process evaluating, with one
 *   delivery job per channel inserted in the same transaction — unless a silence covers it or the
 *   throttle holds it (`minInterval` since the key's last delivered episode, `maxAlertsPerJobPerHour`
 *   delivered episodes per job): then the episode is recorded as `silenced` / `throttled` and
 *   nothing is sent; one with no channel configured in this process is recorded as `undelivered`
 *   (never as delivered with nothing sent), and each such channel is warned about at start;
 * - an open episode whose condition cleared is resolved, with "resolved" deliveries when it had
 *   been delivered.
 * Deliveries are jobs (`nightshift.alert.deliver`, see `deliver-job.ts`): any worker sends them,
 * retries with backoff, records every attempt, and a process killed mid-delivery loses nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NightshiftEvents } from '../observe/events.js';
import { createIntervalService, type IntervalService } from '../service.js';
import type { AlertEpisodeRecord, AlertStore } from '../store/alert-types.js';
import type { JobInsert, Store } from '../store/types.js';
import { evaluateAlertRules, type Firing } from './alert-evaluator.js';
import { SaturationMemory } from './queue-saturation.js';
import type { AlertMessage } from './channels/index.js';
import type { AlertRules, Severity } from './alert-rules.js';
import { unconfiguredChannels } from './channel-use.js';
import { ALERT_DELIVERY_JOB, ALERT_DELIVERY_QUEUE, ALERT_DELIVERY_ATTEMPTS, type AlertDeliveryPayload } from './deliver-job.js';

/**
 * The status of an episode none of whose channels is configured in the evaluating process: opened
 * and kept like any other, but nothing was sent. Like `silenced` and `throttled`, it is stored as
 * the episode's `suppressed`, so it neither counts as delivered nor holds later alerts back.
 */
export const UNDELIVERED = 'undelivered';

export interface AlertServiceOptions {
  store: Store & AlertStore;
  rules: AlertRules;
  /** Channel names that exist in this deployment (deliveries to others are refused at evaluation). */
  channelNames: readonly string[];
  /** Job names this process knows (for rules over jobs that have not run lately). */
  jobNames?: readonly string[];
  /** When given: a job that dies triggers an evaluation a second later. */
  events?: NightshiftEvents;
  /** Runs before a pass a job's death triggered (the runtime flushes its stats, so counts include that death). */
  beforeEventPass?: () => Promise<void>;
  logger?: Logger;
  /** Overrides `settings.evaluateEvery`, ms. */
  intervalMs?: number;
}

/** What one pass did. */
export interface AlertPass {
  opened: AlertEpisodeRecord[];
  resolved: AlertEpisodeRecord[];
}

export interface AlertService extends IntervalService {
  /** One evaluation pass now. */
  evaluate(): Promise<AlertPass>;
}


function linkOf(base: string | undefined, subject: Firing['subject']): string | null {
  if (!base) return null;
  const root = base.endsWith('/') ? base : `${base}/`;
  const page = subject.kind === 'job' ? 'jobs' : subject.kind === 'queue' ? 'queues' : 'schedules';
  return new URL(`${page}?${subject.kind === 'job' ? 'name' : subject.kind}=${encodeURIComponent(subject.name)}`, root).toString();
}

/** What the episode stores about its firing (to build the resolved message later). */
interface EpisodeInfo {
  /** The alert's id, chosen before opening: messages and idempotency keys derive from it. */
  alertId: string;
  /** Send a "resolved" message when it clears. */
  notifyResolved: boolean;
  description: string | null;
  measured: string;
  threshold: string;
  lastError: Firing['lastError'];
  channels: string[];
}

function messageOf(kind: 'fired' | 'resolved', episode: Pick<AlertEpisodeRecord, 'rule' | 'severity' | 'subjectKind' | 'subject'>, info: EpisodeInfo, rules: AlertRules, at: Date): AlertMessage {
  const severity = episode.severity as Severity;
  const subject = { kind: episode.subjectKind as Firing['subject']['kind'], name: episode.subject };
  return {
    id: `${info.alertId}-${kind}`,
    resolved: kind === 'resolved',
    rule: episode.rule,
    severity,
    // No severity or status word: every channel puts `[HIGH]` / `[RESOLVED]` before it.
    title: `${episode.rule}: ${subject.kind} ${subject.name}`,
    description: info.description,
    subject,
    measured: kind === 'resolved' ? `cleared (was: ${info.measured})` : info.measured,
    threshold: info.threshold,
    lastError: kind === 'resolved' ? null : info.lastError,
    link: linkOf(rules.settings.dashboardUrl, subject),
    at,
  };
}

function parseInfo(text: string): EpisodeInfo {
  try {
    const parsed = JSON.parse(text) as Partial<EpisodeInfo>;
    return {
      alertId: typeof parsed.alertId === 'string' ? parsed.alertId : randomUUID(),
      notifyResolved: parsed.notifyResolved !== false,
      description: parsed.description ?? null,
      measured: parsed.measured ?? '',
      threshold: parsed.threshold ?? '',
      lastError: parsed.lastError ?? null,
      channels: Array.isArray(parsed.channels) ? parsed.channels : [],
    };
  } catch {
    return { alertId: randomUUID(), notifyResolved: false, description: null, measured: '', threshold: '', lastError: null, channels: [] };
  }
}

/** The delivery jobs of one message, one per channel. */
function deliveryJobs(message: AlertMessage, channels: readonly string[]): JobInsert[] {
  return channels.map((channel) => {
    const payload: AlertDeliveryPayload = { channel, message: { ...message, at: message.at.toISOString() } };
    return {
      name: ALERT_DELIVERY_JOB,
      queue: ALERT_DELIVERY_QUEUE,
      payload: JSON.stringify(payload),
      priority: 10,
      maxAttempts: ALERT_DELIVERY_ATTEMPTS,
      runAt: null,
      key: `${message.id}:${channel}`,
      timeoutMs: 60_000,
      scheduleId: null,
      meta: null,
    };
  });
}

export function createAlertService(options: AlertServiceOptions): AlertService {
  const { store, rules, logger } = options;
  const minIntervalMs = rules.settings.throttle.minInterval * 1000;
  const maxPerJobPerHour = rules.settings.throttle.maxAlertsPerJobPerHour;
  const known = new Set(options.channelNames);
  // Each unconfigured channel is warned about once: at start, or at the first alert for it when
  // `evaluate()` is called without a start.
  const warned = new Set<string>();
  // This service's own passes are what "saturated for N s" is measured over (see queue-saturation.ts).
  const saturation = new SaturationMemory();

  const channelsOf = (firing: Firing): string[] => {
    const wanted = firing.channels.length > 0 ? firing.channels : rules.settings.channels;
    return wanted.filter((name) => {
      if (known.has(name)) return true;
      if (!warned.has(name)) logger?.warn({ channel: name, rule: firing.rule }, `alert channel "${name}" is not configured in this process; alerts for it are not sent`);
      warned.add(name);
      return false;
    });
  };

  /** Whether one of `silences` covers alerts of `rule` about `subject`. */
  const silencedBy = (silences: readonly { rule: string; subject: string | null }[], rule: string, subject: string): boolean =>
    silences.some((silence) => silence.rule === rule && (silence.subject === null || silence.subject === subject));

  const suppression = async (firing: Firing, nowMs: number): Promise<string | null> => {
    const silences = await store.alertSilenceList({ activeOnly: true });
    if (silencedBy(silences, firing.rule, firing.subject.name)) return 'silenced';
    if (minIntervalMs > 0) {
      const recent = await store.alertList({ filter: { key: firing.key, openedAfter: new Date(nowMs - minIntervalMs) }, limit: 20 });
      if (recent.some((episode) => episode.suppressed === null)) return 'throttled';
    }
    if (firing.subject.kind === 'job') {
      const lastHour = await store.alertList({ filter: { subjectKind: 'job', subject: firing.subject.name, openedAfter: new Date(nowMs - 3_600_000) }, limit: maxPerJobPerHour * 4 + 20 });
      if (lastHour.filter((episode) => episode.suppressed === null).length >= maxPerJobPerHour) return 'throttled';
    }
    return null;
  };

  const evaluate = async (): Promise<AlertPass> => {
    const pass: AlertPass = { opened: [], resolved: [] };
    const [firings, open, now] = await Promise.all([
      evaluateAlertRules(store, rules, { jobNames: options.jobNames ?? [], saturation }),
      store.alertList({ filter: { open: true }, limit: 10_000 }),
      store.timeNow(),
    ]);
    const nowMs = now.getTime();
    const firingKeys = new Set(firings.map((firing) => firing.key));
    const openKeys = new Set(open.map((episode) => episode.key));
    for (const firing of firings) {
      const channels = channelsOf(firing);
      const info: EpisodeInfo = { alertId: randomUUID(), notifyResolved: firing.notifyResolved, description: firing.description, measured: firing.measured, threshold: firing.threshold, lastError: firing.lastError, channels };
      const base = { key: firing.key, rule: firing.rule, severity: firing.severity, subjectKind: firing.subject.kind, subject: firing.subject.name, info: JSON.stringify(info) };
      if (openKeys.has(firing.key)) {
        await store.alertOpen({ ...base, suppressed: null, jobs: [] }); // still true: marks it seen
        continue;
      }
      // A silence or the throttle says more than "no channel": it would not have been sent anyway.
      const suppressed = (await suppression(firing, nowMs)) ?? (channels.length === 0 ? UNDELIVERED : null);
      const jobs = suppressed ? [] : deliveryJobs(messageOf('fired', base, info, rules, now), channels);
      const result = await store.alertOpen({ ...base, suppressed, jobs });
      if (result.opened) {
        pass.opened.push(result.episode);
        if (suppressed === UNDELIVERED) logger?.warn({ rule: firing.rule, subject: firing.subject, suppressed }, 'alert undelivered: none of its channels is configured in this process');
        else if (suppressed) logger?.info({ rule: firing.rule, subject: firing.subject, suppressed }, `alert ${suppressed}`);
      }
    }
    // A silence also holds the "resolved" message of an episode that opened before it.
    let silences: Awaited<ReturnType<typeof store.alertSilenceList>> | null = null;
    for (const episode of open) {
      if (firingKeys.has(episode.key)) continue;
      const info = parseInfo(episode.info);
      let notify = episode.suppressed === null && info.notifyResolved;
      if (notify) {
        silences ??= await store.alertSilenceList({ activeOnly: true });
        if (silencedBy(silences, episode.rule, episode.subject)) notify = false;
      }
      const jobs = notify ? deliveryJobs(messageOf('resolved', episode, info, rules, now), info.channels) : [];
      const result = await store.alertResolve({ key: episode.key, jobs });
      if (result.episode) pass.resolved.push(result.episode);
    }
    return pass;
  };

  const loop = createIntervalService({
    name: 'alerts',
    intervalMs: options.intervalMs ?? rules.settings.evaluateEvery * 1000,
    run: async () => {
      await evaluate();
    },
    onError: (error) => logger?.warn({ err: error }, 'alert evaluation failed; trying again next interval'),
  });

  // Failure streaks alert within seconds: a death schedules a pass a second later (coalesced).
  let soon: NodeJS.Timeout | null = null;
  let off: (() => void) | null = null;
  const start = loop.start.bind(loop);
  const stop = loop.stop.bind(loop);
  return Object.assign(loop, {
    evaluate,
    async start() {
      // Said once at start, per channel, naming the rules that use it: not only when an alert fires.
      if (rules.settings.enabled) {
        for (const { channel, rules: users, setup } of unconfiguredChannels(rules, known)) {
          if (warned.has(channel)) continue;
          warned.add(channel);
          logger?.warn(
            { channel, rules: users },
            `alert channel "${channel}" is not configured in this process: rules ${users.join(', ')} send nothing to it, and their alerts with no other channel are recorded as ${UNDELIVERED}${setup ? ` (to turn it on: ${setup})` : ''}`,
          );
        }
      }
      await start();
      off ??=
        options.events?.on('job:failed', ({ willRetry }) => {
          if (willRetry || soon) return;
          soon = setTimeout(() => {
            soon = null;
            void (async () => {
              await options.beforeEventPass?.().catch(() => undefined);
              await loop.runNow();
            })().catch(() => undefined);
          }, 1000);
          soon.unref?.();
        }) ?? null;
    },
    async stop() {
      off?.();
      off = null;
      if (soon) clearTimeout(soon);
      soon = null;
      await stop();
    },
  });
}
