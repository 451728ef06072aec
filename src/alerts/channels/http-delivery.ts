/**
 * One POST to an alerting service (Slack, Discord, SendGrid, a webhook) within the channel's
 * deadline, and the failures it can end in. Redirects are not followed: a webhook URL that
 * redirects is reported as a rejection to fix, rather than posting the alert (and for a
 * webhook, its signature) wherever the redirect points. At most `maxAnswerBytes` of an answer are
 * read, so a misbehaving server cannot make us buffer megabytes.
 */
import { DeliveryDeadline } from './delivery-deadline.js';
import { AlertDeliveryError, codeForHttpStatus, parseRetryAfter, retryHint } from './delivery-error.js';
import type { AlertChannel, AlertMessage } from './alert-message.js';
import { redactUrl, SecretScrubber } from './secret-redaction.js';

/** One request to a service. */
export interface ServicePost {
  /** Channel name, first word of every failure message. */
  channel: string;
  /** What is addressed, safe to print: `Slack webhook https://hooks.slack.com`. */
  target: string;
  url: URL;
  headers: Record<string, string>;
  /** The exact bytes sent (a webhook's signature is computed over them). */
  body: string;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  scrubber: SecretScrubber;
  /** Bytes of the answer's body read; default 16 384. */
  maxAnswerBytes?: number;
}

/** A service's answer. */
export interface ServiceAnswer {
  status: number;
  statusText: string;
  headers: Headers;
  /** The start of the body, as text. */
  body: string;
}

const DEFAULT_MAX_ANSWER_BYTES = 16_384;
/** Characters of an answer's body quoted in a failure message. */
const QUOTED_ANSWER_CHARS = 300;

/**
 * Sends `post` and reads the answer, whatever its status. Throws an `AlertDeliveryError` when no
 * complete answer came back: timeout, the caller's abort, or a network failure.
 */
export async function postToService(post: ServicePost): Promise<ServiceAnswer> {
  const deadline = new DeliveryDeadline(post.timeoutMs, post.signal);
  try {
    const response = await fetch(post.url, {
      method: 'POST',
      headers: { 'user-agent': 'nightshift', ...post.headers },
      body: post.body,
      redirect: 'manual',
      signal: deadline.signal,
    });
    const body = await readStart(response, post.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES);
    return { status: response.status, statusText: response.statusText, headers: response.headers, body };
  } catch (error) {
    const stopped = deadline.failure(post.channel, post.target);
    if (stopped) throw stopped;
    if (error instanceof AlertDeliveryError) throw error;
    // fetch reports every network failure as TypeError('fetch failed') with the socket's error as cause.
    const network = error instanceof TypeError && error.message === 'fetch failed';
    const detail = post.scrubber.scrub(describeCause(network ? error.cause : error));
    if (network) throw new AlertDeliveryError('ALERT_NETWORK_ERROR', `${post.channel}: could not reach ${post.target}: ${detail} (retryable)`, { channel: post.channel });
    throw new AlertDeliveryError('ALERT_REJECTED', `${post.channel}: the request to ${post.target} could not be sent: ${detail} (not retryable)`, { channel: post.channel });
  } finally {
    deadline.dispose();
  }
}

/** Whether the service accepted the request (2xx). */
export function accepted(answer: ServiceAnswer): boolean {
  return answer.status >= 200 && answer.status <= 299;
}

/**
 * The failure for an answer that is not a 2xx: 429 and 5xx are retryable (with `Retry-After`
 * honoured), other 4xx and redirects are not. The answer's body is quoted, scrubbed of secrets.
 */
export function failureForAnswer(post: ServicePost, answer: ServiceAnswer): AlertDeliveryError {
  const status = answer.status;
  const code = codeForHttpStatus(status);
  const retryAfterMs = code === 'ALERT_REJECTED' ? null : parseRetryAfter(answer.headers.get('retry-after'));
  const statusLine = `${status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
  const said = status >= 300 && status <= 399 ? 'a redirect, which is not followed: configure the final URL' : quoteAnswer(post, answer.body);
  return new AlertDeliveryError(code, `${post.channel}: ${post.target} answered ${statusLine}${said ? `: ${said}` : ''} (${retryHint(code, retryAfterMs)})`, {
    channel: post.channel,
    status,
    retryAfterMs,
  });
}

/** An answer's body as one short line for a message, scrubbed of secrets and control characters. */
export function quoteAnswer(post: Pick<ServicePost, 'scrubber'>, body: string): string {
  const line = post.scrubber.scrub(body).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return line.length > QUOTED_ANSWER_CHARS ? `${line.slice(0, QUOTED_ANSWER_CHARS)}…` : line;
}

/** The first `maxBytes` of a body; the rest is never read. */
async function readStart(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // Stops a long answer; a no-op for one already read to its end.
    reader.cancel().catch(() => {});
  }
  // A multi-byte character cut at the end decodes to U+FFFD; harmless in an excerpt.
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/** A network error's cause as `code: message` (`ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9`). */
function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return cause === undefined ? 'unknown error' : String(cause);
}

/**
 * A channel that POSTs one JSON document per message to a webhook URL (the URL is the secret:
 * errors name only its scheme and host) and counts any 2xx as delivered.
 */
export function jsonWebhookChannel(params: { name: string; service: string; url: URL; timeoutMs: number; payload(message: AlertMessage): unknown }): AlertChannel {
  const scrubber = new SecretScrubber([], [params.url]);
  const target = `${params.service} ${redactUrl(params.url)}`;
  return {
    name: params.name,
    async send(message, signal) {
      const post: ServicePost = {
        channel: params.name,
        target,
        url: params.url,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(params.payload(message)),
        timeoutMs: params.timeoutMs,
        signal,
        scrubber,
      };
      const answer = await postToService(post);
      if (!accepted(answer)) throw failureForAnswer(post, answer);
    },
  };
}
