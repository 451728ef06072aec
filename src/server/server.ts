/**
 * The HTTP API: a fastify application with the REST routes under `/api`, the OpenAPI document at
 * `/api/openapi.json` (generated from the zod schemas that validate requests), `/health`, `/ready`
 * and `/metrics`. It talks to a `Client`, a schedule manager, the event feed reader and a metrics
 * registry, never to the store itself; what it reads from the store comes from api-sources.ts.
 *
 * Three ways to run it:
 * - `createApiServer(options)` → a fastify instance; `listenApiServer(app, { host, port })`
 *   refuses a non-loopback address without tokens unless `insecure`.
 * - `nightshiftApi` — a fastify plugin, for apps on fastify: `app.register(nightshiftApi, { prefix: '/jobs-admin', client, store })`.
 * - `createApiRequestHandler(options)` → `(req, res, next?)` for Node's http, Express or Koa,
 *   mounted under any base path (`basePath`; request-handler.ts).
 *
 * Whichever it is, given the store it checks the tokens kept there, as `nightshift serve` does.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { NAME_MAX_LENGTH } from '../job/names.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../job/payload.js';
import type { EventFeedReader } from '../observe/event-feed.js';
import type { Metrics } from '../observe/metrics.js';
import type { ScheduleManager } from '../scheduler/schedule-manager.js';
import type { Store } from '../store/types.js';
import { resolveApiSources, type ApiAlertsOptions, type ApiSources } from './api-sources.js';
import { errorReplySchema, healthReplySchema, readyReplySchema } from './api-schemas.js';
import { assertSafeBind, Authenticator, isLoopbackHost, type ApiToken, type StoredTokens } from './auth.js';
import { installCors } from './cors.js';
import { handleError, HttpError } from './http-errors.js';
import { hideFromDocument, registerOpenApiDocument } from './openapi-document.js';
import { replySerializerCompiler } from './reply-serializer.js';
import { apiValidatorCompiler, installBodyParsers, preParsedBody, withRouteDefaults } from './request-rules.js';
import { readEnvFlag } from '../config/env.js';
import { createRouteGuard } from './route-guard.js';
import { alertRoutes } from './routes/alerts.js';
import type { AlertsAdmin } from '../alerts/alerts-admin.js';
import { statsRoutes } from './routes/stats.js';
import { catalogRoutes } from './routes/catalog.js';
import { eventRoutes } from './routes/events.js';
import { flowRoutes } from './routes/flows.js';
import { jobsRoutes } from './routes/jobs.js';
import { scheduleRoutes } from './routes/schedules.js';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/**
 * Router settings of every fastify instance the API makes. A path parameter may be a whole name
 * (128 characters) with each character percent-encoded (`/` in a schedule id is sent as %2F);
 * fastify's default of 100 would make long ids unreachable. Malformed URLs and over-long
 * parameters are answered in the one error shape, like every other error.
 */
export const ROUTER_OPTIONS = {
  routerOptions: { maxParamLength: 3 * NAME_MAX_LENGTH },
  frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => handleError(error, request, reply),
};

export interface ApiServerOptions {
  client: Client;
  /**
   * The store `client` works on. The API then checks the tokens kept there (`nightshift tokens
   * create`; read again every 5 s, see `tokenSource`), and serves `/api/events` from its event
   * feed and `/api/schedules` from it, unless `eventFeed` / `scheduleManager` are given. Required,
   * unless `tokenSource` is given or `ignoreStoreTokens` is set: without it the API would answer
   * requests that `nightshift serve` on the same store refuses.
   */
  store?: Store;
  /**
   * Do not check the tokens kept in `store`; default false. Only for an app that authenticates
   * every request before it reaches the API (its own login in front of the mount): a token made
   * with `nightshift tokens create` then opens nothing here, and without `tokens` the API is open
   * (to requests addressed to this machine or to `allowedHosts`).
   */
  ignoreStoreTokens?: boolean;
  /**
   * Serves `/api/schedules` (list, create, change, pause, resume, trigger, history, stats).
   * Default: one over `store` with the client's jobs; without either, those routes answer 404 and
   * are left out of the OpenAPI document.
   */
  scheduleManager?: ScheduleManager;
  /** The YAML schedule file this deployment syncs: named in the 409 that refuses to change a schedule it declares. */
  scheduleFile?: string;
  /** Served at `/metrics` (read scope); without it `/metrics` answers 404 and is left out of the OpenAPI document. */
  metrics?: Metrics;
  /**
   * Serves `GET /api/events` (Server-Sent Events, read scope). Default: the event feed of `store`;
   * without either, that route answers 404 and is left out of the OpenAPI document.
   */
  eventFeed?: EventFeedReader;
  /**
   * Serves `/api/alerts/*` (rules, active alerts, history, stats, test, silences): the alert rules
   * (and channels) as given to `createNightshift({ alerts })`, read with `store`. Without it those
   * routes answer 404 and are left out of the OpenAPI document.
   */
  alerts?: ApiAlertsOptions | AlertsAdmin;
  /**
   * Accepted bearer tokens. `NIGHTSHIFT_API_TOKEN` from the environment is added as an admin
   * token when set. With none (here or in the store), the API is open and may only listen on loopback.
   */
  tokens?: readonly ApiToken[];
  /**
   * Origins (exact, e.g. `https://ops.example.com`) whose pages may call the API from a browser:
   * they get CORS headers and preflights, and may make changing requests. Default none: no CORS
   * header is sent, and changing requests from other sites are refused (cors.ts).
   */
  allowedOrigins?: readonly string[];
  /**
   * Without any token, requests are answered only when their `Host` names this machine
   * (`localhost`, `*.localhost`, `127.x.x.x`, `[::1]`): a guard against DNS rebinding. Other
   * names an open API should answer to (a local alias, an app that mounts the API and reaches it
   * by its own name), lowercase, without a port. With a token, or `insecure`, any Host is answered.
   */
  allowedHosts?: readonly string[];
  /** Largest request body, bytes; default the payload limit (1 MiB) plus 64 KiB for the envelope. Bulk enqueue and flows allow 32 MiB. */
  bodyLimitBytes?: number;
  /**
   * Whether the rest of the process is ready (its loops run): null when it is, else the reason.
   * `/ready` also checks that the store answers. Default: always ready.
   */
  readiness?: () => string | null;
  logger?: Logger;
  /** Environment read for `NIGHTSHIFT_API_TOKEN`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Requests with a wrong token one address may make per minute before it gets 429; default 10. */
  authFailureLimit?: number;
  /**
   * More accepted tokens, read again every 5 s. Default: the unrevoked tokens of `store`. A store
   * that never had a token leaves the API open on loopback, as without any; once it has had one,
   * the API requires a token even after every one is revoked. Until the source has answered once,
   * requests that need a token get 503 `STORE_UNAVAILABLE` rather than an open API.
   */
  tokenSource?: () => Promise<StoredTokens>;
  /**
   * Check every reply against its documented schema, answering 500 when one does not match
   * (reply-serializer.ts). Costs about as much as building the reply; meant for tests and
   * development. Default: `NIGHTSHIFT_CHECK_REPLIES` from `env` (`1`/`true` on), else off.
   */
  checkReplies?: boolean;
}

function tokensOf(options: ApiServerOptions): ApiToken[] {
  const tokens = [...(options.tokens ?? [])];
  const fromEnv = (options.env ?? process.env).NIGHTSHIFT_API_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') tokens.push({ name: 'NIGHTSHIFT_API_TOKEN', token: fromEnv, scope: 'admin' });
  return tokens;
}

function authenticatorOf(options: ApiServerOptions, sources: ApiSources): Authenticator {
  return new Authenticator(tokensOf(options), {
    ...(options.authFailureLimit === undefined ? {} : { failureLimit: options.authFailureLimit }),
    ...(sources.tokenSource ? { source: sources.tokenSource } : {}),
    ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
  });
}

/** Registers the routes of a group on their own, leaving them out of the OpenAPI document when this server does not serve the group. */
async function group(app: FastifyInstance, served: boolean, routes: (scoped: FastifyInstance) => void): Promise<void> {
  await app.register(async (scoped) => {
    if (!served) scoped.addHook('onRoute', hideFromDocument);
    routes(scoped);
  });
}

/** Registers every route on `app` (whatever its prefix). */
async function registerApi(app: FastifyInstance, options: ApiServerOptions, sources: ApiSources, auth: Authenticator): Promise<void> {
  // The form of a request — strict query strings, JSON bodies — is checked by the same rules on
  // every route (request-rules.ts); the hook that applies them comes before any route.
  app.setValidatorCompiler(apiValidatorCompiler);
  app.addHook('onRoute', withRouteDefaults);
  app.addHook('preParsing', preParsedBody);
  installBodyParsers(app);
  app.setSerializerCompiler(replySerializerCompiler(options.checkReplies ?? readEnvFlag('NIGHTSHIFT_CHECK_REPLIES', options.env)));
  app.setErrorHandler(handleError);
  const cors = installCors(app, options.allowedOrigins ?? []);
  app.setNotFoundHandler(async (request, reply) => {
    // A preflight matches no route: answered here (cors.ts), before the 404.
    if (cors.answerPreflight(request, reply)) return reply;
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } });
  });
  await registerOpenApiDocument(app, VERSION);
  const guard = createRouteGuard(auth, options.allowedOrigins ?? []);
  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
  });
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get('/health', { config: { anyQuery: true }, schema: { summary: 'Liveness', tags: ['health'], security: [], response: { 200: healthReplySchema } } }, async () => ({
    status: 'ok',
    uptime: process.uptime(),
    timestamp: new Date().toISOString(),
    version: VERSION,
  }));

  api.get('/ready', { config: { anyQuery: true }, schema: { summary: 'Readiness: the store answers and the loops run', tags: ['health'], security: [], response: { 200: readyReplySchema, 503: readyReplySchema } } }, async (_request, reply) => {
    const notReady = closing ? 'shutting down' : (options.readiness?.() ?? null);
    if (notReady !== null) return reply.code(503).send({ status: 'unavailable', reason: notReady });
    try {
      await options.client.ping();
    } catch (error) {
      return reply.code(503).send({ status: 'unavailable', reason: `the store does not answer: ${error instanceof Error ? error.message : String(error)}` });
    }
    return { status: 'ready' };
  });

  app.get(
    '/metrics',
    {
      onRequest: guard('read'),
      schema: {
        summary: 'Prometheus metrics of this process: jobs run, durations, waits, queue depths and lag, schedules, store calls',
        tags: ['health'],
        ...(options.metrics ? {} : { hide: true }),
        response: {
          200: { description: 'The Prometheus text exposition format.', content: { 'text/plain; version=0.0.4': { schema: z.string() } } },
          401: errorReplySchema,
          403: errorReplySchema,
          404: errorReplySchema.describe('metrics are not enabled in this process'),
        },
      },
    },
    async (_request, reply) => {
      if (!options.metrics) throw new HttpError(404, 'NOT_FOUND', 'metrics are not enabled in this process');
      return reply.type(options.metrics.registry.contentType).send(await options.metrics.text());
    },
  );

  await app.register(
    async (scoped) => {
      jobsRoutes(scoped, options.client, guard);
      flowRoutes(scoped, options.client, guard);
      catalogRoutes(scoped, options.client, guard);
      statsRoutes(scoped, options.client, guard);
      await group(scoped, sources.eventFeed !== null, (events) => eventRoutes(events, sources.eventFeed ?? undefined, guard, options.logger));
      await group(scoped, sources.scheduleManager !== null, (schedules) =>
        scheduleRoutes(schedules, { scheduleManager: sources.scheduleManager ?? undefined, scheduleFile: options.scheduleFile }, guard),
      );
      await group(scoped, sources.alerts !== null, (alerts) => alertRoutes(alerts, sources.alerts ?? undefined, guard));
      scoped.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api' },
  );
}

/** The API as a fastify plugin (see the module comment). */
export const nightshiftApi: FastifyPluginAsync<ApiServerOptions> = async (app, options) => {
  const sources = resolveApiSources(options);
  await registerApi(app, options, sources, authenticatorOf(options, sources));
};

/** A fastify instance serving the API; not listening yet (see `listenApiServer`). */
export async function createApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const sources = resolveApiSources(options);
  const auth = authenticatorOf(options, sources);
  const app = Fastify({
    ...ROUTER_OPTIONS,
    // Requests are not logged one by one (fastify logs them at info); warnings and faults are.
    ...(options.logger ? { loggerInstance: options.logger.child({ component: 'api' }, { level: 'warn' }) as unknown as FastifyBaseLogger } : {}),
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024,
    // Behind a proxy the address of the failed-auth limiter would be the proxy's; trust none by default.
    trustProxy: false,
  });
  (app as unknown as { nightshiftAuth: Authenticator }).nightshiftAuth = auth;
  await registerApi(app, options, sources, auth);
  return app;
}

/**
 * Listens on `host:port` (default 127.0.0.1). Refuses a non-loopback host unless tokens are
 * configured or `insecure` is set (then logs a warning). Returns the address it is bound to:
 * `http://<host>:<port>` with the host as asked (`http://0.0.0.0:8080` when bound on every
 * interface, not the first address the server happens to list) and the port it got.
 */
export async function listenApiServer(app: FastifyInstance, options: { host?: string; port: number; insecure?: boolean }): Promise<string> {
  const host = options.host ?? '127.0.0.1';
  const auth = (app as unknown as { nightshiftAuth?: Authenticator }).nightshiftAuth;
  if (!auth) throw new Error('listenApiServer: pass an app made by createApiServer');
  // Tokens kept in the store count: read them before deciding whether a wider bind is safe.
  await auth.refresh(true);
  // Asked to listen beyond loopback without a token, the API answers whatever name it is reached by.
  auth.anyHost = options.insecure === true && !isLoopbackHost(host);
  if (assertSafeBind(host, auth, options.insecure ?? false) === 'insecure') {
    app.log.warn({ host }, 'the API listens beyond loopback WITHOUT a token (--insecure): anyone who can reach it can enqueue and cancel jobs');
  }
  await app.listen({ host, port: options.port });
  const { port } = app.server.address() as AddressInfo;
  const bare = host.replace(/^\[|\]$/g, '');
  return `http://${bare.includes(':') ? `[${bare}]` : bare}:${port}`;
}
