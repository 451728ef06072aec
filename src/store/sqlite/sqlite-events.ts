/**
 * The event feed on SQLite: one row per batch (store/event-batches.ts), its bytes a BLOB in the
 * `events` column (rows of earlier formats hold text or packed text), read after a cursor,
 * pruned by whole batches with a mark. Ids are integers here and decimal strings at the Store
 * boundary.
 */
import { collectEvents, eventCursor, pickPrunable, type StoredEventBatch } from '../event-batches.js';
import type { EventBatch, EventListFilter, EventRecord } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';

/** Batches read per statement while collecting a page of events. */
const BATCHES_PER_READ = 16;

/** Inserts the batches of one or more appends, in order, in one transaction: an append is seen whole or not at all. */
export function appendEventBatches(ctx: SqliteContext, batches: readonly EventBatch[]): void {
  if (batches.length === 0) return;
  const statements = ctx.statements();
  const now = ctx.now();
  ctx.db
    .transaction(() => {
      for (const batch of batches) statements.eventBatchAppend.run({ now, n: batch.count, events: batch.bytes });
    })
    .immediate();
}

export function listEvents(ctx: SqliteContext, params: { afterId: string; limit: number; filter?: EventListFilter }): EventRecord[] {
  if (params.limit <= 0) return [];
  const cursor = eventCursor(params.afterId);
  const statements = ctx.statements();
  const out: EventRecord[] = [];
  let from = cursor.batch;
  // One read transaction: the pages of batches come from one snapshot.
  return ctx.db.transaction(() => {
    for (;;) {
      const rows = statements.eventBatchList.all({ from, limit: BATCHES_PER_READ }) as { id: number; at: number; events: string | Buffer }[];
      for (const row of rows) {
        const batch: StoredEventBatch = { id: row.id, at: new Date(row.at), events: row.events };
        if (!collectEvents(batch, cursor, params.filter, params.limit, out)) return out;
      }
      if (rows.length < BATCHES_PER_READ) return out;
      from = rows[rows.length - 1]!.id + 1;
    }
  })();
}

export function eventBounds(ctx: SqliteContext): { newestId: string | null; prunedThroughId: string | null } {
  const row = ctx.statements().eventBounds.get() as { newest: number | null; pruned: number | null };
  return { newestId: row.newest === null ? null : String(row.newest), prunedThroughId: row.pruned === null ? null : String(row.pruned) };
}

export function pruneEvents(ctx: SqliteContext, params: { before: Date; limit: number }): { deleted: number } {
  if (params.limit <= 0) return { deleted: 0 };
  const statements = ctx.statements();
  const before = params.before.getTime();
  // IMMEDIATE: the delete and the raised mark commit together, so a reader never sees events
  // gone without the mark that tells it they may be missing.
  return ctx.db
    .transaction(() => {
      const candidates = statements.eventPrunable.all({ before, limit: params.limit }) as { id: number; count: number }[];
      const picked = pickPrunable(candidates, params.limit);
      if (picked.lastId === null) return { deleted: 0 };
      statements.eventBatchDeleteThrough.run({ through: picked.ids[picked.ids.length - 1]!, before });
      statements.eventFloorRaise.run({ id: Number(picked.lastId) });
      return { deleted: picked.events };
    })
    .immediate();
}
