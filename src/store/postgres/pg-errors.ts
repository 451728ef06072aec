import { NightshiftError, StoreError } from '../../errors.js';

/**
 * The one place where PostgreSQL driver errors become Nightshift errors.
 *
 * A `StoreError` is `retryable` when trying the same call again later can succeed: the connection
 * dropped or stopped answering, the server is restarting, full or (for now) read-only, or the
 * transaction lost a serialization/deadlock race. Everything else (constraint violations, bad SQL,
 * bad data) is not, because repeating it fails the same way.
 */

/**
 * SQLSTATE codes and classes (two-character prefixes) after which a retry can succeed.
 * See https://www.postgresql.org/docs/current/errcodes-appendix.html.
 */
export const RETRYABLE_SQLSTATES: ReadonlyMap<string, string> = new Map([
  ['08', 'connection exception (class 08)'],
  // A write reached a server that only reads: a hot standby, or a primary demoted or switched to
  // `default_transaction_read_only` during a failover. Once the client reaches the new primary
  // (the pool replaces connections the failover killed) the same write succeeds, so workers keep
  // their finishes and retry them instead of dropping them.
  ['25006', 'the server is read-only: a standby, or a primary switched to read-only as during a failover; writes succeed again once a writable primary answers'],
  // The server closed a session left idle inside a transaction (our connection stalled mid-way).
  ['25P03', 'session closed by the server after idling in a transaction: idle_in_transaction_session_timeout'],
  ['40001', 'serialization failure'],
  ['40P01', 'deadlock detected'],
  ['53000', 'insufficient resources'],
  ['53200', 'out of memory'],
  ['53300', 'too many connections'],
  ['55P03', 'lock not available'],
  ['57014', 'statement cancelled (statement_timeout or pg_cancel_backend)'],
  ['57P01', 'server shutting down (admin shutdown / pg_terminate_backend)'],
  ['57P02', 'server crash shutdown'],
  ['57P03', 'server not accepting connections yet (starting up or in recovery)'],
  ['57P05', 'session closed by the server after idling: idle_session_timeout'],
  ['58000', 'system error'],
  ['58030', 'I/O error'],
]);

/** Node socket error codes that mean "the server could not be reached or went away". */
export const RETRYABLE_NODE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * Messages node-postgres raises without a code when a connection dies, stops answering or cannot
 * be obtained, with the reason we report. Matched on the message because the driver gives these
 * errors no code.
 */
const RETRYABLE_DRIVER_MESSAGES: readonly (readonly [RegExp, string])[] = [
  // `query_timeout` (the store's `queryTimeoutMs`): no answer in time; the connection is discarded.
  [/Query read timeout/i, 'no answer within the query timeout: network stalled, or server or pooler hung'],
  // `connectionTimeoutMillis` (the store's `connectTimeoutMs`) while opening a connection.
  [/Connection terminated due to connection timeout|timeout expired/i, 'no connection within the connect timeout: network stalled, or server or pooler hung'],
  [/timeout exceeded when trying to connect/i, 'no free connection within the connect timeout'],
  [/Connection terminated/i, 'connection lost'],
  [/connection error and is not queryable/i, 'connection lost'],
  [/Client was closed and is not queryable/i, 'connection lost'],
  [/Cannot use a pool after calling end on the pool/i, 'connection lost'],
];

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` (anything thrown by `pg`) is worth retrying, and why. */
export function classifyPgError(error: unknown): { retryable: boolean; reason: string } {
  const code = codeOf(error);
  if (code !== undefined) {
    const exact = RETRYABLE_SQLSTATES.get(code);
    if (exact) return { retryable: true, reason: exact };
    const byClass = code.length === 5 ? RETRYABLE_SQLSTATES.get(code.slice(0, 2)) : undefined;
    if (byClass) return { retryable: true, reason: byClass };
    if (RETRYABLE_NODE_CODES.has(code)) return { retryable: true, reason: `network error ${code}` };
  }
  const message = error instanceof Error ? error.message : String(error);
  const known = RETRYABLE_DRIVER_MESSAGES.find(([pattern]) => pattern.test(message));
  if (known) return { retryable: true, reason: known[1] };
  // AggregateError (several addresses tried, all refused) carries the socket errors inside.
  if (error instanceof AggregateError && error.errors.some((inner) => classifyPgError(inner).retryable)) {
    return { retryable: true, reason: 'server unreachable' };
  }
  return { retryable: false, reason: code ? `SQLSTATE ${code}` : 'driver error' };
}

/**
 * Turns anything thrown while running `operation` into a Nightshift error. Nightshift errors pass
 * through unchanged, so code that validates before touching the database keeps its typed errors.
 */
export function toStoreError(error: unknown, operation: string): NightshiftError {
  if (error instanceof NightshiftError) return error;
  const { retryable, reason } = classifyPgError(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = codeOf(error);
  const advice = retryable
    ? 'the call can be retried once PostgreSQL is reachable again'
    : 'retrying will not help; check the message and the database state';
  return new StoreError(`postgres store: ${operation} failed (${reason}${code ? `, code ${code}` : ''}): ${message}; ${advice}`, {
    retryable,
    cause: error,
  });
}
