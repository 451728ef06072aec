/**
 * Durations as people write them in configs and job definitions: a number of ms, or a whole
 * number with a unit. One parser for the config, the environment and `defineJob({ keep })`.
 */

/** An inclusive range of ms (a wider bounds object, e.g. with a `unit`, is accepted too). */
export interface DurationBounds {
  readonly min: number;
  readonly max: number;
  readonly unit?: string;
}

/** Units of a duration, in ms. */
const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

/**
 * A length of time: a number of milliseconds, or a whole number followed by a unit — `500ms`,
 * `30s`, `30m`, `12h`, `7d` (a plain `"5000"` is milliseconds too).
 */
export type Duration = number | `${number}` | `${number}${DurationUnit}`;

/** How durations are written, for messages. */
export const DURATION_SYNTAX = 'a whole number of ms, or a whole number with a unit: 500ms, 30s, 30m, 12h, 7d';

const DURATION_PATTERN = /^(\d+)\s*(ms|s|m|h|d)?$/;

/**
 * Parses a duration into ms, within `bounds`. Returns the ms, or the problem as a message that
 * states the syntax (and the bounds in the duration's own terms, e.g. "at least 1 hour").
 */
export function parseDuration(value: unknown, bounds: DurationBounds): { ms: number } | { problem: string } {
  let ms: number;
  if (typeof value === 'number' && Number.isInteger(value)) {
    ms = value;
  } else if (typeof value === 'string' && DURATION_PATTERN.test(value.trim())) {
    const [, amount, unit] = DURATION_PATTERN.exec(value.trim()) as RegExpExecArray;
    ms = Number(amount) * DURATION_UNITS[(unit ?? 'ms') as DurationUnit];
  } else {
    return { problem: `must be ${DURATION_SYNTAX}` };
  }
  if (ms < bounds.min) return { problem: `must be at least ${formatMs(bounds.min)}` };
  if (ms > bounds.max) return { problem: `must be at most ${formatMs(bounds.max)}` };
  return { ms };
}

/** `3600000` → `1h (3600000 ms)`: a bound as people write it, and exactly. */
function formatMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit} (${ms} ms)`;
  }
  return `${ms} ms`;
}
