import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load-config.js';
import type { NightshiftEvents } from '../observe/events.js';
import type { Store } from '../store/types.js';
import type { Service } from '../worker/service.js';

/**
 * Builds the cron scheduler service for the daemon from the configured schedules (a YAML file or
 * an inline list), or returns null when there are none.
 */
export async function createDaemonScheduler(options: {
  config: ResolvedConfig;
  store: Store;
  events: NightshiftEvents;
  logger: Logger;
}): Promise<Service | null> {
  const { config, logger } = options;
  if (config.schedules === undefined) return null;
  logger.warn({ schedules: config.schedules }, 'schedules are configured but this build has no scheduler; they are ignored');
  return null;
}
