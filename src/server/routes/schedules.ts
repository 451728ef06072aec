/**
 * `/api/schedules`: cron schedules through the schedule manager — list with filters, create, show,
 * change, delete, pause, resume, trigger a run now, run history and per-schedule run statistics.
 *
 * Schedules declared in a YAML schedule file (source `file`) or in the code config's `schedules`
 * list (source `code`) belong to that declaration: the next sync (daemon start, `nightshift
 * schedules sync`) puts back whatever differs. Changes the sync would undo — edit, delete, and a
 * pause or resume that flips `enabled` — are refused with 409 `SCHEDULE_MANAGED_BY_FILE`, whose
 * message names the file to change; triggering a run is allowed. The rule and its message are the
 * CLI's too (scheduler/schedule-ownership.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { toJob } from '../../job/job-view.js';
import { jobToJson } from '../../client/job-json.js';
import { NotFoundError } from '../../errors.js';
import type { ScheduleDefinition } from '../../scheduler/schedule-definition.js';
import { scheduleChangeRefusal, type ScheduleChange } from '../../scheduler/schedule-ownership.js';
import { scheduleHistoryEntryToJson, scheduleRunStatsToJson, scheduleToJson } from '../../scheduler/schedule-json.js';
import { RUN_STATS_JOB_LOOKUPS, RUN_STATS_TICK_LIMIT, type ScheduleListOptions, type ScheduleManager, type ScheduleUpdate, type ScheduleView } from '../../scheduler/schedule-manager.js';
import {
  errorReplySchema,
  scheduleCreateBodySchema,
  scheduleDeleteReplySchema,
  scheduleDetailsViewSchema,
  scheduleHistoryQuerySchema,
  scheduleHistoryReplySchema,
  scheduleListQuerySchema,
  scheduleListReplySchema,
  scheduleParamsSchema,
  scheduleStatsReplySchema,
  scheduleTriggerBodySchema,
  scheduleTriggerReplySchema,
  scheduleUpdateBodySchema,
  scheduleViewSchema,
} from '../api-schemas.js';
import { HttpError } from '../http-errors.js';
import type { RouteGuard } from '../route-guard.js';

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 404: errorReplySchema, 409: errorReplySchema, 413: errorReplySchema, 503: errorReplySchema };

/** How many fire times `GET /api/schedules/:id` previews. */
const UPCOMING_COUNT = 5;

export interface ScheduleRouteOptions {
  /** Without it every schedule route answers 404 (this process does not serve schedules). */
  scheduleManager?: ScheduleManager | undefined;
  /** The YAML schedule file the deployment syncs, named in 409 answers; optional. */
  scheduleFile?: string | undefined;
}

/** The body's fields without the keys that were left out (an explicit undefined would reset a field). */
function definedFields<T extends object>(body: T): Partial<T> {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function unknownSchedule(id: string): NotFoundError {
  return new NotFoundError('UNKNOWN_SCHEDULE', `no schedule with id "${id}" (GET /api/schedules lists them)`);
}

/** Throws 409 when `schedule` is declared in a file or the config and `change` would be undone by the next sync (schedule-ownership.ts). */
function assertApiOwned(schedule: ScheduleView, change: ScheduleChange, scheduleFile: string | undefined): void {
  const refusal = scheduleChangeRefusal(schedule, change, { via: 'through the API', scheduleFile });
  if (refusal) throw new HttpError(409, refusal.code, refusal.message, { details: refusal.details });
}

export function scheduleRoutes(app: FastifyInstance, options: ScheduleRouteOptions, guard: RouteGuard): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { scheduleFile } = options;

  const manager = (): ScheduleManager => {
    if (!options.scheduleManager) throw new HttpError(404, 'NOT_FOUND', 'schedules are not served by this process (start the API with a scheduleManager)');
    return options.scheduleManager;
  };
  const requireView = async (id: string): Promise<ScheduleView> => {
    const view = await manager().get(id);
    if (view === null) throw unknownSchedule(id);
    return view;
  };

  api.get(
    '/schedules',
    {
      onRequest: guard('read'),
      schema: { summary: 'List schedules, by id, with filters', tags: ['schedules'], querystring: scheduleListQuerySchema, response: { 200: scheduleListReplySchema, ...errors } },
    },
    async (request) => {
      const query = request.query as z.output<typeof scheduleListQuerySchema>;
      const filter: ScheduleListOptions = {};
      if (query.enabled !== undefined) filter.enabled = query.enabled;
      if (query.search !== undefined) filter.nameContains = query.search;
      if (query.cron !== undefined) filter.cron = query.cron;
      if (query.source !== undefined) filter.source = query.source;
      if (query.createdAfter !== undefined) filter.createdAfter = new Date(query.createdAfter);
      if (query.createdBefore !== undefined) filter.createdBefore = new Date(query.createdBefore);
      return { schedules: (await manager().list(filter)).map(scheduleToJson) };
    },
  );

  api.post(
    '/schedules',
    {
      onRequest: guard('admin'),
      schema: { summary: 'Create a schedule (source api)', tags: ['schedules'], body: scheduleCreateBodySchema, response: { 201: scheduleViewSchema, ...errors } },
    },
    async (request, reply) => {
      const created = await manager().create(definedFields(request.body) as ScheduleDefinition, { source: 'api' });
      return reply.code(201).send(scheduleToJson(created));
    },
  );

  // A static path: it wins over /schedules/:id, so a schedule with the id "stats" is read through the list.
  api.get(
    '/schedules/stats',
    {
      onRequest: guard('read'),
      schema: {
        summary: 'Per schedule: last and next run, last outcome, runs, skipped ticks and failures over the last 24 hours',
        description:
          `Read without scanning the job table: per schedule its newest ${RUN_STATS_TICK_LIMIT} ticks (by index) and the jobs of its newest ${RUN_STATS_JOB_LOOKUPS} runs (by id). ` +
          'The window is the 24 hours before `now` (the store\'s time), by tick fire time. `runs` counts ticks in the window that created a job, ' +
          '`skipped` those that created none, `failures` the runs among the `failuresChecked` newest whose job is dead now; ' +
          `\`capped\` says runs and skipped are lower bounds (more than ${RUN_STATS_TICK_LIMIT} ticks in the window).`,
        tags: ['schedules'],
        response: { 200: scheduleStatsReplySchema, ...errors },
      },
    },
    async () => {
      const report = await manager().runStats();
      const enabled = report.schedules.filter((schedule) => schedule.enabled).length;
      return {
        now: report.now.toISOString(),
        windowStart: report.windowStart.toISOString(),
        summary: { total: report.schedules.length, enabled, paused: report.schedules.length - enabled },
        schedules: report.schedules.map(scheduleRunStatsToJson),
      };
    },
  );

  api.get(
    '/schedules/:id',
    {
      onRequest: guard('read'),
      schema: { summary: 'One schedule and its next fire times', tags: ['schedules'], params: scheduleParamsSchema, response: { 200: scheduleDetailsViewSchema, ...errors } },
    },
    async (request) => {
      const view = await requireView(request.params.id);
      const upcoming = view.enabled ? await manager().upcoming(view.id, UPCOMING_COUNT) : [];
      return { ...scheduleToJson(view), upcoming: upcoming.map((date) => date.toISOString()) };
    },
  );

  api.patch(
    '/schedules/:id',
    {
      onRequest: guard('admin'),
      schema: {
        summary: 'Change fields of a schedule created through the API; fire times are recomputed when the cron, zone or enabled flag changes',
        tags: ['schedules'],
        params: scheduleParamsSchema,
        body: scheduleUpdateBodySchema,
        response: { 200: scheduleViewSchema, ...errors },
      },
    },
    async (request) => {
      const view = await requireView(request.params.id);
      assertApiOwned(view, 'edit', scheduleFile);
      return scheduleToJson(await manager().update(view.id, definedFields(request.body ?? {}) as ScheduleUpdate));
    },
  );

  api.delete(
    '/schedules/:id',
    {
      onRequest: guard('admin'),
      schema: {
        summary: 'Delete a schedule created through the API (its claimed ticks stay, so a re-created one never re-fires a past tick)',
        tags: ['schedules'],
        params: scheduleParamsSchema,
        response: { 200: scheduleDeleteReplySchema, ...errors },
      },
    },
    async (request) => {
      const view = await requireView(request.params.id);
      assertApiOwned(view, 'delete', scheduleFile);
      if (!(await manager().delete(view.id))) throw unknownSchedule(view.id);
      return { id: view.id, deleted: true };
    },
  );

  api.post(
    '/schedules/:id/pause',
    {
      onRequest: guard('admin'),
      schema: { summary: 'Stop firing (ticks while paused never run); a paused schedule answers unchanged', tags: ['schedules'], params: scheduleParamsSchema, response: { 200: scheduleViewSchema, ...errors } },
    },
    async (request) => {
      const view = await requireView(request.params.id);
      if (!view.enabled) return scheduleToJson(view);
      assertApiOwned(view, 'pause', scheduleFile);
      return scheduleToJson(await manager().pause(view.id));
    },
  );

  api.post(
    '/schedules/:id/resume',
    {
      onRequest: guard('admin'),
      schema: { summary: 'Fire again from the next tick after now; an enabled schedule answers unchanged', tags: ['schedules'], params: scheduleParamsSchema, response: { 200: scheduleViewSchema, ...errors } },
    },
    async (request) => {
      const view = await requireView(request.params.id);
      if (view.enabled) return scheduleToJson(view);
      assertApiOwned(view, 'resume', scheduleFile);
      return scheduleToJson(await manager().resume(view.id));
    },
  );

  api.post(
    '/schedules/:id/trigger',
    {
      onRequest: guard('admin'),
      schema: {
        summary: "Enqueue a run of the schedule's job now with its input (or the one given), whatever its overlap policy or pause",
        tags: ['schedules'],
        params: scheduleParamsSchema,
        body: scheduleTriggerBodySchema,
        response: { 201: scheduleTriggerReplySchema, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const { tick, job } = await manager().trigger(request.params.id, body?.input === undefined ? {} : { input: body.input });
      return reply.code(201).send({
        job: jobToJson(toJob(job)),
        tick: { scheduleId: tick.scheduleId, fireAt: tick.fireAt.toISOString(), claimedAt: tick.claimedAt.toISOString(), status: tick.status },
      });
    },
  );

  api.get(
    '/schedules/:id/history',
    {
      onRequest: guard('read'),
      schema: {
        summary: 'Claimed ticks with the job each created, newest first',
        tags: ['schedules'],
        params: scheduleParamsSchema,
        querystring: scheduleHistoryQuerySchema,
        response: { 200: scheduleHistoryReplySchema, ...errors },
      },
    },
    async (request) => {
      const query = request.query as z.output<typeof scheduleHistoryQuerySchema>;
      const history = await manager().history(request.params.id, query.limit === undefined ? {} : { limit: query.limit });
      return { history: history.map(scheduleHistoryEntryToJson) };
    },
  );
}
