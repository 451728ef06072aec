/**
 * Job dependencies on SQLite: the edges a job waits on, and what a dependency's end does to the
 * jobs waiting on it. Every function runs inside the caller's write transaction (an insert, a
 * finish, a cancel, a rescue), so an edge and the states it decides change together.
 *
 * A waiting job keeps `deps_pending`: how many of its edges are not settled yet. An edge settles
 * once (its `resolved` flag), when its dependency completes, or fails under the `run` policy;
 * the job becomes available (or scheduled, by its run_at) when the count reaches 0. A dependency
 * that ends dead or cancelled cancels the jobs waiting on it under the `cancel` policy (the
 * default), and those cancellations reach the jobs waiting on *them* the same way. Jobs flag
 * `has_dependents` so that the finish of a job nobody waits for costs nothing here.
 *
 * A dependency deleted before its edge settled (a dead one under `wait`, then pruned) takes its
 * edges with it (`forget`) and leaves the waiting job counting one too many: `settleStranded`
 * (the rescuer's `Store.jobSettleStranded`) finds such jobs, and any whose dependency ended
 * without this module hearing of it.
 */
import type Database from 'better-sqlite3';
import {
  dependencyDeletedError,
  dependencyEndEffect,
  dependencyFailedError,
  dependencyIds,
  hasDependencies,
  planDependencies,
  POLICIES_KEEPING_FAILED_EDGES,
  type DependencyPlan,
} from '../job-dependencies.js';
import type { DependencyFailurePolicy, JobInsert, JobState, StrandedSettleResult } from '../types.js';
import { serializeErrorRecord } from './sqlite-rows.js';

export const SQL = {
  states: `SELECT id, state FROM nightshift_jobs WHERE id IN (SELECT value FROM json_each(@ids))`,
  setWaiting: `UPDATE nightshift_jobs SET deps_pending = @pending, on_dep_failure = @policy WHERE id = @id`,
  insertEdges: `
    INSERT OR IGNORE INTO nightshift_job_deps (job_id, depends_on, resolved)
    SELECT @jobId, value ->> 0, value ->> 1 FROM json_each(@edges)`,
  markParents: `UPDATE nightshift_jobs SET has_dependents = 1 WHERE id IN (SELECT value FROM json_each(@ids)) AND has_dependents = 0`,
  waitingOn: `
    SELECT d.job_id AS id, j.on_dep_failure AS policy FROM nightshift_job_deps d
    JOIN nightshift_jobs j ON j.id = d.job_id
    WHERE d.depends_on = @dep AND d.resolved = 0 AND j.state = 'waiting'`,
  settle: `UPDATE nightshift_job_deps SET resolved = 1 WHERE job_id = @id AND depends_on = @dep AND resolved = 0`,
  release: `
    UPDATE nightshift_jobs
    SET deps_pending = deps_pending - 1,
        state = CASE WHEN deps_pending - 1 > 0 THEN state WHEN run_at > @now THEN 'scheduled' ELSE 'available' END
    WHERE id = @id AND state = 'waiting'
    RETURNING state, queue`,
  cancel: `
    UPDATE nightshift_jobs SET state = 'cancelled', finished_at = @now, last_error = @error
    WHERE id = @id AND state = 'waiting'
    RETURNING has_dependents`,
  dependencies: `
    SELECT j.*, d.resolved AS dep_resolved FROM nightshift_job_deps d
    JOIN nightshift_jobs j ON j.id = d.depends_on
    WHERE d.job_id = @id
    ORDER BY j.id`,
  forget: `DELETE FROM nightshift_job_deps WHERE job_id IN (SELECT value FROM json_each(@ids)) OR depends_on IN (SELECT value FROM json_each(@ids))`,
  // Stranded waiting jobs (settleStranded). Both walk the partial index of waiting jobs (INDEXED
  // BY: an error rather than a table scan should it ever be missing), then each one's edges by
  // primary key: the cost follows the number of waiting jobs, not of jobs or edges. CROSS JOIN
  // keeps that order (SQLite's planner would otherwise start from the edges).
  // Ended dependencies with an unsettled edge from a waiting job whose policy settles that end
  // now (@keep: the policies that leave a failed dependency's edge open, job-dependencies.ts).
  strandedEnded: `
    SELECT DISTINCT p.id AS id, p.state AS how
    FROM nightshift_jobs w INDEXED BY nightshift_jobs_waiting_idx
    CROSS JOIN nightshift_job_deps d
    CROSS JOIN nightshift_jobs p
    WHERE w.state = 'waiting' AND d.job_id = w.id AND d.resolved = 0 AND p.id = d.depends_on
      AND (p.state = 'completed'
           OR (p.state IN ('dead', 'cancelled') AND coalesce(w.on_dep_failure, 'cancel') NOT IN (SELECT value FROM json_each(@keep))))
    ORDER BY p.id
    LIMIT @limit`,
  // Waiting jobs counting more unsettled edges than they have: the others went with a deleted dependency.
  strandedOrphans: `
    SELECT id, policy, unsettled FROM (
      SELECT w.id AS id, w.on_dep_failure AS policy, w.deps_pending AS pending,
             (SELECT count(*) FROM nightshift_job_deps d WHERE d.job_id = w.id AND d.resolved = 0) AS unsettled
      FROM nightshift_jobs w INDEXED BY nightshift_jobs_waiting_idx
      WHERE w.state = 'waiting'
    )
    WHERE pending > unsettled
    ORDER BY id
    LIMIT @limit`,
  // The edges that went with their dependency count as settled: due once none is left.
  orphanRelease: `
    UPDATE nightshift_jobs
    SET deps_pending = @unsettled,
        state = CASE WHEN @unsettled > 0 THEN state WHEN run_at > @now THEN 'scheduled' ELSE 'available' END
    WHERE id = @id AND state = 'waiting'
    RETURNING state, queue`,
} as const;

type Statements = { -readonly [K in keyof typeof SQL]: Database.Statement };

export class SqliteDependencies {
  private prepared: Statements | null = null;

  constructor(private readonly db: Database.Database) {}

  private statements(): Statements {
    if (this.prepared === null) {
      const prepared: Partial<Statements> = {};
      for (const [name, text] of Object.entries(SQL)) prepared[name as keyof Statements] = this.db.prepare(text);
      this.prepared = prepared as Statements;
    }
    return this.prepared;
  }

  /**
   * Decides a new job's dependencies (job-dependencies.ts) from the states of the jobs it names
   * and of earlier items of the same insert (`itemIds`). Throws UNKNOWN_DEPENDENCY; the caller's
   * transaction then stores nothing. No lock is needed: the insert's write transaction keeps
   * every other writer out until the edges are in.
   */
  plan(job: JobInsert, index: number, itemIds: readonly (string | null)[]): DependencyPlan | null {
    if (!hasDependencies(job)) return null;
    const ids = dependencyIds(job, index, itemIds);
    const rows = ids.length === 0 ? [] : (this.statements().states.all({ ids: JSON.stringify(ids.map(Number)) }) as { id: number; state: JobState }[]);
    return planDependencies(job, ids, new Map(rows.map((row) => [String(row.id), row.state])));
  }

  /** Writes a planned job's edges and counters, after its row was inserted with `plan.state`. */
  record(jobId: number, plan: DependencyPlan): void {
    const statements = this.statements();
    statements.setWaiting.run({ id: jobId, pending: plan.pending, policy: plan.policy });
    statements.insertEdges.run({ jobId, edges: JSON.stringify(plan.edges.map((edge) => [Number(edge.id), edge.settled ? 1 : 0])) });
    statements.markParents.run({ ids: JSON.stringify(plan.edges.map((edge) => Number(edge.id))) });
  }

  /**
   * Dependencies `ids` just ended `how` (`completed`; `failed`: dead or cancelled): settles their
   * edges and moves the jobs waiting on them. Returns the queues that got a job due now.
   */
  settle(ids: readonly number[], how: 'completed' | 'dead' | 'cancelled', now: number): Set<string> {
    const changes = emptyChanges();
    this.settleInto(ids.map((id) => ({ id, how })), now, changes);
    return changes.queues;
  }

  /** `settle`, also adding the ids of the jobs it cancelled (with the jobs waiting on those in turn) to `cancelled`. */
  settleCounting(ids: readonly number[], how: 'completed' | 'dead' | 'cancelled', now: number, cancelled: string[]): Set<string> {
    const changes = emptyChanges();
    this.settleInto(ids.map((id) => ({ id, how })), now, changes);
    for (const id of changes.cancelled) cancelled.push(id);
    return changes.queues;
  }

  /** `settle` for dependencies that may have ended differently, recording every job it moves out of `waiting` in `changes`. */
  private settleInto(ended: readonly { id: number; how: 'completed' | 'dead' | 'cancelled' }[], now: number, changes: Changes): void {
    const statements = this.statements();
    let frontier = [...ended];
    // Each round moves jobs out of `waiting`, so it ends: a job is cancelled at most once.
    while (frontier.length > 0) {
      const next: typeof frontier = [];
      for (const dep of frontier) {
        for (const waiting of statements.waitingOn.all({ dep: dep.id }) as { id: number; policy: DependencyFailurePolicy | null }[]) {
          const effect = dependencyEndEffect(dep.how, waiting.policy);
          if (effect === 'keep') continue;
          statements.settle.run({ id: waiting.id, dep: dep.id });
          if (effect === 'release') {
            const row = statements.release.get({ id: waiting.id, now }) as { state: JobState; queue: string } | undefined;
            if (row) changes.released(waiting.id, row);
          } else {
            const row = statements.cancel.get({ id: waiting.id, now, error: serializeErrorRecord(dependencyFailedError(String(dep.id), dep.how)) }) as { has_dependents: number } | undefined;
            if (row) changes.cancelled.push(String(waiting.id));
            if (row && row.has_dependents === 1) next.push({ id: waiting.id, how: 'cancelled' });
          }
        }
      }
      frontier = next;
    }
  }

  /**
   * See `Store.jobSettleStranded`. Runs inside the caller's write transaction (BEGIN IMMEDIATE),
   * so nothing changes between finding a stranded job and repairing it. Ended dependencies
   * first: a job stranded both ways gets the error naming the dependency it can still name.
   */
  settleStranded(limit: number, now: number): StrandedSettleResult {
    const statements = this.statements();
    const changes = emptyChanges();
    const max = Math.max(0, Math.floor(limit));
    if (max === 0) return changes.result();
    const ended = statements.strandedEnded.all({ keep: JSON.stringify(POLICIES_KEEPING_FAILED_EDGES), limit: max }) as { id: number; how: 'completed' | 'dead' | 'cancelled' }[];
    this.settleInto(ended, now, changes);
    const cancelled: number[] = [];
    for (const orphan of statements.strandedOrphans.all({ limit: max }) as { id: number; policy: DependencyFailurePolicy | null; unsettled: number }[]) {
      if (dependencyEndEffect('deleted', orphan.policy) === 'release') {
        const row = statements.orphanRelease.get({ id: orphan.id, unsettled: orphan.unsettled, now }) as { state: JobState; queue: string } | undefined;
        if (row) changes.released(orphan.id, row);
      } else {
        const row = statements.cancel.get({ id: orphan.id, now, error: serializeErrorRecord(dependencyDeletedError()) }) as { has_dependents: number } | undefined;
        if (row) changes.cancelled.push(String(orphan.id));
        if (row && row.has_dependents === 1) cancelled.push(orphan.id);
      }
    }
    this.settleInto(cancelled.map((id) => ({ id, how: 'cancelled' })), now, changes);
    return changes.result();
  }

  dependencies(id: number): (Record<string, unknown> & { dep_resolved: number })[] {
    return this.statements().dependencies.all({ id }) as (Record<string, unknown> & { dep_resolved: number })[];
  }

  /** Drops the edges of deleted jobs, both ways. */
  forget(ids: readonly number[]): void {
    if (ids.length > 0) this.statements().forget.run({ ids: JSON.stringify(ids) });
  }
}

/** What a settle moved out of `waiting`, gathered as it goes. */
interface Changes {
  readonly cancelled: string[];
  /** Queues that got a job due now. */
  readonly queues: Set<string>;
  /** Records a job whose edge settled: released once it is no longer waiting. */
  released(id: number, row: { state: JobState; queue: string }): void;
  result(): StrandedSettleResult;
}

function emptyChanges(): Changes {
  const released: string[] = [];
  const cancelled: string[] = [];
  const queues = new Set<string>();
  return {
    cancelled,
    queues,
    released(id, row) {
      if (row.state === 'waiting') return;
      released.push(String(id));
      if (row.state === 'available') queues.add(row.queue);
    },
    result: () => ({ released, cancelled, queues: [...queues] }),
  };
}
