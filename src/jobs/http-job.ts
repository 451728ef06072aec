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
 * It exists only where the config enables it with an allow-list (`builtins.http.allow`, see
 * builtin-config.ts). A request — or a redirect — to a URL outside the list, or to a link-local /
 * cloud metadata address the list does not name itself, ends the job `dead` with
 * `UnrecoverableError` before any connection is made (http-allow-list.ts).
 *
 * A 2xx answer completes the job with `{ status, statusText, body, bodyTruncated, durationMs }`
 * (the body cut to `maxBodyBytes`). Redirects are followed (at most 20), each target checked
 * against the allow-list first. Anything else fails the attempt: a timeout, a network error or
 * a 5xx / 408 / 425 / 429 answer is retried per the job's policy; any other non-2xx answer (a
 * 4xx: the request itself is wrong) fails for good with `UnrecoverableError`.
 */
import { z } from 'zod';
import { UnrecoverableError } from '../errors.js';
import { defineJob } from '../job/define-job.js';
import { HTTP_JOB_NAME } from './builtin-names.js';
import type { HttpJobConfig } from './builtin-config.js';
import { HttpAllowList, lookupRefusingMetadata, systemLookup, type LookupFunction } from './http-allow-list.js';
import { isRedirect, sendHttpRequest, type HttpExchange } from './http-request.js';
import { registerScheduleInputCheck } from './schedule-input-checks.js';

/** Default request time limit, ms. */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
/** Default size of the response body kept in the result, bytes. */
export const DEFAULT_HTTP_MAX_BODY_BYTES = 4096;

/** Redirects followed before the job fails (as `fetch` does). */
export const MAX_HTTP_REDIRECTS = 20;

/** Statuses worth retrying: the server may answer differently later. */
const RETRYABLE_STATUSES = new Set([408, 425, 429]);

/** Headers not carried to another origin by a redirect (as `fetch` does for `authorization`). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/** Input of the `http` job. */
export const httpJobInput = z
  .object({
    /** Absolute `http:` or `https:` URL. */
    url: z
      .url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' })
      .refine((url) => {
        const parsed = new URL(url);
        return parsed.username === '' && parsed.password === '';
      }, 'must not carry credentials (user:password@); send them in a header'),
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

/** Options of `createHttpJob` besides the config. */
export interface HttpJobOptions {
  /**
   * DNS lookup of the connections; default `dns.lookup` (the system resolver). Whatever it is, the
   * addresses it answers are checked against the metadata / link-local ranges, unless the
   * allow-list entry names a metadata host itself.
   */
  lookup?: LookupFunction;
}

/**
 * The built-in `http` job, allowed to reach what `config.allow` lists (see http-allow-list.ts).
 * Throws when an entry is invalid; `builtinJobs` validates the whole config first.
 */
/**
 * A URL as errors and logs show it: scheme, host, port and path, the query as `?…` and no
 * fragment or credentials. A query often carries a key (`?apikey=…`), and an error travels far:
 * logs, the job's record, alert messages in chat and mail.
 */
export function shownUrl(url: URL): string {
  return `${url.origin}${url.pathname}${url.search === '' ? '' : '?…'}`;
}

export function createHttpJob(config: HttpJobConfig, options: HttpJobOptions = {}) {
  const allowList = new HttpAllowList(config.allow);
  const plainLookup = options.lookup ?? systemLookup;
  const guardedLookup = lookupRefusingMetadata(plainLookup);
  const job = defineJob({
    name: HTTP_JOB_NAME,
    description: 'Sends one HTTP request to an allowed URL; 2xx completes, anything else fails',
    schema: httpJobInput,
    async handler(input, ctx): Promise<HttpJobResult> {
      let method: string = input.method ?? (input.body === undefined ? 'GET' : 'POST');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value;
      let body: string | undefined;
      if (input.body !== undefined) {
        body = JSON.stringify(input.body);
        headers['content-type'] ??= 'application/json';
      }
      let url = new URL(input.url);
      const what = `${method} ${shownUrl(url)}`;
      // Refused before anything else happens: no DNS query, no connection.
      let entry = allowList.check(url, what);
      const timeoutMs = input.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
      const maxBodyBytes = input.maxBodyBytes ?? DEFAULT_HTTP_MAX_BODY_BYTES;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([ctx.signal, timeout]);
      const started = performance.now();
      let exchange: HttpExchange;
      for (let redirects = 0; ; redirects++) {
        try {
          exchange = await sendHttpRequest(url, {
            method,
            headers,
            body,
            signal,
            maxBodyBytes,
            // An entry that names a metadata host allows what that name resolves to.
            lookup: entry.namesMetadataHost ? plainLookup : guardedLookup,
          });
        } catch (error) {
          if (error instanceof UnrecoverableError) throw new UnrecoverableError(`${what}: ${error.message}`, { cause: error });
          if (timeout.aborted && !ctx.signal.aborted) throw new Error(`${what}: no complete answer within ${timeoutMs} ms`, { cause: error });
          if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
          throw new Error(`${what}: request failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        if (!isRedirect(exchange.status) || exchange.location === null) break;
        if (redirects === MAX_HTTP_REDIRECTS) throw new Error(`${what}: more than ${MAX_HTTP_REDIRECTS} redirects`);
        let next: URL;
        try {
          next = new URL(exchange.location, url);
        } catch {
          throw new UnrecoverableError(`${what}: redirected to an invalid URL`);
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new UnrecoverableError(`${what}: refused the redirect to ${shownUrl(next)}: not an http(s) URL`);
        entry = allowList.check(next, `the redirect of ${what} to ${shownUrl(next)}`);
        // As fetch does: 303 turns anything but HEAD into a GET, 301/302 turn a POST into one.
        if ((exchange.status === 303 && method !== 'HEAD') || ((exchange.status === 301 || exchange.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          delete headers['content-type'];
        }
        if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
        url = next;
      }
      const durationMs = Math.round(performance.now() - started);
      if (exchange.status < 200 || exchange.status > 299) {
        const message = `${what} answered ${exchange.status} ${exchange.statusText}: ${exchange.body}${exchange.bodyTruncated ? '…' : ''}`;
        if (exchange.status >= 500 || RETRYABLE_STATUSES.has(exchange.status)) throw new Error(message);
        throw new UnrecoverableError(message);
      }
      ctx.log.debug({ status: exchange.status, durationMs }, 'http job answered');
      return { status: exchange.status, statusText: exchange.statusText, body: exchange.body, bodyTruncated: exchange.bodyTruncated, durationMs };
    },
  });
  // A schedule whose URL the list refuses is refused where it is stored, not at every tick. Only
  // the URL itself can be checked then: redirects and DNS answers are checked as the job runs.
  registerScheduleInputCheck(job, (input) => {
    const { url, method, body } = input as HttpJobInput;
    const parsed = new URL(url);
    try {
      allowList.check(parsed, `${method ?? (body === undefined ? 'GET' : 'POST')} ${shownUrl(parsed)}`);
      return [];
    } catch (error) {
      return [{ path: 'url', message: (error as Error).message }];
    }
  });
  return job;
}
