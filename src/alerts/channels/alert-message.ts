/**
 * What a delivery channel is handed and what it promises. The rules engine builds one
 * `AlertMessage` per alert occurrence and calls `send` on each channel of the rule; a channel
 * delivers once (no retries of its own) and either resolves or throws an `AlertDeliveryError`
 * (delivery-error.ts) that says whether trying again later can help.
 */
import type { Severity } from '../alert-rules.js';

export type { Severity as AlertSeverity } from '../alert-rules.js';

/** What an alert is about. */
export interface AlertSubject {
  kind: 'job' | 'queue' | 'schedule' | 'cluster';
  /** The job name, queue name or schedule id (user-controlled text: channels escape it). */
  name: string;
}

/** One alert occurrence, as every channel receives it. */
export interface AlertMessage {
  /**
   * Idempotency key, stable per alert occurrence: a retry of the same delivery carries the same
   * id (webhooks send it as `Idempotency-Key`, emails derive their Message-ID from it).
   */
  id: string;
  /** Name of the rule that fired. */
  rule: string;
  severity: Severity;
  /** One-line summary, e.g. "Job send-email failing". */
  title: string;
  /** The rule's description from alerts.yaml, when it has one. */
  description?: string | null;
  subject: AlertSubject;
  /** The figure that crossed the threshold, in words, e.g. "3 consecutive failures". */
  measured: string;
  /** The threshold, in words, e.g. "≥ 3". */
  threshold: string;
  /** The latest error of the subject, when there is one (user-controlled text: channels escape it). */
  lastError?: { name: string; message: string } | null;
  /** Dashboard URL of the subject, when a public base URL is configured; only http(s) URLs are shown. */
  link?: string | null;
  /** When the alert fired (or resolved). */
  at: Date;
  /** true: the condition is over (the message says so instead of raising the alarm). */
  resolved?: boolean;
}

/** A place alerts go to: Slack, Discord, email, a webhook, the log. */
export interface AlertChannel {
  /**
   * The name rules use to pick this channel (`channels: [slack, email]` in alerts.yaml):
   * `slack`, `discord`, `email`, `webhook` or `log` unless the channel was given another.
   */
  readonly name: string;
  /**
   * Delivers `message` once. Resolves when the service accepted it; throws an `AlertDeliveryError`
   * otherwise (its `retryable` and `retryAfterMs` tell the engine whether and when to try again).
   * `signal` cancels the delivery; each channel also stops by itself after its timeout
   * (default 10 000 ms).
   */
  send(message: AlertMessage, signal?: AbortSignal): Promise<void>;
}

/** The JSON shape of an alert (generic webhooks' body, the log channel's `alert` field). */
export interface AlertMessageJson {
  id: string;
  rule: string;
  severity: Severity;
  title: string;
  description: string | null;
  subject: AlertSubject;
  measured: string;
  threshold: string;
  lastError: { name: string; message: string } | null;
  link: string | null;
  /** ISO 8601, UTC; null when `at` was not a valid date. */
  at: string | null;
  resolved: boolean;
}

/** The one serializer of an alert: every field present, absent ones as null / false. */
export function alertMessageJson(message: AlertMessage): AlertMessageJson {
  return {
    id: message.id,
    rule: message.rule,
    severity: message.severity,
    title: message.title,
    description: message.description ?? null,
    subject: { kind: message.subject.kind, name: message.subject.name },
    measured: message.measured,
    threshold: message.threshold,
    lastError: message.lastError ? { name: message.lastError.name, message: message.lastError.message } : null,
    link: message.link ?? null,
    at: isoTime(message.at),
    resolved: message.resolved === true,
  };
}

/** `at` as ISO 8601, or null when it is not a valid date (a message must still go out). */
export function isoTime(at: Date): string | null {
  return at instanceof Date && !Number.isNaN(at.getTime()) ? at.toISOString() : null;
}
