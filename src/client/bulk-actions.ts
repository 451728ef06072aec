/**
 * Actions on every job a filter selects — "retry every dead job of queue email created today" —
 * and on one job (delete). Written once in the core on top of the store's per-job operations
 * (`jobRetry`, `jobCancel`) and `jobDelete`, so both stores behave the same and the policy stays
 * here. Pages of `BULK_PAGE` ids are read newest first (a cursor by id, which the actions do not
 * change) and acted on page by page; one call handles at most `MAX_BULK_ACTION` jobs and says
 * whether more matched (`more`), so a huge selection is done in several calls, not one unbounded one.
 */
import { NotFoundError, StateError } from '../errors.js';
import { tellCancelledDependents } from '../observe/cancelled-dependents.js';
import type { NightshiftEvents } from '../observe/events.js';
import { FINAL_STATES, JOB_STATES, RETRIABLE_STATES, type JobListFilter, type JobRecord, type JobState, type Store } from '../store/types.js';

/** Jobs read and acted on per page. */
const BULK_PAGE = 1000;
/** Most jobs one bulk call looks at. */
export const MAX_BULK_ACTION = 100_000;

/** What a bulk action did. */
export interface BulkActionResult {
  /** Jobs the action changed (retried, cancelled, deleted). */
  changed: number;
  /** Jobs selected that it left alone (running when retried, key taken, already final when cancelled…). */
  skipped: number;
  /** True when more jobs matched than one call handles; call again to go on. */
  more: boolean;
}

const NOT_FINAL = JOB_STATES.filter((state) => !FINAL_STATES.includes(state));

/** The filter's states narrowed to `allowed` (all of `allowed` when the filter names none). */
function narrow(filter: JobListFilter, allowed: readonly JobState[]): JobListFilter | null {
  const states = filter.states ? filter.states.filter((state) => allowed.includes(state)) : [...allowed];
  return states.length === 0 ? null : { ...filter, states };
}

async function forEachPage(store: Store, filter: JobListFilter, act: (ids: { id: string; queue: string; state: JobState }[]) => Promise<void>): Promise<boolean> {
  let cursor: string | null = null;
  let seen = 0;
  for (;;) {
    const page = await store.jobList({ filter, limit: BULK_PAGE, cursor });
    await act(page.jobs.map((job) => ({ id: job.id, queue: job.queue, state: job.state })));
    seen += page.jobs.length;
    if (page.nextCursor === null) return false;
    if (seen >= MAX_BULK_ACTION) return true;
    cursor = page.nextCursor;
  }
}

/** Retries every selected job that ended, waits for a retry or is scheduled (`RETRIABLE_STATES`, see `Store.jobRetry`). */
/**
 * For a job a failed dependency cancelled (`dependency_failed`): a dependency of it that still has
 * not completed, else null. Retrying such a job would run it without what it waits for (its
 * edges were settled when it was cancelled), so the dependency must be retried first.
 */
export async function unmetDependencyOf(store: Store, job: JobRecord): Promise<JobRecord | null> {
  if (job.state !== 'cancelled' || job.lastError?.kind !== 'dependency_failed') return null;
  const dependencies = await store.jobDependencies({ id: job.id });
  return dependencies.find((dependency) => dependency.job.state !== 'completed')?.job ?? null;
}

export async function retryMany(store: Store, filter: JobListFilter, events: NightshiftEvents): Promise<BulkActionResult> {
  const result = { changed: 0, skipped: 0, more: false };
  const selected = narrow(filter, RETRIABLE_STATES);
  if (!selected) return result;
  result.more = await forEachPage(store, selected, async (jobs) => {
    for (const job of jobs) {
      try {
        // A job cancelled by a failed dependency that still has not completed: left alone, as `retry` refuses it.
        if (job.state === 'cancelled') {
          const record = await store.jobGet({ id: job.id });
          if (record === null || (await unmetDependencyOf(store, record)) !== null) {
            result.skipped++;
            continue;
          }
        }
        const after = await store.jobRetry({ id: job.id });
        if (after?.state === 'available') {
          result.changed++;
          if (events.has('job:retried')) events.emit('job:retried', { job: after });
        } else {
          result.skipped++;
        }
      } catch (error) {
        // Its key is held by another pending job: leave it, as retrying it alone would.
        if (error instanceof StateError) result.skipped++;
        else throw error;
      }
    }
  });
  return result;
}

/** Cancels every selected job that has not finished; running handlers in this process are told at once. */
export async function cancelMany(store: Store, filter: JobListFilter, reason: string, events: NightshiftEvents): Promise<BulkActionResult> {
  const result = { changed: 0, skipped: 0, more: false };
  const selected = narrow(filter, NOT_FINAL);
  if (!selected) return result;
  // Jobs an earlier cancel of this call took down with it (they waited on it): selected too, they
  // are cancelled already, by this call, and told once.
  const cascaded = new Set<string>();
  result.more = await forEachPage(store, selected, async (jobs) => {
    for (const job of jobs) {
      if (cascaded.has(job.id)) {
        result.changed++;
        continue;
      }
      const cancelledDependents: string[] = [];
      const after = await store.jobCancel({ id: job.id, reason, cancelledDependents });
      if (after?.state === 'cancelled') {
        result.changed++;
        if (events.has('job:cancelled')) events.emit('job:cancelled', { job: after, reason });
        for (const id of cancelledDependents) cascaded.add(id);
        await tellCancelledDependents(store, events, cancelledDependents);
      } else {
        result.skipped++;
      }
    }
  });
  return result;
}

/** Deletes every selected job in a final state, with its attempts. */
export async function deleteMany(store: Store, filter: JobListFilter): Promise<BulkActionResult> {
  const result = { changed: 0, skipped: 0, more: false };
  const selected = narrow(filter, FINAL_STATES);
  if (!selected) return result;
  result.more = await forEachPage(store, selected, async (jobs) => {
    const { deleted } = await store.jobDelete({ ids: jobs.map((job) => job.id) });
    result.changed += deleted.length;
    result.skipped += jobs.length - deleted.length;
  });
  return result;
}

/** Deletes one finished job. NotFoundError when there is none; StateError while it has not finished. */
export async function deleteOne(store: Store, id: string): Promise<void> {
  const { deleted } = await store.jobDelete({ ids: [id] });
  if (deleted.length === 1) return;
  const job = await store.jobGet({ id });
  if (job === null) throw new NotFoundError('JOB_NOT_FOUND', `no job with id ${id}`);
  throw new StateError(`job ${id} is ${job.state}; only finished jobs (completed, dead, cancelled) can be deleted — cancel it first`);
}
