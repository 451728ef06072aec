/**
 * Activity statistics on PostgreSQL: per-minute rows added to by one upsert per flush, summed per
 * bucket on read; and the earliest pending run time per queue, by seeks on the claim index. Time
 * is the server's (`$1` is the injected test clock, or NULL for `now()`), kept as epoch ms.
 */
import type pg from 'pg';
import { STATS_COUNTERS, STATS_VALUE_COLUMNS, statsFromValues, statsValues } from '../stats-columns.js';
import type { FinishedOutcome, StatsDelta, StatsRow } from '../types.js';
import { run } from './postgres-jobs.js';
import { toErrorRecord } from './rows.js';
import type { SchemaNames } from './schema-name.js';
import { inTransaction } from './transaction.js';

const NOW_MS = `(extract(epoch from coalesce($1::timestamptz, now())) * 1000)`;
const PENDING = `state IN ('available', 'scheduled', 'retryable')`;

export function statsStatements(names: SchemaNames) {
  const s = names.quoted;
  const record = STATS_VALUE_COLUMNS.map((column) => `${column} float8`).join(', ');
  // statsList: the sums of `columns` per bucket, queue and name ($1 since, $2 bucket ms).
  const listSql = (columns: readonly string[]) => `
        SELECT $1::bigint + ((minute - $1::bigint) / $2::bigint) * $2::bigint AS start, queue, name,
          ${columns.map((column) => `SUM(${column})::float8 AS ${column}`).join(', ')}
        FROM ${s}.stats WHERE minute >= $1::bigint
        GROUP BY start, queue, name ORDER BY start, queue, name`;
  return {
    // One statement per flush: the deltas travel as one JSON array of [queue, name, values…] rows.
    add: {
      text: `
        INSERT INTO ${s}.stats (minute, queue, name, ${STATS_VALUE_COLUMNS.join(', ')})
        SELECT (floor(${NOW_MS} / 60000) * 60000)::bigint, d.queue, d.name, ${STATS_VALUE_COLUMNS.map((column) => `d.${column}`).join(', ')}
        FROM jsonb_to_recordset($2::jsonb) AS d(queue text, name text, ${record})
        ON CONFLICT (minute, queue, name) DO UPDATE SET
          ${STATS_VALUE_COLUMNS.map((column) => `${column} = stats.${column} + excluded.${column}`).join(', ')}`,
    },
    list: { text: listSql(STATS_VALUE_COLUMNS) },
    listCounters: { text: listSql(STATS_COUNTERS) },
    prune: { text: `DELETE FROM ${s}.stats WHERE minute < $1` },
    // Conflicts with itself and with the adds' upserts: one rollup at a time, and no add lands in
    // the range between the read and the write (adds go to the current minute anyway).
    rollupLock: { text: `LOCK TABLE ${s}.stats IN SHARE ROW EXCLUSIVE MODE` },
    rollup: {
      text: `
        WITH gone AS (
          DELETE FROM ${s}.stats WHERE minute >= $1 AND minute < $2 RETURNING *
        ), folded AS (
          INSERT INTO ${s}.stats (minute, queue, name, ${STATS_VALUE_COLUMNS.join(', ')})
          SELECT (minute / $3::bigint) * $3::bigint, queue, name, ${STATS_VALUE_COLUMNS.map((column) => `SUM(${column})`).join(', ')}
          FROM gone GROUP BY 1, queue, name
          RETURNING 1
        )
        SELECT count(*)::int AS rows FROM folded`,
    },
    // A skip scan over jobs_fetch_idx (queue, priority DESC, run_at, id) WHERE pending: next queue,
    // each of its priorities, then the first run_at of each — index seeks, not a backlog scan.
    oldest: {
      text: `
        WITH RECURSIVE
          queues(queue) AS (
            SELECT (SELECT queue FROM ${s}.jobs WHERE ${PENDING} ORDER BY queue LIMIT 1)
            UNION ALL
            SELECT (SELECT j.queue FROM ${s}.jobs j WHERE j.${PENDING} AND j.queue > queues.queue ORDER BY j.queue LIMIT 1)
            FROM queues WHERE queues.queue IS NOT NULL
          ),
          priorities(queue, priority) AS (
            SELECT queue, (SELECT j.priority FROM ${s}.jobs j WHERE j.${PENDING} AND j.queue = queues.queue ORDER BY j.priority DESC LIMIT 1)
            FROM queues WHERE queue IS NOT NULL
            UNION ALL
            SELECT queue, (SELECT j.priority FROM ${s}.jobs j WHERE j.${PENDING} AND j.queue = priorities.queue AND j.priority < priorities.priority ORDER BY j.priority DESC LIMIT 1)
            FROM priorities WHERE priority IS NOT NULL
          )
        SELECT queue, MIN((SELECT j.run_at FROM ${s}.jobs j WHERE j.${PENDING} AND j.queue = priorities.queue AND j.priority = priorities.priority ORDER BY j.run_at LIMIT 1)) AS oldest
        FROM priorities WHERE priority IS NOT NULL GROUP BY queue ORDER BY queue`,
    },
    // jobs_name_finished_idx (migration 24): per name, a seek and its newest entries, read from
    // the index alone, then those few rows by primary key. Asked for whole rows in the lateral,
    // the planner judged the index's heap visits dearer than walking jobs_finished_idx backwards
    // and filtering by name (its LIMIT estimate assumes matches are spread evenly), which read
    // every finished job for a name that is rare or never ran: 530 ms at 1M jobs against 1 ms.
    newestFinished: {
      text: `
        SELECT n.name, f.state, f.last_error
        FROM unnest($1::text[]) AS n(name)
        CROSS JOIN LATERAL (
          SELECT i.id, i.finished_at FROM ${s}.jobs i
          WHERE i.name = n.name AND i.state IN ('completed', 'dead')
          ORDER BY i.name, i.finished_at DESC, i.id DESC
          LIMIT $2
        ) top
        JOIN ${s}.jobs f ON f.id = top.id
        ORDER BY n.name, top.finished_at DESC, top.id DESC`,
    },
    // Two ranges of jobs_fetch_idx: higher priorities, then the same priority up to the job.
    ahead: {
      text: `
        WITH j AS (SELECT queue, priority, run_at, id FROM ${s}.jobs WHERE id = $2::bigint)
        SELECT (SELECT count(*) FROM j)::int AS found,
          ((SELECT count(*) FROM (
            SELECT 1 FROM ${s}.jobs o, j
            WHERE o.queue = j.queue AND o.${PENDING} AND o.priority > j.priority AND o.run_at <= coalesce($1::timestamptz, now())
            LIMIT $3) AS higher) +
          (SELECT count(*) FROM (
            SELECT 1 FROM ${s}.jobs o, j
            WHERE o.queue = j.queue AND o.${PENDING} AND o.priority = j.priority AND o.run_at <= coalesce($1::timestamptz, now())
              AND (o.run_at, o.id) < (j.run_at, j.id)
            LIMIT $3) AS same))::int AS ahead`,
    },
  };
}

export type StatsStatements = ReturnType<typeof statsStatements>;

export interface PgStatsContext {
  pool: pg.Pool;
  sql: StatsStatements;
  now(): Date | null;
}

export async function statsAdd(ctx: PgStatsContext, deltas: readonly StatsDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const rows = deltas.map((delta) => {
    const values = statsValues(delta);
    const row: Record<string, string | number> = { queue: delta.queue, name: delta.name };
    STATS_VALUE_COLUMNS.forEach((column, i) => {
      row[column] = values[i] ?? 0;
    });
    return row;
  });
  await run(ctx.pool, ctx.sql.add, [ctx.now(), JSON.stringify(rows)]);
}

export async function statsList(ctx: PgStatsContext, params: { since: Date; bucketMs: number; countersOnly?: boolean }): Promise<StatsRow[]> {
  const { rows } = await run<{ start: string; queue: string; name: string } & Record<string, number>>(ctx.pool, params.countersOnly === true ? ctx.sql.listCounters : ctx.sql.list, [
    params.since.getTime(),
    Math.max(1, Math.floor(params.bucketMs)),
  ]);
  return rows.map((row) => ({ start: new Date(Number(row.start)), ...statsFromValues(row.queue, row.name, (column) => Number(row[column] ?? 0)) }));
}

export async function statsRollup(ctx: PgStatsContext, params: { from: Date; to: Date; resolutionMs: number }): Promise<{ rows: number }> {
  const resolution = Math.max(60_000, Math.floor(params.resolutionMs));
  return inTransaction(ctx.pool, async (client) => {
    await run(client, ctx.sql.rollupLock, []);
    const { rows } = await run<{ rows: number }>(client, ctx.sql.rollup, [params.from.getTime(), params.to.getTime(), resolution]);
    return { rows: rows[0]?.rows ?? 0 };
  });
}

export async function statsPrune(ctx: PgStatsContext, before: Date): Promise<{ deleted: number }> {
  const result = await run(ctx.pool, ctx.sql.prune, [before.getTime()]);
  return { deleted: result.rowCount ?? 0 };
}

export async function jobsAhead(ctx: PgStatsContext, params: { id: string; limit: number }): Promise<number | null> {
  if (!/^[1-9][0-9]{0,17}$/.test(params.id)) return null;
  const limit = Math.max(0, Math.floor(params.limit));
  const { rows } = await run<{ found: number; ahead: number }>(ctx.pool, ctx.sql.ahead, [ctx.now(), params.id, limit]);
  const row = rows[0];
  return !row || row.found === 0 ? null : Math.min(row.ahead, limit);
}

export async function queueOldest(ctx: PgStatsContext): Promise<{ queue: string; oldestRunAt: Date }[]> {
  const { rows } = await run<{ queue: string; oldest: Date | null }>(ctx.pool, ctx.sql.oldest, [] as unknown[]);
  return rows.filter((row) => row.oldest !== null).map((row) => ({ queue: row.queue, oldestRunAt: row.oldest as Date }));
}

export async function newestFinished(ctx: PgStatsContext, names: readonly string[], limit: number): Promise<FinishedOutcome[]> {
  const { rows } = await run<{ name: string; state: 'completed' | 'dead'; last_error: unknown }>(ctx.pool, ctx.sql.newestFinished, [[...new Set(names)], limit]);
  return rows.map((row) => ({ name: row.name, state: row.state, lastError: toErrorRecord(row.last_error) }));
}
