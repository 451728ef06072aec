import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load-config.js';
import type { NightshiftEvents } from '../observe/events.js';
import { createJobRegistry } from '../scheduler/schedule-definition.js';
import { syncScheduleDefinitions, syncScheduleFile } from '../scheduler/schedule-file.js';
import type { ScheduleSyncResult } from '../scheduler/schedule-sync.js';
import { createScheduler, type Scheduler } from '../scheduler/scheduler.js';
import type { Store } from '../store/types.js';
import { unconsumedQueuesNotice, unconsumedScheduleQueues, type UnconsumedQueue } from './schedule-queues.js';

/**
 * Reconciles the declared schedules (a YAML file, or the config's inline list) with the store.
 * Nothing is written when an entry is invalid. Returns null when nothing is declared: then stored
 * schedules are left alone, since another deployment may own them. Stored schedules of the same
 * kind that the declaration does not list are kept (another file may declare them) unless
 * `deleteUndeclared` (schedule-sync.ts).
 */
export async function syncDeclaredSchedules(options: { config: ResolvedConfig; store: Store; deleteUndeclared?: boolean }): Promise<ScheduleSyncResult | null> {
  const { config, store } = options;
  const jobs = createJobRegistry([...config.jobs]);
  const limits = config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes };
  const deleteUndeclared = options.deleteUndeclared === true;
  if (typeof config.schedules === 'string') return syncScheduleFile({ store, path: config.schedules, jobs, deleteUndeclared, ...limits });
  if (config.schedules !== undefined) return syncScheduleDefinitions({ store, schedules: config.schedules, jobs, deleteUndeclared, ...limits });
  return null;
}

/**
 * What to tell an operator about schedules a sync kept because the declaration does not list
 * them; null when there are none.
 */
export function undeclaredSchedulesNotice(result: ScheduleSyncResult, config: ResolvedConfig): string | null {
  if (result.undeclared.length === 0) return null;
  const where = typeof config.schedules === 'string' ? `the schedule file ${config.schedules}` : 'the config';
  const kind = typeof config.schedules === 'string' ? 'a schedule file' : 'a code config';
  return (
    `kept ${result.undeclared.length} stored schedule(s) that ${where} does not declare: ${result.undeclared.join(', ')}. ` +
    `They came from ${kind}: another deployment's on this store (leave them), or entries removed from this one ` +
    '(they still fire: delete them with `nightshift schedules sync --delete-undeclared`, given the same --config)'
  );
}

/**
 * After a sync: the declared schedules whose queue no worker of this config consumes (read back
 * from the store, as synced), and what to tell the operator; null when there are none.
 */
export async function unconsumedQueuesAfterSync(store: Store, result: ScheduleSyncResult, config: ResolvedConfig): Promise<{ queues: UnconsumedQueue[]; notice: string } | null> {
  const declared = new Set([...result.created, ...result.updated, ...result.unchanged]);
  if (declared.size === 0) return null;
  const source = typeof config.schedules === 'string' ? 'file' : 'code';
  const schedules = (await store.scheduleList({ filter: { source } })).filter((schedule) => declared.has(schedule.id));
  const queues = unconsumedScheduleQueues(schedules, config);
  const notice = unconsumedQueuesNotice(queues, config);
  return notice === null ? null : { queues, notice };
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
  /** Delete stored schedules the declaration does not list (`daemon --delete-undeclared`). */
  deleteUndeclared?: boolean;
}): Promise<Scheduler> {
  const { config, store, logger } = options;
  const result = await syncDeclaredSchedules({ config, store, deleteUndeclared: options.deleteUndeclared === true });
  if (result) {
    const from = typeof config.schedules === 'string' ? { file: config.schedules } : { from: 'config' };
    logger.info({ ...from, ...result }, typeof config.schedules === 'string' ? 'schedules synced from file' : 'schedules synced from the config');
    const notice = undeclaredSchedulesNotice(result, config);
    if (notice !== null) logger.warn({ ...from, undeclared: result.undeclared }, notice);
    const stranded = await unconsumedQueuesAfterSync(store, result, config);
    if (stranded !== null) logger.warn({ ...from, unconsumedQueues: stranded.queues, consumedQueues: Object.keys(config.queues).sort() }, stranded.notice);
  }
  return createScheduler({
    store,
    jobs: [...config.jobs],
    events: options.events,
    logger,
    ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
  });
}
