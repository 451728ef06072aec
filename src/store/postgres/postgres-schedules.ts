import { assertDistinctScheduleIds } from '../schedule-ids.js';
import type { JobInsert, JobRecord, ScheduleInput, ScheduleListFilter, ScheduleRecord, ScheduleTick } from '../types.js';
import { availableQueues, insertJobs, run, type PgJobContext } from './postgres-jobs.js';
import {
  SCHEDULE_COLUMNS,
  TICK_COLUMNS,
  toScheduleRecord,
  toScheduleTick,
  type ScheduleRow,
  type TickRow,
} from './rows.js';
import { inTransactionOrRollback, Rollback } from './transaction.js';

/**
 * Schedule operations of the PostgreSQL store. The SQL is here rather than in job-statements.ts
 * because none of it is on a hot path: schedules change rarely and ticks fire at most once per
 * schedule and minute. The exactly-once tick rests on the primary key (schedule_id, fire_at) of
 * schedule_ticks, not on any leader election.
 */

const NOW = 'coalesce($1::timestamptz, now())';
const FINAL = `('completed', 'dead', 'cancelled')`;

export async function upsertSchedules(ctx: PgJobContext, schedules: ScheduleInput[]): Promise<ScheduleRecord[]> {
  if (schedules.length === 0) return [];
  assertDistinctScheduleIds(schedules);
  const s = ctx.names.quoted;
  // One statement for the whole set; ON CONFLICT keeps created_at, next_run_at and the last-run
  // columns of existing schedules.
  const { rows } = await ctx.pool.query<ScheduleRow>(
    `INSERT INTO ${s}.schedules (id, job_name, cron, timezone, enabled, description, input, catch_up, overlap, source,
                                 job_options, created_at, updated_at)
     SELECT i.id, i.job_name, i.cron, i.timezone, i.enabled, i.description, i.input, i.catch_up, i.overlap, i.source,
            i.job_options, ${NOW}, ${NOW}
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::int[],
                 $10::text[], $11::text[], $12::text[])
          AS i(id, job_name, cron, timezone, enabled, description, input, catch_up, overlap, source, job_options)
     ON CONFLICT (id) DO UPDATE SET
       job_name = excluded.job_name, cron = excluded.cron, timezone = excluded.timezone, enabled = excluded.enabled,
       description = excluded.description, input = excluded.input, catch_up = excluded.catch_up,
       overlap = excluded.overlap, source = excluded.source, job_options = excluded.job_options,
       updated_at = excluded.updated_at
     RETURNING ${SCHEDULE_COLUMNS}`,
    [
      ctx.now(),
      schedules.map((x) => x.id),
      schedules.map((x) => x.jobName),
      schedules.map((x) => x.cron),
      schedules.map((x) => x.timezone),
      schedules.map((x) => x.enabled),
      schedules.map((x) => x.description),
      schedules.map((x) => x.input),
      schedules.map((x) => x.catchUp),
      schedules.map((x) => x.overlap),
      schedules.map((x) => x.source),
      schedules.map((x) => x.jobOptions),
    ],
  );
  const byId = new Map(rows.map((row) => [row.id, toScheduleRecord(row)]));
  return schedules.map((x) => byId.get(x.id)).filter((x): x is ScheduleRecord => x !== undefined);
}

export async function getSchedule(ctx: PgJobContext, id: string): Promise<ScheduleRecord | null> {
  const { rows } = await ctx.pool.query<ScheduleRow>(`SELECT ${SCHEDULE_COLUMNS} FROM ${ctx.names.quoted}.schedules WHERE id = $1`, [id]);
  return rows[0] ? toScheduleRecord(rows[0]) : null;
}

export async function listSchedules(ctx: PgJobContext, filter: ScheduleListFilter = {}): Promise<ScheduleRecord[]> {
  const values: unknown[] = [];
  const where: string[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (filter.enabled !== undefined) where.push(`enabled = ${bind(filter.enabled)}::bool`);
  if (filter.idContains) where.push(`strpos(lower(id), lower(${bind(filter.idContains)}::text)) > 0`);
  if (filter.cron !== undefined) where.push(`cron = ${bind(filter.cron)}::text`);
  if (filter.source !== undefined) where.push(`source = ${bind(filter.source)}::text`);
  if (filter.createdAfter) where.push(`created_at >= ${bind(filter.createdAfter)}::timestamptz`);
  if (filter.createdBefore) where.push(`created_at < ${bind(filter.createdBefore)}::timestamptz`);
  const { rows } = await ctx.pool.query<ScheduleRow>(
    `SELECT ${SCHEDULE_COLUMNS} FROM ${ctx.names.quoted}.schedules` + (where.length ? ` WHERE ${where.join(' AND ')}` : '') + ' ORDER BY id',
    values,
  );
  return rows.map(toScheduleRecord);
}

export async function deleteSchedules(ctx: PgJobContext, ids: string[]): Promise<{ deleted: number }> {
  if (ids.length === 0) return { deleted: 0 };
  const result = await ctx.pool.query(`DELETE FROM ${ctx.names.quoted}.schedules WHERE id = ANY($1::text[])`, [ids]);
  return { deleted: result.rowCount ?? 0 };
}

export async function updateScheduleNext(
  ctx: PgJobContext,
  params: { id: string; nextRunAt: Date | null; enabled?: boolean },
): Promise<void> {
  await ctx.pool.query(
    `UPDATE ${ctx.names.quoted}.schedules SET next_run_at = $2::timestamptz, enabled = coalesce($3::bool, enabled) WHERE id = $1`,
    [params.id, params.nextRunAt, params.enabled ?? null],
  );
}

/**
 * Claims one tick. Concurrency: two schedulers inserting the same (schedule_id, fire_at) race on
 * the primary key; the second INSERT waits for the first transaction, then does nothing (it
 * committed) or inserts (it rolled back). Only the winner goes on to enqueue the job, in the same
 * transaction, so a tick and its job exist together or not at all.
 *
 * A pruned tick has no row left to conflict with, so after the insert the claim checks the
 * schedule's prune mark and rolls back at or below it. The check is a statement of its own on
 * purpose: under READ COMMITTED it takes a fresh snapshot, so it sees a prune that committed while
 * the INSERT waited on the row that prune was deleting (a check inside the INSERT would not).
 */
export async function claimTick(
  ctx: PgJobContext,
  params: { scheduleId: string; fireAt: Date; nextRunAt: Date | null; job: JobInsert | null; status: string },
): Promise<{ tick: ScheduleTick; job: JobRecord | null } | null> {
  const s = ctx.names.quoted;
  let woke: string[] = [];
  const claimed = await inTransactionOrRollback(ctx.pool, async (client) => {
    const inserted = await client.query<TickRow>(
      `INSERT INTO ${s}.schedule_ticks (schedule_id, fire_at, claimed_at, job_id, status)
       VALUES ($2, $3::timestamptz, ${NOW}, NULL, $4)
       ON CONFLICT (schedule_id, fire_at) DO NOTHING
       RETURNING ${TICK_COLUMNS}`,
      [ctx.now(), params.scheduleId, params.fireAt, params.status],
    );
    const tickRow = inserted.rows[0];
    if (!tickRow) return new Rollback(null);
    const mark = await run<{ pruned: boolean }>(client, ctx.ticks.pruned, [params.scheduleId, params.fireAt]);
    if (mark.rows[0]?.pruned) return new Rollback(null);
    let job: JobRecord | null = null;
    if (params.job) {
      const jobs = await insertJobs(ctx, client, [params.job]);
      job = jobs[0]?.job ?? null;
      woke = availableQueues(jobs);
    }
    const tick = await client.query<TickRow>(
      `UPDATE ${s}.schedule_ticks SET job_id = $3::bigint WHERE schedule_id = $1 AND fire_at = $2::timestamptz RETURNING ${TICK_COLUMNS}`,
      [params.scheduleId, params.fireAt, job?.id ?? null],
    );
    // A tick older than the last one claimed (a manual run came first, a slow scheduler catching
    // up) never moves the bookkeeping backwards.
    await client.query(
      `UPDATE ${s}.schedules SET last_run_at = $2::timestamptz, last_job_id = $3::bigint, next_run_at = $4::timestamptz
       WHERE id = $1 AND (last_run_at IS NULL OR last_run_at <= $2::timestamptz)`,
      [params.scheduleId, params.fireAt, job?.id ?? null, params.nextRunAt],
    );
    return { tick: toScheduleTick(tick.rows[0] ?? tickRow), job };
  });
  // After COMMIT: the job is visible to the fetch this wakes.
  if (claimed && woke.length > 0) ctx.wake(woke);
  return claimed;
}

export async function listTicks(ctx: PgJobContext, scheduleId: string, limit: number): Promise<ScheduleTick[]> {
  const { rows } = await ctx.pool.query<TickRow>(
    `SELECT ${TICK_COLUMNS} FROM ${ctx.names.quoted}.schedule_ticks WHERE schedule_id = $1 ORDER BY fire_at DESC LIMIT $2`,
    [scheduleId, Math.max(0, Math.trunc(limit))],
  );
  return rows.map(toScheduleTick);
}

/** Deletes one batch of old ticks and raises their schedules' prune marks (tick-statements.ts). */
export async function pruneTicks(ctx: PgJobContext, params: { claimedBefore: Date; limit: number }): Promise<{ deleted: number }> {
  const limit = Math.trunc(params.limit);
  if (!(limit > 0)) return { deleted: 0 };
  const { rows } = await run<{ deleted: number }>(ctx.pool, ctx.ticks.prune, [params.claimedBefore, limit]);
  return { deleted: rows[0]?.deleted ?? 0 };
}

export async function scheduleHasActiveJob(ctx: PgJobContext, scheduleId: string): Promise<boolean> {
  const { rows } = await ctx.pool.query<{ active: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${ctx.names.quoted}.jobs WHERE schedule_id = $1 AND state NOT IN ${FINAL}) AS active`,
    [scheduleId],
  );
  return rows[0]?.active ?? false;
}
