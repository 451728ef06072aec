/**
 * The event feed on SQLite: append in one statement, read after a cursor, prune with a mark.
 * Ids are integers here and decimal strings at the Store boundary.
 */
import type { EventInsert, EventListFilter, EventRecord } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';

interface EventRow {
  id: number;
  at: number;
  type: string;
  queue: string | null;
  job_name: string | null;
  job_id: string | null;
  data: string;
}

/** A cursor as an integer: anything that is not a non-negative decimal reads from the start. */
function cursorOf(afterId: string): number {
  return /^\d{1,15}$/.test(afterId) ? Number(afterId) : 0;
}

export function appendEvents(ctx: SqliteContext, events: readonly EventInsert[]): void {
  if (events.length === 0) return;
  const rows = events.map((event) => [event.type, event.queue, event.jobName, event.jobId, event.data]);
  ctx.statements().eventAppendBatch.run({ now: ctx.now(), events: JSON.stringify(rows) });
}

export function listEvents(ctx: SqliteContext, params: { afterId: string; limit: number; filter?: EventListFilter }): EventRecord[] {
  if (params.limit <= 0) return [];
  const list = (values: string[] | undefined) => (values === undefined ? null : JSON.stringify(values));
  const rows = ctx.statements().eventList.all({
    after: cursorOf(params.afterId),
    limit: params.limit,
    types: list(params.filter?.types),
    queues: list(params.filter?.queues),
    names: list(params.filter?.names),
  }) as EventRow[];
  return rows.map((row) => ({
    id: String(row.id),
    at: new Date(row.at),
    type: row.type,
    queue: row.queue,
    jobName: row.job_name,
    jobId: row.job_id,
    data: row.data,
  }));
}

export function eventBounds(ctx: SqliteContext): { newestId: string | null; prunedThroughId: string | null } {
  const row = ctx.statements().eventBounds.get() as { newest: number | null; pruned: number | null };
  return { newestId: row.newest === null ? null : String(row.newest), prunedThroughId: row.pruned === null ? null : String(row.pruned) };
}

export function pruneEvents(ctx: SqliteContext, params: { before: Date; limit: number }): { deleted: number } {
  if (params.limit <= 0) return { deleted: 0 };
  const statements = ctx.statements();
  // IMMEDIATE: the delete and the raised mark commit together, so a reader never sees events
  // gone without the mark that tells it they may be missing.
  return ctx.db
    .transaction(() => {
      const deleted = statements.eventPrune.all({ before: params.before.getTime(), limit: params.limit }) as { id: number }[];
      if (deleted.length > 0) statements.eventFloorRaise.run({ id: Math.max(...deleted.map((row) => row.id)) });
      return { deleted: deleted.length };
    })
    .immediate();
}
