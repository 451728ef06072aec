/**
 * The built-in `http` job: one HTTP request, described entirely by its input, so a YAML schedule
 * can call a webhook or an internal endpoint without any code:
 *
 * ```yaml
 * - id: nightly.report
 *   jobId: http
 *   schedule: "0 3 * * *"
 *   input:
 *     url: "http://127.0.0.1:8080/reports/nightly"
 *     method: POST
 *     headers: { authorization: "Bearer …" }
 *     body: { kind: "nightly" }
 * ```
 *
 * A 2xx answer completes the job with `{ status, statusText, body, bodyTruncated, durationMs }`
 * (the body cut to `maxBodyBytes`). Anything else fails the attempt: a timeout, a network error or
 * a 5xx / 408 / 425 / 429 answer is retried per the job's policy; any other non-2xx answer (a
 * 4xx: the request itself is wrong) fails for good with `UnrecoverableError`.
 */
import { z } from 'zod';
import { UnrecoverableError } from '../errors.js';
import { defineJob } from '../job/define-job.js';

/** Name of the built-in HTTP job (the `jobId` in YAML). */
export const HTTP_JOB_NAME = 'http';
/** Default request time limit, ms. */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
/** Default size of the response body kept in the result, bytes. */
export const DEFAULT_HTTP_MAX_BODY_BYTES = 4096;

/** Statuses worth retrying: the server may answer differently later. */
const RETRYABLE_STATUSES = new Set([408, 425, 429]);

/** Input of the `http` job. */
export const httpJobInput = z
  .object({
    /** Absolute `http:` or `https:` URL. */
    url: z.url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' }),
    /** Default `GET`, or `POST` when a body is given. */
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    /** Sent as JSON (`content-type: application/json` unless a header says otherwise). */
    body: z.unknown().optional(),
    /** Time limit of the request, ms; default 30 000. The job's own timeout also applies. */
    timeoutMs: z.number().int().min(1).max(2 ** 31 - 1).optional(),
    /** Bytes of the response body kept in the result / error; default 4096. */
    maxBodyBytes: z.number().int().min(0).max(1024 * 1024).optional(),
  })
  .strict();

export type HttpJobInput = z.input<typeof httpJobInput>;

/** What a completed `http` job records. */
export interface HttpJobResult {
  status: number;
  statusText: string;
  /** The start of the response body as text. */
  body: string;
  /** Whether `body` was cut to `maxBodyBytes`. */
  bodyTruncated: boolean;
  durationMs: number;
}

/** Reads at most `maxBytes` of the body, then cancels the rest (a huge answer is not buffered). */
async function readExcerpt(response: Response, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  if (response.body === null) return { text: '', truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      if (size > maxBytes) {
        truncated = true;
        break;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = Buffer.concat(chunks).subarray(0, maxBytes);
  // A multi-byte character cut at the end decodes to U+FFFD; harmless in an excerpt.
  return { text: bytes.toString('utf8'), truncated };
}

/** The built-in `http` job. Register it with workers (it is in `builtinJobs`). */
export const httpJob = defineJob({
  name: HTTP_JOB_NAME,
  description: 'Sends one HTTP request described by the input; 2xx completes, anything else fails',
  schema: httpJobInput,
  async handler(input, ctx): Promise<HttpJobResult> {
    const method = input.method ?? (input.body === undefined ? 'GET' : 'POST');
    const headers = new Headers(input.headers ?? {});
    let body: string | undefined;
    if (input.body !== undefined) {
      body = JSON.stringify(input.body);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    const timeoutMs = input.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    const maxBodyBytes = input.maxBodyBytes ?? DEFAULT_HTTP_MAX_BODY_BYTES;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([ctx.signal, timeout]);
    const started = performance.now();
    let response: Response;
    let excerpt: { text: string; truncated: boolean };
    try {
      response = await fetch(input.url, { method, headers, ...(body === undefined ? {} : { body }), signal, redirect: 'follow' });
      excerpt = await readExcerpt(response, maxBodyBytes);
    } catch (error) {
      if (timeout.aborted && !ctx.signal.aborted) throw new Error(`${method} ${input.url}: no complete answer within ${timeoutMs} ms`, { cause: error });
      if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
      throw new Error(`${method} ${input.url}: request failed: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`, { cause: error });
    }
    const durationMs = Math.round(performance.now() - started);
    if (response.status < 200 || response.status > 299) {
      const message = `${method} ${input.url} answered ${response.status} ${response.statusText}: ${excerpt.text}${excerpt.truncated ? '…' : ''}`;
      if (response.status >= 500 || RETRYABLE_STATUSES.has(response.status)) throw new Error(message);
      throw new UnrecoverableError(message);
    }
    ctx.log.debug({ status: response.status, durationMs }, 'http job answered');
    return { status: response.status, statusText: response.statusText, body: excerpt.text, bodyTruncated: excerpt.truncated, durationMs };
  },
});
