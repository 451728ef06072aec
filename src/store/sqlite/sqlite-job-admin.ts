/**
 * Inspecting and managing jobs in the SQLite store: list pages, cancel, retry, stats, prune.
 */
import { StateError, ValidationError } from '../../errors.js';
import { isJobId } from '../job-ids.js';
import { cursorAfter, isFiltered, listWindow } from '../job-list-window.js';
import { FINAL_STATES, JOB_STATES, RETRIABLE_STATES, type JobListPage, type JobListParams, type JobRecord, type JobState, type JobStats, type PruneScope } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import { sqliteErrorCode } from './sqlite-errors.js';
import { likeContainsPattern } from './sqlite-like.js';
import { completedAttemptFromJob, jobFromRow, serializeErrorRecord, type JobRow } from './sqlite-rows.js';

/** Default page size of `jobList`, and its upper bound. */
const DEFAULT_LIST_LIMIT = 50;
const MAX_LIST_LIMIT = 1000;

/**
 * The rowid a job id names, or null when it names no job: malformed (the shared rule of
 * `store/job-ids.ts`), or above Number.MAX_SAFE_INTEGER, which this store cannot have handed out
 * (better-sqlite3 reads integers as JS numbers, so its ids are safe integers).
 */
export function parseId(id: string): number | null {
  if (!isJobId(id)) return null;
  const value = Number(id);
  return Number.isSafeInteger(value) ? value : null;
}

function listParam(values: readonly string[] | undefined): string | null {
  return values === undefined ? null : JSON.stringify(values);
}

function zeroCounts(): Record<JobState, number> {
  const counts = {} as Record<JobState, number>;
  for (const state of JOB_STATES) counts[state] = 0;
  return counts;
}

/** One page of jobs, newest first; the cursor is the last id of the previous page. */
export function listJobs(ctx: SqliteContext, params: JobListParams): JobListPage {
  const filter = params.filter ?? {};
  const limit = Math.min(Math.max(Math.floor(params.limit ?? DEFAULT_LIST_LIMIT), 1), MAX_LIST_LIMIT);
  const cursor = params.cursor === undefined || params.cursor === null ? null : parseId(params.cursor);
  if (params.cursor !== undefined && params.cursor !== null && cursor === null) {
    throw new ValidationError('INVALID_OPTION', `jobList: cursor ${JSON.stringify(params.cursor)} is not one this store returned; start again without a cursor`);
  }
  const filtered = isFiltered(params);
  const range = filtered ? (ctx.statements().jobIdRange.get() as { newest: number | null; oldest: number | null }) : null;
  const window = range === null ? { before: cursor ?? Number.MAX_SAFE_INTEGER, floor: 0 } : listWindow(params, cursor, range.newest);
  // One row more than the page tells whether another page follows.
  const rows = ctx.statements().jobList.all({
    before: window.before,
    floor: window.floor,
    states: listParam(filter.states),
    queues: listParam(filter.queues),
    names: listParam(filter.names),
    namePattern: filter.nameContains === undefined ? null : likeContainsPattern(filter.nameContains),
    searchPattern: filter.search ? likeContainsPattern(filter.search) : null,
    searchId: filter.search ? parseId(filter.search) : null,
    createdAfter: filter.createdAfter?.getTime() ?? null,
    createdBefore: filter.createdBefore?.getTime() ?? null,
    scheduleId: filter.scheduleId ?? null,
    errorKinds: listParam(filter.errorKinds),
    limit: limit + 1,
  }) as JobRow[];
  return { jobs: rows.slice(0, limit).map(jobFromRow), nextCursor: cursorAfter(rows, limit, window, range?.oldest ?? null) };
}

/**
 * Cancels a job in a non-final state; a final job comes back unchanged. A running job's attempt
 * is recorded as cancelled here, since the worker's own finish will be rejected by the fence.
 * BEGIN IMMEDIATE: it reads the job, then writes.
 */
export function cancelJob(ctx: SqliteContext, id: number, reason: string, cancelledDependents: string[] = []): JobRecord | null {
  const statements = ctx.statements();
  const now = ctx.now();
  const error = serializeErrorRecord({ name: 'JobCancelled', message: reason, stack: null, kind: 'cancelled' });
  return ctx.db
    .transaction((): JobRecord | null => {
      const before = statements.jobGet.get({ id }) as JobRow | undefined;
      if (before === undefined) return null;
      const after = statements.jobCancel.get({ id, now, error }) as JobRow | undefined;
      if (after === undefined) return jobFromRow(before);
      if (after.has_dependents === 1) ctx.inserter.deps.settleCounting([id], 'cancelled', now, cancelledDependents);
      if (before.state === 'running') {
        statements.attemptInsert.run({
          jobId: id,
          attempt: before.attempt,
          workerId: before.attempted_by ?? '',
          startedAt: before.attempted_at ?? now,
          finishedAt: now,
          outcome: 'cancelled',
          error,
          result: null,
        });
      }
      return jobFromRow(after);
    })
    .immediate();
}

/**
 * Makes a job that is not running available now, with one more attempt if it used them all.
 * A running job comes back unchanged. Throws StateError when the job's key is taken meanwhile
 * by another pending or running job (the key index would otherwise hold two of them). A completed
 * job's last attempt lives only in its row (see `jobCompleteBatch`), so it is recorded as an
 * attempt row first, in the same transaction, unless an earlier version already recorded it.
 */
export function retryJob(ctx: SqliteContext, id: number): JobRecord | null {
  const statements = ctx.statements();
  const now = ctx.now();
  return ctx.db
    .transaction((): JobRecord | null => {
      const before = statements.jobGet.get({ id }) as JobRow | undefined;
      if (before === undefined) return null;
      // Only jobs that ended, wait for a retry or are scheduled are made available: a running one
      // has its worker, an available one would only lose its place in line, and a waiting one
      // would run before the jobs it waits for.
      if (!RETRIABLE_STATES.includes(before.state)) return jobFromRow(before);
      try {
        const after = jobFromRow(statements.jobRetry.get({ id, now }) as JobRow);
        const completed = completedAttemptFromJob(before);
        if (completed !== null && statements.attemptCompletedRecorded.get({ id, attempt: completed.attempt }) === undefined) {
          statements.attemptInsert.run({
            jobId: id,
            attempt: completed.attempt,
            workerId: completed.workerId,
            startedAt: completed.startedAt.getTime(),
            finishedAt: before.finished_at ?? now,
            outcome: 'completed',
            error: null,
            result: completed.result,
          });
        }
        return after;
      } catch (error) {
        if (sqliteErrorCode(error) === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new StateError(
            `job ${id} cannot be retried: another job "${before.name}" with key ${JSON.stringify(before.key)} is pending or running; wait for it to finish or cancel it`,
          );
        }
        throw error;
      }
    })
    .immediate();
}

/** Counts per queue and state, every state present (zero when none). Queues sorted by name. */
export function jobStats(ctx: SqliteContext): JobStats {
  const rows = ctx.statements().jobStats.all() as { queue: string; state: JobState; count: number }[];
  const totals = zeroCounts();
  const byQueue = new Map<string, Record<JobState, number>>();
  for (const row of rows) {
    let counts = byQueue.get(row.queue);
    if (counts === undefined) {
      counts = zeroCounts();
      byQueue.set(row.queue, counts);
    }
    counts[row.state] += row.count;
    totals[row.state] += row.count;
  }
  const queues = [...byQueue.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([queue, counts]) => ({ queue, counts }));
  return { queues, totals };
}

/** Deletes up to `limit` jobs in the given final states finished before the cutoff, with their attempts. */
/** The bound parameters of a prune's scope. */
function scopeParams(scope: PruneScope | undefined): Record<'names' | 'queues' | 'exceptNames' | 'exceptQueues', string | null> {
  return {
    names: listParam(scope?.names),
    queues: listParam(scope?.queues),
    exceptNames: listParam(scope?.exceptNames),
    exceptQueues: listParam(scope?.exceptQueues),
  };
}

/** Clears results of completed jobs past their time to live (see `Store.jobResultPrune`). */
export function pruneResults(ctx: SqliteContext, finishedBefore: Date, limit: number, scope: PruneScope | undefined): number {
  const max = Math.max(0, Math.floor(limit));
  if (max === 0) return 0;
  return (ctx.statements().jobResultPrune.all({ finishedBefore: finishedBefore.getTime(), limit: max, ...scopeParams(scope) }) as unknown[]).length;
}

export function pruneJobs(ctx: SqliteContext, finishedBefore: Date, states: readonly JobState[], limit: number, scope?: PruneScope): number {
  const final = states.filter((state) => FINAL_STATES.includes(state));
  const max = Math.max(0, Math.floor(limit));
  if (final.length === 0 || max === 0) return 0;
  const statements = ctx.statements();
  return ctx.db
    .transaction(() => {
      const rows = statements.jobPrune.all({ states: JSON.stringify(final), finishedBefore: finishedBefore.getTime(), limit: max, ...scopeParams(scope) }) as { id: number }[];
      if (rows.length === 0) return 0;
      let highest = 0;
      for (const row of rows) if (row.id > highest) highest = row.id;
      statements.attemptPrune.run({ ids: JSON.stringify(rows.map((row) => row.id)) });
      ctx.inserter.deps.forget(rows.map((row) => row.id));
      // The deleted ids may have been the newest: keep them from being handed out again.
      statements.jobIdFloorRaise.run({ id: highest });
      return rows.length;
    })
    .immediate();
}

/**
 * Deletes the final-state jobs among `ids`, with their attempt rows, in one BEGIN IMMEDIATE
 * transaction, and raises the id floor as the pruner does so the ids are never handed out again.
 */
export function deleteJobs(ctx: SqliteContext, ids: readonly number[]): number[] {
  if (ids.length === 0) return [];
  const statements = ctx.statements();
  return ctx.db
    .transaction(() => {
      const rows = statements.jobDeleteFinal.all({ ids: JSON.stringify(ids) }) as { id: number }[];
      if (rows.length === 0) return [];
      const deleted = rows.map((row) => row.id);
      statements.attemptPrune.run({ ids: JSON.stringify(deleted) });
      ctx.inserter.deps.forget(deleted);
      statements.jobIdFloorRaise.run({ id: Math.max(...deleted) });
      return deleted;
    })
    .immediate();
}
