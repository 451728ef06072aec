/**
 * Checks nextFireTime against a brute-force reading of the DST rule, minute by minute, around every
 * offset change of 2026 in zones with unusual changes (30-minute shifts, changes at midnight,
 * Ramadan suspensions). The rule, stated over instants t in time order with wall(t) their
 * wall-clock reading:
 * - wildcard/step hour: fire at t iff wall(t) matches;
 * - fixed hour: fire at t iff some matching wall time W has maxWallBefore(t) < W ≤ wall(t), where
 *   maxWallBefore(t) is the latest wall time already shown — so a repeated wall time fires once
 *   (first occurrence) and skipped ones fire at the first instant after the jump.
 */
import { describe, expect, it } from 'vitest';
import { parseCron } from '../../src/scheduler/cron-expression.js';
import { fireTimesBetween } from '../../src/scheduler/next-fire.js';
import { findOffsetTransition, wallClockMs } from '../../src/scheduler/time-zone.js';

const ZONES = ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'America/Santiago', 'Africa/Casablanca', 'Asia/Kolkata'];
const PATTERNS = ['0 2 * * *', '30 1 * * *', '*/20 0-3 * * *', '0 0 * * *', '45 23 * * *', '0 * * * *', '*/15 * * * *', '30 */2 * * *'];
const MINUTE = 60_000;
const DAY = 86_400_000;

function transitions2026(zone: string): number[] {
  const found: number[] = [];
  for (let from = Date.UTC(2026, 0, 1); from < Date.UTC(2027, 0, 1); from += 7 * DAY) {
    let cursor = from;
    for (;;) {
      const at = findOffsetTransition(zone, cursor, Math.min(from + 7 * DAY, Date.UTC(2027, 0, 1)));
      if (at === null) break;
      found.push(at);
      cursor = at;
    }
  }
  return found;
}

function bruteForce(pattern: string, zone: string, start: number, end: number): number[] {
  const cron = parseCron(pattern);
  const matches = (wall: number): boolean => cron.nextNaive(wall - 1000) === wall;
  const fires: number[] = [];
  let maxWall = wallClockMs(zone, start - MINUTE);
  for (let t = start; t < end; t += MINUTE) {
    const wall = wallClockMs(zone, t);
    if (cron.fixedHour) {
      // Any matching minute in (maxWall, wall]? Walk it minute by minute (jumps are ≤ 2 h).
      let fire = false;
      for (let w = maxWall + MINUTE; w <= wall && !fire; w += MINUTE) fire = matches(w);
      if (fire) fires.push(t);
    } else if (matches(wall)) {
      fires.push(t);
    }
    maxWall = Math.max(maxWall, wall);
  }
  return fires;
}

describe('nextFireTime agrees with the DST rule around every 2026 offset change', () => {
  for (const zone of ZONES) {
    it(zone, () => {
      const changes = transitions2026(zone);
      if (zone === 'Asia/Kolkata') expect(changes).toEqual([]);
      else expect(changes.length).toBeGreaterThanOrEqual(2);
      // One ordinary window too, so zones without changes are checked as well.
      const windows = [Date.UTC(2026, 5, 15), ...changes].map((at) => [Math.floor((at - DAY) / MINUTE) * MINUTE, at + DAY] as const);
      for (const pattern of PATTERNS) {
        for (const [start, end] of windows) {
          const expected = bruteForce(pattern, zone, start, end);
          const actual = fireTimesBetween(parseCron(pattern), zone, start - 1, end - 1, 10_000);
          expect(actual.map((ms) => new Date(ms).toISOString()), `${pattern} in ${zone} around ${new Date(end - DAY).toISOString()}`).toEqual(
            expected.map((ms) => new Date(ms).toISOString()),
          );
        }
      }
    });
  }
});
