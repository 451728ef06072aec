/**
 * Schedule operations of the SQLite store: definitions, exactly-once tick claims, tick history.
 */
import { assertDistinctScheduleIds } from '../schedule-ids.js';
import type { JobRecord, ScheduleInput, ScheduleListFilter, ScheduleRecord, ScheduleTick, JobInsert } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import { queuesMadeAvailable } from './sqlite-job-insert.js';
import { scheduleFromRow, tickFromRow, type ScheduleRow, type TickRow } from './sqlite-rows.js';
import { likeContainsPattern } from './sqlite-like.js';

export function upsertSchedules(ctx: SqliteContext, schedules: readonly ScheduleInput[]): ScheduleRecord[] {
  assertDistinctScheduleIds(schedules);
  const statements = ctx.statements();
  const now = ctx.now();
  // IMMEDIATE: the upsert reads the existing row to keep its bookkeeping; holding the write lock
  // from the start means no other process changes it in between.
  return ctx.db
    .transaction(() =>
      schedules.map((schedule) =>
        scheduleFromRow(
          statements.scheduleUpsert.get({
            id: schedule.id,
            jobName: schedule.jobName,
            cron: schedule.cron,
            timezone: schedule.timezone,
            enabled: schedule.enabled ? 1 : 0,
            description: schedule.description,
            input: schedule.input,
            catchUp: schedule.catchUp,
            overlap: schedule.overlap,
            source: schedule.source,
            jobOptions: schedule.jobOptions,
            now,
          }) as ScheduleRow,
        ),
      ),
    )
    .immediate();
}

export function getSchedule(ctx: SqliteContext, id: string): ScheduleRecord | null {
  const row = ctx.statements().scheduleGet.get({ id }) as ScheduleRow | undefined;
  return row === undefined ? null : scheduleFromRow(row);
}

export function listSchedules(ctx: SqliteContext, filter: ScheduleListFilter = {}): ScheduleRecord[] {
  const rows = ctx.statements().scheduleList.all({
    enabled: filter.enabled === undefined ? null : filter.enabled ? 1 : 0,
    idPattern: filter.idContains === undefined ? null : likeContainsPattern(filter.idContains),
    cron: filter.cron ?? null,
    source: filter.source ?? null,
    createdAfter: filter.createdAfter?.getTime() ?? null,
    createdBefore: filter.createdBefore?.getTime() ?? null,
  }) as ScheduleRow[];
  return rows.map(scheduleFromRow);
}

export function deleteSchedules(ctx: SqliteContext, ids: readonly string[]): number {
  if (ids.length === 0) return 0;
  return ctx.statements().scheduleDelete.run({ ids: JSON.stringify(ids) }).changes;
}

export function updateScheduleNext(ctx: SqliteContext, id: string, nextRunAt: Date | null, enabled: boolean | undefined): void {
  ctx.statements().scheduleUpdateNext.run({
    id,
    nextRunAt: nextRunAt?.getTime() ?? null,
    enabled: enabled === undefined ? null : enabled ? 1 : 0,
    now: ctx.now(),
  });
}

/**
 * Claims one tick. The tick row's UNIQUE (schedule_id, fire_at) is the guarantee: whichever
 * process inserts it first owns the tick, every other insert does nothing and gets null. The job
 * is inserted in the same transaction, so a tick is never claimed without its job (or the
 * reverse). BEGIN IMMEDIATE because the transaction reads (the conflict check, the key check,
 * the prune mark) before it writes; see the store's claim for why that matters under WAL.
 */
export function claimTick(
  ctx: SqliteContext,
  params: { scheduleId: string; fireAt: Date; nextRunAt: Date | null; job: JobInsert | null; status: string },
): { tick: ScheduleTick; job: JobRecord | null } | null {
  const statements = ctx.statements();
  const now = ctx.now();
  const fireAt = params.fireAt.getTime();
  let madeAvailable = new Set<string>();
  const claimed = ctx.db
    .transaction(() => {
      const info = statements.tickInsert.run({ scheduleId: params.scheduleId, fireAt, now, status: params.status });
      if (info.changes === 0) return null;
      let job: JobRecord | null = null;
      if (params.job !== null) {
        const results = ctx.inserter.insert([params.job], now);
        job = results[0]?.job ?? null;
        madeAvailable = queuesMadeAvailable(results);
        statements.tickSetJob.run({ scheduleId: params.scheduleId, fireAt, jobId: job === null ? null : Number(job.id) });
      }
      statements.scheduleAdvance.run({
        scheduleId: params.scheduleId,
        fireAt,
        jobId: job === null ? null : Number(job.id),
        nextRunAt: params.nextRunAt?.getTime() ?? null,
        now,
      });
      const tick: ScheduleTick = {
        scheduleId: params.scheduleId,
        fireAt: new Date(fireAt),
        claimedAt: new Date(now),
        jobId: job?.id ?? null,
        status: params.status,
      };
      return { tick, job };
    })
    .immediate();
  ctx.notify(madeAvailable);
  return claimed;
}

export function listTicks(ctx: SqliteContext, scheduleId: string, limit: number): ScheduleTick[] {
  const rows = ctx.statements().tickList.all({ scheduleId, limit: Math.max(0, Math.floor(limit)) }) as TickRow[];
  return rows.map(tickFromRow);
}

/**
 * Deletes one batch of old ticks and raises the prune marks of their schedules, in one BEGIN
 * IMMEDIATE transaction: a claim (also IMMEDIATE) sees either the tick row or the raised mark,
 * never neither. Returns how many ticks went.
 */
export function pruneTicks(ctx: SqliteContext, claimedBefore: Date, limit: number): number {
  const max = Math.floor(limit);
  if (!(max > 0)) return 0;
  const statements = ctx.statements();
  return ctx.db
    .transaction(() => {
      const rows = statements.tickPrune.all({ claimedBefore: claimedBefore.getTime(), limit: max }) as { schedule_id: string; fire_at: number }[];
      if (rows.length > 0) statements.tickFloorRaise.run({ rows: JSON.stringify(rows.map((row) => [row.schedule_id, row.fire_at])) });
      return rows.length;
    })
    .immediate();
}

export function scheduleHasActiveJob(ctx: SqliteContext, scheduleId: string): boolean {
  const row = ctx.statements().scheduleHasActiveJob.get({ scheduleId }) as { active: number };
  return row.active !== 0;
}
