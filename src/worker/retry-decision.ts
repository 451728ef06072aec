import { JobTimeoutError, UnrecoverableError } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import { isHandlerOutcome, outcomeKind, type HandlerOutcome } from '../job/outcomes.js';
import { DEFAULT_BACKOFF, retryDelayMs } from '../job/retry-policy.js';
import type { ErrorRecord, JobFinish, JobRecord } from '../store/types.js';

/**
 * Turns what a handler did into the `JobFinish` the store records. Pure functions: the worker's
 * clock and random source come in as arguments so tests can pin backoff timing exactly.
 */

/** Builds the stored form of an error. Non-Error throws (strings, objects) keep their text. */
export function toErrorRecord(error: unknown, kind: string): ErrorRecord {
  if (error instanceof Error) {
    return { name: error.name || 'Error', message: error.message, stack: error.stack ?? null, kind };
  }
  let message: string;
  try {
    message = typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { name: 'Error', message, stack: null, kind };
}

/** The error kind recorded for a thrown value. */
export function errorKind(error: unknown): string {
  if (error instanceof JobTimeoutError) return 'timeout';
  if (error instanceof UnrecoverableError) return 'unrecoverable';
  return 'error';
}

/**
 * A failed attempt: `dead` when the error is unrecoverable or this was the last attempt, otherwise
 * `failed` with `retryAt = now + backoff(attempt)` from the job's retry policy.
 */
export function decideFailure(
  job: JobRecord,
  definition: AnyJobDefinition | undefined,
  error: unknown,
  nowMs: number,
  random: () => number,
): JobFinish {
  const kind = errorKind(error);
  const record = toErrorRecord(error, kind);
  if (kind === 'unrecoverable' || job.attempt >= job.maxAttempts) return { outcome: 'dead', error: record };
  const backoff = definition?.retry?.backoff ?? DEFAULT_BACKOFF;
  let delay: number;
  try {
    delay = retryDelayMs(backoff, job.attempt, error, random);
  } catch {
    // A custom backoff function that throws must not leave the job running forever.
    delay = retryDelayMs(DEFAULT_BACKOFF, job.attempt, error, random);
  }
  return { outcome: 'failed', error: record, retryAt: new Date(nowMs + delay) };
}

/** A handler's typed outcome (`snooze`, `cancel`) as a finish. */
export function decideOutcome(outcome: HandlerOutcome, nowMs: number): JobFinish {
  if (outcomeKind(outcome) === 'snooze') {
    return { outcome: 'snoozed', runAt: new Date(nowMs + (outcome as { delayMs: number }).delayMs) };
  }
  return { outcome: 'cancelled', reason: (outcome as { reason: string }).reason };
}

export { isHandlerOutcome };
