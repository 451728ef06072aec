import { describe, expect, it } from 'vitest';
import { parseCron } from '../../src/scheduler/cron-expression.js';
import { fireTimesBetween, nextFireTime } from '../../src/scheduler/next-fire.js';
import { wallClockMs } from '../../src/scheduler/time-zone.js';

/** Fire times in [start, end) as ISO strings. */
function fires(cron: string, timezone: string, startIso: string, endIso: string): string[] {
  const expression = parseCron(cron);
  return fireTimesBetween(expression, timezone, Date.parse(startIso) - 1, Date.parse(endIso) - 1, 10_000).map((ms) => new Date(ms).toISOString());
}

/** Local wall-clock reading of an instant, `YYYY-MM-DD HH:MM:SS`. */
function local(timezone: string, iso: string): string {
  return new Date(wallClockMs(timezone, Date.parse(iso))).toISOString().slice(0, 19).replace('T', ' ');
}

describe('nextFireTime across daylight-saving changes', () => {
  it('0 2 * * * in New York fires once at 03:00 local on the spring-forward day (2026-03-08)', () => {
    const times = fires('0 2 * * *', 'America/New_York', '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z');
    expect(times.map((iso) => local('America/New_York', iso))).toEqual(['2026-03-07 02:00:00', '2026-03-08 03:00:00', '2026-03-09 02:00:00']);
    expect(times[1]).toBe('2026-03-08T07:00:00.000Z');
  });

  it('30 2 * * * in New York fires at the instant of the jump (03:00 local), not 03:30', () => {
    const times = fires('30 2 * * *', 'America/New_York', '2026-03-08T00:00:00Z', '2026-03-09T00:00:00Z');
    expect(times).toEqual(['2026-03-08T07:00:00.000Z']);
  });

  it('30 1 * * * in New York fires once, at the first 01:30, on the fall-back day (2026-11-01)', () => {
    const times = fires('30 1 * * *', 'America/New_York', '2026-10-31T00:00:00Z', '2026-11-03T00:00:00Z');
    expect(times).toEqual(['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });

  it('a fixed-hour schedule asked from inside the repeated hour does not fire again', () => {
    // 06:10Z is 01:10 EST, the second pass of 01:xx; 01:30 already fired at 05:30Z.
    const next = nextFireTime(parseCron('30 1 * * *'), 'America/New_York', Date.parse('2026-11-01T06:10:00Z'));
    expect(new Date(next ?? 0).toISOString()).toBe('2026-11-02T06:30:00.000Z');
  });

  it('a fixed-hour schedule asked from just before the jump fires at the jump', () => {
    const next = nextFireTime(parseCron('15 2 * * *'), 'America/New_York', Date.parse('2026-03-08T06:59:59Z'));
    expect(new Date(next ?? 0).toISOString()).toBe('2026-03-08T07:00:00.000Z');
  });

  it('0 * * * * in London fires 23 times on 2026-03-29 and 25 times on 2026-10-25', () => {
    // Local midnight to local midnight: GMT before the spring change, BST before the autumn one.
    const spring = fires('0 * * * *', 'Europe/London', '2026-03-29T00:00:00Z', '2026-03-29T23:00:00Z');
    expect(spring).toHaveLength(23);
    expect(spring.map((iso) => local('Europe/London', iso).slice(11, 13))).not.toContain('01');
    const autumn = fires('0 * * * *', 'Europe/London', '2026-10-24T23:00:00Z', '2026-10-26T00:00:00Z');
    expect(autumn).toHaveLength(25);
    expect(autumn.filter((iso) => local('Europe/London', iso).slice(11, 13) === '01')).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z']);
  });

  it('*/15 * * * * fires on every elapsed quarter hour across both changes in New York', () => {
    const spring = fires('*/15 * * * *', 'America/New_York', '2026-03-08T05:00:00Z', '2026-03-08T09:00:00Z');
    expect(spring).toHaveLength(16);
    for (let i = 1; i < spring.length; i++) expect(Date.parse(spring[i]!) - Date.parse(spring[i - 1]!)).toBe(900_000);
    const autumn = fires('*/15 * * * *', 'America/New_York', '2026-11-01T04:00:00Z', '2026-11-01T08:00:00Z');
    expect(autumn).toHaveLength(16);
    for (let i = 1; i < autumn.length; i++) expect(Date.parse(autumn[i]!) - Date.parse(autumn[i - 1]!)).toBe(900_000);
  });

  it('a daily schedule at a fixed hour runs once a day all year round in a DST zone', () => {
    const times = fires('0 2 * * *', 'Europe/Berlin', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z');
    expect(times).toHaveLength(365);
    const days = new Set(times.map((iso) => local('Europe/Berlin', iso).slice(0, 10)));
    expect(days.size).toBe(365);
  });

  it('matches UTC and zone-less schedules exactly like croner', () => {
    expect(fires('0 9 * * MON-FRI', 'UTC', '2026-01-01T00:00:00Z', '2026-01-08T00:00:00Z')).toEqual([
      '2026-01-01T09:00:00.000Z',
      '2026-01-02T09:00:00.000Z',
      '2026-01-05T09:00:00.000Z',
      '2026-01-06T09:00:00.000Z',
      '2026-01-07T09:00:00.000Z',
    ]);
    expect(fires('*/20 * * * * *', 'UTC', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z')).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
    ]);
  });

  it('day-of-month and day-of-week both restricted: either matches (Vixie)', () => {
    const days = fires('0 0 1 * MON', 'UTC', '2026-01-01T00:00:00Z', '2026-02-03T00:00:00Z').map((iso) => iso.slice(0, 10));
    expect(days).toEqual(['2026-01-01', '2026-01-05', '2026-01-12', '2026-01-19', '2026-01-26', '2026-02-01', '2026-02-02']);
  });

  it('finds far-away fire times (leap days) and is strictly after the given instant', () => {
    const leap = nextFireTime(parseCron('0 0 29 2 *'), 'Europe/Paris', Date.parse('2026-01-01T00:00:00Z'));
    expect(new Date(leap ?? 0).toISOString()).toBe('2028-02-28T23:00:00.000Z');
    const at = Date.parse('2026-01-01T09:00:00Z');
    expect(nextFireTime(parseCron('0 9 * * *'), 'UTC', at)).toBe(at + 86_400_000);
    expect(nextFireTime(parseCron('0 9 * * *'), 'UTC', at - 1)).toBe(at);
  });
});
