import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load-config.js';
import type { NightshiftEvents } from '../observe/events.js';
import { createJobRegistry } from '../scheduler/schedule-definition.js';
import { syncScheduleDefinitions, syncScheduleFile } from '../scheduler/schedule-file.js';
import { createScheduler, type Scheduler } from '../scheduler/scheduler.js';
import type { Store } from '../store/types.js';

/**
 * Builds the daemon's cron scheduler. Declared schedules (a YAML file, or the config's inline
 * list) are first reconciled with the store — an invalid file stops the daemon before anything is
 * written. The scheduler runs even without declared schedules: schedules created at run time
 * (API, dashboard) still need a process that fires them.
 */
export async function createDaemonScheduler(options: {
  config: ResolvedConfig;
  store: Store;
  events: NightshiftEvents;
  logger: Logger;
}): Promise<Scheduler> {
  const { config, store, logger } = options;
  const jobs = createJobRegistry([...config.jobs]);
  const limits = config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes };
  if (typeof config.schedules === 'string') {
    const result = await syncScheduleFile({ store, path: config.schedules, jobs, ...limits });
    logger.info({ file: config.schedules, ...result }, 'schedules synced from file');
  } else if (config.schedules !== undefined) {
    const result = await syncScheduleDefinitions({ store, schedules: config.schedules, jobs, ...limits });
    logger.info({ ...result }, 'schedules synced from the config');
  }
  return createScheduler({ store, jobs, events: options.events, logger, ...limits });
}
