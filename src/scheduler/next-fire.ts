/**
 * Next-fire computation in a time zone, with the Vixie cron rule for daylight-saving changes.
 *
 * Cron fields describe wall-clock times; a zone maps each wall-clock time to zero, one or two real
 * instants. The rule applied (docs/scheduling.md has worked examples):
 * - Fixed-hour schedules (`0 2 * * *`, `30 1 * * *`): a wall-clock time that does not exist
 *   (spring forward) fires once, at the first instant after the jump; a wall-clock time that occurs
 *   twice (fall back) fires once, at its first occurrence.
 * - Wildcard/step-hour schedules (`0 * * * *`, `*\/15 * * * *`): fire at every instant whose
 *   wall-clock time matches — nothing in the skipped hour, both occurrences in the repeated hour —
 *   so an hourly schedule fires 23 times on the spring-forward day and 25 on the fall-back day.
 *
 * croner alone handles neither repeated hours (it drops first occurrences) nor skipped times of
 * non-zero minutes (it shifts `30 2 * * *` to 03:30 instead of the instant of the jump), so croner
 * only matches on the naive timeline and this module walks the zone's offset segments itself.
 */
import { parseCronCached, type CronExpression } from './cron-expression.js';
import { findOffsetTransition, zoneOffsetMs } from './time-zone.js';

/**
 * Longest stretch searched for an offset change at once. It must be shorter than the shortest gap
 * between two transitions of any zone (about four weeks, Morocco around Ramadan): two transitions
 * inside one window could cancel out and go unnoticed.
 */
const SEGMENT_MS = 7 * 24 * 3600_000;
/** Longer than any single DST shift in the IANA database (2 h at most). */
const MAX_SHIFT_MS = 3 * 3600_000;
/** Bounds the walk; ~400 weekly segments cover the longest cron gap (8 years for `0 0 29 2 *`). */
const MAX_STEPS = 2000;

/** Fixed-offset zones need no segment walk: their naive timeline is the real one, shifted. */
function hasFixedOffset(timezone: string): boolean {
  return timezone === 'UTC' || timezone === 'Etc/UTC' || timezone === 'GMT' || timezone === 'Etc/GMT';
}

/**
 * When `fromMs` lies in the second pass of a fall-back hour (wall-clock times already seen),
 * returns the end of that pass; otherwise `fromMs`. Fixed-hour schedules never fire in it.
 */
function skipRepeatedWallTime(timezone: string, fromMs: number): number {
  const offsetNow = zoneOffsetMs(timezone, fromMs);
  const offsetBefore = zoneOffsetMs(timezone, fromMs - MAX_SHIFT_MS);
  if (offsetBefore <= offsetNow) return fromMs;
  const transition = findOffsetTransition(timezone, fromMs - MAX_SHIFT_MS, fromMs);
  if (transition === null) return fromMs;
  const repeatedUntil = transition + (offsetBefore - offsetNow);
  return fromMs < repeatedUntil ? repeatedUntil : fromMs;
}

/**
 * The first fire time of `cron` in `timezone` strictly after `afterMs` (ms since the epoch), or
 * null if it never fires again. Fire times are whole seconds. `timezone` must have been validated
 * (time-zone.ts `normalizeTimeZone`).
 */
export function nextFireTime(cron: CronExpression, timezone: string, afterMs: number): number | null {
  // Inclusive lower bound on the whole-second grid.
  let from = Math.floor(afterMs / 1000) * 1000 + 1000;
  if (hasFixedOffset(timezone)) return cron.nextNaive(from - 1000);

  if (cron.fixedHour) {
    from = skipRepeatedWallTime(timezone, from);
    // A spring-forward jump exactly at `from`: its skipped wall times fire at `from` itself.
    const offsetBefore = zoneOffsetMs(timezone, from - 1000);
    const offsetAt = zoneOffsetMs(timezone, from);
    if (offsetAt > offsetBefore) {
      const skipped = cron.nextNaive(from + offsetBefore - 1000);
      if (skipped !== null && skipped < from + offsetAt) return from;
    }
  }

  for (let step = 0; step < MAX_STEPS; step++) {
    const offset = zoneOffsetMs(timezone, from);
    const naive = cron.nextNaive(from + offset - 1000);
    if (naive === null) return null;
    const candidate = naive - offset;
    const windowEnd = from + SEGMENT_MS;
    const transition = findOffsetTransition(timezone, from, Math.min(candidate, windowEnd));
    if (transition === null) {
      // The offset holds from `from` to the candidate (or to the window's end, with no match in it).
      if (candidate <= windowEnd) return candidate;
      from = windowEnd;
      continue;
    }
    // No match before the transition (the first match under `offset` is at or after it).
    const offsetAfter = zoneOffsetMs(timezone, transition);
    if (offsetAfter > offset) {
      // Spring forward: naive [transition + offset, transition + offsetAfter) never happens.
      if (cron.fixedHour) {
        const skipped = cron.nextNaive(transition + offset - 1000);
        if (skipped !== null && skipped < transition + offsetAfter) return transition;
      }
      from = transition;
    } else {
      // Fall back: the next (offset − offsetAfter) ms repeat wall times already passed.
      from = cron.fixedHour ? transition + (offset - offsetAfter) : transition;
    }
  }
  return null;
}

/**
 * Fire times of `cron` in `timezone` in `(afterMs, untilMs]`, oldest first, at most `limit` of them
 * (the earliest ones). Used to list due ticks and to preview a schedule.
 */
export function fireTimesBetween(cron: CronExpression, timezone: string, afterMs: number, untilMs: number, limit: number): number[] {
  const times: number[] = [];
  let cursor = afterMs;
  while (times.length < limit) {
    const next = nextFireTime(cron, timezone, cursor);
    if (next === null || next > untilMs) break;
    times.push(next);
    cursor = next;
  }
  return times;
}

/**
 * The next fire time of a stored schedule strictly after `afterMs`, or null when it is disabled or
 * never fires again. Throws `INVALID_CRON` for a corrupt stored expression.
 */
export function scheduleNextRun(schedule: { cron: string; timezone: string; enabled: boolean }, afterMs: number): Date | null {
  if (!schedule.enabled) return null;
  const next = nextFireTime(parseCronCached(schedule.cron), schedule.timezone, afterMs);
  return next === null ? null : new Date(next);
}
