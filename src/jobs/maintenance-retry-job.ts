/**
 * The built-in `maintenance.retry` job: retries jobs that died recently, a bounded number of
 * times each, waiting longer before each new retry.
 *
 * ```yaml
 * - jobId: maintenance.retry
 *   schedule: "*\/15 * * * *"
 *   input: { lookbackHours: 24, maxRetries: 3, excludeJobs: ["billing.charge"] }
 * ```
 *
 * One run, by the store's clock (`Store.timeNow`, not the worker's, so a worker whose clock is off
 * selects the same jobs):
 * - looks at every `dead` job whose `finishedAt` lies within the last `lookbackHours` (`scanned`);
 * - leaves alone (`skipped`) jobs named in `excludeJobs`, the maintenance jobs themselves, jobs
 *   already retried `maxRetries` times, jobs still in their backoff, and jobs the store refuses to
 *   retry (another pending job holds the same key);
 * - retries the others (`Store.jobRetry`: available now, one more attempt granted) (`retried`).
 *
 * Times retried: the job's attempt history, which the job keeps across retries. Each time a job
 * dies, its last attempt is recorded `dead` (the handler failed for good) or `lost` (its lease
 * expired with no attempt left); a job retried n times has died n + 1 times. `lost` attempts that
 * were retried automatically count too: the count may come out high, never low, so a job is never
 * retried more than `maxRetries` times. A retry made by hand (`nightshift retry`, the API) counts
 * like one made here.
 *
 * Backoff: the store's retry makes a job available at once and cannot delay it, so the delay is
 * taken before the retry instead: a job retried n times before is retried again only once it has
 * been dead for 2^n minutes (the first retry is not delayed), capped at half of `lookbackHours`
 * so a job is never left outside the window while it waits. The schedule's own period rounds the
 * wait up (every 15 minutes: a 2-minute backoff waits for the next run).
 */
import { z } from 'zod';
import { StateError } from '../errors.js';
import { defineJob } from '../job/define-job.js';
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../job/names.js';
import type { AttemptRecord, JobRecord } from '../store/types.js';
import { MAINTENANCE_CLEANUP_JOB_NAME, MAINTENANCE_RETRY_JOB_NAME } from './builtin-names.js';
import { leaseStore, type MaintenanceStore } from './maintenance-store.js';

/** Default `lookbackHours`. */
export const DEFAULT_RETRY_LOOKBACK_HOURS = 24;
/** Default `maxRetries`. */
export const DEFAULT_MAX_RETRIES = 3;
/** Most names `excludeJobs` may list. */
export const MAX_EXCLUDED_JOBS = 1000;
/** Dead jobs one run looks at, newest first; a run that stops there logs a warning and the next run goes on. */
export const MAX_RETRY_SCAN = 100_000;
/** Dead jobs read per page. */
const PAGE = 1000;
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

const jobName = z
  .string()
  .max(NAME_MAX_LENGTH, `must be a job name of at most ${NAME_MAX_LENGTH} characters`)
  .regex(NAME_PATTERN, 'must be a job name (letters, digits and _ . : / -, starting with a letter or digit)');

/** Input of `maintenance.retry`; unknown fields are errors. */
export const maintenanceRetryInput = z.strictObject({
  /** Whole hours back from now in which a job must have died to be retried; 1 … 8760, default 24. */
  lookbackHours: z.number().int().min(1).max(8760).default(DEFAULT_RETRY_LOOKBACK_HOURS),
  /** Retries of one job, in total, before it is left dead; 1 … 100, default 3. */
  maxRetries: z.number().int().min(1).max(100).default(DEFAULT_MAX_RETRIES),
  /** Job names never retried (exact names); at most 1000, default none. */
  excludeJobs: z.array(jobName).max(MAX_EXCLUDED_JOBS).default([]),
});

export type MaintenanceRetryInput = z.input<typeof maintenanceRetryInput>;

/** What a completed `maintenance.retry` job records. */
export interface MaintenanceRetryResult {
  /** Jobs made available again. */
  retried: number;
  /** Jobs within the window left dead: excluded, out of retries, in backoff, or refused by the store. */
  skipped: number;
  /** Dead jobs that died within the window (`retried + skipped`). */
  scanned: number;
}

/** Times a dead job was retried before, from its attempts (see the module comment). */
export function timesRetried(attempts: readonly AttemptRecord[]): number {
  const deaths = attempts.filter((attempt) => attempt.outcome === 'dead' || attempt.outcome === 'lost').length;
  return Math.max(0, deaths - 1);
}

/** How long a job retried `retries` times before must have been dead before it is retried again, ms. */
export function retryBackoffMs(retries: number, lookbackHours: number): number {
  if (retries === 0) return 0;
  return Math.min(2 ** retries * MINUTE_MS, (lookbackHours * HOUR_MS) / 2);
}

/** The built-in `maintenance.retry` job, acting on `store` (see maintenance-store.ts). */
export function createMaintenanceRetryJob(store: MaintenanceStore) {
  return defineJob({
    name: MAINTENANCE_RETRY_JOB_NAME,
    description: 'Retries jobs that died within lookbackHours, at most maxRetries times each, with backoff',
    schema: maintenanceRetryInput,
    async handler(input, ctx): Promise<MaintenanceRetryResult> {
      const lease = await leaseStore(store);
      try {
        const db = lease.store;
        const nowMs = (await db.timeNow()).getTime();
        const sinceMs = nowMs - input.lookbackHours * HOUR_MS;
        const excluded = new Set<string>([...input.excludeJobs, MAINTENANCE_RETRY_JOB_NAME, MAINTENANCE_CLEANUP_JOB_NAME]);
        const result: MaintenanceRetryResult = { retried: 0, skipped: 0, scanned: 0 };

        const retryOne = async (job: JobRecord): Promise<boolean> => {
          if (excluded.has(job.name)) return false;
          const retries = timesRetried(await db.jobAttempts({ id: job.id }));
          if (retries >= input.maxRetries) return false;
          if (nowMs - job.finishedAt!.getTime() < retryBackoffMs(retries, input.lookbackHours)) return false;
          try {
            // Not fenced on `dead`: a job someone else retried since the list was read is made
            // available now, which it already was or nearly was; a running one is refused.
            const after = await db.jobRetry({ id: job.id });
            return after?.state === 'available';
          } catch (error) {
            // Its key is held by another pending job: left dead, as `client.retryMany` leaves it.
            if (error instanceof StateError) return false;
            throw error;
          }
        };

        // Newest created first; a job's death time is not an index order, so the scan reads every
        // dead job (pruning keeps them few) and keeps those that died within the window.
        let cursor: string | null = null;
        let seen = 0;
        for (;;) {
          ctx.signal.throwIfAborted();
          const page = await db.jobList({ filter: { states: ['dead'] }, limit: PAGE, cursor });
          seen += page.jobs.length;
          for (const job of page.jobs) {
            if (job.state !== 'dead' || job.finishedAt === null || job.finishedAt.getTime() < sinceMs) continue;
            result.scanned++;
            if (await retryOne(job)) result.retried++;
            else result.skipped++;
          }
          if (page.nextCursor === null) break;
          if (seen >= MAX_RETRY_SCAN) {
            ctx.log.warn({ scanned: seen }, `maintenance.retry looked at ${MAX_RETRY_SCAN} dead jobs and stopped; older dead jobs wait for the next run`);
            break;
          }
          cursor = page.nextCursor;
          await ctx.heartbeat();
        }
        ctx.log.info(result, 'maintenance.retry done');
        return result;
      } finally {
        await lease.release();
      }
    },
  });
}
