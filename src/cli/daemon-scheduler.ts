import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load-config.js';
import type { NightshiftEvents } from '../observe/events.js';
import { createJobRegistry } from '../scheduler/schedule-definition.js';
import { syncScheduleDefinitions, syncScheduleFile } from '../scheduler/schedule-file.js';
import type { ScheduleSyncResult } from '../scheduler/schedule-sync.js';
import { createScheduler, type Scheduler } from '../scheduler/scheduler.js';
import type { Store } from '../store/types.js';

/**
 * Reconciles the declared schedules (a YAML file, or the config's inline list) with the store.
 * Nothing is written when an entry is invalid. Returns null when nothing is declared: then stored
 * schedules are left alone, since another deployment may own them.
 */
export async function syncDeclaredSchedules(options: { config: ResolvedConfig; store: Store }): Promise<ScheduleSyncResult | null> {
  const { config, store } = options;
  const jobs = createJobRegistry([...config.jobs]);
  const limits = config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes };
  if (typeof config.schedules === 'string') return syncScheduleFile({ store, path: config.schedules, jobs, ...limits });
  if (config.schedules !== undefined) return syncScheduleDefinitions({ store, schedules: config.schedules, jobs, ...limits });
  return null;
}

/**
 * Builds the daemon's cron scheduler after syncing the declared schedules — an invalid schedule
 * file stops the daemon before anything is written. The scheduler runs even without declared
 * schedules: schedules created at run time (API, dashboard, CLI) still need a process to fire them.
 */
export async function createDaemonScheduler(options: {
  config: ResolvedConfig;
  store: Store;
  events: NightshiftEvents;
  logger: Logger;
}): Promise<Scheduler> {
  const { config, store, logger } = options;
  const result = await syncDeclaredSchedules({ config, store });
  if (result) {
    const from = typeof config.schedules === 'string' ? { file: config.schedules } : { from: 'config' };
    logger.info({ ...from, ...result }, typeof config.schedules === 'string' ? 'schedules synced from file' : 'schedules synced from the config');
  }
  return createScheduler({
    store,
    jobs: [...config.jobs],
    events: options.events,
    logger,
    ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
  });
}
