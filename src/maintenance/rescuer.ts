import type { Logger } from 'pino';
import type { NightshiftEvents } from '../observe/events.js';
import { tellCancelledDependents } from '../observe/cancelled-dependents.js';
import { createSilentLogger } from '../observe/logger.js';
import type { ErrorRecord, JobRecord, Store, StrandedSettleResult } from '../store/types.js';
import { createIntervalService, type IntervalService } from '../service.js';

/**
 * What the rescuer records, on the job and on its `lost` attempt, when it takes back a job whose
 * lease expired. Defined here, once, for every store.
 */
export const LEASE_EXPIRED_ERROR: ErrorRecord = {
  name: 'LeaseExpiredError',
  message: 'the lease expired before the job finished: its worker crashed, stalled or lost the database, and the rescuer took the job back',
  stack: null,
  kind: 'lease_expired',
};

/** Default time between rescue passes, in ms. */
export const DEFAULT_RESCUE_INTERVAL_MS = 5000;
/** Jobs rescued per store call. */
const RESCUE_BATCH = 1000;
/** Store calls per pass at most, so one pass stays short even after a mass crash. */
const MAX_BATCHES_PER_PASS = 20;
/** Ended or deleted dependencies looked at per pass (`Store.jobSettleStranded`); more wait for the next pass. */
const STRANDED_BATCH = 1000;

export interface RescuerOptions {
  store: Store;
  /** Time between passes, in ms; default 5000. With the default 30 s lease, a crashed worker's jobs run again within ~35 s. */
  intervalMs?: number;
  events?: NightshiftEvents;
  logger?: Logger;
  /** Called after a store call rescued jobs (the facade wakes its worker so they run at once). */
  onRescued?(result: { retried: string[]; dead: string[] }): void;
  /** Called after a pass released or cancelled stranded dependents (the facade wakes its worker for `queues`). */
  onStrandedSettled?(result: StrandedSettleResult): void;
  /**
   * Awaited before each pass. The facade writes its worker's waiting finishes first: after an
   * outage longer than a lease, those jobs' leases have expired, yet their finishes would still
   * be accepted, and rescuing them first would run finished work again.
   */
  beforePass?(): Promise<void>;
}

/**
 * Each rescued job's lost attempt as the failure it is (`job:failed`, `willRetry` as the rescue
 * decided): what a worker's failed attempt tells metrics, stats, alerting, the event feed and the
 * app's own listeners, so an attempt lost to a crash is counted like any other failure. Its
 * `durationMs` is how long the attempt held the job, from its start to the rescue, by the
 * store's clock; a retry is due at once (`retryDelayMs` 0).
 */
function reportLost(events: NightshiftEvents, jobs: readonly JobRecord[]): void {
  if (!events.has('job:failed')) return;
  for (const job of jobs) {
    const willRetry = job.state === 'retryable';
    const rescuedAt = (willRetry ? job.runAt : (job.finishedAt ?? job.runAt)).getTime();
    const durationMs = job.attemptedAt === null ? 0 : Math.max(0, rescuedAt - job.attemptedAt.getTime());
    events.emit('job:failed', {
      job,
      error: job.lastError ?? LEASE_EXPIRED_ERROR,
      willRetry,
      retryDelayMs: willRetry ? 0 : null,
      retryAt: willRetry ? job.runAt : null,
      durationMs,
    });
  }
}

/**
 * Takes back jobs whose lease expired (their worker crashed or stalled): back to `retryable`
 * (runnable now) when attempts remain, else `dead`, with the attempt recorded as `lost` and
 * `LEASE_EXPIRED_ERROR` as the error. The store does this with fenced writes, so any number of
 * processes may run a rescuer at once, and a job that completed meanwhile is never reopened.
 *
 * Then it repairs waiting jobs that nothing would release any more (`Store.jobSettleStranded`):
 * those whose dependency ended while their settle was lost (a process died between the two
 * writes), or was pruned or deleted while they still waited on it. They are released or
 * cancelled as the dependency's end would have done; the store's rules decide, and running it
 * in several processes at once changes each job once.
 */
export function createRescuer(options: RescuerOptions): IntervalService {
  const logger = options.logger ?? createSilentLogger();
  const rescueExpired = async (): Promise<void> => {
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
      const result = await options.store.jobRescueExpired({ limit: RESCUE_BATCH, error: LEASE_EXPIRED_ERROR });
      const count = result.retried.length + result.dead.length;
      if (count === 0) return;
      logger.warn({ retried: result.retried.length, dead: result.dead.length }, 'rescued jobs whose lease expired');
      if (options.events) {
        reportLost(options.events, result.jobs);
        // The jobs waiting on one that died here, cancelled with it: told after its failure.
        await tellCancelledDependents(options.store, options.events, result.cancelledDependents);
      }
      options.events?.emit('rescuer:rescued', { retried: result.retried, dead: result.dead });
      options.onRescued?.(result);
      if (count < RESCUE_BATCH) return;
    }
  };
  const settleStranded = async (): Promise<void> => {
    const result = await options.store.jobSettleStranded({ limit: STRANDED_BATCH });
    if (result.released.length + result.cancelled.length === 0) return;
    logger.warn(
      { released: result.released.length, cancelled: result.cancelled.length },
      'settled waiting jobs whose dependency ended or was deleted without releasing them',
    );
    if (options.events) await tellCancelledDependents(options.store, options.events, result.cancelled);
    options.events?.emit('rescuer:settled', result);
    options.onStrandedSettled?.(result);
  };
  return createIntervalService({
    name: 'rescuer',
    intervalMs: options.intervalMs ?? DEFAULT_RESCUE_INTERVAL_MS,
    run: async () => {
      await options.beforePass?.();
      // Expired leases first: a job the rescue kills settles the jobs waiting on it itself.
      await rescueExpired();
      await settleStranded();
    },
    onError(error) {
      logger.error({ err: error }, 'rescuer pass failed; trying again next interval');
      options.events?.emit('worker:error', { error, during: 'rescue' });
    },
  });
}
