/**
 * "Why isn't this job running?": one reason for any job, from what the store says now — its state
 * and run time, its queue's pause flag, the live workers of the process registry, and how many due
 * jobs a claim would take before it.
 */
import type { JobRecord, Store } from '../store/types.js';
import { listProcesses } from '../observe/process-registry.js';

/** Most unfinished dependencies a `waiting` answer names. */
export const MAX_WAITING_ON_SHOWN = 20;

/** Most jobs ahead counted (the count stops there: `aheadCapped`). */
export const MAX_AHEAD_COUNTED = 10_000;

export type WhyCode =
  /** A worker runs it now. */
  | 'running'
  /** It finished: completed, dead or cancelled. */
  | 'finished'
  /** Not due yet: it runs at `until` (a delay, a snooze or a retry's backoff). */
  | 'scheduled'
  /** Waiting on other jobs (dependencies). */
  | 'waiting'
  /** Due, but its queue is paused. */
  | 'queue_paused'
  /** Due, but no live process consumes its queue. */
  | 'no_worker'
  /** Due, but its queue runs as many jobs as its cluster-wide limit allows (`limit`, `runningInQueue`). */
  | 'concurrency_limit'
  /** Due, but its concurrency key runs as many jobs as its limit allows (`limit`, `heldBy`). */
  | 'key_busy'
  /** Due, but its queue's rate limit has no room until `until` (or a handler's RateLimitedError holds the queue). */
  | 'rate_limited'
  /** Due, and `ahead` due jobs of its queue come first in claim order (0: the next claim takes it). */
  | 'queued';

export interface JobWhy {
  jobId: string;
  state: JobRecord['state'];
  queue: string;
  code: WhyCode;
  /** One sentence for people. */
  message: string;
  /** `scheduled`: when it becomes due; `running`: when its lease expires. */
  until: Date | null;
  /** `queued`: due jobs before it (at most `MAX_AHEAD_COUNTED`). */
  ahead: number | null;
  aheadCapped: boolean;
  /** `running`: the worker holding its lease. */
  workerId: string | null;
  /** `concurrency_limit`: the queue's limit and the jobs of the queue running now; `key_busy`: the key's limit. */
  limit?: number;
  runningInQueue?: number;
  /** `key_busy`: ids of the running jobs that hold its key's slots. */
  heldBy?: string[];
  /** `waiting`: ids of the dependencies not settled yet (at most `MAX_WAITING_ON_SHOWN`). */
  waitingOn?: string[];
  /** `rate_limited` by the job's own per-key rate limit: its key. */
  rateKey?: string;
}

/** Explains job `record` (already read) against the store's state now. */
export async function explainJob(store: Store, record: JobRecord): Promise<JobWhy> {
  const base = { jobId: record.id, state: record.state, queue: record.queue, until: null, ahead: null, aheadCapped: false, workerId: null };
  const attempts = `attempt ${record.attempt} of ${record.maxAttempts}`;
  switch (record.state) {
    case 'running':
      return {
        ...base,
        code: 'running',
        message: `running on ${record.lease?.owner ?? 'a worker'} (${attempts}) since ${record.attemptedAt?.toISOString() ?? 'now'}`,
        until: record.lease?.expiresAt ?? null,
        workerId: record.lease?.owner ?? null,
      };
    case 'completed':
    case 'dead':
    case 'cancelled':
      return { ...base, code: 'finished', message: `it finished: ${record.state} at ${record.finishedAt?.toISOString() ?? 'an unknown time'}; retry it to run it again` };
    case 'waiting': {
      const dependencies = await store.jobDependencies({ id: record.id });
      const openDeps = dependencies.filter((dependency) => !dependency.settled);
      const open = openDeps.map((dependency) => dependency.job.id);
      const shown = open.slice(0, MAX_WAITING_ON_SHOWN);
      const list = open.length === 0 ? 'none left (it is about to become due)' : `job${open.length === 1 ? '' : 's'} ${shown.join(', ')}${open.length > shown.length ? `, … (${open.length - shown.length} more)` : ''}`;
      // Under onDependencyFailure 'wait', a dependency that ended dead or cancelled holds the job
      // until someone retries it: said, since nothing else will move it.
      const ended = openDeps.filter((dependency) => dependency.job.state === 'dead' || dependency.job.state === 'cancelled');
      const endedNote =
        ended.length === 0
          ? ''
          : `; ${ended
              .slice(0, MAX_WAITING_ON_SHOWN)
              .map((dependency) => `job ${dependency.job.id} ended ${dependency.job.state}`)
              .join(', ')}${ended.length > MAX_WAITING_ON_SHOWN ? ', …' : ''} — it waits until ${ended.length === 1 ? 'that job is' : 'they are'} retried and complete${ended.length === 1 ? 's' : ''}`;
      return {
        ...base,
        code: 'waiting',
        message: `waiting for ${open.length} of its ${dependencies.length} dependencies to complete: ${list}${endedNote}`,
        waitingOn: shown,
      };
    }
    default:
      break;
  }
  const now = await store.timeNow();
  if (record.runAt.getTime() > now.getTime()) {
    // A retryable job's `attempt` counts the attempts made: the retry is the next one.
    const why = record.state === 'retryable' ? `its last attempt failed; the retry (attempt ${record.attempt + 1} of ${record.maxAttempts}) runs at` : 'not due yet: it runs at';
    return { ...base, code: 'scheduled', message: `${why} ${record.runAt.toISOString()}`, until: record.runAt };
  }
  const [paused, processes] = await Promise.all([store.queuePausedList(), listProcesses(store)]);
  if (paused.includes(record.queue)) {
    return { ...base, code: 'queue_paused', message: `due, but queue "${record.queue}" is paused; resume it to let workers claim it` };
  }
  const consumers = processes.filter((process) => process.queues.some((slot) => slot?.queue === record.queue));
  if (consumers.length === 0) {
    return { ...base, code: 'no_worker', message: `due, but no live Nightshift process consumes queue "${record.queue}"; start a worker for it` };
  }
  if (record.concurrencyKey !== null) {
    // A key's limit is the job's own (stored with it); the holders are the key's running jobs.
    const limit = record.concurrencyLimit;
    if (limit !== null) {
      const holders = await store.jobKeyHolders({ queue: record.queue, concurrencyKey: record.concurrencyKey, limit: Math.max(limit, 1) });
      if (holders.length >= limit) {
        const ids = holders.map((job) => job.id);
        return {
          ...base,
          code: 'key_busy',
          message: `due, but its concurrency key "${record.concurrencyKey}" is busy: held by job${ids.length === 1 ? '' : 's'} ${ids.join(', ')} (at most ${limit} at once); it runs when ${ids.length === 1 ? 'that one finishes' : 'one of them finishes'}`,
          limit,
          heldBy: ids,
        };
      }
    }
  }
  // The smallest limit any live worker applies: the one that holds the queue back.
  const limits = consumers.flatMap((process) => process.queues.filter((slot) => slot?.queue === record.queue && typeof slot.globalConcurrency === 'number').map((slot) => slot.globalConcurrency as number));
  if (limits.length > 0) {
    const limit = Math.min(...limits);
    const stats = await store.jobStats();
    const running = stats.queues.find((queue) => queue.queue === record.queue)?.counts.running ?? 0;
    if (running >= limit) {
      return {
        ...base,
        code: 'concurrency_limit',
        message: `due, but queue "${record.queue}" is at its global concurrency limit: ${running} running across the cluster, limit ${limit}; it runs when one of them finishes`,
        limit,
        runningInQueue: running,
      };
    }
  }
  // The queue's rate limit as a live worker applies it, and any hold a handler put on the queue.
  const rateLimit = consumers.flatMap((process) => process.queues.filter((slot) => slot?.queue === record.queue && slot.rateLimit).map((slot) => slot.rateLimit!))[0];
  const waitMs = await store.queueRateWait({ queue: record.queue, ...(rateLimit ? { rateLimit } : {}) });
  if (waitMs > 0) {
    const until = new Date(now.getTime() + waitMs);
    const why = rateLimit ? `its rate limit (${rateLimit.max} per ${rateLimit.perMs} ms) has no room` : 'a handler said the remote side is rate limiting it (RateLimitedError)';
    return { ...base, code: 'rate_limited', message: `due, but queue "${record.queue}" waits: ${why}; the next slot is at ${until.toISOString()}`, until };
  }
  // Its own key's rate limit (or a hold on that key).
  const keyed = await store.jobRateWait({ id: record.id });
  if (keyed && keyed.waitMs > 0) {
    const until = new Date(now.getTime() + keyed.waitMs);
    return { ...base, code: 'rate_limited', message: `due, but its rate key "${keyed.key}" has no room; the next slot is at ${until.toISOString()}`, until, rateKey: keyed.key };
  }
  const ahead = (await store.jobAhead({ id: record.id, limit: MAX_AHEAD_COUNTED })) ?? 0;
  const capped = ahead >= MAX_AHEAD_COUNTED;
  const slots = consumers.reduce((sum, process) => sum + process.queues.filter((slot) => slot?.queue === record.queue).reduce((n, slot) => n + (Number(slot.concurrency) || 0), 0), 0);
  const message =
    ahead === 0
      ? `due and first in line; a worker of queue "${record.queue}" takes it at its next claim`
      : `due, behind ${capped ? `at least ${ahead}` : ahead} due job${ahead === 1 ? '' : 's'} of queue "${record.queue}" (${consumers.length} live worker${consumers.length === 1 ? '' : 's'}, ${slots} slot${slots === 1 ? '' : 's'})`;
  return { ...base, code: 'queued', message, ahead, aheadCapped: capped };
}
