/** `/api/alerts/*`: the loaded rules, active alerts, history with deliveries, counts, a test send, silences. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AlertsAdmin } from '../../alerts/alerts-admin.js';
import type { AlertSilenceRecord } from '../../store/alert-types.js';
import { alertEpisodeSchema, alertHistoryQuerySchema, alertSilenceBodySchema, alertSilenceSchema, alertTestBodySchema, errorReplySchema } from '../api-schemas.js';
import { HttpError } from '../http-errors.js';
import type { RouteGuard } from '../route-guard.js';

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 404: errorReplySchema, 503: errorReplySchema };

function silenceJson(silence: AlertSilenceRecord) {
  return { ...silence, until: silence.until.toISOString(), createdAt: silence.createdAt.toISOString() };
}

export function alertRoutes(app: FastifyInstance, alerts: AlertsAdmin | undefined, guard: RouteGuard): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const admin = (): AlertsAdmin => {
    if (!alerts) throw new HttpError(404, 'NOT_FOUND', 'alerting is not configured in this process (give the runtime `alerts`, or the daemon an alerts file)');
    return alerts;
  };
  const tags = ['alerts'];

  api.get(
    '/alerts/config',
    { onRequest: guard('read'), schema: { summary: 'The loaded alert rules and the configured channels (names only: no URL, token or key)', tags, response: { 200: z.object({ rules: z.unknown(), channels: z.array(z.string()) }), ...errors } } },
    async () => admin().config(),
  );
  api.get(
    '/alerts/active',
    { onRequest: guard('read'), schema: { summary: 'Alerts firing now (open episodes), newest first', tags, response: { 200: z.object({ alerts: z.array(alertEpisodeSchema) }), ...errors } } },
    async () => ({ alerts: await admin().active() }),
  );
  api.get(
    '/alerts/history',
    {
      onRequest: guard('read'),
      schema: { summary: 'Alert episodes newest first, each with its deliveries (one job per channel and message, with attempts)', tags, querystring: alertHistoryQuerySchema, response: { 200: z.object({ alerts: z.array(alertEpisodeSchema), nextCursor: z.string().nullable() }), ...errors } },
    },
    async (request) => {
      const { limit, severity, rule, jobId, cursor } = request.query;
      const page = await admin().history({ limit, ...(severity ? { severity } : {}), ...(rule ? { rule } : {}), ...(jobId ? { job: jobId } : {}), ...(cursor ? { cursor } : {}) });
      return { alerts: page.episodes, nextCursor: page.nextCursor };
    },
  );
  api.get(
    '/alerts/stats',
    {
      onRequest: guard('read'),
      schema: {
        summary: 'Open alerts, and over the last 24 hours: fired, delivered, throttled, silenced, by severity and by rule',
        tags,
        response: {
          200: z.object({
            open: z.number(),
            last24h: z.object({ fired: z.number(), delivered: z.number(), throttled: z.number(), silenced: z.number(), bySeverity: z.record(z.string(), z.number()), byRule: z.record(z.string(), z.number()) }),
          }),
          ...errors,
        },
      },
    },
    async () => admin().stats(),
  );
  api.post(
    '/alerts/test',
    {
      onRequest: guard('admin'),
      schema: {
        summary: 'Send a test message now through one channel (or every configured one)',
        tags,
        body: alertTestBodySchema,
        response: { 200: z.object({ results: z.array(z.object({ channel: z.string(), ok: z.boolean(), error: z.string().nullable() })) }), ...errors },
      },
    },
    async (request) => ({ results: await admin().test(request.body?.channel) }),
  );
  api.get(
    '/alerts/silences',
    { onRequest: guard('read'), schema: { summary: 'Active silences', tags, response: { 200: z.object({ silences: z.array(alertSilenceSchema) }), ...errors } } },
    async () => ({ silences: (await admin().silences()).map(silenceJson) }),
  );
  api.post(
    '/alerts/silences',
    { onRequest: guard('admin'), schema: { summary: 'Silence a rule (for one subject, or all) for a while: its alerts are recorded, not sent', tags, body: alertSilenceBodySchema, response: { 201: alertSilenceSchema, ...errors } } },
    async (request, reply) => {
      const body = request.body;
      const silence = await admin().silence({ rule: body.rule, subject: body.subject ?? null, forMs: body.forSeconds * 1000, reason: body.reason ?? null });
      return reply.code(201).send(silenceJson(silence));
    },
  );
  api.delete(
    '/alerts/silences/:id',
    { onRequest: guard('admin'), schema: { summary: 'End a silence now', tags, params: z.object({ id: z.string().max(20) }), response: { 204: z.null().describe('removed'), ...errors } } },
    async (request, reply) => {
      await admin().unsilence(request.params.id);
      return reply.code(204).send(null);
    },
  );
}
