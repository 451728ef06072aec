import type { ResolvedConfig } from '../config/load-config.js';
import { parseScheduleJobOptions } from '../scheduler/schedule-definition.js';
import type { ScheduleRecord } from '../store/types.js';

/*
 * A declared schedule whose `queue:` names a queue that no worker started with this config
 * consumes strands its jobs: they wait `available` for ever, and with overlap `skip` or `queue`
 * they hold back every later tick. A worker consumes the config's `queues` and the queues of its
 * jobs, no others. Another process (a worker with another config) may consume the queue, so this
 * is a warning at sync and listing time, not an error — the way queue routing works in Sidekiq or
 * Oban, where a node consumes the queues it is configured with.
 */

/** A queue no worker of this config consumes, and the declared schedules that send jobs there. */
export interface UnconsumedQueue {
  queue: string;
  schedules: string[];
}

/**
 * The queues the `schedules` (declared, validated) send jobs to that a worker started with
 * `config` does not consume, each with its schedules; empty when every queue is consumed.
 */
export function unconsumedScheduleQueues(schedules: readonly Pick<ScheduleRecord, 'id' | 'jobName' | 'jobOptions'>[], config: ResolvedConfig): UnconsumedQueue[] {
  const consumed = new Set(Object.keys(config.queues));
  const jobs = new Map(config.jobs.map((job) => [job.name, job] as const));
  const byQueue = new Map<string, string[]>();
  for (const schedule of schedules) {
    const queue = parseScheduleJobOptions(schedule.jobOptions).queue ?? jobs.get(schedule.jobName)?.queue;
    if (queue === undefined || consumed.has(queue)) continue;
    byQueue.set(queue, [...(byQueue.get(queue) ?? []), schedule.id]);
  }
  return [...byQueue].map(([queue, ids]) => ({ queue, schedules: ids }));
}

/** What to tell an operator about `unconsumed` (see `unconsumedScheduleQueues`); null when it is empty. */
export function unconsumedQueuesNotice(unconsumed: readonly UnconsumedQueue[], config: ResolvedConfig): string | null {
  if (unconsumed.length === 0) return null;
  const sends = unconsumed
    .map(({ queue, schedules }) => `${schedules.length === 1 ? `schedule ${schedules[0]} sends its` : `schedules ${schedules.join(', ')} send their`} jobs to queue "${queue}"`)
    .join('; ');
  const consumed = Object.keys(config.queues).sort();
  const example = unconsumed.map(({ queue }) => `${JSON.stringify(queue)}: {}`).join(', ');
  const where = config.file === null ? 'a code config (nightshift.config.ts in the working directory)' : `the config (${config.file})`;
  return (
    `${sends}, which no worker started with this config consumes (it consumes ${consumed.length > 0 ? consumed.join(', ') : 'none'}): ` +
    'those jobs will wait there, and with overlap "skip" or "queue" hold back every later tick. ' +
    `Add ${unconsumed.length === 1 ? 'the queue' : 'the queues'} to the \`queues\` of ${where} (queues: { ${example} }), drop \`queue:\` from the schedule, or run a worker whose config consumes ${unconsumed.length === 1 ? 'it' : 'them'}`
  );
}
