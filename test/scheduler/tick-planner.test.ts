import { describe, expect, it } from 'vitest';
import { parseCron } from '../../src/scheduler/cron-expression.js';
import { planDueTicks } from '../../src/scheduler/tick-planner.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

describe('planDueTicks', () => {
  const hourly = parseCron('0 * * * *');

  it('claims an on-time tick and points at the next one', () => {
    const plan = planDueTicks({ cron: hourly, timezone: 'UTC', nextRunAtMs: at('2026-01-01T10:00:00Z'), nowMs: at('2026-01-01T10:00:02Z'), graceMs: 60_000, catchUp: 0 });
    expect(plan.claims.map((c) => [iso(c.fireAt), c.status, iso(c.nextRunAt)])).toEqual([['2026-01-01T10:00:00.000Z', 'enqueued', '2026-01-01T11:00:00.000Z']]);
    expect(plan.missed).toBeNull();
    expect(iso(plan.nextRunAt)).toBe('2026-01-01T11:00:00.000Z');
  });

  it('skips missed ticks by default and reports them', () => {
    const plan = planDueTicks({ cron: hourly, timezone: 'UTC', nextRunAtMs: at('2026-01-01T03:00:00Z'), nowMs: at('2026-01-01T10:30:00Z'), graceMs: 60_000, catchUp: 0 });
    expect(plan.claims).toEqual([]);
    expect(plan.missed).toEqual({ count: 8, first: at('2026-01-01T03:00:00Z'), last: at('2026-01-01T10:00:00Z') });
    expect(iso(plan.nextRunAt)).toBe('2026-01-01T11:00:00.000Z');
  });

  it('catches up the N most recent missed ticks, then the on-time one', () => {
    const plan = planDueTicks({ cron: hourly, timezone: 'UTC', nextRunAtMs: at('2026-01-01T03:00:00Z'), nowMs: at('2026-01-01T10:00:30Z'), graceMs: 60_000, catchUp: 2 });
    expect(plan.claims.map((c) => [iso(c.fireAt), c.status, iso(c.nextRunAt)])).toEqual([
      ['2026-01-01T08:00:00.000Z', 'catch_up', '2026-01-01T09:00:00.000Z'],
      ['2026-01-01T09:00:00.000Z', 'catch_up', '2026-01-01T10:00:00.000Z'],
      ['2026-01-01T10:00:00.000Z', 'enqueued', '2026-01-01T11:00:00.000Z'],
    ]);
    expect(plan.missed).toEqual({ count: 5, first: at('2026-01-01T03:00:00Z'), last: at('2026-01-01T07:00:00Z') });
  });

  it('catches up fewer when fewer were missed, and searches far back for rare schedules', () => {
    const yearly = parseCron('@yearly');
    const plan = planDueTicks({ cron: yearly, timezone: 'UTC', nextRunAtMs: at('2020-01-01T00:00:00Z'), nowMs: at('2026-06-01T00:00:00Z'), graceMs: 60_000, catchUp: 3 });
    expect(plan.claims.map((c) => iso(c.fireAt))).toEqual(['2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']);
    expect(plan.missed?.count).toBe(4);
    const all = planDueTicks({ cron: yearly, timezone: 'UTC', nextRunAtMs: at('2025-01-01T00:00:00Z'), nowMs: at('2026-06-01T00:00:00Z'), graceMs: 60_000, catchUp: 10 });
    expect(all.claims.map((c) => iso(c.fireAt))).toEqual(['2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']);
    expect(all.missed).toBeNull();
  });

  it('claims every tick within the grace window of a seconds schedule', () => {
    const everySecond = parseCron('* * * * * *');
    const plan = planDueTicks({ cron: everySecond, timezone: 'UTC', nextRunAtMs: at('2026-01-01T00:00:00Z'), nowMs: at('2026-01-01T00:00:04.500Z'), graceMs: 60_000, catchUp: 0 });
    expect(plan.claims.map((c) => c.fireAt - at('2026-01-01T00:00:00Z'))).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(iso(plan.nextRunAt)).toBe('2026-01-01T00:00:05.000Z');
  });

  it('ignores a stored next run that is not a fire time of the (changed) expression', () => {
    const plan = planDueTicks({ cron: hourly, timezone: 'UTC', nextRunAtMs: at('2026-01-01T10:17:00Z'), nowMs: at('2026-01-01T10:30:00Z'), graceMs: 60_000, catchUp: 0 });
    expect(plan.claims).toEqual([]);
    expect(plan.missed).toBeNull();
    expect(iso(plan.nextRunAt)).toBe('2026-01-01T11:00:00.000Z');
  });
});
