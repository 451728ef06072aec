/**
 * Lease upkeep of the SQLite store: heartbeats (fenced lease extension) and the rescue of
 * running jobs whose lease expired.
 */
import type { ErrorRecord, JobRecord } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import { parseId } from './sqlite-job-admin.js';
import { jobFromRow, serializeErrorRecord, type JobRow } from './sqlite-rows.js';

/**
 * Extends the leases still held under their tokens and returns their ids. Progress is stored
 * when given as text; `undefined` or `null` keep what is stored (a beat without news must not
 * erase the last report). BEGIN IMMEDIATE so a batch of heartbeats is one write transaction
 * instead of one per job.
 */
export function heartbeatJobs(
  ctx: SqliteContext,
  items: readonly { id: string; token: string; progress?: string | null }[],
  leaseMs: number,
): string[] {
  const statements = ctx.statements();
  const expiresAt = ctx.now() + leaseMs;
  const held: string[] = [];
  ctx.db
    .transaction(() => {
      for (const item of items) {
        // An id that names no job holds no lease (and must not reach SQLite's lenient text-to-integer comparison).
        const id = parseId(item.id);
        if (id === null) continue;
        const row =
          item.progress === undefined || item.progress === null
            ? statements.jobHeartbeat.get({ id, token: item.token, expiresAt })
            : statements.jobHeartbeatProgress.get({ id, token: item.token, expiresAt, progress: item.progress });
        if (row !== undefined) held.push(item.id);
      }
    })
    .immediate();
  return held;
}

interface ExpiredRow {
  id: number;
  attempt: number;
  max_attempts: number;
  attempted_at: number | null;
  attempted_by: string | null;
  queue: string;
}

/**
 * Takes back up to `limit` running jobs whose lease expired: retryable now when attempts remain,
 * else dead, each attempt recorded as `lost` with the caller's `error` (see `Store.jobRescueExpired`).
 * Runs under BEGIN IMMEDIATE, and the UPDATE re-checks `state = 'running'` and the expiry, so a job
 * completed (or heartbeated) by its worker is never reopened: the worker's fenced write and the
 * rescue cannot interleave.
 */
export function rescueExpiredJobs(ctx: SqliteContext, limit: number, lostError: ErrorRecord): { retried: string[]; dead: string[]; jobs: JobRecord[]; cancelledDependents: string[]; queues: Set<string> } {
  const statements = ctx.statements();
  const now = ctx.now();
  const error = serializeErrorRecord(lostError);
  const retried: string[] = [];
  const dead: string[] = [];
  const jobs: JobRecord[] = [];
  const cancelledDependents: string[] = [];
  const queues = new Set<string>();
  ctx.db
    .transaction(() => {
      const expired = statements.jobExpiredList.all({ now, limit: Math.max(0, Math.floor(limit)) }) as ExpiredRow[];
      for (const job of expired) {
        const row = statements.jobRescue.get({ id: job.id, now, error }) as JobRow | undefined;
        if (row === undefined) continue;
        jobs.push(jobFromRow(row));
        statements.attemptInsert.run({
          jobId: job.id,
          attempt: job.attempt,
          workerId: job.attempted_by ?? '',
          startedAt: job.attempted_at ?? now,
          finishedAt: now,
          outcome: 'lost',
          error,
          result: null,
        });
        if (row.state === 'dead') {
          dead.push(String(job.id));
          for (const queue of ctx.inserter.deps.settleCounting([job.id], 'dead', now, cancelledDependents)) queues.add(queue);
        }
        else {
          retried.push(String(job.id));
          queues.add(job.queue);
        }
      }
    })
    .immediate();
  return { retried, dead, jobs, cancelledDependents, queues };
}
