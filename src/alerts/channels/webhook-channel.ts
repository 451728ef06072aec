/**
 * A generic webhook: the alert as JSON (alertMessageJson), signed so the receiver can check it
 * came from us. Headers:
 *
 * - `X-Nightshift-Signature: sha256=<hex>` — HMAC-SHA256 of the raw request body with the
 *   configured secret (only when a secret is configured). Receivers compute it over the bytes they
 *   received, before parsing, and compare in constant time.
 * - `X-Nightshift-Timestamp` — when this delivery was sent, Unix seconds. It is not covered by the
 *   signature (the body's `at` is); receivers de-duplicate by `Idempotency-Key`.
 * - `Idempotency-Key` — the alert's `id`: the same on every retry of one occurrence.
 */
import { createHmac } from 'node:crypto';
import { alertMessageJson, type AlertChannel } from './alert-message.js';
import { channelName, checkHttpUrl, required } from './channel-settings.js';
import { resolveTimeoutMs } from './delivery-deadline.js';
import { accepted, failureForAnswer, postToService, type ServicePost } from './http-delivery.js';
import { redactUrl, SecretScrubber } from './secret-redaction.js';

export interface WebhookChannelOptions {
  /** Where to POST; http or https. May carry a token in its path or query: never printed. */
  url: string;
  /** Key of the `X-Nightshift-Signature` HMAC; no signature header without it. A secret, never printed. */
  secret?: string | undefined;
  /** Extra headers (e.g. `Authorization`); their values are treated as secrets. They cannot replace the headers above or `Content-Type`. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** The name rules pick this channel by; default `webhook`. */
  name?: string;
  /** Time limit of one delivery, ms; default 10 000. */
  timeoutMs?: number;
}

/** Headers the channel sets itself; extra headers may not replace them. */
const OWN_HEADERS = new Set(['content-type', 'content-length', 'host', 'x-nightshift-signature', 'x-nightshift-timestamp', 'idempotency-key']);
/** RFC 9110 token characters: a valid header name. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `sha256=<hex HMAC-SHA256 of body with secret>`, the `X-Nightshift-Signature` value. */
export function webhookSignature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Posts alerts as signed JSON to any URL. */
export function createWebhookChannel(options: WebhookChannelOptions): AlertChannel {
  const name = channelName(options.name, 'webhook');
  const url = required(checkHttpUrl(options.url), name, 'url');
  const secret = options.secret === undefined || options.secret === '' ? undefined : options.secret;
  const extra: Record<string, string> = {};
  for (const [header, value] of Object.entries(options.headers ?? {})) {
    if (!HEADER_NAME.test(header)) required({ problem: 'has a header name that is not a valid HTTP token' }, name, 'headers');
    if (OWN_HEADERS.has(header.toLowerCase())) required({ problem: `cannot set ${header}: the channel sets it` }, name, 'headers');
    // Checked by name only: the value may be a credential.
    if (typeof value !== 'string' || /[\r\n\u0000]/.test(value)) required({ problem: `${header} must be text without line breaks` }, name, 'headers');
    extra[header.toLowerCase()] = value;
  }
  const timeoutMs = resolveTimeoutMs(options.timeoutMs, name);
  const scrubber = new SecretScrubber([secret, ...Object.values(extra)], [url]);
  const target = `webhook ${redactUrl(url)}`;
  return {
    name,
    async send(message, signal) {
      const body = JSON.stringify(alertMessageJson(message));
      const headers: Record<string, string> = {
        ...extra,
        'content-type': 'application/json',
        'x-nightshift-timestamp': String(Math.floor(Date.now() / 1000)),
        'idempotency-key': message.id,
      };
      if (secret !== undefined) headers['x-nightshift-signature'] = webhookSignature(body, secret);
      const post: ServicePost = { channel: name, target, url, headers, body, timeoutMs, signal, scrubber };
      const answer = await postToService(post);
      if (!accepted(answer)) throw failureForAnswer(post, answer);
    },
  };
}
