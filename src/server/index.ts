// The HTTP API's entry point, `nightshift/server`: kept apart from the main entry so that an app
// or a CLI call that never serves HTTP does not load fastify and prom-client.
export { createApiServer, listenApiServer, nightshiftApi } from './server.js';
export type { ApiServerOptions } from './server.js';
export { createApiRequestHandler } from './request-handler.js';
export type { ApiRequestHandler, ApiRequestHandlerOptions } from './request-handler.js';
export type { ApiAlertsOptions } from './api-sources.js';
export type { ApiToken, TokenScope } from './auth.js';
export { createApiService } from './api-service.js';
export type { ApiService, HttpListenOptions } from './api-service.js';
export { createMetrics } from '../observe/metrics.js';
export type { Metrics, MetricsOptions, MetricsSources } from '../observe/metrics.js';
export { jobToJson, attemptToJson, jobDetailsToJson } from '../client/job-json.js';
export type { JobJson, AttemptJson } from '../client/job-json.js';
