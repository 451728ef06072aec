/**
 * Cron expressions: parsing, validation with messages that name the offending field, and matching
 * on the naive wall-clock timeline (see time-zone.ts). Matching is croner's; the syntax accepted and
 * the errors are ours, so that a bad expression is reported the same way whatever croner says.
 *
 * Accepted syntax (see docs/scheduling.md):
 * - 5 fields `minute hour day-of-month month day-of-week`, or 6 with a leading `second` field;
 * - `*`, numbers, ranges `a-b`, steps `*\/n`, `a-b/n`, `a/n`, lists `a,b-c`;
 * - month names `JAN`…`DEC` and day names `SUN`…`SAT` (any case), Sunday as 0 or 7;
 * - aliases `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`;
 * - extensions: `L` (last day) in day-of-month, `#n` / `#L` (nth / last weekday of the month) in
 *   day-of-week, e.g. `FRI#L`.
 * When both day-of-month and day-of-week are restricted (anything but a bare `*`), a day matches if
 * EITHER matches (the Vixie cron rule): `0 0 1 * MON` runs on the 1st and on every Monday.
 */
import { Cron } from 'croner';
import { ValidationError } from '../errors.js';

/** A validated cron expression, ready to compute fire times. */
export interface CronExpression {
  /** The expression as stored: trimmed, runs of whitespace collapsed to one space. */
  readonly source: string;
  /** Whether the expression has a seconds field (6 fields). */
  readonly hasSeconds: boolean;
  /**
   * Whether the hour field names fixed hours (does not start with `*`). Fixed-hour schedules follow
   * the Vixie DST rule (skipped wall time runs once at the next valid instant, repeated wall time
   * runs once); wildcard/step-hour schedules fire on every elapsed interval instead.
   */
  readonly fixedHour: boolean;
  /**
   * The first matching naive wall-clock time strictly after `naiveMs` (whole seconds), or null if
   * there is none before the year 3000.
   */
  nextNaive(naiveMs: number): number | null;
}

const ALIASES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  /** Names accepted for values, mapped to `index + nameBase`. */
  names?: readonly string[];
  nameBase?: number;
}

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 };
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 };
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 };
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 };

/** A fixed instant to probe "does this expression ever fire" without reading any clock. */
const PROBE_FROM_MS = Date.UTC(2000, 0, 1);

function invalid(where: string, expression: string, problem: string): never {
  throw new ValidationError('INVALID_CRON', `${where}: invalid cron expression ${JSON.stringify(expression)}: ${problem}`, {
    issues: [{ path: where, message: problem }],
  });
}

function parseValue(spec: FieldSpec, text: string, fail: (problem: string) => never): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < spec.min || value > spec.max) fail(`${spec.name} field: ${value} is out of range ${spec.min}–${spec.max}`);
    return value;
  }
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (index >= 0) return index + (spec.nameBase ?? 0);
  const expected = spec.names ? `a number ${spec.min}–${spec.max} or a name (${spec.names[0]}…${spec.names[spec.names.length - 1]})` : `a number ${spec.min}–${spec.max}`;
  return fail(`${spec.name} field: ${JSON.stringify(text)} is not ${expected}`);
}

function parseStep(spec: FieldSpec, text: string, fail: (problem: string) => never): void {
  if (!/^\d+$/.test(text)) fail(`${spec.name} field: step ${JSON.stringify(text)} must be a positive whole number`);
  const step = Number(text);
  if (step < 1) fail(`${spec.name} field: step must be at least 1, got ${step}`);
  if (step > spec.max - spec.min + 1) fail(`${spec.name} field: step ${step} is larger than the field's range ${spec.min}–${spec.max}`);
}

/** Checks one field against our grammar, so errors name the field and the value at fault. */
function checkField(spec: FieldSpec, field: string, fail: (problem: string) => never): void {
  for (const item of field.split(',')) {
    if (item === '') fail(`${spec.name} field ${JSON.stringify(field)} has an empty list item`);
    if (item === '?') fail(`${spec.name} field: "?" is not supported; use "*"`);
    if (spec === DAY_OF_MONTH && item === 'L') continue;
    if (spec === DAY_OF_WEEK && item.includes('#')) {
      const [day = '', nth = ''] = item.split('#');
      parseValue(spec, day, fail);
      if (!/^([1-5]|L)$/.test(nth.toUpperCase())) fail(`${spec.name} field: "#${nth}" must be #1…#5 or #L (the last one)`);
      continue;
    }
    const [range = '', step, extra] = item.split('/');
    if (extra !== undefined) fail(`${spec.name} field: ${JSON.stringify(item)} has more than one "/"`);
    if (step !== undefined) parseStep(spec, step, fail);
    if (range === '*') continue;
    const bounds = range.split('-');
    if (bounds.length > 2) fail(`${spec.name} field: ${JSON.stringify(item)} is not a valid range`);
    const from = parseValue(spec, bounds[0] ?? '', fail);
    if (bounds.length === 2) {
      const to = parseValue(spec, bounds[1] ?? '', fail);
      if (from > to) fail(`${spec.name} field: range ${JSON.stringify(range)} starts after it ends`);
    }
  }
}

/**
 * Parses and validates `expression`. Throws a `ValidationError` with code `INVALID_CRON` naming
 * `where` (the field holding the expression) and the part at fault; an expression that can never
 * fire (`0 0 31 2 *`) is rejected too.
 */
export function parseCron(expression: unknown, where = 'schedule'): CronExpression {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new ValidationError('INVALID_CRON', `${where} must be a cron expression such as "0 9 * * *" or "@daily"`, {
      issues: [{ path: where, message: 'expected a cron expression' }],
    });
  }
  const source = expression.trim().split(/\s+/).join(' ');
  const fail = (problem: string): never => invalid(where, source, problem);
  let pattern = source;
  if (source.startsWith('@')) {
    const expanded = ALIASES[source.toLowerCase()];
    if (expanded === undefined) fail(`unknown alias; use one of ${Object.keys(ALIASES).join(', ')}`);
    pattern = expanded as string;
  }
  const fields = pattern.split(' ');
  if (fields.length !== 5 && fields.length !== 6) {
    fail(`expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds field, got ${fields.length}`);
  }
  const specs = fields.length === 6 ? [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK] : [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK];
  specs.forEach((spec, index) => checkField(spec, fields[index] ?? '', fail));

  let cron: Cron;
  try {
    // The naive timeline is UTC-shaped; a fixed offset of 0 keeps croner away from zone lookups,
    // which we do ourselves (time-zone.ts). legacyMode: day-of-month OR day-of-week, as in Vixie cron.
    cron = new Cron(pattern, { utcOffset: 0, legacyMode: true });
  } catch (error) {
    return fail(error instanceof Error ? error.message.replace(/^CronPattern:\s*/, '') : String(error));
  }
  const nextNaive = (naiveMs: number): number | null => cron.nextRun(new Date(naiveMs))?.getTime() ?? null;
  if (nextNaive(PROBE_FROM_MS) === null) fail('it never fires (no date matches every field, e.g. February 31st)');
  const hourField = fields[fields.length === 6 ? 2 : 1] ?? '*';
  return { source, hasSeconds: fields.length === 6, fixedHour: !hourField.startsWith('*'), nextNaive };
}

const cache = new Map<string, CronExpression>();
/** Most parsed expressions kept by `parseCronCached`. */
const CACHE_SIZE = 500;

/**
 * `parseCron` for stored expressions, which the scheduler re-reads on every pass: parsed ones are
 * kept (up to 500, oldest dropped first). Throws like `parseCron`.
 */
export function parseCronCached(expression: string, where = 'schedule'): CronExpression {
  const hit = cache.get(expression);
  if (hit !== undefined) return hit;
  const parsed = parseCron(expression, where);
  if (cache.size >= CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(expression, parsed);
  return parsed;
}
