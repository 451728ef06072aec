/**
 * The event feed on PostgreSQL: append a batch with one `unnest` insert, read after a cursor,
 * prune with a mark. Time is the server's (`$1` is the injected test clock, or NULL for `now()`).
 *
 * Ordering. An identity (sequence) id is taken when a row is inserted, not when it commits: two
 * appending transactions may take ids 10 and 11 and commit 11 first, and a reader that saw 11
 * and moved its cursor there would never see 10. Each append therefore runs in its own
 * transaction that first takes `SHARE ROW EXCLUSIVE` on the events table — a mode that conflicts
 * with itself but not with readers (`ACCESS SHARE`) — so appends take their ids and commit one
 * after the other: every id a later append takes is above every id of a committed one, and a
 * snapshot that sees an append sees every append before it. The cost is that appends queue
 * behind each other, which is cheap here: the core appends one batch per process every ~100 ms,
 * off the jobs' hot path. (Reading only "older than a lag" was the other choice; it delays every
 * reader and is still wrong for a transaction slower than the lag.) A rolled-back append leaves a
 * gap in the ids, never an id below a cursor.
 */
import type pg from 'pg';
import type { EventInsert, EventListFilter, EventRecord } from '../types.js';
import { run } from './postgres-jobs.js';
import type { SchemaNames } from './schema-name.js';
import { inTransaction } from './transaction.js';

const NOW = 'coalesce($1::timestamptz, now())';

export function eventStatements(names: SchemaNames) {
  const s = names.quoted;
  return {
    lock: { text: `LOCK TABLE ${s}.events IN SHARE ROW EXCLUSIVE MODE` },
    // WITH ORDINALITY … ORDER BY: ids follow the batch's order.
    append: {
      text: `
        INSERT INTO ${s}.events (at, type, queue, job_name, job_id, data)
        SELECT ${NOW}, e.type, e.queue, e.job_name, e.job_id, e.data
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS e(type, queue, job_name, job_id, data, n)
        ORDER BY e.n`,
    },
    // A NULL list is no filter; `= ANY` of an empty array matches nothing. `id` comes back as text
    // (node-postgres reads bigint as a string); ORDER BY must see the bigint, not a text cast.
    list: {
      text: `
        SELECT id, at, type, queue, job_name, job_id, data FROM ${s}.events
        WHERE id > $1::bigint
          AND ($3::text[] IS NULL OR type = ANY ($3::text[]))
          AND ($4::text[] IS NULL OR queue = ANY ($4::text[]))
          AND ($5::text[] IS NULL OR job_name = ANY ($5::text[]))
        ORDER BY id
        LIMIT $2`,
    },
    bounds: {
      text: `SELECT (SELECT max(id) FROM ${s}.events)::text AS newest,
                    (SELECT pruned_through FROM ${s}.event_floor WHERE singleton)::text AS pruned`,
    },
    // The delete and the raised mark in one statement, so they commit together.
    prune: {
      text: `
        WITH deleted AS (
          DELETE FROM ${s}.events
          WHERE id IN (SELECT id FROM ${s}.events WHERE at < $1::timestamptz ORDER BY id LIMIT $2)
          RETURNING id
        ), mark AS (
          INSERT INTO ${s}.event_floor (singleton, pruned_through)
          SELECT true, max(id) FROM deleted HAVING count(*) > 0
          ON CONFLICT (singleton) DO UPDATE SET pruned_through = greatest(${s}.event_floor.pruned_through, excluded.pruned_through)
        )
        SELECT count(*)::int AS deleted FROM deleted`,
    },
  };
}

export type EventStatements = ReturnType<typeof eventStatements>;

export interface PgEventContext {
  pool: pg.Pool;
  sql: EventStatements;
  now(): Date | null;
}

/** A cursor as a bigint literal: anything that is not a non-negative decimal reads from the start. */
function cursorOf(afterId: string): string {
  return /^\d{1,18}$/.test(afterId) ? afterId : '0';
}

export async function appendEvents(ctx: PgEventContext, events: readonly EventInsert[]): Promise<void> {
  if (events.length === 0) return;
  await inTransaction(ctx.pool, async (client) => {
    await run(client, ctx.sql.lock, []);
    await run(client, ctx.sql.append, [
      ctx.now(),
      events.map((event) => event.type),
      events.map((event) => event.queue),
      events.map((event) => event.jobName),
      events.map((event) => event.jobId),
      events.map((event) => event.data),
    ]);
  });
}

export async function listEvents(ctx: PgEventContext, params: { afterId: string; limit: number; filter?: EventListFilter }): Promise<EventRecord[]> {
  if (params.limit <= 0) return [];
  const { rows } = await run<{ id: string; at: Date; type: string; queue: string | null; job_name: string | null; job_id: string | null; data: string }>(
    ctx.pool,
    ctx.sql.list,
    [cursorOf(params.afterId), params.limit, params.filter?.types ?? null, params.filter?.queues ?? null, params.filter?.names ?? null],
  );
  return rows.map((row) => ({ id: row.id, at: row.at, type: row.type, queue: row.queue, jobName: row.job_name, jobId: row.job_id, data: row.data }));
}

export async function eventBounds(ctx: PgEventContext): Promise<{ newestId: string | null; prunedThroughId: string | null }> {
  const { rows } = await run<{ newest: string | null; pruned: string | null }>(ctx.pool, ctx.sql.bounds, []);
  return { newestId: rows[0]?.newest ?? null, prunedThroughId: rows[0]?.pruned ?? null };
}

export async function pruneEvents(ctx: PgEventContext, params: { before: Date; limit: number }): Promise<{ deleted: number }> {
  if (params.limit <= 0) return { deleted: 0 };
  const { rows } = await run<{ deleted: number }>(ctx.pool, ctx.sql.prune, [params.before, params.limit]);
  return { deleted: rows[0]?.deleted ?? 0 };
}
