/**
 * How a failed delivery is reported: one error class with a stable code, whether trying again can
 * help, and how long the service asked us to wait. Channels never retry themselves; the rules
 * engine reads `retryable` / `retryAfterMs` and decides.
 *
 * Messages name the channel and the service's scheme and host only (secret-redaction.ts): never a
 * webhook path, token, API key or password.
 */

/**
 * Stable codes; never renamed once released.
 *
 * | code                        | retryable | when                                                   |
 * |-----------------------------|-----------|--------------------------------------------------------|
 * | `ALERT_RATE_LIMITED`        | yes       | HTTP 429 (or Slack `ratelimited`); `retryAfterMs` from `Retry-After` |
 * | `ALERT_SERVICE_UNAVAILABLE` | yes       | HTTP 5xx, 408, 425; Slack's internal errors; SMTP 4xx replies |
 * | `ALERT_NETWORK_ERROR`       | yes       | no connection, reset, DNS failure, answer cut short    |
 * | `ALERT_TIMEOUT`             | yes       | no complete answer within the channel's timeout        |
 * | `ALERT_ABORTED`             | yes       | the caller's AbortSignal fired before delivery finished |
 * | `ALERT_REJECTED`            | no        | HTTP 4xx, redirects, Slack `ok: false`, SMTP 5xx replies, bad credentials: the same message would be refused again |
 */
export type AlertDeliveryErrorCode =
  | 'ALERT_RATE_LIMITED'
  | 'ALERT_SERVICE_UNAVAILABLE'
  | 'ALERT_NETWORK_ERROR'
  | 'ALERT_TIMEOUT'
  | 'ALERT_ABORTED'
  | 'ALERT_REJECTED';

const RETRYABLE_CODES: ReadonlySet<AlertDeliveryErrorCode> = new Set([
  'ALERT_RATE_LIMITED',
  'ALERT_SERVICE_UNAVAILABLE',
  'ALERT_NETWORK_ERROR',
  'ALERT_TIMEOUT',
  'ALERT_ABORTED',
]);

/** A delivery that did not happen. */
export class AlertDeliveryError extends Error {
  readonly code: AlertDeliveryErrorCode;
  /** Name of the channel that failed (`slack`, `email`, …). */
  readonly channel: string;
  /** Whether sending the same message again later can succeed. */
  readonly retryable: boolean;
  /** How long the service asked us to wait before trying again, in ms (`Retry-After`); null when it did not say. */
  readonly retryAfterMs: number | null;
  /** The HTTP status or SMTP reply code the service answered with; null when there was no answer. */
  readonly status: number | null;

  constructor(code: AlertDeliveryErrorCode, message: string, details: { channel: string; retryAfterMs?: number | null; status?: number | null }) {
    super(message);
    this.name = 'AlertDeliveryError';
    this.code = code;
    this.channel = details.channel;
    this.retryable = RETRYABLE_CODES.has(code);
    this.retryAfterMs = details.retryAfterMs ?? null;
    this.status = details.status ?? null;
  }
}

/**
 * Which HTTP statuses mean "try again later". 408 (request timeout) and 425 (too early) are
 * about timing, not the request; 501 (not implemented) and 505 (HTTP version) will not change
 * on their own, so they are rejections like the other 4xx.
 */
export function codeForHttpStatus(status: number): AlertDeliveryErrorCode {
  if (status === 429) return 'ALERT_RATE_LIMITED';
  if (status === 408 || status === 425) return 'ALERT_SERVICE_UNAVAILABLE';
  if (status >= 500 && status <= 599 && status !== 501 && status !== 505) return 'ALERT_SERVICE_UNAVAILABLE';
  return 'ALERT_REJECTED';
}

/** Longest wait taken from a `Retry-After` header: 1 day. A longer one is taken as 1 day. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * A `Retry-After` header in ms: delay-seconds (`120`; Discord sends fractions like `1.5`) or an
 * HTTP date. Null when absent or unreadable; never negative, at most `MAX_RETRY_AFTER_MS`.
 */
export function parseRetryAfter(header: string | null, nowMs: number = Date.now()): number | null {
  if (header === null) return null;
  const text = header.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Math.ceil(Number(text) * 1000);
  else {
    const date = Date.parse(text);
    if (Number.isNaN(date)) return null;
    ms = date - nowMs;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** "retry after 30 s" / "not retryable" — the tail of every failure message. */
export function retryHint(code: AlertDeliveryErrorCode, retryAfterMs: number | null): string {
  if (!RETRYABLE_CODES.has(code)) return 'not retryable';
  return retryAfterMs === null ? 'retryable' : `retryable after ${Math.ceil(retryAfterMs / 1000)} s`;
}
