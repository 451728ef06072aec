/**
 * Activity statistics, the core side of writing them: a process counts what its client and
 * worker did (enqueues, attempts by outcome, run times, waits from due to start) per queue and
 * job name in memory, and adds the counts to the store's per-minute rows every few seconds and at
 * stop. Reads (`/api/stats`, the queues' per-minute figures) sum those rows: no request scans the
 * jobs table.
 *
 * What is counted, and where: the events of the process's own bus. Enqueues by a process that
 * runs no Nightshift runtime (a bare `createClient`, the PostgreSQL `enqueue()` function) and
 * jobs the rescuer takes back are not counted. A crash loses at most one interval of counts.
 */
import type { Logger } from 'pino';
import { createIntervalService, type Service } from '../service.js';
import { STATS_BUCKET_COUNT, type StatsDelta, type Store } from '../store/types.js';
import type { NightshiftEvents } from './events.js';
import { runObservers } from './run-observers.js';
import { MAX_TALLY_PAIRS, RUN_BOUNDS_MS, runBucket, type TallyReader } from './run-tally.js';

/**
 * Upper bounds (ms) of the histogram buckets for run times and waits; the last bucket holds
 * everything above the last bound. Percentiles are estimated within a bucket (see `percentile`).
 */
export const STATS_BOUNDS_MS = RUN_BOUNDS_MS;

if (STATS_BOUNDS_MS.length + 1 !== STATS_BUCKET_COUNT) throw new Error('STATS_BOUNDS_MS does not match STATS_BUCKET_COUNT');

/** Default time between two flushes, ms. */
export const STATS_FLUSH_MS = 5_000;
/** Most (queue, name) pairs held between flushes; counts of further pairs are dropped (and logged). */
const MAX_PAIRS = 10_000;

/** The histogram bucket of a value in ms. */
export const bucketOf = runBucket;

/** A zero delta for a (queue, name). */
export function emptyDelta(queue: string, name: string): StatsDelta {
  return {
    queue,
    name,
    enqueued: 0,
    completed: 0,
    failed: 0,
    dead: 0,
    cancelled: 0,
    timeouts: 0,
    durationBuckets: new Array<number>(STATS_BUCKET_COUNT).fill(0),
    durationSumMs: 0,
    waitBuckets: new Array<number>(STATS_BUCKET_COUNT).fill(0),
    waitSumMs: 0,
  };
}

/** Adds `from` into `into` (same queue and name). */
export function addDelta(into: StatsDelta, from: StatsDelta): void {
  into.enqueued += from.enqueued;
  into.completed += from.completed;
  into.failed += from.failed;
  into.dead += from.dead;
  into.cancelled += from.cancelled;
  into.timeouts += from.timeouts;
  into.durationSumMs += from.durationSumMs;
  into.waitSumMs += from.waitSumMs;
  for (let i = 0; i < STATS_BUCKET_COUNT; i++) {
    into.durationBuckets[i] = (into.durationBuckets[i] ?? 0) + (from.durationBuckets[i] ?? 0);
    into.waitBuckets[i] = (into.waitBuckets[i] ?? 0) + (from.waitBuckets[i] ?? 0);
  }
}

export interface StatsRecorderOptions {
  store: Store;
  events: NightshiftEvents;
  logger?: Logger;
  /** Time between two flushes, ms; default 5000. */
  flushMs?: number;
}

export interface StatsRecorder extends Service {
  /** Adds what was counted so far to the store now (also done every `flushMs` and at stop). */
  flush(): Promise<void>;
}

/** Counts this process's activity and adds it to the store's per-minute stats. */
export function createStatsRecorder(options: StatsRecorderOptions): StatsRecorder {
  const { store, events, logger } = options;
  // Deltas by queue, then job name: an event finds its delta without building a key string
  // (two or three events per job run, in every process that records).
  let pending = new Map<string, Map<string, StatsDelta>>();
  let pairs = 0;
  let dropped = 0;

  // The last pair asked for (a worker's events mostly repeat it); forgotten when a flush takes `pending`.
  let last: StatsDelta | null = null;
  const deltaFor = (queue: string, name: string): StatsDelta | null => {
    if (last !== null && last.queue === queue && last.name === name) return last;
    const delta = findDelta(queue, name);
    last = delta;
    return delta;
  };
  const findDelta = (queue: string, name: string): StatsDelta | null => {
    let byName = pending.get(queue);
    if (byName === undefined) pending.set(queue, (byName = new Map()));
    let delta = byName.get(name);
    if (!delta) {
      if (pairs >= MAX_PAIRS) {
        dropped++;
        return null;
      }
      delta = emptyDelta(queue, name);
      byName.set(name, delta);
      pairs++;
    }
    return delta;
  };
  const ran = (delta: StatsDelta, durationMs: number) => {
    const ms = Math.max(0, durationMs);
    const bucket = bucketOf(ms);
    delta.durationBuckets[bucket] = (delta.durationBuckets[bucket] ?? 0) + 1;
    delta.durationSumMs += ms;
  };

  const listeners = {
    'job:enqueued': ({ job, inserted }: { job: { queue: string; name: string }; inserted: boolean }) => {
      if (!inserted) return;
      const delta = deltaFor(job.queue, job.name);
      if (delta) delta.enqueued++;
    },
    'job:failed': ({ job, error, willRetry, durationMs }: { job: { queue: string; name: string }; error: { kind: string }; willRetry: boolean; durationMs: number }) => {
      const delta = deltaFor(job.queue, job.name);
      if (!delta) return;
      if (willRetry) delta.failed++;
      else delta.dead++;
      if (error.kind === 'timeout') delta.timeouts++;
      ran(delta, durationMs);
    },
    'job:cancelled': ({ job }: { job: { queue: string; name: string } }) => {
      const delta = deltaFor(job.queue, job.name);
      if (delta) delta.cancelled++;
    },
  } as const;
  // Completions, run times and waits are counted in the process's run tally (run-tally.ts),
  // shared with the metrics; a flush takes what it counted since the last one. Runs of the
  // current task reach the tally at its end (see run-observers.ts): a flush delivers them first.
  const runs = runObservers(events);
  let tally: { reader: TallyReader; release: () => void } | null = null;
  /** The tally's `dropped` when last looked at: runs it left out since are reported once per flush. */
  let tallyDroppedSeen = runs.tally.dropped;
  const takeRuns = (): void => {
    if (tally === null) return;
    runs.deliver();
    const tallyDropped = runs.tally.dropped - tallyDroppedSeen;
    if (tallyDropped > 0) {
      tallyDroppedSeen = runs.tally.dropped;
      logger?.warn({ dropped: tallyDropped, pairs: MAX_TALLY_PAIRS }, 'stats: runs of more queue/job pairs than this process counts; runs of the further pairs are missing from the stats and the metrics');
    }
    tally.reader.take(({ cell, completed, durationCounts, durationSumMs, waits, waitCounts, waitSumMs }) => {
      const delta = deltaFor(cell.queue, cell.name);
      if (!delta) return;
      delta.completed += completed;
      delta.durationSumMs += durationSumMs;
      delta.waitSumMs += waitSumMs;
      if (completed > 0) for (let i = 0; i < STATS_BUCKET_COUNT; i++) delta.durationBuckets[i] = (delta.durationBuckets[i] ?? 0) + (durationCounts[i] ?? 0);
      if (waits > 0) for (let i = 0; i < STATS_BUCKET_COUNT; i++) delta.waitBuckets[i] = (delta.waitBuckets[i] ?? 0) + (waitCounts[i] ?? 0);
    });
  };

  let flushing: Promise<void> | null = null;
  const flushOnce = async (): Promise<void> => {
    takeRuns();
    if (pairs === 0) return;
    const taken = pending;
    pending = new Map();
    pairs = 0;
    last = null;
    // One delta per pair, sorted: concurrent writers lock the rows in the same order.
    const deltas = [...taken.values()].flatMap((byName) => [...byName.values()]).sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    try {
      await store.statsAdd({ deltas });
    } catch (error) {
      // Put the counts back (merged with what came meanwhile) and try again at the next flush.
      for (const delta of deltas) {
        const into = deltaFor(delta.queue, delta.name);
        if (into) addDelta(into, delta);
      }
      throw error;
    }
    if (dropped > 0) {
      logger?.warn({ dropped, pairs: MAX_PAIRS }, 'stats: more queue/job pairs than the recorder keeps between flushes; some counts were dropped');
      dropped = 0;
    }
  };
  const flush = async (): Promise<void> => {
    while (flushing) await flushing;
    flushing = flushOnce().finally(() => {
      flushing = null;
    });
    return flushing;
  };

  const loop = createIntervalService({
    name: 'stats-recorder',
    intervalMs: options.flushMs ?? STATS_FLUSH_MS,
    run: flush,
    onError: (error) => logger?.warn({ err: error }, 'could not add to the stats; keeping the counts for the next flush'),
  });

  return {
    name: 'stats-recorder',
    flush,
    async start() {
      if (tally === null) {
        for (const [event, listener] of Object.entries(listeners)) events.on(event as keyof typeof listeners, listener as never);
        const release = runs.useTally();
        tally = { reader: runs.tally.reader(), release };
      }
      await loop.start();
    },
    async stop() {
      await loop.stop();
      if (tally !== null) {
        for (const [event, listener] of Object.entries(listeners)) events.off(event as keyof typeof listeners, listener as never);
        // What was counted until now is taken before the recorder stops reading the tally.
        takeRuns();
        tally.release();
        tally = null;
      }
      await flush().catch((error: unknown) => {
        logger?.warn({ err: error }, 'could not add the last counts to the stats at stop; they are lost');
      });
    },
  };
}
