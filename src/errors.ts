/**
 * Library errors. Every error Nightshift throws is a `NightshiftError` with a stable `code` that
 * callers can switch on, and a message that says what went wrong and what to do about it.
 */

/** Stable error codes. Never renamed once released; new ones are only added. */
export type NightshiftErrorCode =
  | 'UNKNOWN_JOB'
  | 'INVALID_PAYLOAD'
  | 'PAYLOAD_TOO_LARGE'
  | 'PAYLOAD_NOT_SERIALIZABLE'
  | 'INVALID_OPTION'
  | 'INVALID_NAME'
  | 'INVALID_CONFIG'
  | 'INVALID_CRON'
  | 'INVALID_TIMEZONE'
  | 'DUPLICATE_SCHEDULE'
  | 'UNKNOWN_SCHEDULE'
  | 'UNKNOWN_CHANNEL'
  | 'UNKNOWN_RULE'
  | 'UNKNOWN_SILENCE'
  | 'UNKNOWN_DEPENDENCY'
  | 'JOB_NOT_FOUND'
  | 'INVALID_STATE'
  | 'STORE_UNAVAILABLE'
  | 'STORE_ERROR'
  | 'LEASE_LOST'
  | 'JOB_TIMEOUT'
  | 'SHUTDOWN';

/** One problem found while validating input: where (`path`) and what (`message`). */
export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `user.email`; empty for the value itself. */
  path: string;
  message: string;
}

export class NightshiftError extends Error {
  readonly code: NightshiftErrorCode;
  /** Field-level problems, when the error is about invalid input. */
  readonly issues: readonly ValidationIssue[];

  constructor(code: NightshiftErrorCode, message: string, options?: { cause?: unknown; issues?: ValidationIssue[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.issues = options?.issues ?? [];
  }
}

/** Input that the caller must fix: unknown job, bad payload, bad option or name. Never retryable. */
export class ValidationError extends NightshiftError {}

/** A configuration file or object that cannot be used. `file`/`line` point at the problem when known. */
export class ConfigError extends NightshiftError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  constructor(message: string, options?: { file?: string; line?: number; cause?: unknown; issues?: ValidationIssue[] }) {
    const where = options?.file ? `${options.file}${options.line ? `:${options.line}` : ''}: ` : '';
    super('INVALID_CONFIG', `${where}${message}`, options);
    this.file = options?.file;
    this.line = options?.line;
  }
}

/** The job, schedule or other record asked for does not exist. */
export class NotFoundError extends NightshiftError {}

/** The record exists but is in a state where the operation makes no sense (e.g. retry a running job). */
export class StateError extends NightshiftError {
  constructor(message: string) {
    super('INVALID_STATE', message);
  }
}

/**
 * The store could not be reached or failed. `retryable` tells whether trying the same call again
 * later can succeed (connection lost, lock busy) or not (constraint violated, bad SQL).
 */
export class StoreError extends NightshiftError {
  readonly retryable: boolean;
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(options.retryable ? 'STORE_UNAVAILABLE' : 'STORE_ERROR', message, options);
    this.retryable = options.retryable;
  }
}

/**
 * Thrown by a handler to say "do not retry this job": the job goes straight to `dead`, whatever
 * attempts remain.
 */
export class UnrecoverableError extends Error {
  constructor(message = 'unrecoverable error', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnrecoverableError';
  }
}

/** What `RateLimitedError` waits when it is given no usable `retryAfterMs`, ms. */
export const DEFAULT_RATE_LIMITED_RETRY_MS = 1000;

/**
 * Thrown by a handler when the remote side throttled it (an HTTP 429, a "slow down"): the job goes
 * back to its queue without using an attempt and runs again after `retryAfterMs`, and the whole
 * queue is held that long across every worker on the store, so its other jobs do not hit the
 * same wall. `retryAfterMs` (ms, e.g. from a Retry-After header) defaults to 1000.
 */
export class RateLimitedError extends Error {
  readonly retryAfterMs: number;
  constructor(options: { retryAfterMs?: number; message?: string; cause?: unknown } = {}) {
    const ms = options.retryAfterMs;
    const retryAfterMs = typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : DEFAULT_RATE_LIMITED_RETRY_MS;
    super(options.message ?? `rate limited: retry after ${retryAfterMs} ms`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RateLimitedError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** Raised inside a handler's AbortSignal reason when the job's timeout elapsed. */
export class JobTimeoutError extends NightshiftError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('JOB_TIMEOUT', `job timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** Reason of a handler's AbortSignal when the job was cancelled or its lease was lost. */
export class LeaseLostError extends NightshiftError {
  constructor(message = 'the job lease was lost (cancelled, or rescued after the lease expired)') {
    super('LEASE_LOST', message);
  }
}

/** Reason of a handler's AbortSignal when the worker shuts down before the handler finished. */
export class ShutdownError extends NightshiftError {
  constructor() {
    super('SHUTDOWN', 'the worker is shutting down; the job is released back to its queue');
  }
}
