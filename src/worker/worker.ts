import type { Logger } from 'pino';
import { createClient, type Client } from '../client/client.js';
import { ConfigError, StateError } from '../errors.js';
import { assertValidName } from '../job/names.js';
import { tellCancelledDependents } from '../observe/cancelled-dependents.js';
import { NightshiftEvents } from '../observe/events.js';
import { createSilentLogger } from '../observe/logger.js';
import { runObservers } from '../observe/run-observers.js';
import { rateWindowMarginMs, type Clock, type JobFinish, type JobFinishItem, type JobRecord, type JobState, type Store } from '../store/types.js';
import { ClaimSize } from './claim-size.js';
import { AHEAD_CHECK_AFTER_MS, ClaimedAhead, type WaitingJob } from './claimed-ahead.js';
import { Completer, type CompleterEntry } from './completer.js';
import { Execution, Executor, type ExecutorHost, type StartBy } from './executor.js';
import { createHeartbeat, type Heartbeat } from './heartbeat.js';
import { createJobRegistry, type JobList } from '../job/job-registry.js';
import { Producer } from './producer.js';
import { createIntervalService, type Service } from '../service.js';
import {
  assertIntOption,
  DEFAULT_CONCURRENCY,
  DEFAULT_JOB_TIMEOUT_MS,
  DEFAULT_LEASE_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  defaultWorkerId,
  envSetting,
  type QueueOptions,
} from './worker-options.js';

/** Options of `createWorker`. */
export interface WorkerOptions {
  store: Store;
  /** The jobs this worker runs. Their queues are consumed; a claimed job of another name goes `dead`. */
  jobs: JobList;
  /** Per-queue concurrency and timeout; queues listed here are consumed even without a job on them. */
  queues?: Readonly<Record<string, QueueOptions>>;
  /** Worker id recorded on leases and attempts; default `hostname-pid-random`. */
  id?: string;
  /** How long a claim lasts without a heartbeat, in ms; default 30 000. Heartbeats run every leaseMs/3. */
  leaseMs?: number;
  /** How long `stop()` waits for running handlers before aborting and releasing them, in ms; default `SHUTDOWN_TIMEOUT_MS` env or 30 000. */
  shutdownTimeoutMs?: number;
  /** Base time between fallback polls per queue, in ms (jittered ±20 %); default 1000. */
  pollIntervalMs?: number;
  /** Where lifecycle events go; default a new emitter (see `worker.events`). */
  events?: NightshiftEvents;
  /** Default: a silent logger. */
  logger?: Logger;
  /**
   * Clock for `ctx.now()`, attempt durations and the estimated times in `job:failed` / `job:snoozed`,
   * ms since the epoch; default `Date.now`. Retry and snooze times are decided by the store's clock.
   */
  clock?: Clock;
  /** Random source for backoff jitter, in [0, 1); default `Math.random`. Tests pin it. */
  random?: () => number;
  /**
   * The client handlers enqueue with (`ctx.enqueue`, `ctx.enqueueMany`). Default: a client on
   * this worker's store, with its events and logger, that knows this worker's jobs by name and
   * accepts payloads up to 1 MiB. Pass one to enqueue other jobs by name or to set another limit.
   */
  client?: Client;
}

/** A worker: claims jobs of its queues and runs their handlers. */
export interface Worker extends Service {
  readonly id: string;
  /** Handlers running right now. */
  readonly running: number;
  /** The queues this worker consumes. */
  readonly queues: readonly string[];
  /** Per consumed queue: configured concurrency and handlers running now (for metrics and the process registry). */
  slots(): { queue: string; slots: number; busy: number; globalConcurrency: number | null; rateLimit: { max: number; perMs: number } | null }[];
  /** Ids of the jobs whose handlers run now. */
  runningJobIds(): string[];
  readonly events: NightshiftEvents;
  /** Starts claiming. Does not migrate the store (the runtime facade does). */
  start(): Promise<void>;
  /** Graceful shutdown (see `createWorker`). Idempotent; concurrent calls share one shutdown. */
  stop(): Promise<void>;
  /** Asks the producers of `queues` (default all) to look for jobs now. */
  wake(queues?: readonly string[]): void;
  /** Writes finishes waiting for a retry now; resolves when that write is done (see the rescuer's `beforePass`). */
  flushFinishes(): Promise<void>;
}

interface FinishEntry extends CompleterEntry {
  readonly execution: Execution;
}

/** One consumed queue as the worker tracks it. */
interface QueueState {
  readonly name: string;
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Most jobs claimed ahead of free slots (see `QueueOptions.prefetch`); 0 for a limited queue. */
  readonly prefetch: number;
  /** Cluster-wide limit (see `QueueOptions.globalConcurrency`), or null. */
  readonly globalConcurrency: number | null;
  /** Claims honour per-key limits: a registered job of this queue has a `concurrencyKey` rule. */
  readonly perKey: boolean;
  /** Claims honour per-key rate limits: a registered job of this queue has a per-key `rateLimit`. */
  readonly perKeyRate: boolean;
  /** Cluster-wide rate limit (see `QueueOptions.rateLimit`), or null. */
  readonly rateLimit: { max: number; perMs: number } | null;
  /** This worker's clock time until which a handler's `RateLimitedError` holds the queue (0: not held). */
  heldUntil: number;
  /** Handlers running. */
  running: number;
  readonly claimSize: ClaimSize;
  /** Jobs claimed and waiting for a slot. */
  readonly ahead: ClaimedAhead;
  /** A microtask will start waiting jobs in free slots. */
  startScheduled: boolean;
}

const STATE_AFTER: Record<JobFinishItem['finish']['outcome'], JobState> = {
  completed: 'completed',
  failed: 'retryable',
  dead: 'dead',
  snoozed: 'scheduled',
  cancelled: 'cancelled',
  released: 'available',
};

/**
 * Creates a worker. One producer per queue claims free slots, plus, while the queue's handlers
 * are short, up to `prefetch` jobs that wait in memory and start the moment a slot frees (they are
 * given back if they wait too long, and on stop); the executor runs handlers
 * with a timeout and an AbortSignal; finishes are batched into the store by the completer; the
 * heartbeat keeps leases alive and aborts handlers whose lease is gone.
 *
 * `stop()`: stop claiming, give back the jobs waiting for a slot, wait up to `shutdownTimeoutMs`
 * for running handlers, abort the rest
 * (ShutdownError) and give their jobs back (`released`: state available, attempt not counted),
 * write every pending finish, then resolve.
 */
/** Resolves when `promise` settles or after `ms`, whichever comes first (a shutdown's bounded waits). */
async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export function createWorker(options: WorkerOptions): Worker {
  const { store } = options;
  const jobs = createJobRegistry(options.jobs);
  const id = options.id ?? defaultWorkerId();
  assertValidName('worker id', id);
  assertIntOption('leaseMs', options.leaseMs, 100);
  assertIntOption('shutdownTimeoutMs', options.shutdownTimeoutMs, 0);
  assertIntOption('pollIntervalMs', options.pollIntervalMs, 1);
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? envSetting('SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS);
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const defaultConcurrency = envSetting('MAX_CONCURRENT_JOBS', DEFAULT_CONCURRENCY);
  const defaultTimeoutMs = envSetting('JOB_TIMEOUT_MS', DEFAULT_JOB_TIMEOUT_MS);
  const events = options.events ?? new NightshiftEvents();
  const observers = runObservers(events);
  const logger = (options.logger ?? createSilentLogger()).child({ workerId: id });
  const clock = options.clock ?? Date.now;

  // Queues: those of the jobs, plus any configured explicitly.
  const queueSettings = new Map<string, QueueState>();
  const queueNames = new Set<string>([...jobs.values()].map((job) => job.queue));
  for (const name of Object.keys(options.queues ?? {})) queueNames.add(name);
  for (const name of queueNames) {
    assertValidName('queue name', name);
    const queue = options.queues?.[name] ?? {};
    assertIntOption(`queues.${name}.concurrency`, queue.concurrency, 1);
    assertIntOption(`queues.${name}.timeoutMs`, queue.timeoutMs, 1);
    assertIntOption(`queues.${name}.prefetch`, queue.prefetch, 0);
    assertIntOption(`queues.${name}.globalConcurrency`, queue.globalConcurrency, 1);
    if (queue.rateLimit !== undefined) {
      if (typeof queue.rateLimit !== 'object' || queue.rateLimit === null) throw new ConfigError(`queues.${name}.rateLimit must be { max, perMs }, got ${String(queue.rateLimit)}`);
      assertIntOption(`queues.${name}.rateLimit.max`, queue.rateLimit.max, 1);
      assertIntOption(`queues.${name}.rateLimit.perMs`, queue.rateLimit.perMs, 1);
      if (queue.rateLimit.max === undefined || queue.rateLimit.perMs === undefined) throw new ConfigError(`queues.${name}.rateLimit needs both max and perMs`);
    }
    const rateLimit = queue.rateLimit === undefined ? null : { max: queue.rateLimit.max, perMs: queue.rateLimit.perMs };
    const concurrency = queue.concurrency ?? defaultConcurrency;
    const globalConcurrency = queue.globalConcurrency ?? null;
    const perKey = [...jobs.values()].some((job) => job.queue === name && job.perKey);
    const perKeyRate = [...jobs.values()].some((job) => job.queue === name && job.rateLimit);
    queueSettings.set(name, {
      name,
      concurrency,
      timeoutMs: queue.timeoutMs ?? defaultTimeoutMs,
      // A job claimed ahead would hold a cluster-wide or per-key slot, or a rate token, while it waits for one of ours.
      prefetch: globalConcurrency !== null || perKey || perKeyRate || rateLimit !== null ? 0 : (queue.prefetch ?? concurrency),
      globalConcurrency,
      perKey,
      perKeyRate,
      rateLimit,
      heldUntil: 0,
      running: 0,
      claimSize: new ClaimSize(),
      ahead: new ClaimedAhead(),
      startScheduled: false,
    });
  }

  const reportError = (during: string) => (error: unknown) => {
    logger.error({ err: error, during }, `worker error during ${during}`);
    if (events.has('worker:error')) events.emit('worker:error', { error, during });
  };

  let idleWaiters: (() => void)[] = [];
  /** Dependents' cancellations being told (read back, then emitted) after a finish; awaited by stop(). */
  const tellings = new Set<Promise<void>>();
  /** Finishes waiting for their job's late-start write (see `Execution.lateStartWrite`); written before the worker stops. */
  const deferredFinishes = new Set<Promise<void>>();
  const producers = new Map<string, Producer>();
  let client: Client | null = options.client ?? null;

  const host: ExecutorHost = {
    workerId: id,
    logger,
    events,
    clock,
    random: options.random ?? Math.random,
    enqueueClient: () => (client ??= createClient({ store, jobs: options.jobs, events, logger })),
    queueTimeoutMs: (queue) => queueSettings.get(queue)?.timeoutMs ?? defaultTimeoutMs,
    heartbeatOne: (execution) => heartbeat.renewOne(execution),
    dependencies: (jobId) => store.jobDependencies({ id: jobId }),
    rateLateStart(execution, lateByMs) {
      const job = execution.job;
      const refund = execution.startBy?.rateRefund;
      if (!refund) return;
      logger.debug({ jobId: job.id, job: job.name, lateByMs }, 'handler started later than half the rate limit\'s margin after its claim (a late claim answer, a slow validation, a paused process): its rate-limit claim moves to now');
      execution.lateStartWrite = store.jobRateLateStart({ id: job.id, token: execution.token, queue: refund.queue, key: refund.key }).then(() => undefined, reportError(`rate-late-start:${job.queue}`));
    },
    holdQueue(job, forMs) {
      const queue = job.queue;
      // Every worker on the store: a hold its claims check — of the job's rate key when it has a
      // per-key rate limit, else of the queue. This worker, for a queue hold: no claim until then,
      // and one the moment it ends.
      store.queueHold({ queue, forMs, jobId: job.id }).catch(reportError(`hold:${queue}`));
      const settings = queueSettings.get(queue);
      if (!settings || jobs.get(job.name)?.rateLimit) return;
      const until = clock() + forMs;
      if (until <= settings.heldUntil) return;
      settings.heldUntil = until;
      const timer = setTimeout(() => producers.get(queue)?.trigger(), forMs + 1);
      timer.unref?.();
      logger.info({ queue, forMs }, 'a handler was rate limited: holding the queue');
    },
    settled(execution) {
      const queue = queueSettings.get(execution.job.queue);
      if (queue) {
        queue.running--;
        queue.claimSize.observe(execution.durationMs);
        if (queue.ahead.size > 0 && !queue.startScheduled) {
          // In a microtask rather than here: a handler that settles at once would otherwise start
          // the next waiting job from inside this call, one stack frame deeper per job.
          queue.startScheduled = true;
          queueMicrotask(() => startWaiting(queue));
        }
      }
      // Trigger before queueing the write: the claim of the freed slot runs ahead of the batched
      // finish, which the completer defers (see Completer), so a waiting job starts at once.
      producers.get(execution.job.queue)?.trigger();
      const finish = execution.finish;
      if (finish) {
        const item: JobFinishItem = { id: execution.job.id, token: execution.token, finish };
        if (execution.startDelayMs > 0) item.startDelayMs = execution.startDelayMs;
        const lateStart = execution.lateStartWrite;
        if (lateStart === null) completer.add({ item, execution });
        else {
          // After the move of its rate-limit claim, which applies only while the job runs: on a
          // store with a pool of connections the finish could otherwise commit first, and the
          // claim would stay counted at the claim, a window that could hold one start too many.
          const deferred = lateStart.then(() => {
            deferredFinishes.delete(deferred);
            completer.add({ item, execution });
          });
          deferredFinishes.add(deferred);
        }
      } else {
        logger.info({ jobId: execution.job.id, job: execution.job.name }, 'job lease lost (cancelled or rescued); its handler was aborted');
      }
      if (executor.running.size === 0 && idleWaiters.length > 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    },
  };
  const executor = new Executor(host, jobs);

  /**
   * Starts jobs claimed ahead in the queue's free slots, oldest first. One that waited
   * `AHEAD_CHECK_AFTER_MS` or more is asked about first (see `checkThenStart`); the others start
   * at once.
   */
  function startWaiting(queue: QueueState): void {
    queue.startScheduled = false;
    let toCheck: WaitingJob[] | null = null;
    while (queue.running < queue.concurrency) {
      const waiting = queue.ahead.shift();
      if (waiting === undefined) break;
      queue.running++;
      const waitedMs = clock() - waiting.claimedAtMs;
      // Its attempt starts now, not at its claim: the store is told how long it waited.
      if (waitedMs < AHEAD_CHECK_AFTER_MS) executor.run(waiting.job, waitedMs);
      else (toCheck ??= []).push(waiting);
    }
    if (toCheck !== null) {
      const checking = checkThenStart(queue, toCheck).finally(() => aheadChecks.delete(checking));
      aheadChecks.add(checking);
    }
  }

  /** Checks of jobs claimed ahead under way (a stop waits for them). */
  const aheadChecks = new Set<Promise<void>>();

  /**
   * Jobs that waited long for a slot (their queue's handlers got slower): another process may have
   * cancelled one (a cancel from this process takes it out at once), drained it or paused its
   * queue meanwhile, and the store cannot tell a job claimed ahead from a running one. So before
   * they start, one heartbeat asks whether their leases still hold (and extends them) and the
   * paused queues are read: a job whose lease is gone is not started, one of a paused queue goes
   * back unstarted (`released`). Their slots are held meanwhile. A store that cannot answer
   * starts them as before: a lost lease still aborts the handler at the next heartbeat.
   */
  async function checkThenStart(queue: QueueState, list: WaitingJob[]): Promise<void> {
    let held: Set<string> | null = null;
    let paused = false;
    try {
      const [beat, pausedQueues] = await Promise.all([
        store.jobHeartbeat({ items: list.map(({ job }) => ({ id: job.id, token: job.lease?.token ?? '' })), leaseMs }),
        store.queuePausedList(),
      ]);
      held = new Set(beat.held);
      paused = pausedQueues.includes(queue.name);
    } catch (error) {
      reportError(`claimed-ahead check:${queue.name}`)(error);
    }
    for (const { job, claimedAtMs } of list) {
      if (held !== null && !held.has(job.id)) {
        queue.running--;
        logger.info({ jobId: job.id, job: job.name }, 'a job claimed ahead was cancelled or taken back before it started; not starting it');
        continue;
      }
      if (paused || state !== 'started') {
        queue.running--;
        releaseWaiting(job);
        continue;
      }
      executor.run(job, clock() - claimedAtMs);
    }
    // Slots the jobs not started left free: the next waiting jobs, or a claim.
    if (queue.running < queue.concurrency) {
      if (queue.ahead.size > 0 && state === 'started') startWaiting(queue);
      producers.get(queue.name)?.trigger();
    }
  }

  /**
   * Gives a claimed job back to its queue, unstarted: available again, its attempt not counted
   * (and, with `rateRefund`, the rate-limit counts its claim took).
   */
  function releaseWaiting(job: JobRecord, rateRefund?: { queue: boolean; key: boolean }): void {
    const token = job.lease?.token ?? '';
    const finish: JobFinish = rateRefund ? { outcome: 'released', rateRefund } : { outcome: 'released' };
    completer.add({ item: { id: job.id, token, finish }, execution: new Execution(job, token, jobs.get(job.name), clock()) });
  }

  /**
   * Jobs claimed ahead wait about as long as a handler runs. One that waited a third of its lease
   * means the running handlers are stuck: give the waiting jobs back well before their leases
   * could expire (so no other worker runs them while this one still might), and claim no more
   * ahead until a handler finishes.
   */
  const aheadExpiry = createIntervalService({
    name: 'claimed-ahead-expiry',
    intervalMs: Math.max(1, Math.floor(leaseMs / 3)),
    jitter: 0,
    runOnStart: false,
    run: async () => {
      const cutoff = clock() - Math.floor(leaseMs / 3);
      for (const queue of queueSettings.values()) {
        const stale = queue.ahead.takeClaimedBy(cutoff);
        if (stale.length === 0) continue;
        queue.claimSize.holdOff();
        logger.warn({ queue: queue.name, count: stale.length }, 'jobs claimed ahead waited a third of their lease for a free slot; giving them back to the queue');
        for (const job of stale) releaseWaiting(job);
      }
    },
    onError: reportError('claimed-ahead-expiry'),
  });
  const heartbeat: Heartbeat = createHeartbeat({
    store,
    executor,
    leaseMs,
    onError: reportError('heartbeat'),
    unwritten: () => (completer.stalled ? completer.waiting().map((entry) => entry.execution) : []),
    onBeat: () => {
      if (completer.stalled) void completer.retryNow();
    },
  });

  const completer = new Completer<FinishEntry>({
    store,
    logger,
    claimPending: () => {
      for (const producer of producers.values()) if (producer.fetchScheduled) return true;
      return false;
    },
    onError: reportError('finish'),
    // After the finishes' own events: a dependent's cancellation follows the end that caused it.
    // Kept until done, so that stop() waits for them before the store closes.
    onDependentsCancelled: (ids) => {
      const telling = tellCancelledDependents(store, events, ids).catch(reportError('cancelled dependents'));
      tellings.add(telling);
      void telling.finally(() => tellings.delete(telling));
    },
    onStallChange(stalled, error) {
      if (events.has('worker:stalled')) events.emit('worker:stalled', { workerId: id, stalled, error: stalled ? error : null });
      // Claims were held back while finishes could not be written: look for work again.
      if (!stalled) wake();
    },
    onWritten(entry, applied) {
      const job = entry.execution.job;
      if (!applied) {
        logger.warn({ jobId: job.id, job: job.name, outcome: entry.item.finish.outcome }, 'finishing write refused: the job is no longer running under this worker\'s lease');
        if (events.has('job:stale')) events.emit('job:stale', { jobId: job.id, workerId: id });
        return;
      }
      const outcome = entry.item.finish.outcome;
      // The job may be runnable again right away (zero backoff, zero snooze, released). Under a
      // cluster-wide limit, any written finish frees a slot the claim counts: the claim made
      // when the handler settled ran before this write and may have found the queue full.
      const limited = queueSettings.get(job.queue);
      if (outcome === 'failed' || outcome === 'snoozed' || outcome === 'released' || limited?.globalConcurrency != null || limited?.perKey === true) {
        producers.get(job.queue)?.trigger();
      }
      // A retry's backoff or a snooze: claimed when it is due, not at the next poll.
      const finish = entry.item.finish;
      const laterMs = finish.outcome === 'failed' ? finish.retryDelayMs : finish.outcome === 'snoozed' ? finish.delayMs : 0;
      if (laterMs > 0) producers.get(job.queue)?.triggerIn(laterMs);
      emitFinished(entry.execution, entry.item.finish);
    },
  });

  function emitFinished(execution: Execution, finish: JobFinishItem['finish']): void {
    const job = execution.job;
    switch (finish.outcome) {
      case 'completed':
        observers.completed(job, execution.durationMs);
        if (events.has('job:completed')) events.emit('job:completed', { job: after(job, finish.outcome), result: execution.result, durationMs: execution.durationMs });
        return;
      case 'failed':
      case 'dead': {
        const willRetry = finish.outcome === 'failed';
        logger.warn({ jobId: job.id, job: job.name, attempt: job.attempt, err: finish.error, willRetry }, `job attempt failed${willRetry ? '; will retry' : '; job is dead'}`);
        if (events.has('job:failed')) {
          events.emit('job:failed', {
            job: after(job, finish.outcome),
            error: finish.error,
            willRetry,
            retryDelayMs: finish.outcome === 'failed' ? finish.retryDelayMs : null,
            retryAt: finish.outcome === 'failed' ? new Date(clock() + finish.retryDelayMs) : null,
            durationMs: execution.durationMs,
          });
        }
        return;
      }
      case 'snoozed':
        if (events.has('job:snoozed')) events.emit('job:snoozed', { job: after(job, finish.outcome), delayMs: finish.delayMs, runAt: new Date(clock() + finish.delayMs) });
        return;
      case 'cancelled':
        if (events.has('job:cancelled')) events.emit('job:cancelled', { job: after(job, finish.outcome), reason: finish.reason });
        return;
      case 'released':
        if (events.has('job:released')) events.emit('job:released', { job: after(job, finish.outcome) });
        return;
    }
  }

  function after(job: JobRecord, outcome: JobFinishItem['finish']['outcome']): JobRecord {
    return { ...job, state: STATE_AFTER[outcome], lease: null };
  }

  for (const [queue, settings] of queueSettings) {
    producers.set(
      queue,
      new Producer({
        store,
        queue,
        workerId: id,
        leaseMs,
        pollIntervalMs,
        ...(settings.globalConcurrency !== null ? { globalConcurrency: settings.globalConcurrency } : {}),
        ...(settings.perKey ? { perKeyConcurrency: true } : {}),
        ...(settings.perKeyRate ? { perKeyRate: true } : {}),
        ...(settings.rateLimit !== null ? { rateLimit: settings.rateLimit } : {}),
        claimLimit: () => {
          // Finishes that cannot be written (disk full, store unreachable): start nothing new
          // whose outcome could not be recorded either.
          if (completer.stalled) return 0;
          // Held by a handler's RateLimitedError: its timer triggers the next claim.
          if (settings.heldUntil > clock()) return 0;
          const freeSlots = settings.concurrency - settings.running;
          const aheadRoom = Math.max(0, settings.claimSize.ahead(settings.prefetch) - settings.ahead.size);
          return settings.claimSize.limit(Math.max(0, freeSlots) + aheadRoom);
        },
        dispatch(job, claimTimeAt) {
          // A rate limit counts a job when its claim is written, and its window is perMs plus a
          // margin. A job whose handler starts more than half that margin after its claim's time
          // was taken (an answer that took that long to arrive or to be read, a batch's earlier
          // handlers, a slow first validation, a pause of the process) might share a window of
          // starts with the next window's jobs: its claim's count moves to its start
          // (`moveAfter`, read when the handler's first synchronous run returns; see
          // Store.jobRateLateStart). That holds while the move lands within the window; a job
          // that would start later than half the window goes back instead (`at`, read just before
          // the handler; released: its attempt does not count, and its claim's count comes back
          // to the window: it never started). A job is never parked for a slot.
          const limit = rateWindowOf(settings, job);
          const startBy: StartBy | null =
            limit === null
              ? null
              : {
                  at: claimTimeAt + Math.max(limit.marginMs, limit.perMs) / 2,
                  moveAfter: claimTimeAt + limit.marginMs / 2,
                  rateRefund: { queue: settings.rateLimit !== null, key: settings.perKeyRate },
                };
          if (settings.running >= settings.concurrency) {
            if (startBy !== null) releaseWaiting(job, startBy.rateRefund);
            else settings.ahead.push(job, clock());
            return;
          }
          settings.running++;
          executor.run(job, 0, startBy);
        },
        fetched(count) {
          if (events.has('worker:fetched')) events.emit('worker:fetched', { queue, count });
        },
        onError: reportError(`fetch:${queue}`),
      }),
    );
  }

  /** The shortest window (`perMs`) and margin of the rate limits `job` was claimed under, or null when none applies. */
  function rateWindowOf(queue: QueueState, job: JobRecord): { perMs: number; marginMs: number } | null {
    let perMs = queue.rateLimit === null ? null : queue.rateLimit.perMs;
    if (queue.perKeyRate) {
      // A job of a name this worker does not know may still carry a key: the narrowest window.
      const keyed = jobs.get(job.name)?.rateLimit ?? null;
      const keyPerMs = keyed === null ? (jobs.has(job.name) ? null : 0) : keyed.perMs;
      if (keyPerMs !== null) perMs = perMs === null ? keyPerMs : Math.min(perMs, keyPerMs);
    }
    return perMs === null ? null : { perMs, marginMs: rateWindowMarginMs(perMs) };
  }

  let state: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  let stopping: Promise<void> | null = null;
  const cleanups: (() => void)[] = [];

  const wake = (queues?: readonly string[]): void => {
    if (!queues) for (const producer of producers.values()) producer.trigger();
    else for (const queue of queues) producers.get(queue)?.trigger();
  };

  const shutdown = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    await Promise.all([...producers.values()].map((producer) => producer.stop()));
    // Nothing claims any more: jobs still waiting for a slot go back to the queue at once.
    await aheadExpiry.stop();
    for (const queue of queueSettings.values()) for (const job of queue.ahead.takeAll()) releaseWaiting(job);
    // Jobs being checked before their start are given back when the check ends (state is no longer started).
    if (aheadChecks.size > 0) await Promise.all(aheadChecks);
    if (executor.running.size > 0) {
      logger.info({ running: executor.running.size, shutdownTimeoutMs }, 'waiting for running jobs before shutting down');
      await waitAtMost(new Promise<void>((resolve) => idleWaiters.push(resolve)), shutdownTimeoutMs);
      for (const execution of executor.running.values()) executor.abort(execution, 'shutdown');
    }
    // Bounded like the wait for handlers: a store that stays unwritable must not hold the
    // process forever (its jobs are rescued after their leases and run again).
    const giveUpAfterMs = Math.max(shutdownTimeoutMs, 1000);
    if (deferredFinishes.size > 0) await waitAtMost(Promise.all(deferredFinishes), giveUpAfterMs);
    await completer.drain({ giveUpAfterMs });
    // Cancellations of dependents the last finishes caused, told before the store may close.
    if (tellings.size > 0) await waitAtMost(Promise.all(tellings), giveUpAfterMs);
    await heartbeat.stop();
    state = 'stopped';
    logger.info('worker stopped');
    if (events.has('worker:stopped')) events.emit('worker:stopped', { workerId: id });
  };

  return {
    name: 'worker',
    id,
    events,
    queues: [...queueNames],
    slots: () =>
      [...queueSettings.values()].map((queue) => ({ queue: queue.name, slots: queue.concurrency, busy: queue.running, globalConcurrency: queue.globalConcurrency, rateLimit: queue.rateLimit })),
    runningJobIds: () => executor.running.values().map((execution) => execution.job.id),
    get running() {
      return executor.running.size;
    },
    async start() {
      if (state === 'started') return;
      if (state !== 'new') throw new StateError('this worker was stopped; create a new worker to start again');
      state = 'started';
      cleanups.push(store.jobAvailableListen((queues) => wake(queues)));
      // A job cancelled from this process aborts its handler at once instead of at the next heartbeat.
      cleanups.push(
        events.on('job:cancelled', ({ job }) => {
          // Waiting for a slot: the store moved it on already, so it is simply not started.
          if (job.state === 'cancelled' && queueSettings.get(job.queue)?.ahead.remove(job.id)) return;
          const execution = executor.running.get(job.id);
          if (execution && execution.job.attempt >= job.attempt && job.state === 'cancelled' && execution.token !== job.lease?.token) {
            executor.abort(execution, 'lease_lost');
          }
        }),
      );
      // A job enqueued in this process to run later is claimed when it is due, not at the next poll
      // (one from another process is found by the poll).
      cleanups.push(
        events.on('job:enqueued', ({ job, inserted }) => {
          if (inserted && job.state === 'scheduled') producers.get(job.queue)?.triggerIn(job.runAt.getTime() - clock());
        }),
      );
      heartbeat.start();
      aheadExpiry.start();
      for (const producer of producers.values()) producer.start();
      logger.info({ queues: [...queueNames], leaseMs }, 'worker started');
    },
    stop() {
      if (state === 'new') {
        state = 'stopped';
        return Promise.resolve();
      }
      if (state === 'stopped' && !stopping) return Promise.resolve();
      if (!stopping) {
        state = 'stopping';
        stopping = shutdown();
      }
      return stopping;
    },
    wake,
    flushFinishes: () => completer.retryNow(),
  };
}
