/**
 * Which one-job enqueues a store may commit together with others (SQLite: sqlite-insert-batch.ts;
 * PostgreSQL: postgres-insert-batch.ts): those outside a caller's transaction whose insert reads
 * nothing first, so it cannot conflict with a stored job or with its neighbours in the statement.
 */
import { isThrottledOrDebounced } from './debounce.js';
import { hasDependencies } from './job-dependencies.js';
import type { JobInsert } from './types.js';

/** The one job of `jobs` when it may share a commit (no transaction of the caller's, no key, dependency, throttle, debounce or rate key); else null. */
export function groupCommitJob(jobs: readonly JobInsert[], tx: unknown): JobInsert | null {
  if ((tx !== undefined && tx !== null) || jobs.length !== 1) return null;
  const job = jobs[0]!;
  return job.key === null && !hasDependencies(job) && !isThrottledOrDebounced(job) && job.rateKey === undefined ? job : null;
}
