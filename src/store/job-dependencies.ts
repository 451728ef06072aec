/**
 * Job dependencies, the part both stores share: which jobs a new job names, and what it starts
 * as given their states. Each store reads the states (under its own locking, written next to its
 * code) and writes the edges; this decides, so both stores agree.
 *
 * A waiting job counts its unsettled edges (`deps_pending`). An edge settles once, when its
 * dependency completes, or fails (dead or cancelled) under the `run` policy; the job becomes
 * available or scheduled when the count reaches 0. Under `cancel` (the default) a failed
 * dependency cancels the job, and that cancellation reaches the jobs waiting on it in turn;
 * under `wait` the edge stays open until the dependency is retried and completes.
 *
 * A dependency can also be gone before its edge settled: pruned or deleted (its edges go with
 * it) while a job still waited on it, or ended without its dependents being settled (a process
 * that died between a finish and the settle). `Store.jobSettleStranded` finds such jobs and
 * applies `dependencyEndEffect` to them, as a finish would have.
 */
import { ValidationError } from '../errors.js';
import { isJobId } from './job-ids.js';
import { DEPENDENCY_FAILURE_POLICIES, type DependencyFailurePolicy, type JobInsert, type JobState } from './types.js';

/** What a new job with dependencies starts as, and the edges to write (dependency id, settled). */
export interface DependencyPlan {
  /** `waiting`; `cancelled` when a dependency already failed under `cancel`; null: nothing to wait for (its normal state). */
  state: 'waiting' | 'cancelled' | null;
  pending: number;
  policy: DependencyFailurePolicy;
  edges: { id: string; settled: boolean }[];
  /** The failed dependency that cancels it, when `state` is `cancelled`. */
  failed: { id: string; state: JobState } | null;
}

/** Whether an insert names dependencies at all. */
export function hasDependencies(job: JobInsert): boolean {
  return (job.dependsOn?.length ?? 0) > 0 || (job.dependsOnItems?.length ?? 0) > 0;
}

/**
 * The ids item `index` depends on: its named ids and the ids earlier items of the same insert got
 * (`itemIds`). Throws UNKNOWN_DEPENDENCY for text that cannot be an id or a position that is not
 * an earlier item.
 */
export function dependencyIds(job: JobInsert, index: number, itemIds: readonly (string | null)[]): string[] {
  const ids = new Set<string>();
  const bad: string[] = [];
  for (const id of job.dependsOn ?? []) {
    if (isJobId(id)) ids.add(id);
    else bad.push(JSON.stringify(id));
  }
  for (const position of job.dependsOnItems ?? []) {
    const id = Number.isInteger(position) && position >= 0 && position < index ? itemIds[position] : undefined;
    if (typeof id === 'string') ids.add(id);
    else bad.push(`item ${position}`);
  }
  if (bad.length > 0) throw unknownDependencies(job, bad);
  return [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
}

function unknownDependencies(job: JobInsert, which: string[]): ValidationError {
  return new ValidationError('UNKNOWN_DEPENDENCY', `job "${job.name}" depends on jobs that do not exist: ${which.join(', ')}; nothing was stored`);
}

/** Decides the plan from the dependencies' states now (`states`: id → state, for the ids found). */
export function planDependencies(job: JobInsert, ids: readonly string[], states: ReadonlyMap<string, JobState>): DependencyPlan {
  const missing = ids.filter((id) => !states.has(id));
  if (missing.length > 0) throw unknownDependencies(job, missing);
  const policy = job.onDependencyFailure ?? 'cancel';
  const edges: DependencyPlan['edges'] = [];
  let pending = 0;
  let failed: DependencyPlan['failed'] = null;
  for (const id of ids) {
    const state = states.get(id)!;
    const effect = state === 'completed' || state === 'dead' || state === 'cancelled' ? dependencyEndEffect(state, policy) : 'keep';
    const settled = effect === 'release';
    if (effect === 'cancel' && failed === null) failed = { id, state };
    edges.push({ id, settled });
    if (!settled) pending++;
  }
  return { state: failed ? 'cancelled' : pending > 0 ? 'waiting' : null, pending, policy, edges, failed };
}

/** The error a job cancelled by a failed dependency records (both stores write exactly this). */
export function dependencyFailedError(depId: string, how: string): { name: string; message: string; stack: null; kind: string } {
  return { name: 'DependencyFailed', message: `dependency ${depId} ended ${how}`, stack: null, kind: 'dependency_failed' };
}

/**
 * How a dependency's end reaches a job waiting on it: `deleted` is a dependency that no longer
 * exists while the job's edge to it was not settled (pruned or deleted meanwhile; whether it
 * had completed is unknown).
 */
export type DependencyEnd = 'completed' | 'dead' | 'cancelled' | 'deleted';

/**
 * What a dependency's end does to a job waiting on it under `policy` (null: the default,
 * `cancel`): `release` settles the edge (the job is due once none is left), `cancel` cancels the
 * job, `keep` leaves the edge open. A deleted dependency is settled only under `run`: under
 * `wait` nothing could ever complete it any more, so the job is cancelled rather than left
 * waiting forever.
 */
export function dependencyEndEffect(end: DependencyEnd, policy: DependencyFailurePolicy | null): 'release' | 'cancel' | 'keep' {
  if (end === 'completed') return 'release';
  const effective = policy ?? 'cancel';
  if (effective === 'run') return 'release';
  if (effective === 'wait' && end !== 'deleted') return 'keep';
  return 'cancel';
}

/** The policies under which a dead or cancelled dependency leaves the edge open (a store's stranded-job search skips those edges). */
export const POLICIES_KEEPING_FAILED_EDGES: readonly DependencyFailurePolicy[] = DEPENDENCY_FAILURE_POLICIES.filter(
  (policy) => dependencyEndEffect('dead', policy) === 'keep' && dependencyEndEffect('cancelled', policy) === 'keep',
);

/** The error a job records when a dependency it waited on was deleted before it completed (both stores write exactly this). */
export function dependencyDeletedError(): { name: string; message: string; stack: null; kind: string } {
  return {
    name: 'DependencyFailed',
    message: 'a dependency was deleted before it completed (pruned or deleted while this job waited on it)',
    stack: null,
    kind: 'dependency_failed',
  };
}
