/**
 * Which ticks of a schedule are due, and which of them to claim, given the store's time. Pure: no
 * store, no clock — the scheduler passes everything in, tests call it directly.
 *
 * A tick is due when its fire time is ≤ now. A due tick is *on time* when now − fireAt ≤ graceMs
 * (the scheduler was up, perhaps a little late); older due ticks are *missed* (nothing ran when
 * they came). On-time ticks are all claimed; of the missed ones only the `catchUp` most recent are,
 * the others are skipped without a trace in the tick table (they were never claimed).
 */
import type { CronExpression } from './cron-expression.js';
import { fireTimesBetween, nextFireTime } from './next-fire.js';

/** Most ticks claimed for one schedule in one pass; the rest wait for the next pass. */
export const MAX_CLAIMS_PER_PASS = 1000;
/** Most missed ticks counted for the report (a seconds schedule down for a day misses 86 400). */
export const MAX_MISSED_COUNTED = 10_000;

/** How a planned tick is recorded: `enqueued` (on time) or `catch_up` (missed, run afterwards). */
export type PlannedTickStatus = 'enqueued' | 'catch_up';

export interface PlannedTick {
  fireAt: number;
  status: PlannedTickStatus;
  /** The schedule's next fire time once this tick is claimed. */
  nextRunAt: number | null;
}

export interface TickPlan {
  /** Ticks to claim, oldest first. */
  claims: PlannedTick[];
  /** Missed ticks left out: how many (capped at MAX_MISSED_COUNTED), the first and the last. */
  missed: { count: number; first: number; last: number } | null;
  /** The schedule's next fire time after this plan (what to store if no claim carries it). */
  nextRunAt: number | null;
}

export interface PlanParams {
  cron: CronExpression;
  timezone: string;
  /** The stored next fire time: the oldest tick that may still be unclaimed. */
  nextRunAtMs: number;
  /** The store's current time. */
  nowMs: number;
  graceMs: number;
  catchUp: number;
}

/** The last `count` fire times in `[fromMs, toMs]`, oldest first, searching backwards in growing windows. */
function lastFireTimes(params: PlanParams, fromMs: number, toMs: number, count: number): number[] {
  if (count <= 0 || toMs < fromMs) return [];
  let window = 3600_000;
  for (;;) {
    const start = Math.max(fromMs, toMs - window);
    // Enumerating from `start` is bounded: a window of 1 h holds at most 3 600 ticks, and the window
    // only grows while it holds fewer than `count` (≤ MAX_CATCH_UP) of them.
    const times = fireTimesBetween(params.cron, params.timezone, start - 1, toMs, Number.MAX_SAFE_INTEGER);
    if (times.length >= count || start === fromMs) return times.slice(-count);
    window *= 4;
  }
}

/** Plans the claims of one schedule whose `nextRunAtMs` ≤ `nowMs`. */
export function planDueTicks(params: PlanParams): TickPlan {
  const { cron, timezone, nextRunAtMs, nowMs, graceMs } = params;
  const missedUntil = nowMs - graceMs - 1;
  const onTime = fireTimesBetween(cron, timezone, Math.max(nextRunAtMs, missedUntil + 1) - 1, nowMs, MAX_CLAIMS_PER_PASS);

  let missed: TickPlan['missed'] = null;
  let caughtUp: number[] = [];
  if (nextRunAtMs <= missedUntil) {
    caughtUp = lastFireTimes(params, nextRunAtMs, missedUntil, Math.min(params.catchUp, MAX_CLAIMS_PER_PASS));
    const skippedUntil = caughtUp.length > 0 ? (caughtUp[0] as number) - 1 : missedUntil;
    const skipped = fireTimesBetween(cron, timezone, nextRunAtMs - 1, skippedUntil, MAX_MISSED_COUNTED);
    if (skipped.length > 0) {
      // The last skipped tick is the one just before the caught-up ones (or before the grace window).
      const last = skipped.length < MAX_MISSED_COUNTED ? (skipped[skipped.length - 1] as number) : lastFireTimes(params, nextRunAtMs, skippedUntil, 1)[0] ?? (skipped[skipped.length - 1] as number);
      missed = { count: skipped.length, first: skipped[0] as number, last };
    }
  }

  const fireTimes: { fireAt: number; status: PlannedTickStatus }[] = [
    ...caughtUp.map((fireAt) => ({ fireAt, status: 'catch_up' as const })),
    ...onTime.map((fireAt) => ({ fireAt, status: 'enqueued' as const })),
  ].slice(0, MAX_CLAIMS_PER_PASS);
  const claims: PlannedTick[] = fireTimes.map((tick, index) => ({
    ...tick,
    nextRunAt: fireTimes[index + 1]?.fireAt ?? nextFireTime(cron, timezone, tick.fireAt),
  }));
  const nextRunAt = claims.length > 0 ? (claims[claims.length - 1] as PlannedTick).nextRunAt : nextFireTime(cron, timezone, nowMs);
  return { claims, missed, nextRunAt };
}
