import { assertValidDelayMs } from './input-bounds.js';

/**
 * Typed outcomes a handler can return instead of a result. Throwing an error fails the attempt
 * (retried per the job's policy); `throw new UnrecoverableError()` fails it for good.
 */

const OUTCOME = Symbol.for('nightshift.outcome');

/** Run the job again after `delayMs` without using up an attempt. */
export interface SnoozeOutcome {
  readonly [OUTCOME]: 'snooze';
  readonly delayMs: number;
}

/** Stop the job for good, as `cancelled`, with a reason. */
export interface CancelOutcome {
  readonly [OUTCOME]: 'cancel';
  readonly reason: string;
}

export type HandlerOutcome = SnoozeOutcome | CancelOutcome;

/**
 * `return snooze(60_000)`: re-run in a minute (by the store's clock); the attempt does not count.
 * The delay is 0 … `MAX_DELAY_MS` (100 years); anything else throws a `ValidationError`
 * (`INVALID_OPTION`) at the call, which fails the attempt like any other error.
 */
export function snooze(delayMs: number): SnoozeOutcome {
  assertValidDelayMs(delayMs, 'snooze delay');
  return { [OUTCOME]: 'snooze', delayMs };
}

/**
 * `return cancel('user deleted')`: finish as `cancelled`; never retried. The reason is recorded
 * as the job's last error message (cleaned and cut like any error message a finish records).
 */
export function cancel(reason: string): CancelOutcome {
  return { [OUTCOME]: 'cancel', reason };
}

/** Whether a handler's return value is a typed outcome rather than a result. */
export function isHandlerOutcome(value: unknown): value is HandlerOutcome {
  return typeof value === 'object' && value !== null && OUTCOME in value;
}

export function outcomeKind(outcome: HandlerOutcome): 'snooze' | 'cancel' {
  return outcome[OUTCOME];
}
