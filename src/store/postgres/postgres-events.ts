/**
 * The event feed on PostgreSQL: one row per append (store/event-batches.ts), read after a cursor,
 * pruned by whole batches with a mark. Time is the server's (`$1` is the injected test clock, or
 * NULL for `now()`).
 *
 * Ordering. An identity (sequence) id is taken when a row is inserted, not when it commits: two
 * appending transactions may take batch ids 10 and 11 and commit 11 first, and a reader that saw
 * 11 and moved its cursor there would never see 10. Each append therefore runs in its own
 * transaction that first takes `SHARE ROW EXCLUSIVE` on the batches table — a mode that conflicts
 * with itself but not with readers (`ACCESS SHARE`) — so appends take their ids and commit one
 * after the other: every id a later append takes is above every id of a committed one, and a
 * snapshot that sees an append sees every append before it. The cost is that appends queue
 * behind each other, which is cheap here: the core appends one batch per process every ~100 ms,
 * off the jobs' hot path. (Reading only "older than a lag" was the other choice; it delays every
 * reader and is still wrong for a transaction slower than the lag.) A rolled-back append leaves a
 * gap in the ids, never an id below a cursor.
 */
import type pg from 'pg';
import { collectEvents, EVENTS_PER_BATCH, eventCursor, pickPrunable } from '../event-batches.js';
import type { EventBatch, EventListFilter, EventRecord } from '../types.js';
import { run } from './postgres-jobs.js';
import type { SchemaNames } from './schema-name.js';
import { inTransaction } from './transaction.js';

const NOW = 'coalesce($1::timestamptz, now())';
/** Batches read per statement while collecting a page of events. */
const BATCHES_PER_READ = 16;

export function eventStatements(names: SchemaNames) {
  const s = names.quoted;
  return {
    lock: { text: `LOCK TABLE ${s}.event_batches IN SHARE ROW EXCLUSIVE MODE` },
    append: { text: `INSERT INTO ${s}.event_batches (at, n, packed) VALUES (${NOW}, $2, $3)` },
    // `id` comes back as text (node-postgres reads bigint as a string); ORDER BY must see the
    // bigint, so it is not cast here (an output column named id would be sorted as text).
    list: {
      text: `
        SELECT id, at, events, packed FROM ${s}.event_batches
        WHERE id >= $1::bigint
        ORDER BY id
        LIMIT $2`,
    },
    bounds: {
      text: `SELECT (SELECT id * ${EVENTS_PER_BATCH} + n - 1 FROM ${s}.event_batches ORDER BY id DESC LIMIT 1)::text AS newest,
                    (SELECT pruned_through FROM ${s}.event_floor WHERE singleton)::text AS pruned`,
    },
    // The oldest batches older than $1, locked so that two pruners never both count them.
    prunable: {
      text: `
        SELECT id, n AS count FROM ${s}.event_batches
        WHERE at < $1::timestamptz
        ORDER BY id
        LIMIT $2
        FOR UPDATE`,
    },
    // The delete and the raised mark in one statement, so they commit together.
    pruneThrough: {
      text: `
        WITH deleted AS (
          DELETE FROM ${s}.event_batches WHERE id <= $1::bigint AND at < $2::timestamptz RETURNING id
        )
        INSERT INTO ${s}.event_floor (singleton, pruned_through)
        SELECT true, $3::bigint WHERE EXISTS (SELECT 1 FROM deleted)
        ON CONFLICT (singleton) DO UPDATE SET pruned_through = greatest(${s}.event_floor.pruned_through, excluded.pruned_through)`,
    },
  };
}

export type EventStatements = ReturnType<typeof eventStatements>;

export interface PgEventContext {
  pool: pg.Pool;
  sql: EventStatements;
  now(): Date | null;
}

export async function appendEvents(ctx: PgEventContext, batches: readonly EventBatch[]): Promise<void> {
  if (batches.length === 0) return;
  await inTransaction(ctx.pool, async (client) => {
    await run(client, ctx.sql.lock, []);
    for (const batch of batches) await run(client, ctx.sql.append, [ctx.now(), batch.count, Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength)]);
  });
}

export async function listEvents(ctx: PgEventContext, params: { afterId: string; limit: number; filter?: EventListFilter }): Promise<EventRecord[]> {
  if (params.limit <= 0) return [];
  const cursor = eventCursor(params.afterId);
  const out: EventRecord[] = [];
  let from = cursor.batch;
  // Page after page of batches, each from its own snapshot: ids follow commit order (see the
  // module comment), so a later page only adds batches after the ones already read.
  for (;;) {
    const { rows } = await run<{ id: string; at: Date; events: string | null; packed: Buffer | null }>(ctx.pool, ctx.sql.list, [String(from), BATCHES_PER_READ]);
    for (const row of rows) {
      if (!collectEvents({ id: Number(row.id), at: row.at, events: row.packed ?? row.events ?? '' }, cursor, params.filter, params.limit, out)) return out;
    }
    if (rows.length < BATCHES_PER_READ) return out;
    from = Number(rows[rows.length - 1]!.id) + 1;
  }
}

export async function eventBounds(ctx: PgEventContext): Promise<{ newestId: string | null; prunedThroughId: string | null }> {
  const { rows } = await run<{ newest: string | null; pruned: string | null }>(ctx.pool, ctx.sql.bounds, []);
  return { newestId: rows[0]?.newest ?? null, prunedThroughId: rows[0]?.pruned ?? null };
}

export async function pruneEvents(ctx: PgEventContext, params: { before: Date; limit: number }): Promise<{ deleted: number }> {
  if (params.limit <= 0) return { deleted: 0 };
  return inTransaction(ctx.pool, async (client) => {
    const { rows } = await run<{ id: string; count: number }>(client, ctx.sql.prunable, [params.before, params.limit]);
    const picked = pickPrunable(
      rows.map((row) => ({ id: Number(row.id), count: row.count })),
      params.limit,
    );
    if (picked.lastId === null) return { deleted: 0 };
    await run(client, ctx.sql.pruneThrough, [String(picked.ids[picked.ids.length - 1]), params.before, picked.lastId]);
    return { deleted: picked.events };
  });
}
