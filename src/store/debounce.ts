/**
 * Throttle and debounce, the part both stores share: which stored job an insert meets, and the
 * run time a debounced job moves to. Each store finds the candidate under its own lock (written
 * next to its code) and writes what this decides.
 */
import type { JobInsert, JobState } from './types.js';

/** States of a debounced job that an insert may still change: it has not started. */
export const DEBOUNCE_PENDING_STATES: readonly JobState[] = ['scheduled', 'available'];

/** Whether an insert is throttled or debounced (it then goes through the one-by-one path). */
export function isThrottledOrDebounced(job: JobInsert): boolean {
  return job.throttle !== undefined || job.debounce !== undefined;
}

/** The earliest creation time (ms) of a job that throttles a new one made at `nowMs`. */
export function throttleSince(job: JobInsert & { throttle: { perMs: number } }, nowMs: number): number {
  return nowMs - job.throttle.perMs;
}

/**
 * Run time (ms) of a debounced job enqueued at `nowMs`: `delayMs` from now, but not after its
 * deadline (first enqueue + `maxDelayMs`; null: none).
 */
export function debouncedRunAt(delayMs: number, nowMs: number, deadlineMs: number | null): number {
  const at = nowMs + delayMs;
  return deadlineMs === null ? at : Math.min(at, Math.max(nowMs, deadlineMs));
}

/** The deadline (ms) a new debounced job gets: first enqueue + `maxDelayMs`, or null for none. */
export function debounceDeadline(maxDelayMs: number | null, nowMs: number): number | null {
  return maxDelayMs === null ? null : nowMs + maxDelayMs;
}
