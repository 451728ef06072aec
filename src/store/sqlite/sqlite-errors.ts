/**
 * Maps better-sqlite3 errors to Nightshift's `StoreError`, in one place, so callers only ever see
 * our error classes and can tell whether trying again later may succeed.
 */
import { NightshiftError, StoreError } from '../../errors.js';

/**
 * SQLite result codes (primary codes; extended codes such as `SQLITE_BUSY_SNAPSHOT` start with
 * one of these) worth trying again later:
 * - `SQLITE_BUSY`, `SQLITE_LOCKED`: another connection holds a lock; the write lost a race
 *   against another process, or busy_timeout ran out.
 * - `SQLITE_FULL`: the disk (or the file system's quota) is full. The same write succeeds once
 *   space returns, so job finishes and heartbeats wait and retry instead of being dropped (and
 *   the worker claims nothing new meanwhile); an enqueue still fails at once with this error.
 * Everything else (constraint violations, corrupt files, bad SQL) will fail the same way on a
 * second try.
 */
const RETRYABLE_CODE_PREFIXES: readonly string[] = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL'];

/** Returns true when `code` (a better-sqlite3 `SqliteError.code`) is worth retrying. */
export function isRetryableSqliteCode(code: string): boolean {
  return RETRYABLE_CODE_PREFIXES.some((prefix) => code === prefix || code.startsWith(`${prefix}_`));
}

/** The `code` of a better-sqlite3 `SqliteError`, or undefined for anything else. */
export function sqliteErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_')) return code;
  }
  return undefined;
}

/**
 * Converts anything thrown inside a store call into a Nightshift error. Our own errors pass
 * through unchanged; SQLite errors become a `StoreError` naming the operation and the SQLite code.
 */
export function mapSqliteError(error: unknown, operation: string): NightshiftError {
  if (error instanceof NightshiftError) return error;
  const code = sqliteErrorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (code !== undefined) {
    const retryable = isRetryableSqliteCode(code);
    const advice = code.startsWith('SQLITE_FULL')
      ? 'the disk holding the database is full; free space and the call can be retried'
      : retryable
        ? 'another process holds the database lock; the call can be retried (raise busyTimeoutMs if this is frequent)'
        : 'check the database file, its permissions and free disk space';
    return new StoreError(`sqlite store: ${operation} failed with ${code}: ${detail} (${advice})`, {
      retryable,
      cause: error,
    });
  }
  return new StoreError(`sqlite store: ${operation} failed: ${detail}`, { retryable: false, cause: error });
}
