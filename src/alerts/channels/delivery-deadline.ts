/**
 * The time limit of one delivery: the channel's own timeout and the caller's AbortSignal folded
 * into one signal, remembering which of the two fired, so the failure says "timed out" or
 * "aborted" truthfully.
 */
import { boundsIssue } from '../../config/setting-rules.js';
import { ConfigError } from '../../errors.js';
import { MAX_INT32 } from '../../job/input-bounds.js';
import { AlertDeliveryError } from './delivery-error.js';

/** How long one delivery may take, from connecting to the end of the answer: 10 000 ms. */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;

/** Valid `timeoutMs` of a channel: 1 … 2 147 483 647 ms (the longest Node timer). */
const TIMEOUT_BOUNDS = { min: 1, max: MAX_INT32, unit: 'ms' } as const;

/** `timeoutMs` of a channel's options, checked; the default when undefined. */
export function resolveTimeoutMs(value: number | undefined, channel: string): number {
  if (value === undefined) return DEFAULT_DELIVERY_TIMEOUT_MS;
  const problem = boundsIssue(value, TIMEOUT_BOUNDS);
  if (problem !== null) throw new ConfigError(`${channel} channel: timeoutMs ${problem}`, { issues: [{ path: 'timeoutMs', message: problem }] });
  return value;
}

/** One delivery's limit. Call `dispose()` when the delivery is over, whatever its outcome. */
export class DeliveryDeadline {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: () => void;
  #timedOut = false;

  constructor(timeoutMs: number, caller?: AbortSignal) {
    this.timeoutMs = timeoutMs;
    this.signal = this.#controller.signal;
    this.#caller = caller;
    this.#onCallerAbort = () => this.#controller.abort(caller?.reason);
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    if (caller?.aborted) this.#onCallerAbort();
    else caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
  }

  /** The failure to report when this deadline stopped the delivery; null when it did not fire. */
  failure(channel: string, target: string): AlertDeliveryError | null {
    if (this.#timedOut) return new AlertDeliveryError('ALERT_TIMEOUT', `${channel}: ${target} did not answer within ${this.timeoutMs} ms (retryable)`, { channel });
    if (this.signal.aborted) return new AlertDeliveryError('ALERT_ABORTED', `${channel}: delivery to ${target} was cancelled by the caller (retryable)`, { channel });
    return null;
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }
}
