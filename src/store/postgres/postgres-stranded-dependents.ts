/**
 * Waiting jobs that nothing would release any more, found and repaired on PostgreSQL (see
 * `Store.jobSettleStranded`; the rules are store/job-dependencies.ts's).
 *
 * How they come about here: a finish commits its job's final state in one statement and settles
 * the jobs waiting on it in a second one (postgres-jobs.ts, `finishJobs`), as do a cancel and a
 * rescue; a process that dies in between leaves those jobs waiting on a dependency that ended.
 * And edges go with their jobs (ON DELETE CASCADE): a dependency pruned or deleted before its
 * edge settled leaves `deps_pending` counting an edge that no longer exists.
 *
 * Concurrency: ended dependencies go through settle_dependents_changes, which locks each edge
 * and waiting job and settles an edge once, so a repair racing the finish it stands in for (or
 * another process's repair) changes nothing twice. Jobs with a deleted dependency are written
 * by single statements that re-check, on the job's latest row, that it still waits on more
 * edges than it has (see depOrphanRelease and depOrphanCancel in job-statements.ts).
 */
import { dependencyDeletedError, dependencyEndEffect, POLICIES_KEEPING_FAILED_EDGES } from '../job-dependencies.js';
import type { DependencyFailurePolicy, JobState, StrandedSettleResult } from '../types.js';
import { run, settleDependentsChanges, wakeQueues, type PgJobContext } from './postgres-jobs.js';

export async function settleStranded(ctx: PgJobContext, limit: number): Promise<StrandedSettleResult> {
  const max = Math.max(0, Math.floor(limit));
  const released: string[] = [];
  const cancelled: string[] = [];
  const queues = new Set<string>();
  const record = (rows: { id: string; state: JobState; queue: string }[]) => {
    for (const row of rows) {
      if (row.state === 'cancelled') cancelled.push(row.id);
      else if (row.state !== 'waiting') released.push(row.id);
      if (row.state === 'available') queues.add(row.queue);
    }
  };
  if (max === 0) return { released, cancelled, queues: [] };

  // Ended dependencies first: a job stranded both ways gets the error naming the dependency it can still name.
  const ended = (await run<{ id: string; state: JobState }>(ctx.pool, ctx.sql.depStrandedEnded, [max, POLICIES_KEEPING_FAILED_EDGES])).rows;
  record(await settleDependentsChanges(ctx, ended.map((row) => row.id), ended.map((row) => row.state)));

  const orphans = (await run<{ id: string; policy: DependencyFailurePolicy | null }>(ctx.pool, ctx.sql.depStrandedOrphans, [max])).rows;
  const toRelease = orphans.filter((row) => dependencyEndEffect('deleted', row.policy) === 'release').map((row) => row.id);
  const toCancel = orphans.filter((row) => dependencyEndEffect('deleted', row.policy) === 'cancel').map((row) => row.id);
  if (toRelease.length > 0) record((await run<{ id: string; state: JobState; queue: string }>(ctx.pool, ctx.sql.depOrphanRelease, [ctx.now(), toRelease])).rows);
  if (toCancel.length > 0) {
    const { rows } = await run<{ id: string }>(ctx.pool, ctx.sql.depOrphanCancel, [ctx.now(), toCancel, JSON.stringify(dependencyDeletedError())]);
    cancelled.push(...rows.map((row) => row.id));
    // The jobs waiting on those, as any cancellation reaches them (a crash here is repaired by the next pass).
    record(await settleDependentsChanges(ctx, rows.map((row) => row.id), rows.map(() => 'cancelled')));
  }
  await wakeQueues(ctx, queues);
  return { released, cancelled, queues: [...queues] };
}
