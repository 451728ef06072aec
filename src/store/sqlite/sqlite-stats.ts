/**
 * Activity statistics on SQLite: per-minute rows added to by upsert, summed per bucket on read;
 * and the earliest pending run time per queue, found by seeks on the claim index.
 */
import { STATS_COUNTERS, STATS_VALUE_COLUMNS, statsFromValues, statsValues } from '../stats-columns.js';
import type { FinishedOutcome, StatsDelta, StatsRow } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import { preparedOnce } from './sqlite-prepared.js';
import { parseErrorRecord } from './sqlite-rows.js';

const MINUTE_MS = 60_000;
const PENDING = `state IN ('available','scheduled','retryable')`;

const columns = STATS_VALUE_COLUMNS.join(', ');
const placeholders = STATS_VALUE_COLUMNS.map(() => '?').join(', ');
/** statsList: the sums of `columns` per bucket, queue and name (:since, :bucket ms). */
function listSql(columns: readonly string[]): string {
  return `
    SELECT :since + ((minute - CAST(:since AS INTEGER)) / CAST(:bucket AS INTEGER)) * :bucket AS start, queue, name,
      ${columns.map((column) => `SUM(${column}) AS ${column}`).join(', ')}
    FROM nightshift_stats WHERE minute >= :since
    GROUP BY start, queue, name ORDER BY start, queue, name`;
}

const SQL = {
  add: `
    INSERT INTO nightshift_stats (minute, queue, name, ${columns}) VALUES (?, ?, ?, ${placeholders})
    ON CONFLICT (minute, queue, name) DO UPDATE SET
      ${STATS_VALUE_COLUMNS.map((column) => `${column} = ${column} + excluded.${column}`).join(', ')}`,
  list: listSql(STATS_VALUE_COLUMNS),
  listCounters: listSql(STATS_COUNTERS),
  prune: `DELETE FROM nightshift_stats WHERE minute < ?`,
  rollupRead: `
    SELECT (minute / CAST(@resolution AS INTEGER)) * CAST(@resolution AS INTEGER) AS slot, queue, name,
      ${STATS_VALUE_COLUMNS.map((column) => `SUM(${column}) AS ${column}`).join(', ')}
    FROM nightshift_stats WHERE minute >= @from AND minute < @to
    GROUP BY slot, queue, name`,
  rollupDelete: `DELETE FROM nightshift_stats WHERE minute >= @from AND minute < @to`,
  rollupInsert: `INSERT INTO nightshift_stats (minute, queue, name, ${columns}) VALUES (?, ?, ?, ${placeholders})`,
  // A skip scan over the claim index (queue, priority DESC, run_at, id) WHERE pending: the next
  // queue, then each priority of it, then the first run_at of that priority — seeks, not a scan.
  oldest: `
    WITH RECURSIVE
      queues(queue) AS (
        SELECT (SELECT queue FROM nightshift_jobs WHERE ${PENDING} ORDER BY queue LIMIT 1)
        UNION ALL
        SELECT (SELECT queue FROM nightshift_jobs WHERE ${PENDING} AND queue > queues.queue ORDER BY queue LIMIT 1)
        FROM queues WHERE queues.queue IS NOT NULL
      ),
      priorities(queue, priority) AS (
        SELECT queue, (SELECT priority FROM nightshift_jobs WHERE ${PENDING} AND queue = queues.queue ORDER BY priority DESC LIMIT 1)
        FROM queues WHERE queue IS NOT NULL
        UNION ALL
        SELECT queue, (SELECT priority FROM nightshift_jobs WHERE ${PENDING} AND queue = priorities.queue AND priority < priorities.priority ORDER BY priority DESC LIMIT 1)
        FROM priorities WHERE priority IS NOT NULL
      )
    SELECT queue, MIN((SELECT run_at FROM nightshift_jobs WHERE ${PENDING} AND queue = priorities.queue AND priority = priorities.priority ORDER BY run_at LIMIT 1)) AS oldest
    FROM priorities WHERE priority IS NOT NULL GROUP BY queue ORDER BY queue`,
  // Two ranges of the claim index: higher priorities, then the same priority up to the job.
  ahead: `
    WITH j AS (SELECT queue, priority, run_at, id FROM nightshift_jobs WHERE id = @id)
    SELECT (SELECT COUNT(*) FROM j) AS found,
      (SELECT COUNT(*) FROM (
        SELECT 1 FROM nightshift_jobs o, j
        WHERE o.queue = j.queue AND o.${PENDING} AND o.priority > j.priority AND o.run_at <= @now
        LIMIT CAST(@limit AS INTEGER))) +
      (SELECT COUNT(*) FROM (
        SELECT 1 FROM nightshift_jobs o, j
        WHERE o.queue = j.queue AND o.${PENDING} AND o.priority = j.priority AND o.run_at <= @now
          AND (o.run_at < j.run_at OR (o.run_at = j.run_at AND o.id < j.id))
        LIMIT CAST(@limit AS INTEGER))) AS ahead`,
  // nightshift_jobs_finished_idx (name, finished_at) over final jobs (migration 18): a seek on the
  // name, then its newest entries, cancelled ones skipped. The first state condition is the
  // index's own, so the planner can use the partial index.
  newestFinished: `
    SELECT state, last_error FROM nightshift_jobs INDEXED BY nightshift_jobs_finished_idx
    WHERE name = ? AND state IN ('completed','dead','cancelled') AND state <> 'cancelled'
    ORDER BY finished_at DESC, id DESC
    LIMIT ?`,
};

const statements = preparedOnce(SQL);

export function addStats(ctx: SqliteContext, deltas: readonly StatsDelta[]): void {
  if (deltas.length === 0) return;
  const minute = Math.floor(ctx.now() / MINUTE_MS) * MINUTE_MS;
  const add = statements(ctx).add;
  ctx.db.transaction(() => {
    for (const delta of deltas) add.run(minute, delta.queue, delta.name, ...statsValues(delta));
  })();
}

export function listStats(ctx: SqliteContext, params: { since: Date; bucketMs: number; countersOnly?: boolean }): StatsRow[] {
  const prepared = statements(ctx);
  const rows = (params.countersOnly === true ? prepared.listCounters : prepared.list).all({ since: params.since.getTime(), bucket: Math.max(1, Math.floor(params.bucketMs)) }) as ({ start: number; queue: string; name: string } & Record<string, number>)[];
  return rows.map((row) => ({ start: new Date(row.start), ...statsFromValues(row.queue, row.name, (column) => Number(row[column] ?? 0)) }));
}

export function rollupStats(ctx: SqliteContext, params: { from: Date; to: Date; resolutionMs: number }): { rows: number } {
  const prepared = statements(ctx);
  const range = { from: params.from.getTime(), to: params.to.getTime() };
  const resolution = Math.max(MINUTE_MS, Math.floor(params.resolutionMs));
  return ctx.db.transaction(() => {
    const rows = prepared.rollupRead.all({ ...range, resolution }) as ({ slot: number; queue: string; name: string } & Record<string, number>)[];
    prepared.rollupDelete.run(range);
    for (const row of rows) prepared.rollupInsert.run(row.slot, row.queue, row.name, ...STATS_VALUE_COLUMNS.map((column) => row[column] ?? 0));
    return { rows: rows.length };
  }).immediate();
}

export function pruneStats(ctx: SqliteContext, before: Date): { deleted: number } {
  return { deleted: statements(ctx).prune.run(before.getTime()).changes };
}

export function jobsAhead(ctx: SqliteContext, id: number, limit: number): number | null {
  const row = statements(ctx).ahead.get({ id, now: ctx.now(), limit: Math.max(0, Math.floor(limit)) }) as { found: number; ahead: number };
  return row.found === 0 ? null : Math.min(row.ahead, limit);
}

export function queueOldest(ctx: SqliteContext): { queue: string; oldestRunAt: Date }[] {
  const rows = statements(ctx).oldest.all() as { queue: string; oldest: number | null }[];
  return rows.filter((row) => row.oldest !== null).map((row) => ({ queue: row.queue, oldestRunAt: new Date(row.oldest as number) }));
}

export function newestFinished(ctx: SqliteContext, names: readonly string[], limit: number): FinishedOutcome[] {
  const statement = statements(ctx).newestFinished;
  const out: FinishedOutcome[] = [];
  for (const name of new Set(names)) {
    for (const row of statement.all(name, limit) as { state: 'completed' | 'dead'; last_error: string | null }[]) {
      out.push({ name, state: row.state, lastError: parseErrorRecord(row.last_error) });
    }
  }
  return out;
}
