/**
 * The cluster-wide event feed, core side: a writer that copies this process's lifecycle events
 * into the store, and a reader that any process (the API's SSE route) uses to follow every
 * process's events by cursor.
 *
 * What is written (`FEED_EVENT_TYPES`), each with the job's queue, name and id where it has them
 * and a small `data` object — ids, states, attempt, durations, error name/kind and a message cut
 * to 200 characters; never payloads or results:
 * - `job:enqueued`  { state, priority, attempt, maxAttempts, runAt, scheduleId }  (new jobs only, not key matches)
 * - `job:started`   { attempt, maxAttempts, workerId }
 * - `job:completed` { attempt, durationMs }  (durations in ms, to the microsecond)
 * - `job:failed`    { attempt, maxAttempts, durationMs, willRetry: true, retryDelayMs, error }
 * - `job:dead`      { attempt, maxAttempts, durationMs, willRetry: false, error }  (an attempt failed for good)
 * - `job:snoozed`   { attempt, delayMs }
 * - `job:cancelled` { reason }
 * - `job:released`  { attempt }
 * - `job:retried`   { attempt, maxAttempts }  (made runnable now by an operator: client.retry, retryMany, API, CLI)
 * - `schedule:fired`  { scheduleId, fireAt, status }  (jobId column: the job it created)
 * - `schedule:missed` { scheduleId, count, first, last }
 * - `queue:paused` / `queue:resumed`  { }  (queue column)
 *
 * The writer never awaits on the hot path: an event is written into the open batch's bytes
 * (store/event-batches.ts); one `eventAppend` per flush writes what waits, every `flushIntervalMs` (100 ms)
 * or as soon as `flushSize` events wait (by default the store's `eventAppendSize`: 1000 on
 * SQLite, 5000 on PostgreSQL, where each append is a transaction whose round trips and commit
 * cost a busy worker far more than its size does). If the store fails, the batch goes back to the
 * buffer and is tried again every second until the store takes it; the buffer holds at most
 * `maxBuffered` (20 000) events, beyond which the oldest are dropped with a warning — losing feed
 * events is better than growing without bound in a process whose store is down. A burst larger
 * than `maxBuffered` in one tick (a bulk enqueue of 50 000 jobs) loses `job:enqueued` events the
 * same way (one warning per episode, with the count once writing works again).
 *
 * Order: a process's events reach the feed in the order it emitted them; two processes' events
 * are in the order their batches were written, so across processes the feed's order is not the
 * order things happened (a worker's `job:started` may precede the enqueuing process's
 * `job:enqueued` by up to a flush interval). Events are kept by the store for the pruner's event
 * retention (default 1 hour, `EVENT_RETENTION_MS`).
 */
import type { Logger } from 'pino';
import { decodeEventBatch, encodeEvents, EventBatchBuilder, EVENTS_PER_BATCH } from '../store/event-batches.js';
import type { EventBatch, EventListFilter, JobRecord, Store } from '../store/types.js';
import type { Service } from '../service.js';
import type { NightshiftEventMap, NightshiftEventName, NightshiftEvents } from './events.js';
import { createSilentLogger } from './logger.js';
import { observeRuns, runObservers } from './run-observers.js';

/** Every event type the feed carries. */
export const FEED_EVENT_TYPES = [
  'job:enqueued',
  'job:started',
  'job:completed',
  'job:failed',
  'job:dead',
  'job:snoozed',
  'job:cancelled',
  'job:released',
  'job:retried',
  'schedule:fired',
  'schedule:missed',
  'queue:paused',
  'queue:resumed',
] as const;
export type FeedEventType = (typeof FEED_EVENT_TYPES)[number];

/** How long the store keeps feed events by default, ms (1 hour): the window a reader can resume in. */
export const EVENT_RETENTION_MS = 3_600_000;
/** Default time between flushes while events wait, ms. */
export const DEFAULT_FLUSH_INTERVAL_MS = 100;
/** Number of waiting events that triggers a flush at once, for a store that names none. */
export const DEFAULT_FLUSH_SIZE = 1000;
/** Default most events held while the store cannot be written. */
export const DEFAULT_MAX_BUFFERED = 20_000;
/** Time between tries while the store refuses events, ms: a down store is not asked ten times a second. */
const RETRY_INTERVAL_MS = 1000;
/** Longest error message or cancel reason written to the feed, characters. */
const MAX_TEXT = 200;

export interface EventFeedWriterOptions {
  store: Store;
  events: NightshiftEvents;
  logger?: Logger;
  /** Time between flushes while events wait, ms; default 100. */
  flushIntervalMs?: number;
  /** Events that trigger a flush without waiting for the interval; default the store's `eventAppendSize`. */
  flushSize?: number;
  /** Most events held in memory while the store fails; the oldest beyond it are dropped. Default 20 000. */
  maxBuffered?: number;
}

/** The writer: a Service that starts listening on `start()` and writes what is left on `stop()`. */
export interface EventFeedWriter extends Service {
  /** Writes every waiting event now (or joins the flush in progress). Resolves when done, even if the write failed. */
  flush(): Promise<void>;
  /** Events waiting to be written. */
  readonly buffered: number;
}

const cut = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);

/**
 * `job:enqueued` data, serialized once per distinct value: a bulk enqueue's jobs share state,
 * priority, attempt, maximum, run time and schedule, so they share one string (written once per
 * batch: the batch's dictionary finds it by identity).
 */
let lastEnqueued = { state: '', priority: NaN, attempt: NaN, maxAttempts: NaN, runAt: NaN, scheduleId: null as string | null, data: '' };
function enqueuedData(job: JobRecord): string {
  const last = lastEnqueued;
  const runAt = job.runAt.getTime();
  if (
    job.state !== last.state ||
    job.priority !== last.priority ||
    job.attempt !== last.attempt ||
    job.maxAttempts !== last.maxAttempts ||
    runAt !== last.runAt ||
    job.scheduleId !== last.scheduleId
  ) {
    const data = JSON.stringify({ state: job.state, priority: job.priority, attempt: job.attempt, maxAttempts: job.maxAttempts, runAt: job.runAt.toISOString(), scheduleId: job.scheduleId });
    lastEnqueued = { state: job.state, priority: job.priority, attempt: job.attempt, maxAttempts: job.maxAttempts, runAt, scheduleId: job.scheduleId, data };
  }
  return lastEnqueued.data;
}

/** Durations in the feed: ms to the microsecond (a timer's float has 17 digits no reader needs). */
const feedDuration = (durationMs: number): number | null => (Number.isFinite(durationMs) ? Math.round(durationMs * 1000) / 1000 : null);

/** A sealed batch waiting to be written; its first `skip` events were dropped while the store failed. */
interface Waiting {
  batch: EventBatch;
  skip: number;
}

/** `waiting` without its dropped events: batches with some dropped are written again without them. */
function withoutDropped(waiting: Waiting): EventBatch[] {
  if (waiting.skip === 0) return [waiting.batch];
  return encodeEvents(decodeEventBatch(waiting.batch.bytes).slice(waiting.skip));
}

/**
 * States: `stopped` → (start) → `idle` (nothing buffered, no timer) → (an event) → `armed` (timer
 * set) → (timer or flushSize) → `flushing` → `idle`/`armed`; (stop) from any → `stopped` after a
 * last flush. One flush at a time; events that arrive during a flush wait for the next one.
 *
 * Events go straight into the open batch (`EventBatchBuilder`: a run's two events are a few
 * bytes each, no object or text is made for them). A batch is sealed when it holds the flush
 * size, or by a flush; sealed batches wait in order until an append takes them.
 */
export function createEventFeedWriter(options: EventFeedWriterOptions): EventFeedWriter {
  const { store, events } = options;
  const logger = options.logger ?? createSilentLogger();
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  const flushSize = options.flushSize ?? (store.eventAppendSize > 0 ? store.eventAppendSize : DEFAULT_FLUSH_SIZE);
  const sealSize = Math.min(flushSize, EVENTS_PER_BATCH);
  const maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  const open = new EventBatchBuilder();
  let waiting: Waiting[] = [];
  /** Events in `waiting`, not counting dropped ones. */
  let waitingCount = 0;
  let running = false;
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> | null = null;
  let failing = false;
  const unsubscribes: (() => void)[] = [];
  // Runs reach the feed at the end of the task they happened in (see run-observers.ts): anything
  // recorded or read before that takes them first, so the feed keeps the order things happened in.
  const runs = runObservers(events);

  const buffered = (): number => waitingCount + open.count;
  const seal = (): void => {
    const batch = open.seal();
    if (batch === null) return;
    waiting.push({ batch, skip: 0 });
    waitingCount += batch.count;
  };

  /** Events dropped since the last successful write (warned about once, counted in the next info). */
  let droppedSince = 0;
  /** Drops the oldest events beyond `maxBuffered` (marked skipped: a drop is O(1), not a copy). */
  const bound = (): void => {
    let excess = buffered() - maxBuffered;
    if (excess <= 0) return;
    const dropped = excess;
    if (waiting.length === 0) seal();
    while (excess > 0 && waiting.length > 0) {
      const oldest = waiting[0]!;
      const take = Math.min(excess, oldest.batch.count - oldest.skip);
      oldest.skip += take;
      waitingCount -= take;
      excess -= take;
      if (oldest.skip === oldest.batch.count) waiting.shift();
      if (excess > 0 && waiting.length === 0) seal();
    }
    if (droppedSince === 0) logger.warn({ kept: maxBuffered }, 'event feed buffer full (the store cannot keep up or is down): dropping the oldest events');
    droppedSince += dropped;
    if (events.has('feed:dropped')) events.emit('feed:dropped', { count: dropped });
  };

  /** After an event went into the open batch. */
  const added = (): void => {
    if (open.count >= sealSize) seal();
    if (buffered() > maxBuffered) bound();
    if (buffered() >= flushSize) void flush();
    else arm();
  };

  /**
   * After a run's event went into the open batch: `added()` only when it has something to do. A
   * run's events are most of what the feed writes, and this check is all they usually need (a
   * timer or a flush is under way, and no limit is near), so the engine compiles the run
   * observer small.
   */
  const addedLimit = Math.min(flushSize, maxBuffered + 1);
  const addedRun = (): void => {
    if ((timer === null && flushing === null) || open.count >= sealSize || waitingCount + open.count >= addedLimit) added();
  };

  const arm = (): void => {
    if (!running || timer || flushing) return;
    timer = setTimeout(
      () => {
        timer = null;
        void flush();
      },
      failing ? Math.max(flushIntervalMs, RETRY_INTERVAL_MS) : flushIntervalMs,
    );
  };

  const flush = (): Promise<void> => {
    runs.deliver();
    if (flushing) return flushing;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    // The oldest waiting batches up to flushSize events (at least one), and the open batch when it fits too.
    let count = 0;
    let taken = 0;
    while (taken < waiting.length) {
      const size = waiting[taken]!.batch.count - waiting[taken]!.skip;
      if (taken > 0 && count + size > flushSize) break;
      count += size;
      taken++;
    }
    if (taken === waiting.length && open.count > 0 && (taken === 0 || count + open.count <= flushSize)) {
      count += open.count;
      seal();
      taken++;
    }
    if (taken === 0) return Promise.resolve();
    const sending = waiting.slice(0, taken);
    waiting = waiting.slice(taken);
    waitingCount -= count;
    flushing = (async () => {
      const batches = sending.flatMap(withoutDropped);
      try {
        await store.eventAppend({ batches });
        if (failing) logger.info('event feed: the store takes events again');
        if (droppedSince > 0) logger.warn({ dropped: droppedSince }, 'event feed: events were dropped while the buffer was full');
        droppedSince = 0;
        failing = false;
        if (events.has('feed:flushed')) events.emit('feed:flushed', { count });
      } catch (error) {
        // Back to the front, in order (without what was dropped); the bound applies right here.
        waiting = batches.map((batch): Waiting => ({ batch, skip: 0 })).concat(waiting);
        waitingCount += count;
        bound();
        if (!failing) logger.warn({ err: error, waiting: buffered() }, 'event feed: could not write events to the store; keeping them and trying again');
        failing = true;
      } finally {
        flushing = null;
      }
      if (buffered() >= flushSize && running && !failing) void flush();
      else if (buffered() > 0) arm();
    })();
    return flushing;
  };

  /** Listens to `event`, taking waiting runs first: they happened before it. */
  const inOrder = <E extends NightshiftEventName>(event: E, listener: (payload: NightshiftEventMap[E]) => void): (() => void) =>
    events.on(event, (payload) => {
      runs.deliver();
      listener(payload);
    });

  const subscribe = (): void => {
    unsubscribes.push(
      inOrder('job:enqueued', ({ job, inserted }) => {
        if (!inserted) return;
        open.add('job:enqueued', job.queue, job.name, job.id, enqueuedData(job));
        added();
      }),
      // A run's start and completion come straight from the worker (see run-observers.ts).
      observeRuns(events, {
        started(job, workerId) {
          open.addStarted('job:started', job.queue, job.name, job.id, job.attempt, job.maxAttempts, workerId);
          addedRun();
        },
        completed(job, durationMs) {
          open.addCompleted('job:completed', job.queue, job.name, job.id, job.attempt, durationMs);
          addedRun();
        },
      }),
      inOrder('job:failed', ({ job, error, willRetry, retryDelayMs, durationMs }) => {
        const data = JSON.stringify({
          attempt: job.attempt,
          maxAttempts: job.maxAttempts,
          durationMs: feedDuration(durationMs),
          willRetry,
          ...(willRetry ? { retryDelayMs } : {}),
          error: { name: cut(error.name), kind: error.kind, message: cut(error.message) },
        });
        open.add(willRetry ? 'job:failed' : 'job:dead', job.queue, job.name, job.id, data);
        added();
      }),
      inOrder('job:snoozed', ({ job, delayMs }) => {
        open.add('job:snoozed', job.queue, job.name, job.id, JSON.stringify({ attempt: job.attempt, delayMs }));
        added();
      }),
      inOrder('job:cancelled', ({ job, reason }) => {
        open.add('job:cancelled', job.queue, job.name, job.id, JSON.stringify({ reason: cut(reason) }));
        added();
      }),
      inOrder('job:released', ({ job }) => {
        open.add('job:released', job.queue, job.name, job.id, JSON.stringify({ attempt: job.attempt }));
        added();
      }),
      inOrder('job:retried', ({ job }) => {
        open.add('job:retried', job.queue, job.name, job.id, JSON.stringify({ attempt: job.attempt, maxAttempts: job.maxAttempts }));
        added();
      }),
      inOrder('schedule:fired', ({ scheduleId, fireAt, jobId, status }) => {
        open.add('schedule:fired', null, null, jobId, JSON.stringify({ scheduleId, fireAt: fireAt.toISOString(), status }));
        added();
      }),
      inOrder('schedule:missed', ({ scheduleId, count, first, last }) => {
        open.add('schedule:missed', null, null, null, JSON.stringify({ scheduleId, count, first: first.toISOString(), last: last.toISOString() }));
        added();
      }),
      inOrder('queue:paused', ({ queue }) => {
        open.add('queue:paused', queue, null, null, '{}');
        added();
      }),
      inOrder('queue:resumed', ({ queue }) => {
        open.add('queue:resumed', queue, null, null, '{}');
        added();
      }),
    );
  };

  return {
    name: 'event-feed',
    get buffered() {
      runs.deliver();
      return buffered();
    },
    flush,
    start() {
      if (running) return;
      running = true;
      subscribe();
    },
    async stop() {
      if (!running) return;
      running = false;
      for (const off of unsubscribes.splice(0)) off();
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      // What this process still holds: written now, in batches, until a write fails; the rest is reported lost.
      if (flushing) await flushing;
      failing = false;
      while (buffered() > 0 && !failing) await flush();
      if (buffered() > 0) {
        logger.warn({ lost: buffered() }, 'event feed: stopping with events the store did not take; they are lost');
        seal();
        waiting = [];
        waitingCount = 0;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading

/** An event as readers see it (the SSE route's `data:`). */
export interface FeedEvent {
  /** The cursor (`Last-Event-ID`). */
  id: string;
  type: string;
  /** ISO time the store appended it. */
  at: string;
  queue: string | null;
  jobName: string | null;
  jobId: string | null;
  data: Record<string, unknown>;
}

/** What the API reads the feed through (it never holds the store itself). */
export interface EventFeedReader {
  /** Events after `afterId`, oldest first, at most `limit`. */
  list(params: { afterId: string; limit: number; filter?: EventListFilter }): Promise<FeedEvent[]>;
  /** The newest id (null: none yet) and the highest pruned id (null: none pruned). */
  bounds(): Promise<{ newestId: string | null; prunedThroughId: string | null }>;
}

/** A reader over `store`. A row whose data does not parse is read with `data: {}`. */
export function createEventFeedReader(store: Store): EventFeedReader {
  return {
    async list(params) {
      const records = await store.eventList(params);
      return records.map((record) => {
        let data: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(record.data);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) data = parsed as Record<string, unknown>;
        } catch {
          data = {};
        }
        return { id: record.id, type: record.type, at: record.at.toISOString(), queue: record.queue, jobName: record.jobName, jobId: record.jobId, data };
      });
    },
    bounds: () => store.eventBounds(),
  };
}
