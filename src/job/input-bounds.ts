import { ValidationError } from '../errors.js';

/**
 * Every bound Nightshift puts on input, in one place: delays, instants, priorities, attempts,
 * timeouts, keys and free text. Each is decided here, before anything reaches a store, so that
 * both stores accept and refuse exactly the same values (SQLite would store a NUL byte that
 * PostgreSQL refuses; a delay past JavaScript's date range would reach either store as an
 * Invalid Date).
 *
 * Two ways to apply a bound:
 * - `assert…` for what a caller hands in (enqueue options, keys, reasons): a `ValidationError`
 *   (`INVALID_OPTION`) that names the limit, and nothing is written.
 * - `toStorable…` / `clampDelayMs` for what a finish records (a handler's error text, its cancel
 *   reason, a backoff function's delay): a finish must always be storable, so the value is
 *   cleaned or clamped instead of refused.
 */

/**
 * Longest delay accepted anywhere: `delayMs` of an enqueue, `snooze(ms)`, the retry backoff's
 * `delayMs` / `maxDelayMs`; 100 years (365-day years) = 3 153 600 000 000 ms. A backoff function
 * that returns more is clamped to it. Far inside both stores' and JavaScript's date ranges.
 */
export const MAX_DELAY_MS = 100 * 365 * 24 * 60 * 60 * 1000;

/** Earliest accepted `runAt`: 1970-01-01T00:00:00.000Z. */
export const MIN_RUN_AT_MS = 0;
/** Latest accepted `runAt`: 9999-12-31T23:59:59.999Z. */
export const MAX_RUN_AT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Highest accepted priority; higher runs first. */
export const MAX_PRIORITY = 1_000_000;
/**
 * Lowest accepted priority. Below 0 (the default, `normal`) so that `low` has room under the
 * default without shifting the meaning of existing numeric priorities.
 */
export const MIN_PRIORITY = -1_000_000;

/**
 * Named priorities and the numbers they stand for. A name is only a spelling: the store keeps the
 * number, so `high` and `100` are the same priority and sort with every other number.
 */
export const PRIORITY_NAMES = { critical: 1000, high: 100, normal: 0, low: -100 } as const;

/** A named priority: `critical` (1000), `high` (100), `normal` (0) or `low` (−100). */
export type PriorityName = keyof typeof PRIORITY_NAMES;

/**
 * A priority as a caller may give it: an integer in MIN_PRIORITY … MAX_PRIORITY (higher runs
 * first) or one of the names in `PRIORITY_NAMES`.
 */
export type Priority = number | PriorityName;

/** Largest `maxAttempts`, `retry.attempts` and `timeoutMs`: a 32-bit integer column and a Node timer. */
export const MAX_INT32 = 2 ** 31 - 1;

/**
 * Deepest nesting of arrays and objects accepted in a payload (and in a result, progress value or
 * schedule input, which go through the same checks): 256 levels, counted as JSON nests them
 * (`{"a":[1]}` is 2 levels, a scalar 0). Real data stays far below it (a few dozen levels is
 * already unusual). The bound exists because every reader walks the value recursively —
 * JSON.stringify (which overflows Node's default stack at about 4,000 levels), schema validators,
 * loggers, the HTTP API's reply check, other languages' JSON libraries — most with several stack
 * frames per level where JSON.stringify has one, so only a value an order of magnitude below the
 * first overflow is safe for all of them. Refused with `PAYLOAD_NOT_SERIALIZABLE`, like every
 * other value `serializePayload` cannot store faithfully; a stored value deeper than this (written
 * around the checks, e.g. by the SQL `enqueue` function) is reported as unreadable instead of
 * crashing whoever reads it (`parseStoredJson`).
 */
export const MAX_PAYLOAD_DEPTH = 256;

/** Longest accepted de-duplication key, in characters. */
export const MAX_KEY_LENGTH = 256;

/** Longest accepted cancel reason given by a caller, in characters. */
export const MAX_REASON_LENGTH = 1000;

/** Longest error message a finish records, in characters; longer ones are cut (see `toStorableText`). */
export const MAX_ERROR_MESSAGE_LENGTH = 16 * 1024;
/** Longest error stack a finish records, in characters. */
export const MAX_ERROR_STACK_LENGTH = 64 * 1024;
/** Longest error class name or kind a finish records, in characters. */
export const MAX_ERROR_NAME_LENGTH = 200;

/**
 * What stands in for a character no database column can hold: U+FFFD REPLACEMENT CHARACTER. It
 * replaces NUL (U+0000: refused in PostgreSQL text and jsonb) and each unpaired UTF-16 surrogate
 * (an emoji cut in half by `.slice()`: not valid Unicode, refused by jsonb, silently altered by
 * UTF-8 encoders).
 */
export const REPLACEMENT_CHARACTER = '\uFFFD';

/** NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/** Marks where `toStorableText` cut a text. */
const CUT_MARK = '… [cut]';

/** Whether `text` holds only characters every store can keep (no NUL, no unpaired surrogate). */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * `text` made storable: NUL and unpaired surrogates replaced by U+FFFD, and cut to `maxLength`
 * characters (ending in `… [cut]`) without splitting a surrogate pair. Texts that need neither
 * come back unchanged (the same string).
 */
export function toStorableText(text: string, maxLength: number): string {
  let result = text;
  if (result.length > maxLength) {
    let end = Math.max(0, maxLength - CUT_MARK.length);
    // Do not leave the high half of a pair at the end.
    const last = result.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--;
    result = result.slice(0, end) + CUT_MARK;
  }
  return UNSTORABLE.test(result) ? result.replace(UNSTORABLE_ALL, REPLACEMENT_CHARACTER) : result;
}

/** Throws `INVALID_OPTION` unless `text` is storable by every store (see `isStorableText`). */
export function assertStorableText(text: string, what: string): void {
  if (!isStorableText(text)) {
    const index = text.search(UNSTORABLE);
    const found = text.charCodeAt(index) === 0 ? 'a NUL character (U+0000)' : 'an unpaired UTF-16 surrogate (half of a character)';
    throw new ValidationError('INVALID_OPTION', `${what} contains ${found} at index ${index}; no store can keep it unchanged`);
  }
}

/** Whether `value` is one of the priority names (exact and case-sensitive: `high`, not `HIGH`). */
export function isPriorityName(value: unknown): value is PriorityName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(PRIORITY_NAMES, value);
}

/** What every priority error says is accepted. */
export const PRIORITY_ACCEPTED = `an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} or one of ${Object.entries(PRIORITY_NAMES)
  .map(([name, number]) => `${name} (${number})`)
  .join(', ')}`;

/**
 * The one reading of a priority, wherever it comes from (job definitions, enqueue options, the
 * HTTP API, YAML schedules, the CLI): an integer in MIN_PRIORITY … MAX_PRIORITY is returned as is,
 * a name in `PRIORITY_NAMES` as its number. Anything else — a numeric string such as `'5'`, a
 * fraction, NaN, a name in another case — throws `INVALID_OPTION` naming what is accepted.
 * Text from a command line is parsed by the CLI before it gets here.
 */
export function parsePriority(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= MIN_PRIORITY && value <= MAX_PRIORITY) return value;
  if (isPriorityName(value)) return PRIORITY_NAMES[value];
  const got = typeof value === 'string' ? JSON.stringify(value) : String(value);
  throw new ValidationError('INVALID_OPTION', `${where}: priority must be ${PRIORITY_ACCEPTED}; got ${got}`);
}

/**
 * Throws unless `value` is a finite number of ms ≥ 0 (or ≥ 1 when `positive`). Durations that
 * are not delays (poll intervals, grace periods) use this; delays use `assertValidDelayMs`.
 */
export function assertValidMs(value: unknown, where: string, positive = false): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < (positive ? 1 : 0)) {
    throw new ValidationError('INVALID_OPTION', `${where} must be a finite number ${positive ? '≥ 1' : '≥ 0'} (ms), got ${String(value)}`);
  }
}

/** Throws unless `value` is a delay in 0 … MAX_DELAY_MS ms. */
export function assertValidDelayMs(value: unknown, where: string): asserts value is number {
  assertValidMs(value, where);
  if (value > MAX_DELAY_MS) {
    throw new ValidationError('INVALID_OPTION', `${where} must be at most ${MAX_DELAY_MS} ms (100 years), got ${String(value)}`);
  }
}

/** Throws unless `value` is a valid Date between MIN_RUN_AT_MS and MAX_RUN_AT_MS. */
export function assertValidRunAt(value: unknown, where: string): asserts value is Date {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new ValidationError('INVALID_OPTION', `${where} must be a valid Date, got ${String(value)}`);
  if (ms < MIN_RUN_AT_MS || ms > MAX_RUN_AT_MS) {
    throw new ValidationError(
      'INVALID_OPTION',
      `${where} must be between ${new Date(MIN_RUN_AT_MS).toISOString()} and ${new Date(MAX_RUN_AT_MS).toISOString()}, got ${(value as Date).toISOString()}`,
    );
  }
}

/** Throws unless `value` is an integer in `min` … MAX_INT32. */
export function assertInt32(value: unknown, where: string, min: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_INT32) {
    throw new ValidationError('INVALID_OPTION', `${where} must be an integer from ${min} to ${MAX_INT32}, got ${String(value)}`);
  }
}

/**
 * A computed delay (a backoff function's answer, a snooze built by hand) as one a store can add
 * to its clock: a whole number of ms in 0 … MAX_DELAY_MS. NaN and negative values become 0.
 */
export function clampDelayMs(value: number): number {
  if (!(value > 0)) return 0;
  return value >= MAX_DELAY_MS ? MAX_DELAY_MS : Math.round(value);
}

/** Returns `key` when it is a valid de-duplication key (1 … MAX_KEY_LENGTH storable characters), else throws. */
export function checkKey(where: string, key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new ValidationError(
      'INVALID_OPTION',
      `${where}: key must be a string of 1 to ${MAX_KEY_LENGTH} characters, got ${typeof key === 'string' ? `${key.length} characters` : typeof key}`,
    );
  }
  assertStorableText(key, `${where}: key`);
  return key;
}
