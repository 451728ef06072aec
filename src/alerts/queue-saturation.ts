/**
 * Queue saturation for the `saturatedForSeconds` condition: whether every live worker slot of a
 * queue is busy, read from the process registry, and since when that has held at every pass of
 * one evaluator.
 *
 * The registry is a snapshot each process refreshes every 10 s (`PROCESS_HEARTBEAT_MS`), not a
 * history, so "saturated for N s" can only be known by remembering it: `SaturationMemory` keeps,
 * per queue, the store time of the first pass that saw it saturated. One memory belongs to one
 * evaluator (one alert service, in one process); several daemons each keep their own, and the
 * store's one-open-episode-per-key rule makes them alert once. A pass that does not see the queue
 * saturated forgets it, so a queue that frees a slot between two passes and fills it again before
 * the next is not noticed — the condition is "saturated at every pass for N s".
 */
import type { ProcessView } from '../observe/process-registry.js';

/** One queue's load across the live processes. */
export interface QueueLoad {
  queue: string;
  /** Handlers running now, summed over the processes that consume the queue. */
  busy: number;
  /**
   * Slots the queue can use now: the summed concurrency of those processes, capped by the
   * smallest `globalConcurrency` any of them reports (the cluster-wide limit).
   */
  slots: number;
}

/** Busy and usable slots per queue, from the live processes' descriptions. */
export function queueLoads(processes: readonly ProcessView[]): QueueLoad[] {
  const byQueue = new Map<string, { busy: number; concurrency: number; global: number | null }>();
  for (const process of processes) {
    for (const entry of process.queues) {
      // Descriptions come from other processes (possibly other versions): take only what is well formed.
      if (!entry || typeof entry.queue !== 'string' || !Number.isFinite(entry.concurrency) || !Number.isFinite(entry.busy)) continue;
      const into = byQueue.get(entry.queue) ?? { busy: 0, concurrency: 0, global: null };
      into.busy += Math.max(0, entry.busy);
      into.concurrency += Math.max(0, entry.concurrency);
      const global = entry.globalConcurrency;
      if (typeof global === 'number' && Number.isFinite(global) && global > 0) into.global = into.global === null ? global : Math.min(into.global, global);
      byQueue.set(entry.queue, into);
    }
  }
  return [...byQueue].map(([queue, load]) => ({ queue, busy: load.busy, slots: load.global === null ? load.concurrency : Math.min(load.concurrency, load.global) }));
}

/** Whether every usable slot is busy (a queue without slots is not saturated: `noWorker` covers it). */
export function isSaturated(load: QueueLoad): boolean {
  return load.slots > 0 && load.busy >= load.slots;
}

/** A saturated queue as one pass sees it. */
export interface SaturatedQueue extends QueueLoad {
  /** Store time (ms) of the first pass of this memory that saw it saturated, every pass since too. */
  sinceMs: number;
}

/**
 * Per queue, since when it has been saturated at every pass. States of a queue: *unsaturated*
 * (absent from the map) and *saturated since t*; `observe` moves absent → since now, keeps
 * since t while saturated, and drops back to absent at the first pass that sees it otherwise.
 */
export class SaturationMemory {
  readonly #since = new Map<string, number>();

  /** Records one pass at store time `nowMs`; returns the queues saturated now, with since when. */
  observe(loads: readonly QueueLoad[], nowMs: number): SaturatedQueue[] {
    const saturated: SaturatedQueue[] = [];
    const seen = new Set<string>();
    for (const load of loads) {
      if (!isSaturated(load)) continue;
      seen.add(load.queue);
      let since = this.#since.get(load.queue);
      if (since === undefined) {
        since = nowMs;
        this.#since.set(load.queue, since);
      }
      saturated.push({ ...load, sinceMs: since });
    }
    for (const queue of this.#since.keys()) if (!seen.has(queue)) this.#since.delete(queue);
    return saturated;
  }
}
