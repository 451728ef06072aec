/**
 * The process registry on PostgreSQL: one row per live process, upserted by its heartbeat. Time
 * is the server's (`$1` is the injected test clock, or NULL for `now()`, as in job-statements).
 */
import type pg from 'pg';
import type { ProcessRecord } from '../types.js';
import { run } from './postgres-jobs.js';
import type { SchemaNames } from './schema-name.js';

const NOW = 'coalesce($1::timestamptz, now())';

export function processStatements(names: SchemaNames) {
  const s = names.quoted;
  return {
    // The upsert and the clean-up of long-dead rows in one statement: one round trip per beat.
    heartbeat: {
      text: `
        WITH upserted AS (
          INSERT INTO ${s}.processes (id, info, first_seen_at, last_seen_at) VALUES ($2, $3, ${NOW}, ${NOW})
          ON CONFLICT (id) DO UPDATE SET info = excluded.info, last_seen_at = excluded.last_seen_at
          RETURNING id
        )
        DELETE FROM ${s}.processes WHERE last_seen_at < ${NOW} - $4::float8 * interval '1 millisecond' AND id NOT IN (SELECT id FROM upserted)`,
    },
    list: {
      text: `SELECT id, info, first_seen_at, last_seen_at FROM ${s}.processes
             WHERE last_seen_at >= ${NOW} - $2::float8 * interval '1 millisecond' ORDER BY id`,
    },
    remove: { text: `DELETE FROM ${s}.processes WHERE id = $1` },
  };
}

export type ProcessStatements = ReturnType<typeof processStatements>;

export interface PgProcessContext {
  pool: pg.Pool;
  sql: ProcessStatements;
  now(): Date | null;
}

export async function processHeartbeat(ctx: PgProcessContext, params: { id: string; info: string; forgetAfterMs: number }): Promise<void> {
  await run(ctx.pool, ctx.sql.heartbeat, [ctx.now(), params.id, params.info, params.forgetAfterMs]);
}

export async function processList(ctx: PgProcessContext, params: { seenWithinMs: number }): Promise<ProcessRecord[]> {
  const { rows } = await run<{ id: string; info: string; first_seen_at: Date; last_seen_at: Date }>(ctx.pool, ctx.sql.list, [ctx.now(), params.seenWithinMs]);
  return rows.map((row) => ({ id: row.id, info: row.info, firstSeenAt: row.first_seen_at, lastSeenAt: row.last_seen_at }));
}

export async function processRemove(ctx: PgProcessContext, params: { id: string }): Promise<void> {
  await run(ctx.pool, ctx.sql.remove, [params.id]);
}
