/**
 * The one rule for job ids, used by every store method that takes one (`jobGet`, `jobAttempts`,
 * `jobCancel`, `jobRetry`, `jobDelete`, `jobAhead`, `jobFetch({ ids })`, `jobFinishMany`,
 * `jobHeartbeat`, `jobList`'s cursor), on every store.
 *
 * A job id is the decimal text of a positive integer, without sign, spaces, fraction or leading
 * zeros, at most `MAX_JOB_ID` (2^63 − 1: the largest PostgreSQL bigint and SQLite rowid). It is
 * exactly what the stores hand out, so each job has one spelling: `'01'` or `' 1'` is not job 1.
 * Text outside the rule names no job: the method answers "not found" (null, an empty result,
 * rejected, not held) and never passes it to the database, where a cast could fail the statement.
 */

/** The largest job id: 2^63 − 1. */
export const MAX_JOB_ID = 9_223_372_036_854_775_807n;

/** 1 to 19 digits, the first not 0; 19-digit ids are compared with MAX_JOB_ID too. */
const JOB_ID_TEXT = /^[1-9][0-9]{0,18}$/;

/** Whether `id` is a well-formed job id (see the module comment). */
export function isJobId(id: unknown): id is string {
  return typeof id === 'string' && JOB_ID_TEXT.test(id) && (id.length < 19 || BigInt(id) <= MAX_JOB_ID);
}
