/**
 * CORS for the origins listed in `allowedOrigins`, and for no other: pages of those origins may
 * call the API from a browser (preflight included); without a list the API sends no CORS header
 * at all, so a browser keeps every other site's pages from reading its answers.
 *
 * - Every answer to a request from a listed origin carries `Access-Control-Allow-Origin` with
 *   that origin (errors too, so the page can read why it was refused) and exposes `Retry-After`
 *   and `WWW-Authenticate`. With a list, every answer says `Vary: Origin`, so a cache never hands
 *   one origin's answer to another.
 * - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from a listed origin
 *   gets 204 with the API's methods and the request headers it reads: `Authorization`,
 *   `Content-Type`, `Last-Event-ID` (an event stream that resumes) and `Prefer` (bulk enqueue's
 *   `return=minimal`). A preflight from any other origin gets 403 `CROSS_SITE_REQUEST`.
 * - No credentials (cookies) are allowed: the API authenticates with bearer tokens, which a page
 *   sends itself.
 *
 * The guard on each route (route-guard.ts) still refuses a state-changing request from an origin
 * that is not listed; CORS only decides what a browser lets a page read and send.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.js';

/** The methods of the API's routes. */
const METHODS = 'GET, HEAD, POST, PATCH, DELETE';
/** The request headers the API reads beyond the CORS-safelisted ones. */
const REQUEST_HEADERS = 'Authorization, Content-Type, Last-Event-ID, Prefer';
/** Response headers a page may read beyond the safelisted ones: when to retry (429), how to authenticate (401). */
const EXPOSED_HEADERS = 'Retry-After, WWW-Authenticate';
/** How long a browser may reuse a preflight's answer, seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

export interface Cors {
  /** Answers `request` if it is a CORS preflight (true), else leaves it alone (false). */
  answerPreflight(request: FastifyRequest, reply: FastifyReply): boolean;
}

/**
 * Adds the CORS headers of the module comment to every answer of `app` (an onRequest hook, so
 * that errors raised by later hooks carry them too), and returns what answers preflights: they
 * match no route, so the API's not-found handler asks it first.
 */
export function installCors(app: FastifyInstance, allowedOrigins: readonly string[]): Cors {
  const allowed = new Set(allowedOrigins);
  if (allowed.size > 0) {
    app.addHook('onRequest', async (request, reply) => {
      const vary = reply.getHeader('vary');
      reply.header('vary', typeof vary === 'string' && vary !== '' ? `${vary}, Origin` : 'Origin');
      const origin = request.headers.origin;
      if (typeof origin !== 'string' || !allowed.has(origin)) return;
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    });
  }
  return {
    answerPreflight(request, reply) {
      const origin = request.headers.origin;
      if (request.method !== 'OPTIONS' || typeof origin !== 'string' || request.headers['access-control-request-method'] === undefined) return false;
      if (!allowed.has(origin)) {
        const fix =
          allowed.size === 0
            ? 'this API allows no other origin: list the page\'s origin in allowedOrigins (http.allowedOrigins in the config) to permit it'
            : 'list it in allowedOrigins (http.allowedOrigins in the config) to permit it';
        throw new HttpError(403, 'CROSS_SITE_REQUEST', `pages of origin ${origin} may not call this API; ${fix}`);
      }
      void reply
        .code(204)
        .headers({
          'access-control-allow-methods': METHODS,
          'access-control-allow-headers': REQUEST_HEADERS,
          'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
          // A listed origin served from a public address may call an API on a private one (Chrome's Private Network Access).
          ...(request.headers['access-control-request-private-network'] === 'true' ? { 'access-control-allow-private-network': 'true' } : {}),
        })
        .send();
      return true;
    },
  };
}
