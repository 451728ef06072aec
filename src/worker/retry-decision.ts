import { JobTimeoutError, RateLimitedError, UnrecoverableError } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import {
  clampDelayMs,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_ERROR_NAME_LENGTH,
  MAX_ERROR_STACK_LENGTH,
  toStorableText,
} from '../job/input-bounds.js';
import { isHandlerOutcome, outcomeKind, type HandlerOutcome } from '../job/outcomes.js';
import { DEFAULT_BACKOFF, retryDelayMs } from '../job/retry-policy.js';
import type { ErrorRecord, JobFinish, JobRecord } from '../store/types.js';

/**
 * Turns what a handler did into the `JobFinish` the store records. Pure functions: the random
 * source comes in as an argument so tests can pin backoff jitter exactly. Times are delays: the
 * store adds them to its own clock.
 *
 * Everything a finish carries is made storable here, before it reaches the completer, so that
 * one handler's odd error can never make a batch of finishes fail in the database: texts go
 * through `toStorableText` (NUL and unpaired surrogates become U+FFFD; messages are cut at
 * 16 KiB, stacks at 64 KiB, names and kinds at 200 characters) and delays through
 * `clampDelayMs` (0 … 100 years).
 */

/** Builds the stored form of an error. Non-Error throws (strings, objects) keep their text. */
export function toErrorRecord(error: unknown, kind: string): ErrorRecord {
  let name = 'Error';
  let message: string;
  let stack: string | null = null;
  try {
    if (error instanceof Error) {
      name = typeof error.name === 'string' && error.name !== '' ? error.name : 'Error';
      message = typeof error.message === 'string' ? error.message : String(error.message);
      stack = typeof error.stack === 'string' ? error.stack : null;
    } else {
      message = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
    }
  } catch {
    // A getter that throws, a toJSON that throws, an object String() cannot convert: say so.
    message = describeUnreadable(error);
  }
  return {
    name: toStorableText(name, MAX_ERROR_NAME_LENGTH),
    message: toStorableText(message, MAX_ERROR_MESSAGE_LENGTH),
    stack: stack === null ? null : toStorableText(stack, MAX_ERROR_STACK_LENGTH),
    kind: toStorableText(kind, MAX_ERROR_NAME_LENGTH),
  };
}

function describeUnreadable(error: unknown): string {
  try {
    return `(an error whose text could not be read: ${Object.prototype.toString.call(error)})`;
  } catch {
    return '(an error whose text could not be read)';
  }
}

/** The error kind recorded for a thrown value. */
export function errorKind(error: unknown): string {
  if (error instanceof JobTimeoutError) return 'timeout';
  if (error instanceof UnrecoverableError) return 'unrecoverable';
  return 'error';
}

/**
 * A failed attempt: `dead` when the error is unrecoverable or this was the last attempt, otherwise
 * `failed`, retried `backoff(attempt)` ms after the store's now, per the job's retry policy.
 */
export function decideFailure(job: JobRecord, definition: AnyJobDefinition | undefined, error: unknown, random: () => number): JobFinish {
  // Throttled by the remote side: back to the queue, the attempt given back (a snooze).
  if (error instanceof RateLimitedError) return { outcome: 'snoozed', delayMs: clampDelayMs(error.retryAfterMs) };
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
  return { outcome: 'failed', error: record, retryDelayMs: delay };
}

/** A handler's typed outcome (`snooze`, `cancel`) as a finish. */
export function decideOutcome(outcome: HandlerOutcome): JobFinish {
  if (outcomeKind(outcome) === 'snooze') {
    // snooze() checked its delay; an outcome built by other means is clamped, never stored as is.
    return { outcome: 'snoozed', delayMs: clampDelayMs(Number((outcome as { delayMs: unknown }).delayMs)) };
  }
  const reason: unknown = (outcome as { reason: unknown }).reason;
  let text: string;
  try {
    text = typeof reason === 'string' ? reason : String(reason);
  } catch {
    text = describeUnreadable(reason);
  }
  return { outcome: 'cancelled', reason: toStorableText(text, MAX_ERROR_MESSAGE_LENGTH) };
}

export { isHandlerOutcome };
