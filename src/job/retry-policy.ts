import { ValidationError } from '../errors.js';
import { assertInt32, assertValidDelayMs, clampDelayMs, MAX_DELAY_MS } from './input-bounds.js';

/**
 * How long to wait before the next attempt.
 * - `fixed`: `delayMs` every time.
 * - `exponential`: `delayMs · 2^(attempt−1)`, capped at `maxDelayMs`.
 * - a function: `(attempt, error) => ms`, for anything else.
 * `jitter` (0–1, default 0.1) spreads retries of jobs that failed together: the delay is multiplied
 * by a random factor in `[1 − jitter, 1 + jitter]`.
 */
export type Backoff =
  | { type: 'fixed'; delayMs: number; jitter?: number }
  | { type: 'exponential'; delayMs: number; maxDelayMs?: number; jitter?: number }
  | ((attempt: number, error: unknown) => number);

export interface RetryPolicy {
  /** Total attempts, the first included; default 3. 1 means "never retry". */
  attempts?: number;
  /** Default: exponential from 1 000 ms, capped at 1 hour, jitter 0.1. */
  backoff?: Backoff;
}

/** Default attempts for a job that sets none. */
export const DEFAULT_ATTEMPTS = 3;
/** Default backoff for a job that sets none. */
export const DEFAULT_BACKOFF: Backoff = { type: 'exponential', delayMs: 1000, maxDelayMs: 3_600_000, jitter: 0.1 };

/** Throws unless the policy's numbers make sense: attempts 1 … 2^31−1, delays 0 … `MAX_DELAY_MS`, jitter 0 … 1. */
export function assertValidRetryPolicy(jobName: string, policy: RetryPolicy | undefined): void {
  if (!policy) return;
  if (policy.attempts !== undefined) assertInt32(policy.attempts, `job "${jobName}": retry.attempts`, 1);
  const backoff = policy.backoff;
  if (backoff === undefined || typeof backoff === 'function') return;
  if (typeof backoff !== 'object' || backoff === null || (backoff.type !== 'fixed' && backoff.type !== 'exponential')) {
    throw new ValidationError('INVALID_OPTION', `job "${jobName}": retry.backoff must be { type: 'fixed' | 'exponential', delayMs, … } or a function (attempt, error) => ms`);
  }
  assertValidDelayMs(backoff.delayMs, `job "${jobName}": retry.backoff.delayMs`);
  if (backoff.type === 'exponential' && backoff.maxDelayMs !== undefined) {
    assertValidDelayMs(backoff.maxDelayMs, `job "${jobName}": retry.backoff.maxDelayMs`);
  }
  if (backoff.jitter !== undefined && !(typeof backoff.jitter === 'number' && backoff.jitter >= 0 && backoff.jitter <= 1)) {
    throw new ValidationError('INVALID_OPTION', `job "${jobName}": retry.backoff.jitter must be between 0 and 1, got ${String(backoff.jitter)}`);
  }
}

/**
 * Delay in ms before retrying after attempt number `attempt` (1-based) failed with `error`: a
 * whole number in 0 … `MAX_DELAY_MS` whatever the policy computes (a function's NaN or negative
 * answer means 0, an answer past the maximum is clamped to it). `random` is injectable so tests
 * can pin the jitter.
 */
export function retryDelayMs(backoff: Backoff, attempt: number, error: unknown, random: () => number = Math.random): number {
  let base: number;
  let jitter = 0;
  if (typeof backoff === 'function') {
    base = backoff(attempt, error);
  } else if (backoff.type === 'fixed') {
    base = backoff.delayMs;
    jitter = backoff.jitter ?? 0;
  } else {
    const cap = backoff.maxDelayMs ?? MAX_DELAY_MS;
    base = Math.min(cap, backoff.delayMs * 2 ** Math.max(0, attempt - 1));
    jitter = backoff.jitter ?? 0.1;
  }
  if (typeof base !== 'number' || Number.isNaN(base) || base < 0) base = 0;
  const factor = jitter > 0 ? 1 - jitter + random() * 2 * jitter : 1;
  return clampDelayMs(base * factor);
}
