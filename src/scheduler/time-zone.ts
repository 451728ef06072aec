/**
 * IANA time zones for schedules: validation, and the two conversions the next-fire computation
 * needs — an instant's wall-clock time in a zone, and the zone's UTC offset at an instant.
 *
 * Wall-clock times are represented as "naive" milliseconds: the wall-clock reading encoded as if it
 * were UTC (`2026-03-08 02:30` local → `Date.UTC(2026, 2, 8, 2, 30)`). Naive time has no DST, which
 * lets cron matching run on a zone-free timeline while this module maps it back to real instants.
 */
import { ValidationError } from '../errors.js';

/** The zone used when a schedule names none. */
export const DEFAULT_TIMEZONE = 'UTC';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (formatter === undefined) {
    // h23 keeps midnight as 00 (en-US would print 24); the era disambiguates years before 1 AD.
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/**
 * Returns the zone name to store for `timezone`, or throws a `ValidationError` (code
 * `INVALID_TIMEZONE`) when the runtime does not know it. A name that differs only in case from the
 * canonical one (`america/new_york`) is stored canonically; `where` names the field in the message.
 */
export function normalizeTimeZone(timezone: unknown, where = 'timezone'): string {
  if (typeof timezone !== 'string' || timezone.trim() === '') {
    throw new ValidationError('INVALID_TIMEZONE', `${where} must be an IANA time zone name such as "Europe/London" or "UTC"`, {
      issues: [{ path: where, message: 'expected an IANA time zone name' }],
    });
  }
  const name = timezone.trim();
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw new ValidationError(
      'INVALID_TIMEZONE',
      `${where}: unknown time zone ${JSON.stringify(name)}; use an IANA name such as "America/New_York", "Europe/London" or "UTC"`,
      { issues: [{ path: where, message: `unknown time zone ${JSON.stringify(name)}` }] },
    );
  }
  return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
}

/** The wall-clock reading of `instantMs` in `timezone`, as naive ms (see the module comment). Whole seconds. */
export function wallClockMs(timezone: string, instantMs: number): number {
  const parts = formatterFor(timezone).formatToParts(new Date(instantMs));
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const part of parts) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value);
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        second = Number(part.value);
        break;
      case 'era':
        bc = part.value === 'BC' || part.value === 'B';
        break;
      default:
        break;
    }
  }
  const date = new Date(0);
  date.setUTCFullYear(bc ? 1 - year : year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

/**
 * The zone's offset from UTC at `instantMs`, in ms (New York in winter: −5 h). Sub-second parts of
 * the instant are ignored, so the result is a whole number of seconds.
 */
export function zoneOffsetMs(timezone: string, instantMs: number): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wallClockMs(timezone, whole) - whole;
}

/**
 * The first instant in `(fromMs, toMs]` at which the zone's offset differs from its offset at
 * `fromMs`, to the second; null when the offsets at both ends are equal (the caller keeps the
 * window shorter than the shortest gap between two transitions, so equal ends mean none inside).
 */
export function findOffsetTransition(timezone: string, fromMs: number, toMs: number): number | null {
  const before = zoneOffsetMs(timezone, fromMs);
  if (zoneOffsetMs(timezone, toMs) === before) return null;
  // Invariant: offset(lo) === before, offset(hi) !== before. Binary search down to one second.
  let lo = Math.floor(fromMs / 1000);
  let hi = Math.floor(toMs / 1000);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zoneOffsetMs(timezone, mid * 1000) === before) lo = mid;
    else hi = mid;
  }
  return hi * 1000;
}
