import type { Store } from '../store/types.js';
import type { NightshiftEvents } from './events.js';

/** Most cancelled dependents told one by one per write; a larger cascade is told up to here (and logged by the caller). */
export const MAX_TOLD_DEPENDENTS = 10_000;

/**
 * Tells `job:cancelled` for jobs the store cancelled because a job they waited on ended dead or
 * cancelled (`JobFinishResult.cancelledDependents`, `RescueResult.cancelledDependents`,
 * `StrandedSettleResult.cancelled`): the store moved them inside its own write, so no process
 * told of them, and a stream or an app listening for cancellations would never hear of them.
 * Each is read back first (its queue, name and the error that says which dependency ended how);
 * cascades are rare and small, and this runs after the write, never on a job's own path. A job
 * that is no longer cancelled when read (retried meanwhile) is skipped.
 */
export async function tellCancelledDependents(store: Store, events: NightshiftEvents, ids: readonly string[]): Promise<void> {
  if (ids.length === 0 || !events.has('job:cancelled')) return;
  for (const id of ids.slice(0, MAX_TOLD_DEPENDENTS)) {
    const job = await store.jobGet({ id });
    if (job === null || job.state !== 'cancelled') continue;
    events.emit('job:cancelled', { job, reason: job.lastError?.message ?? 'a job it depends on ended without completing' });
  }
}
