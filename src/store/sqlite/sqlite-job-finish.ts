/**
 * Fenced finishing writes: how running attempts ended, applied only while each job still runs
 * under the worker's lease token, plus the attempts' rows in the history (a completed attempt
 * stays in its job row instead).
 */
import type { JobFinishItem, JobFinishResult } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import type { RidingAppends } from './sqlite-event-rider.js';
import { parseId } from './sqlite-job-admin.js';
import { serializeErrorRecord } from './sqlite-rows.js';

/** What the fenced UPDATE returns: enough to write the attempt row without reading the job again. */
interface FinishedRow {
  id: number;
  /** The job's attempt count after the write (given back already for snoozed/released). */
  attempt: number;
  attempted_at: number | null;
  attempted_by: string | null;
  queue: string;
  has_dependents: number;
}

/** One item as the general batch statement reads it: `[id, token, outcome, runAt, error, result, startDelayMs]`. */
type FinishTuple = [number, string, string, number | null, string | null, string | null, number];

/** One completed item as `jobCompleteBatch` reads it: `[id, token, result]`, plus the start delay for `jobCompleteBatchDelayed`. */
type CompleteTuple = [number, string, string | null] | [number, string, string | null, number];

/**
 * Applies every item in one BEGIN IMMEDIATE transaction. Completed items (nearly all of them)
 * go through the lean `jobCompleteBatch`, which leaves the completed attempt in the job row; the
 * others through the general fenced UPDATE, then one INSERT of their attempt rows for the items
 * that applied. The fence is in each statement's WHERE clause (`state = 'running' AND
 * lease_token = token`); IMMEDIATE makes the fence check and the write one step against the
 * latest committed state (see the store's comment), so a rescuer or a canceller in another
 * process cannot slip in between.
 */
export function finishJobs(ctx: SqliteContext, items: readonly JobFinishItem[]): { result: JobFinishResult; madeAvailable: Set<string> } {
  const statements = ctx.statements();
  const now = ctx.now();
  const tuples: FinishTuple[] = new Array<FinishTuple>(items.length);
  const completed: CompleteTuple[] = [];
  let delayed = false;
  const others: FinishTuple[] = [];
  for (let i = 0; i < items.length; i++) {
    const tuple = toTuple(items[i] as JobFinishItem, now);
    tuples[i] = tuple;
    if (tuple[2] === 'completed') {
      completed.push(tuple[6] > 0 ? [tuple[0], tuple[1], tuple[5], tuple[6]] : [tuple[0], tuple[1], tuple[5]]);
      if (tuple[6] > 0) delayed = true;
    }
    else others.push(tuple);
  }

  /** Ids whose write applied; for the general statement, with what the caller needs of the row. */
  const applied = new Map<number, FinishedRow | null>();
  /** Queues that got a job due now: released dependents (added to what the finishes themselves made available). */
  let released = new Set<string>();
  /** Feed appends written in this transaction after the finishes (see sqlite-event-rider.ts). */
  let riding: RidingAppends | null = null;
  /** Jobs cancelled because one they waited on ended dead or cancelled here. */
  const cancelledDependents: string[] = [];
  const write = (): void => {
    if (completed.length > 0) {
      const complete = delayed ? statements.jobCompleteBatchDelayed : statements.jobCompleteBatch;
      const ids: number[] = [];
      for (const row of complete.all({ items: JSON.stringify(completed), now }) as { id: number }[]) {
        applied.set(row.id, null);
        ids.push(row.id);
      }
      // Jobs waiting on these: in the same transaction, so a dependent never misses its release.
      // Looked for only while some job waits on another at all (one probe), not per job.
      if (ids.length > 0 && (statements.depsAny.get() as { any: number }).any === 1) {
        const parents = (statements.depsParents.all({ ids: JSON.stringify(ids) }) as { id: number }[]).map((row) => row.id);
        if (parents.length > 0) released = ctx.inserter.deps.settle(parents, 'completed', now);
      }
    }
    if (others.length === 0) return;
    const rows = statements.jobFinishBatch.all({ items: JSON.stringify(others), now }) as FinishedRow[];
    if (rows.length === 0) return;
    const byId = new Map<number, FinishedRow>();
    for (const row of rows) byId.set(row.id, row);
    const attempts: unknown[][] = [];
    const refunds = rateRefunds(items);
    const refunded: unknown[][] = [];
    for (const tuple of others) {
      const row = byId.get(tuple[0]);
      if (row === undefined) continue;
      // Drop it so a job listed twice in one batch gets one attempt row (its second write was fenced out).
      byId.delete(tuple[0]);
      applied.set(row.id, row);
      const outcome = tuple[2];
      const attempt = outcome === 'snoozed' || outcome === 'released' ? row.attempt + 1 : row.attempt;
      attempts.push([row.id, attempt, row.attempted_by ?? '', row.attempted_at ?? now, outcome, tuple[4], tuple[5]]);
      const refund = outcome === 'released' ? refunds?.get(row.id) : undefined;
      if (refund !== undefined && row.attempted_at !== null) refunded.push([row.id, row.attempted_at, refund[0], refund[1]]);
      if (row.has_dependents === 1 && (outcome === 'dead' || outcome === 'cancelled')) {
        for (const queue of ctx.inserter.deps.settleCounting([row.id], outcome, now, cancelledDependents)) released.add(queue);
      }
    }
    statements.attemptInsertBatch.run({ rows: JSON.stringify(attempts), now });
    if (refunded.length > 0) statements.rateRefund.run({ rows: JSON.stringify(refunded) });
  };
  try {
    ctx.db
      .transaction(() => {
        write();
        riding = ctx.eventRider.rideIn();
      })
      .immediate();
  } catch (error) {
    ctx.eventRider.settle(riding, false);
    throw error;
  }
  ctx.eventRider.settle(riding, true);

  const appliedIds: string[] = [];
  const rejected: string[] = [];
  const madeAvailable = released;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as JobFinishItem;
    const tuple = tuples[i] as FinishTuple;
    if (!applied.has(tuple[0])) {
      rejected.push(item.id);
      continue;
    }
    // A job listed twice in one batch: its first item applied, the second was fenced out.
    const row = applied.get(tuple[0]);
    applied.delete(tuple[0]);
    appliedIds.push(item.id);
    const wakesAt = tuple[2] === 'released' ? now : tuple[3];
    if (row && wakesAt !== null && wakesAt <= now && (tuple[2] === 'failed' || tuple[2] === 'snoozed' || tuple[2] === 'released')) {
      madeAvailable.add(row.queue);
    }
  }
  return { result: cancelledDependents.length > 0 ? { applied: appliedIds, rejected, cancelledDependents } : { applied: appliedIds, rejected }, madeAvailable };
}

/** Releases that give their rate-limit claims back (see `JobFinish`): job id → [queue refund, key refund]; null for none. */
function rateRefunds(items: readonly JobFinishItem[]): Map<number, [number, number]> | null {
  let refunds: Map<number, [number, number]> | null = null;
  for (const item of items) {
    const refund = item.finish.outcome === 'released' ? item.finish.rateRefund : undefined;
    if (refund === undefined || (!refund.queue && !refund.key)) continue;
    const id = parseId(item.id);
    if (id !== null) (refunds ??= new Map()).set(id, [refund.queue ? 1 : 0, refund.key ? 1 : 0]);
  }
  return refunds;
}

function toTuple(item: JobFinishItem, now: number): FinishTuple {
  // An id that names no job becomes 0, which never matches a row: the item is rejected.
  const id = parseId(item.id) ?? 0;
  const { finish } = item;
  const delay = item.startDelayMs ?? 0;
  switch (finish.outcome) {
    case 'completed':
      return [id, item.token, 'completed', null, null, finish.result, delay];
    case 'failed':
      return [id, item.token, 'failed', now + finish.retryDelayMs, serializeErrorRecord(finish.error), null, delay];
    case 'dead':
      return [id, item.token, 'dead', null, serializeErrorRecord(finish.error), null, delay];
    case 'snoozed':
      return [id, item.token, 'snoozed', now + finish.delayMs, null, null, delay];
    case 'cancelled':
      return [id, item.token, 'cancelled', null, serializeErrorRecord({ name: 'JobCancelled', message: finish.reason, stack: null, kind: 'cancelled' }), null, delay];
    case 'released':
      return [id, item.token, 'released', null, null, null, 0];
  }
}
