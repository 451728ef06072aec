/**
 * The HTTP API: a fastify application with the REST routes under `/api`, the OpenAPI document at
 * `/api/openapi.json` (generated from the zod schemas that validate requests), `/health`, `/ready`
 * and `/metrics`. It talks to a `Client`, a schedule manager and a metrics registry, never to the store.
 *
 * Three ways to run it:
 * - `createApiServer(options)` → a fastify instance; `listenApiServer(app, { host, port })`
 *   refuses a non-loopback address without tokens unless `insecure`.
 * - `nightshiftApi` — a fastify plugin, for apps on fastify: `app.register(nightshiftApi, { prefix: '/jobs-admin', ...options })`.
 * - `createApiRequestHandler(options)` → `(req, res)` for Node's http, Express or Koa, mounted
 *   under any base path (`basePath`).
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { NAME_MAX_LENGTH } from '../job/names.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../job/payload.js';
import type { EventFeedReader } from '../observe/event-feed.js';
import type { Metrics } from '../observe/metrics.js';
import type { ScheduleManager } from '../scheduler/schedule-manager.js';
import { errorReplySchema, healthReplySchema, readyReplySchema } from './api-schemas.js';
import { assertSafeBind, Authenticator, isLoopbackHost, type ApiToken, type StoredTokens } from './auth.js';
import { handleError, HttpError } from './http-errors.js';
import { replySerializerCompiler } from './reply-serializer.js';
import { apiValidatorCompiler, installBodyParsers, withRouteDefaults } from './request-rules.js';
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
const ROUTER_OPTIONS = {
  routerOptions: { maxParamLength: 3 * NAME_MAX_LENGTH },
  frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => handleError(error, request, reply),
};

export interface ApiServerOptions {
  client: Client;
  /**
   * Serves `/api/schedules` (list, create, change, pause, resume, trigger, history, stats); without
   * it those routes answer 404. `createNightshift({ http })` builds one from its store and jobs.
   */
  scheduleManager?: ScheduleManager;
  /** The YAML schedule file this deployment syncs: named in the 409 that refuses to change a schedule it declares. */
  scheduleFile?: string;
  /** Served at `/metrics` (read scope); without it `/metrics` answers 404. */
  metrics?: Metrics;
  /** Serves `GET /api/events` (Server-Sent Events, read scope); without it that route answers 404. `createNightshift({ http })` passes one over its store. */
  eventFeed?: EventFeedReader;
  /** Serves `/api/alerts/*` (rules, active alerts, history, stats, test, silences); without it those routes answer 404. */
  alerts?: AlertsAdmin;
  /**
   * Accepted bearer tokens. `NIGHTSHIFT_API_TOKEN` from the environment is added as an admin
   * token when set. With none, the API is open and may only listen on loopback.
   */
  tokens?: readonly ApiToken[];
  /** Origins (e.g. `https://ops.example.com`) whose pages may make changing requests; default none. */
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
   * More accepted tokens, read again every 5 s: the store's unrevoked tokens (`nightshift tokens
   * create`), which `createNightshift({ http })` passes. A store that never had a token leaves
   * the API open on loopback, as without any; once it has had one, the API requires a token even
   * after every one is revoked.
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

function authenticatorOf(options: ApiServerOptions): Authenticator {
  return new Authenticator(tokensOf(options), {
    ...(options.authFailureLimit === undefined ? {} : { failureLimit: options.authFailureLimit }),
    ...(options.tokenSource ? { source: options.tokenSource } : {}),
    ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
  });
}

type SwaggerDocument = Parameters<typeof jsonSchemaTransformObject>[0];

/**
 * The document with the zod schemas registered with an id in `components.schemas`: recursive
 * schemas (a flow's nodes, api-schemas.ts) can only be written as a reference to a component.
 * zod's registry is global to the process, and an app mounting `nightshiftApi` may register
 * schemas of its own there, so only the components this document refers to are kept.
 */
function withReferencedComponents(document: SwaggerDocument): ReturnType<typeof jsonSchemaTransformObject> {
  const object = jsonSchemaTransformObject(document) as { paths?: unknown; components?: { schemas?: Record<string, unknown> } };
  const registered = object.components?.schemas ?? {};
  const before = 'openapiObject' in document ? (document.openapiObject.components?.schemas ?? {}) : {};
  const refsIn = (value: unknown): string[] => [...JSON.stringify(value ?? null).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]!);
  const kept: Record<string, unknown> = { ...before };
  const pending = refsIn(object.paths);
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (id in kept || !(id in registered)) continue;
    kept[id] = registered[id];
    pending.push(...refsIn(registered[id]));
  }
  return withOptionalBodies({ ...object, components: { ...object.components, schemas: kept } }) as ReturnType<typeof jsonSchemaTransformObject>;
}

/**
 * @fastify/swagger marks every request body required; a route whose body schema accepts null
 * (every field optional: cancel, drain, trigger, a schedule's PATCH, the alert test) takes a
 * request without any body, and the document says so.
 */
function withOptionalBodies<T extends { paths?: unknown }>(object: T): T {
  const paths = (object.paths ?? {}) as Record<string, Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: { anyOf?: { type?: unknown }[] } }> } }>>;
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const body = operation.requestBody;
      const schema = body?.content?.['application/json']?.schema;
      if (body && schema?.anyOf?.some((member) => member.type === 'null')) body.required = false;
    }
  }
  return object;
}

/** Registers every route on `app` (whatever its prefix). */
async function registerApi(app: FastifyInstance, options: ApiServerOptions, auth: Authenticator): Promise<void> {
  // The form of a request — strict query strings, JSON bodies — is checked by the same rules on
  // every route (request-rules.ts); the hook that applies them comes before any route.
  app.setValidatorCompiler(apiValidatorCompiler);
  app.addHook('onRoute', withRouteDefaults);
  installBodyParsers(app);
  app.setSerializerCompiler(replySerializerCompiler(options.checkReplies ?? readEnvFlag('NIGHTSHIFT_CHECK_REPLIES', options.env)));
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } });
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Nightshift API', version: VERSION, description: 'Jobs, queues and schedules of a Nightshift store.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: withReferencedComponents,
  });
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
      eventRoutes(scoped, options.eventFeed, guard, options.logger);
      scheduleRoutes(scoped, { scheduleManager: options.scheduleManager, scheduleFile: options.scheduleFile }, guard);
      alertRoutes(scoped, options.alerts, guard);
      scoped.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api' },
  );
}

/** The API as a fastify plugin (see the module comment). */
export const nightshiftApi: FastifyPluginAsync<ApiServerOptions> = async (app, options) => {
  await registerApi(app, options, authenticatorOf(options));
};

/** A fastify instance serving the API; not listening yet (see `listenApiServer`). */
export async function createApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const auth = authenticatorOf(options);
  const app = Fastify({
    ...ROUTER_OPTIONS,
    // Requests are not logged one by one (fastify logs them at info); warnings and faults are.
    ...(options.logger ? { loggerInstance: options.logger.child({ component: 'api' }, { level: 'warn' }) as unknown as FastifyBaseLogger } : {}),
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024,
    // Behind a proxy the address of the failed-auth limiter would be the proxy's; trust none by default.
    trustProxy: false,
  });
  (app as unknown as { nightshiftAuth: Authenticator }).nightshiftAuth = auth;
  await registerApi(app, options, auth);
  return app;
}

/**
 * Listens on `host:port` (default 127.0.0.1). Refuses a non-loopback host unless tokens are
 * configured or `insecure` is set (then logs a warning). Returns the address it listens on.
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
  return app.listen({ host, port: options.port });
}

/** A Node `(req, res)` handler serving the API under `basePath` (e.g. `/nightshift`), for Express, Koa or node:http. */
export async function createApiRequestHandler(options: ApiServerOptions & { basePath?: string }): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  const app = Fastify({ ...ROUTER_OPTIONS, bodyLimit: options.bodyLimitBytes ?? DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024 });
  await app.register(nightshiftApi, { ...options, prefix: basePath });
  await app.ready();
  return (req, res) => {
    app.routing(req, res);
  };
}
