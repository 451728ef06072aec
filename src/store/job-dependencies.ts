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
 */
import { ValidationError } from '../errors.js';
import { isJobId } from './job-ids.js';
import type { DependencyFailurePolicy, JobInsert, JobState } from './types.js';

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
    const ended = state === 'dead' || state === 'cancelled';
    const settled = state === 'completed' || (ended && policy === 'run');
    if (ended && policy === 'cancel' && failed === null) failed = { id, state };
    edges.push({ id, settled });
    if (!settled) pending++;
  }
  return { state: failed ? 'cancelled' : pending > 0 ? 'waiting' : null, pending, policy, edges, failed };
}

/** The error a job cancelled by a failed dependency records (both stores write exactly this). */
export function dependencyFailedError(depId: string, how: string): { name: string; message: string; stack: null; kind: string } {
  return { name: 'DependencyFailed', message: `dependency ${depId} ended ${how}`, stack: null, kind: 'dependency_failed' };
}
