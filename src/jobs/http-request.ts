/**
 * One HTTP exchange of the built-in `http` job, on `node:http` / `node:https` rather than `fetch`:
 * the request takes its own DNS `lookup`, so the addresses the socket really connects to are
 * checked (http-allow-list.ts), and redirects are not followed here — the job checks each
 * `Location` against its allow-list before it sends anything there.
 *
 * No connection pooling (`agent: false`): a pooled socket could have been opened by other code,
 * to an address this job's lookup never checked; the built-in job runs too rarely for pooling to
 * matter. No `accept-encoding` is sent, so answers come uncompressed.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from './http-allow-list.js';

/** What one request is. */
export interface HttpRequestSpec {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** Aborts the request and the reading of its answer. */
  signal: AbortSignal;
  /** Bytes of the response body kept; the rest is not read. */
  maxBodyBytes: number;
  /** DNS lookup of the connection (see `lookupRefusingMetadata`). */
  lookup: LookupFunction;
}

/** What came back. */
export interface HttpExchange {
  status: number;
  statusText: string;
  /** The `location` header, for redirects. */
  location: string | null;
  /** The start of the response body as text (not read for redirects). */
  body: string;
  /** Whether `body` was cut to `maxBodyBytes`. */
  bodyTruncated: boolean;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Whether `status` is a redirect this job follows (when it has a `location`). */
export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/** Sends one request to `url` and reads at most `maxBodyBytes` of the answer. */
export function sendHttpRequest(url: URL, spec: HttpRequestSpec): Promise<HttpExchange> {
  return new Promise<HttpExchange>((resolve, reject) => {
    if (spec.signal.aborted) {
      reject(spec.signal.reason);
      return;
    }
    const transport = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { 'user-agent': 'nightshift', accept: '*/*', ...spec.headers };
    if (spec.body !== undefined) headers['content-length'] = String(Buffer.byteLength(spec.body));
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      reject(spec.signal.aborted ? spec.signal.reason : error);
    };
    const request = transport.request(url, { method: spec.method, headers, agent: false, lookup: spec.lookup, signal: spec.signal }, (response) => {
      const status = response.statusCode ?? 0;
      const location = typeof response.headers.location === 'string' ? response.headers.location : null;
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (truncated: boolean): void => {
        if (settled) return;
        settled = true;
        // A multi-byte character cut at the end decodes to U+FFFD; harmless in an excerpt.
        const body = Buffer.concat(chunks).subarray(0, spec.maxBodyBytes).toString('utf8');
        resolve({ status, statusText: response.statusMessage ?? '', location, body, bodyTruncated: truncated });
        response.destroy();
      };
      if (isRedirect(status) && location !== null) {
        finish(false);
        return;
      }
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        // A huge answer is not buffered: what is past the excerpt is never read.
        if (size > spec.maxBodyBytes) finish(true);
      });
      response.on('end', () => finish(false));
      response.on('error', fail);
      response.on('close', () => fail(new Error('the connection closed before the answer was complete')));
    });
    request.on('error', fail);
    request.end(spec.body);
  });
}
