import type { SchemaNames } from './schema-name.js';
import type { Statement } from './job-statements.js';

/**
 * The PostgreSQL store's statements for cron tick retention, one named statement each. Same rules
 * as job-statements.ts: the schema is interpolated only as the identifier quoted by
 * `escapeIdentifier`, every value is a bound parameter. Neither is on a hot path, so neither is
 * prepared by name.
 */
export interface TickStatements {
  /** `$1` claimedBefore, `$2` limit → one row `{ deleted }`. */
  prune: Statement;
  /** `$1` schedule id, `$2` fire time → one row `{ pruned }`: whether the fire time is at or below the prune mark. */
  pruned: Statement;
}

export function tickStatements(names: SchemaNames): TickStatements {
  const s = names.quoted;
  return {
    // One statement, so the deletes and the raised marks commit together: a claim that comes after
    // sees the mark, whatever it saw of the rows. Candidates are claimed and fired before $1, oldest
    // claim first (schedule_ticks_claimed_idx), never the newest tick of a schedule id (the max is
    // one seek in the primary key). SKIP LOCKED lets two pruners share the work without waiting.
    // The GROUP BY gives ON CONFLICT at most one row per schedule id, and greatest() means a mark
    // only goes up when pruners race.
    prune: {
      text: `
        WITH doomed AS (
          SELECT t.schedule_id, t.fire_at FROM ${s}.schedule_ticks t
          WHERE t.claimed_at < $1::timestamptz
            AND t.fire_at < $1::timestamptz
            AND t.fire_at < (SELECT max(n.fire_at) FROM ${s}.schedule_ticks n WHERE n.schedule_id = t.schedule_id)
          ORDER BY t.claimed_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED
        ), gone AS (
          DELETE FROM ${s}.schedule_ticks t USING doomed d
          WHERE t.schedule_id = d.schedule_id AND t.fire_at = d.fire_at
          RETURNING t.schedule_id, t.fire_at
        ), marks AS (
          INSERT INTO ${s}.schedule_tick_floors AS f (schedule_id, pruned_through)
          SELECT schedule_id, max(fire_at) FROM gone GROUP BY schedule_id
          ON CONFLICT (schedule_id) DO UPDATE SET pruned_through = greatest(f.pruned_through, excluded.pruned_through)
        )
        SELECT count(*)::int AS deleted FROM gone`,
    },
    pruned: {
      text: `SELECT EXISTS (SELECT 1 FROM ${s}.schedule_tick_floors WHERE schedule_id = $1 AND pruned_through >= $2::timestamptz) AS pruned`,
    },
  };
}
