import { MAX_DELAY_MS, MAX_INT32 } from '../job/input-bounds.js';

/*
 * The valid range of every setting that a config file and the environment can both set, and the
 * duration syntax they share. env.ts and validate-config.ts read this one table, so a value valid
 * in one place is valid in the other (SHUTDOWN_TIMEOUT_MS=0 was once accepted by the CLI and
 * refused by the worker). Whether 0 is valid is decided here, once, with the reason.
 *
 * This module imports nothing but the input bounds: the worker reads its environment defaults
 * through env.ts, which must stay cheap to load.
 */

/** An inclusive integer range; `unit` (ms, bytes) is named in messages. */
export interface IntegerBounds {
  readonly min: number;
  readonly max: number;
  readonly unit: '' | 'ms' | 'bytes';
}

export const SETTING_BOUNDS = {
  /**
   * Handlers of one queue running at once in one process: 1 … 10 000. 0 is refused: a process
   * that should run no jobs is `daemon --no-worker` (or `worker: false` in code).
   */
  concurrency: { min: 1, max: 10_000, unit: '' },
  /**
   * Time limit of one attempt, ms: 1 … 2 147 483 647 (the longest Node timer, ~24.8 days). 0 is
   * refused: there is no "no limit", and a limit of 0 would fail every attempt at once.
   */
  timeoutMs: { min: 1, max: MAX_INT32, unit: 'ms' },
  /**
   * How long a graceful stop waits for running handlers, ms: 0 … 2 147 483 647. 0 is valid: the
   * handlers are aborted at once and their jobs released back to the queue (no attempt used).
   */
  shutdownTimeoutMs: { min: 0, max: MAX_INT32, unit: 'ms' },
  /**
   * Base time between a queue's fallback polls, ms: 1 … 2 147 483 647. Polls only back up the
   * wake-ups (LISTEN/NOTIFY, in-process enqueues, SQLite's change check); 0 would be a busy loop.
   */
  pollIntervalMs: { min: 1, max: MAX_INT32, unit: 'ms' },
  /**
   * Port of the daemon's HTTP server and health endpoint (reserved: `nightshift daemon` starts no
   * server yet): 1 … 65 535. 0 ("any free port") is refused: a health probe could not know where
   * to ask.
   */
  healthCheckPort: { min: 1, max: 65_535, unit: '' },
} as const satisfies Record<string, IntegerBounds>;

/**
 * How long a finished job (and its attempts, with their results) is kept: 0 … 100 years. 0 is
 * valid: the job is deleted by the next prune pass after it finishes.
 */
export const RETENTION_BOUNDS = { min: 0, max: MAX_DELAY_MS, unit: 'ms' } as const satisfies IntegerBounds;

/**
 * Time between prune passes: 1 s … 2 147 483 647 ms. Pruning more often than every second only
 * costs queries: a job past its retention may as well wait a second.
 */
export const PRUNE_INTERVAL_BOUNDS = { min: 1000, max: MAX_INT32, unit: 'ms' } as const satisfies IntegerBounds;

/** The problem with `value` against `bounds`, or null when it is inside them. */
export function boundsIssue(value: number, bounds: IntegerBounds): string | null {
  const unit = bounds.unit ? ` (${bounds.unit})` : '';
  if (!Number.isSafeInteger(value) || value < bounds.min) return `must be an integer ≥ ${bounds.min}${unit}`;
  if (value > bounds.max) return `must be ≤ ${bounds.max}${unit}`;
  return null;
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
export function parseDuration(value: unknown, bounds: IntegerBounds): { ms: number } | { problem: string } {
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
