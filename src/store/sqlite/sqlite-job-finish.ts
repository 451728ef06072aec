/**
 * Fenced finishing writes: how a running attempt ended, applied only while the job still runs
 * under the worker's lease token, plus the attempt's row in the history.
 */
import type { AttemptOutcome, JobFinishItem, JobFinishResult } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import { serializeErrorRecord } from './sqlite-rows.js';

/** What a fenced UPDATE returns: enough to write the attempt row without reading the job again. */
interface FinishedRow {
  attempt: number;
  attempted_at: number | null;
  attempted_by: string | null;
  queue: string;
}

/**
 * Applies every item in one BEGIN IMMEDIATE transaction. Each UPDATE carries the fence
 * (`state = 'running' AND lease_token = @token`), so a job that was rescued, cancelled or
 * re-claimed meanwhile is left untouched and reported in `rejected`. IMMEDIATE makes the fence
 * check and the write one step against the latest committed state (see the store's comment).
 */
export function finishJobs(ctx: SqliteContext, items: readonly JobFinishItem[]): { result: JobFinishResult; madeAvailable: Set<string> } {
  const statements = ctx.statements();
  const now = ctx.now();
  const applied: string[] = [];
  const rejected: string[] = [];
  const madeAvailable = new Set<string>();
  const attempt = {
    jobId: '',
    attempt: 0,
    workerId: '',
    startedAt: 0,
    finishedAt: now,
    outcome: 'completed' as AttemptOutcome,
    error: null as string | null,
    result: null as string | null,
  };

  ctx.db
    .transaction(() => {
      for (const item of items) {
        const { finish } = item;
        let row: FinishedRow | undefined;
        let error: string | null = null;
        let result: string | null = null;
        let wakesAt: number | null = null;
        switch (finish.outcome) {
          case 'completed':
            result = finish.result;
            row = statements.jobFinishCompleted.get({ id: item.id, token: item.token, now, result }) as FinishedRow | undefined;
            break;
          case 'failed':
            error = serializeErrorRecord(finish.error);
            wakesAt = finish.retryAt.getTime();
            row = statements.jobFinishFailed.get({ id: item.id, token: item.token, runAt: wakesAt, error }) as FinishedRow | undefined;
            break;
          case 'dead':
            error = serializeErrorRecord(finish.error);
            row = statements.jobFinishDead.get({ id: item.id, token: item.token, now, error }) as FinishedRow | undefined;
            break;
          case 'snoozed':
            wakesAt = finish.runAt.getTime();
            row = statements.jobFinishSnoozed.get({ id: item.id, token: item.token, runAt: wakesAt }) as FinishedRow | undefined;
            break;
          case 'cancelled':
            error = serializeErrorRecord({ name: 'JobCancelled', message: finish.reason, stack: null, kind: 'cancelled' });
            row = statements.jobFinishCancelled.get({ id: item.id, token: item.token, now, error }) as FinishedRow | undefined;
            break;
          case 'released':
            wakesAt = now;
            row = statements.jobFinishReleased.get({ id: item.id, token: item.token }) as FinishedRow | undefined;
            break;
        }
        if (row === undefined) {
          rejected.push(item.id);
          continue;
        }
        applied.push(item.id);
        if (wakesAt !== null && wakesAt <= now) madeAvailable.add(row.queue);
        attempt.jobId = item.id;
        attempt.attempt = row.attempt;
        attempt.workerId = row.attempted_by ?? '';
        attempt.startedAt = row.attempted_at ?? now;
        attempt.outcome = finish.outcome;
        attempt.error = error;
        attempt.result = result;
        statements.attemptInsert.run(attempt);
      }
    })
    .immediate();
  return { result: { applied, rejected }, madeAvailable };
}
