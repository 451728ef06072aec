/**
 * `createApiRequestHandler`: the API as a `(req, res, next?)` handler, for an app on Node's http,
 * Express or Koa.
 *
 * - **Which requests it takes**: `<basePath>/api` and everything under it, `<basePath>/health`,
 *   `<basePath>/ready` and `<basePath>/metrics`, judged on the path the app received:
 *   `req.originalUrl` when the app set it (Express strips the mount path from `req.url`, so
 *   `app.use('/jobs', handler)` with `basePath: '/jobs'` sees `/jobs/api/…`). Any other request goes
 *   to `next` when one is given (`app.use(handler)` then lets the app's later routes answer), else
 *   gets a 404 in the API's error shape.
 * - **A mount its basePath does not match** (Express's `app.use('/jobs', handler)` without
 *   `basePath: '/jobs'`) would serve a document whose paths lack the mount: its API requests get a
 *   404 that names the basePath to pass, rather than being passed on or served.
 * - **Bodies** an app's middleware already parsed (`express.json()`) are used as they are
 *   (request-rules.ts, `preParsedBody`); a status the app set before (Koa's default 404) is not kept.
 *
 * The handler serves through a fastify instance of its own (`app.routing`), so everything else —
 * tokens, CORS, errors, the OpenAPI document at `<basePath>/api/openapi.json` — is the plugin's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify from 'fastify';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../job/payload.js';
import { nightshiftApi, ROUTER_OPTIONS, type ApiServerOptions } from './server.js';

/** Node's `(req, res)`, with Express's optional `next` for the requests the API does not take. */
export type ApiRequestHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

export interface ApiRequestHandlerOptions extends ApiServerOptions {
  /**
   * Where the API is in the app's URLs, e.g. `/nightshift` for `/nightshift/api/jobs`: with
   * Express, the whole path, mount path included. Default '' (the API at the root).
   */
  basePath?: string;
}

/** `/jobs`, from `jobs`, `/jobs/` or `/jobs`; '' for the root. */
function normalBasePath(basePath: string | undefined): string {
  const trimmed = (basePath ?? '').replace(/\/+$/, '');
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/** Whether `path` is one the API answers under `basePath` (see the module comment). */
function takes(basePath: string, path: string): boolean {
  if (!path.startsWith(basePath)) return false;
  const rest = path.slice(basePath.length);
  return rest === '/api' || rest.startsWith('/api/') || rest === '/health' || rest === '/ready' || rest === '/metrics';
}

function notFound(res: ServerResponse, message: string): void {
  const body = JSON.stringify({ error: { code: 'NOT_FOUND', message } });
  res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A Node `(req, res, next?)` handler serving the API under `basePath` (see the module comment). */
export async function createApiRequestHandler(options: ApiRequestHandlerOptions): Promise<ApiRequestHandler> {
  const basePath = normalBasePath(options.basePath);
  const app = Fastify({ ...ROUTER_OPTIONS, bodyLimit: options.bodyLimitBytes ?? DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024 });
  await app.register(nightshiftApi, { ...options, prefix: basePath });
  await app.ready();
  return (req, res, next) => {
    const relative = req.url ?? '/';
    const original = (req as { originalUrl?: unknown }).originalUrl;
    const url = typeof original === 'string' && original.startsWith('/') ? original : relative;
    const path = pathOf(url);
    if (!takes(basePath, path)) {
      const within = pathOf(relative);
      if (url !== relative && takes(basePath, within) && path.endsWith(within)) {
        const mount = path.slice(0, path.length - within.length);
        notFound(res, `no route ${req.method ?? 'GET'} ${path}: the Nightshift API is mounted at ${mount}, so pass basePath: '${mount}${basePath}' to createApiRequestHandler`);
        return;
      }
      if (next) next();
      else notFound(res, `no route ${req.method ?? 'GET'} ${path}`);
      return;
    }
    req.url = url;
    // Koa sets 404 on the response before its middleware runs, and fastify answers with the
    // response's status unless a route sets another: a 200 would go out as a 404.
    if (!res.headersSent) res.statusCode = 200;
    app.routing(req, res);
  };
}
