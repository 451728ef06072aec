/**
 * The alerting loop: evaluates the rules every `evaluateEvery` seconds, throttles what fires
 * (`minInterval` per rule and subject, `maxAlertsPerJobPerHour` per job), and delivers each alert to
 * its channels. A delivery that fails is tried again at the next pass (the throttle slot is given
 * back); one that keeps failing is logged each time, never thrown.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { createIntervalService, type IntervalService } from '../service.js';
import type { Store } from '../store/types.js';
import { evaluateAlertRules, type Firing } from './alert-evaluator.js';
import type { AlertRules, Severity } from './alert-rules.js';

/** One alert as the channels receive it. */
export interface AlertMessage {
  /** Stable per alert occurrence (rule, subject, throttle slot): the idempotency key. */
  id: string;
  rule: string;
  severity: Severity;
  title: string;
  description: string | null;
  subject: Firing['subject'];
  measured: string;
  threshold: string;
  lastError: Firing['lastError'];
  /** The dashboard page of the subject, when a public base URL is configured. */
  link: string | null;
  at: Date;
}

/** Where alerts go (Slack, Discord, email, a webhook, the log). */
export interface AlertChannel {
  readonly name: string;
  send(message: AlertMessage, signal?: AbortSignal): Promise<void>;
}

/** Decides, across every process that evaluates, which firing is sent now (see `memoryThrottle`). */
export interface AlertThrottle {
  /** True when the caller should send `firing` now (and the send is recorded). */
  claim(firing: Firing, limits: { minIntervalMs: number; maxPerJobPerHour: number }, nowMs: number): Promise<boolean>;
  /** Gives back a claim whose delivery failed, so the next pass tries again. */
  release(firing: Firing, nowMs: number): Promise<void>;
}

/** A throttle kept in this process's memory: right when one process evaluates the rules. */
export function memoryThrottle(): AlertThrottle {
  const lastSent = new Map<string, number>();
  const perJob = new Map<string, number[]>();
  return {
    async claim(firing, limits, nowMs) {
      const last = lastSent.get(firing.key);
      if (last !== undefined && nowMs - last < limits.minIntervalMs) return false;
      if (firing.subject.kind === 'job') {
        const recent = (perJob.get(firing.subject.name) ?? []).filter((at) => nowMs - at < 3_600_000);
        if (recent.length >= limits.maxPerJobPerHour) return false;
        recent.push(nowMs);
        perJob.set(firing.subject.name, recent);
      }
      lastSent.set(firing.key, nowMs);
      return true;
    },
    async release(firing, nowMs) {
      if (lastSent.get(firing.key) === nowMs) lastSent.delete(firing.key);
      if (firing.subject.kind === 'job') {
        const recent = perJob.get(firing.subject.name) ?? [];
        const index = recent.lastIndexOf(nowMs);
        if (index >= 0) recent.splice(index, 1);
      }
    },
  };
}

export interface AlertServiceOptions {
  store: Store;
  rules: AlertRules;
  /** Channels by name (`slack`, `discord`, `email`, `webhook`, `log`, …). */
  channels: ReadonlyMap<string, AlertChannel>;
  /** Job names this process knows (for rules over jobs that have not run lately). */
  jobNames?: readonly string[];
  throttle?: AlertThrottle;
  logger?: Logger;
  /** Overrides `settings.evaluateEvery`, ms. */
  intervalMs?: number;
}

export interface AlertService extends IntervalService {
  /** One evaluation and delivery pass now; resolves with what was sent. */
  evaluate(): Promise<AlertMessage[]>;
}

const SEVERITY_WORD: Record<Severity, string> = { critical: 'CRITICAL', high: 'High', medium: 'Medium', low: 'Low', info: 'Info' };

function linkOf(base: string | undefined, subject: Firing['subject']): string | null {
  if (!base) return null;
  const root = base.endsWith('/') ? base : `${base}/`;
  const page = subject.kind === 'job' ? 'jobs' : subject.kind === 'queue' ? 'queues' : 'schedules';
  return new URL(`${page}?${subject.kind === 'job' ? 'name' : subject.kind}=${encodeURIComponent(subject.name)}`, root).toString();
}

/** Builds the message of a firing. */
export function alertMessage(firing: Firing, rules: AlertRules, nowMs: number): AlertMessage {
  const slotMs = Math.max(1, rules.settings.throttle.minInterval * 1000);
  const id = createHash('sha256').update(`${firing.key}|${Math.floor(nowMs / slotMs)}`).digest('hex').slice(0, 32);
  return {
    id,
    rule: firing.rule,
    severity: firing.severity,
    title: `[${SEVERITY_WORD[firing.severity]}] ${firing.rule}: ${firing.subject.kind} ${firing.subject.name}`,
    description: firing.description,
    subject: firing.subject,
    measured: firing.measured,
    threshold: firing.threshold,
    lastError: firing.lastError,
    link: linkOf(rules.settings.dashboardUrl, firing.subject),
    at: new Date(nowMs),
  };
}

export function createAlertService(options: AlertServiceOptions): AlertService {
  const { store, rules, channels, logger } = options;
  const throttle = options.throttle ?? memoryThrottle();
  const limits = { minIntervalMs: rules.settings.throttle.minInterval * 1000, maxPerJobPerHour: rules.settings.throttle.maxAlertsPerJobPerHour };
  const unknown = new Set<string>();

  const deliver = async (firing: Firing, message: AlertMessage, nowMs: number): Promise<boolean> => {
    const names = firing.channels.length > 0 ? firing.channels : rules.settings.channels;
    let failed = false;
    for (const name of names) {
      const channel = channels.get(name);
      if (!channel) {
        if (!unknown.has(name)) logger?.error({ channel: name, rule: firing.rule }, `alert channel "${name}" is not configured; its alerts are not sent`);
        unknown.add(name);
        continue;
      }
      try {
        await channel.send(message);
      } catch (error) {
        failed = true;
        logger?.warn({ err: error, channel: name, rule: firing.rule, subject: firing.subject }, 'alert delivery failed; trying again at the next evaluation');
      }
    }
    if (failed) await throttle.release(firing, nowMs);
    return !failed;
  };

  const evaluate = async (): Promise<AlertMessage[]> => {
    const firings = await evaluateAlertRules(store, rules, { jobNames: options.jobNames ?? [] });
    const sent: AlertMessage[] = [];
    const nowMs = Date.now();
    for (const firing of firings) {
      if (!(await throttle.claim(firing, limits, nowMs))) continue;
      const message = alertMessage(firing, rules, nowMs);
      if (await deliver(firing, message, nowMs)) sent.push(message);
    }
    return sent;
  };

  const loop = createIntervalService({
    name: 'alerts',
    intervalMs: options.intervalMs ?? rules.settings.evaluateEvery * 1000,
    run: async () => {
      await evaluate();
    },
    onError: (error) => logger?.warn({ err: error }, 'alert evaluation failed; trying again next interval'),
  });
  return Object.assign(loop, { evaluate });
}
