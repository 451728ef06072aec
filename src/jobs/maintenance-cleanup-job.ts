/**
 * The built-in `maintenance.cleanup` job: deletes finished jobs — `completed`, `dead` and
 * `cancelled` — that finished more than `retentionDays` ago, with their attempts (the execution
 * history).
 *
 * ```yaml
 * - jobId: maintenance.cleanup
 *   schedule: "0 3 * * *"
 *   input: { retentionDays: 30 }
 * ```
 *
 * Age is counted from when a job finished (`finishedAt`), by the store's clock
 * (`Store.timeNow`): a job created long ago that finished yesterday is kept. Jobs that have not
 * finished are never touched. Deletes in batches of `CLEANUP_BATCH` (`Store.jobPrune`, each
 * batch its own statement), heartbeating between batches, until a batch comes back short: a run
 * stopped midway (timeout, shutdown) keeps what it deleted, and the next run goes on. The
 * runtime's own pruner (`prune:` in the config) does the same per state on a timer; this job is
 * for deployments that want it on a schedule they can see and change.
 */
import { z } from 'zod';
import { defineJob } from '../job/define-job.js';
import { FINAL_STATES } from '../store/types.js';
import { MAINTENANCE_CLEANUP_JOB_NAME } from './builtin-names.js';
import { leaseStore, type MaintenanceStore } from './maintenance-store.js';

/** Default `retentionDays`. */
export const DEFAULT_RETENTION_DAYS = 30;
/** Jobs deleted per statement. */
export const CLEANUP_BATCH = 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Input of `maintenance.cleanup`; unknown fields are errors. */
export const maintenanceCleanupInput = z.strictObject({
  /** Whole days a finished job is kept, counted from when it finished; 1 … 3650, default 30. */
  retentionDays: z.number().int().min(1).max(3650).default(DEFAULT_RETENTION_DAYS),
});

export type MaintenanceCleanupInput = z.input<typeof maintenanceCleanupInput>;

/** What a completed `maintenance.cleanup` job records. */
export interface MaintenanceCleanupResult {
  /** Jobs deleted (with their attempts). */
  deleted: number;
}

/** The built-in `maintenance.cleanup` job, acting on `store` (see maintenance-store.ts). */
export function createMaintenanceCleanupJob(store: MaintenanceStore) {
  return defineJob({
    name: MAINTENANCE_CLEANUP_JOB_NAME,
    description: 'Deletes completed, dead and cancelled jobs that finished more than retentionDays ago, with their attempts',
    schema: maintenanceCleanupInput,
    async handler(input, ctx): Promise<MaintenanceCleanupResult> {
      const lease = await leaseStore(store);
      try {
        const db = lease.store;
        const finishedBefore = new Date((await db.timeNow()).getTime() - input.retentionDays * DAY_MS);
        let deleted = 0;
        for (;;) {
          ctx.signal.throwIfAborted();
          const batch = await db.jobPrune({ finishedBefore, states: [...FINAL_STATES], limit: CLEANUP_BATCH });
          deleted += batch.deleted;
          if (batch.deleted < CLEANUP_BATCH) break;
          await ctx.heartbeat();
        }
        ctx.log.info({ deleted, finishedBefore }, 'maintenance.cleanup done');
        return { deleted };
      } finally {
        await lease.release();
      }
    },
  });
}
