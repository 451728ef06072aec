/** `/api/stats` and `/api/stats/timeseries`: activity over time, from the per-minute stats (never a jobs scan). */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Client } from '../../client/client.js';
import { errorReplySchema, statsReplySchema, timeseriesQuerySchema, timeseriesReplySchema } from '../api-schemas.js';
import type { RouteGuard } from '../route-guard.js';

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 503: errorReplySchema };

export function statsRoutes(app: FastifyInstance, client: Client, guard: RouteGuard): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/stats',
    {
      onRequest: guard('read'),
      schema: {
        summary: 'Runs, success rate and run time / wait percentiles over the last hour and day: in total, per queue, per job',
        tags: ['stats'],
        response: { 200: statsReplySchema, ...errors },
      },
    },
    async () => client.activity(),
  );

  api.get(
    '/stats/timeseries',
    {
      onRequest: guard('read'),
      schema: {
        summary: 'Enqueued, completed and failed per bucket per queue, for charts',
        tags: ['stats'],
        querystring: timeseriesQuerySchema,
        response: { 200: timeseriesReplySchema, ...errors },
      },
    },
    async (request) => {
      const { window, bucket, queue } = request.query;
      return client.timeseries({ window, ...(bucket ? { bucket } : {}), ...(queue !== undefined ? { queue } : {}) });
    },
  );
}
