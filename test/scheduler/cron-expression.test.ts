import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { parseCron } from '../../src/scheduler/cron-expression.js';
import { fireTimesBetween } from '../../src/scheduler/next-fire.js';
import { normalizeTimeZone } from '../../src/scheduler/time-zone.js';

const firstFires = (expression: string, count = 3, fromIso = '2026-01-01T00:00:00Z'): string[] =>
  fireTimesBetween(parseCron(expression), 'UTC', Date.parse(fromIso) - 1, Number.MAX_SAFE_INTEGER, count).map((ms) => new Date(ms).toISOString());

function cronError(expression: unknown): ValidationError {
  try {
    parseCron(expression, 'schedules[0].schedule');
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`expected ${String(expression)} to be rejected`);
}

describe('parseCron', () => {
  it('accepts 5 and 6 fields, ranges, steps, lists, names and aliases', () => {
    expect(firstFires('0 9 * * MON-FRI')).toEqual(['2026-01-01T09:00:00.000Z', '2026-01-02T09:00:00.000Z', '2026-01-05T09:00:00.000Z']);
    expect(firstFires('*/20 * * * * *')).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z']);
    expect(firstFires('0 0 1 jan,Jul *')).toEqual(['2026-01-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    expect(firstFires('10-50/20 8 * * *')).toEqual(['2026-01-01T08:10:00.000Z', '2026-01-01T08:30:00.000Z', '2026-01-01T08:50:00.000Z']);
    expect(firstFires('0 12 * * 7', 1)).toEqual(['2026-01-04T12:00:00.000Z']); // 7 is Sunday
    expect(firstFires('0 0 L * *', 2)).toEqual(['2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
    expect(firstFires('0 0 * * FRI#L', 1)).toEqual(['2026-01-30T00:00:00.000Z']);
    expect(firstFires('@hourly', 2)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z']);
    expect(firstFires('@daily', 1, '2026-01-01T00:00:01Z')).toEqual(['2026-01-02T00:00:00.000Z']);
    expect(firstFires('@weekly', 1)).toEqual(['2026-01-04T00:00:00.000Z']);
    expect(firstFires('@monthly', 1, '2026-01-01T00:00:01Z')).toEqual(['2026-02-01T00:00:00.000Z']);
    expect(firstFires('@yearly', 1, '2026-01-01T00:00:01Z')).toEqual(['2027-01-01T00:00:00.000Z']);
  });

  it('normalizes whitespace and tells fixed-hour from wildcard-hour expressions', () => {
    expect(parseCron('  0   9 * *  * ').source).toBe('0 9 * * *');
    expect(parseCron('0 2 * * *').fixedHour).toBe(true);
    expect(parseCron('0 9-17 * * *').fixedHour).toBe(true);
    expect(parseCron('0 0 2 * * *').fixedHour).toBe(true);
    expect(parseCron('0 * * * *').fixedHour).toBe(false);
    expect(parseCron('*/15 * * * *').fixedHour).toBe(false);
    expect(parseCron('0 */2 * * *').fixedHour).toBe(false);
    expect(parseCron('@hourly').fixedHour).toBe(false);
    expect(parseCron('@daily').fixedHour).toBe(true);
    expect(parseCron('* * * * * *').hasSeconds).toBe(true);
  });

  it.each([
    ['61 * * * *', 'minute field: 61 is out of range 0–59'],
    ['* * *', 'expected 5 fields'],
    ['* * * * * * *', 'got 7'],
    ['*/0 * * * *', 'step must be at least 1'],
    ['*/61 * * * *', 'step 61 is larger'],
    ['0 0 31 2 *', 'never fires'],
    ['0 24 * * *', 'hour field: 24 is out of range 0–23'],
    ['0 0 0 * *', 'day-of-month field: 0 is out of range 1–31'],
    ['0 0 * 13 *', 'month field: 13 is out of range 1–12'],
    ['0 0 * * 8', 'day-of-week field: 8 is out of range 0–7'],
    ['0 0 * FOO *', 'month field: "FOO" is not a number 1–12 or a name (JAN…DEC)'],
    ['5-1 * * * *', 'starts after it ends'],
    ['1,,2 * * * *', 'empty list item'],
    ['0 0 ? * *', '"?" is not supported'],
    ['0 0 * * MON#6', '#1…#5 or #L'],
    ['@reboot', 'unknown alias'],
    ['', 'must be a cron expression'],
    [42, 'must be a cron expression'],
  ])('rejects %j', (expression, message) => {
    const error = cronError(expression);
    expect(error.code).toBe('INVALID_CRON');
    expect(error.message).toContain('schedules[0].schedule');
    expect(error.message).toContain(message);
    expect(error.issues[0]?.path).toBe('schedules[0].schedule');
  });
});

describe('normalizeTimeZone', () => {
  it('accepts IANA names (canonical case) and rejects unknown ones with INVALID_TIMEZONE', () => {
    expect(normalizeTimeZone('America/New_York')).toBe('America/New_York');
    expect(normalizeTimeZone('europe/london')).toBe('Europe/London');
    expect(normalizeTimeZone('UTC')).toBe('UTC');
    for (const bad of ['America/New_Yrok', 'Mars/Olympus', '', '+25:00']) {
      expect(() => normalizeTimeZone(bad, 'schedules[1].timezone')).toThrow(expect.objectContaining({ code: 'INVALID_TIMEZONE', message: expect.stringContaining('schedules[1].timezone') }));
    }
  });
});
