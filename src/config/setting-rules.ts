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
   * `HEALTH_CHECK_PORT`: the port `daemon` and `serve` serve the HTTP API (health, ready, metrics,
   * REST) at, on 127.0.0.1: 1 … 65 535. 0 ("any free port") is refused: the variable is there for
   * health probes, which could not know where to ask. (`HTTP_PORT_BOUNDS` for the others.)
   */
  healthCheckPort: { min: 1, max: 65_535, unit: '' },
} as const satisfies Record<string, IntegerBounds>;

/**
 * Port of the HTTP API as `--http`, `NIGHTSHIFT_HTTP` and the config's `http.port` take it:
 * 0 … 65 535. 0 is valid, as in `createNightshift({ http: { port: 0 } })`: a free port is picked
 * and logged ("HTTP API listening"), which suits tests and a process behind a discovery service.
 */
export const HTTP_PORT_BOUNDS = { min: 0, max: 65_535, unit: '' } as const satisfies IntegerBounds;

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

// Durations are parsed by job/duration.ts (a job's retention takes them too); re-exported here,
// where the other settings' rules are.
export { DURATION_SYNTAX, parseDuration, type Duration, type DurationUnit } from '../job/duration.js';
