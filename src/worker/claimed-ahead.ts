import type { JobRecord } from '../store/types.js';

/**
 * A job claimed ahead that waited this long (ms) for a slot is checked with the store before it
 * starts (worker.ts, `checkThenStart`). Claiming ahead is on only while handlers average under
 * 50 ms, so a job waits this long only when they got slower: one round trip then costs little.
 */
export const AHEAD_CHECK_AFTER_MS = 100;

/** A job claimed before a slot was free for it, and when it was claimed (worker clock, ms). */
export interface WaitingJob {
  readonly job: JobRecord;
  readonly claimedAtMs: number;
}

/**
 * Jobs of one queue that a worker claimed ahead of its free slots, oldest first: the next slot
 * that frees starts the oldest at once, without waiting for a claim. Bounded by the queue's
 * `prefetch` setting, so a small array is all it needs.
 */
export class ClaimedAhead {
  #waiting: WaitingJob[] = [];

  get size(): number {
    return this.#waiting.length;
  }

  push(job: JobRecord, claimedAtMs: number): void {
    this.#waiting.push({ job, claimedAtMs });
  }

  /** The oldest waiting job, removed, with when it was claimed; undefined when none waits. */
  shift(): WaitingJob | undefined {
    return this.#waiting.shift();
  }

  /** Removes job `id` if it waits here (it was cancelled); true when it did. */
  remove(id: string): boolean {
    const index = this.#waiting.findIndex((entry) => entry.job.id === id);
    if (index < 0) return false;
    this.#waiting.splice(index, 1);
    return true;
  }

  /** Removes and returns the jobs claimed at or before `cutoffMs`. */
  takeClaimedBy(cutoffMs: number): JobRecord[] {
    const stale = this.#waiting.filter((entry) => entry.claimedAtMs <= cutoffMs);
    if (stale.length === 0) return [];
    this.#waiting = this.#waiting.filter((entry) => entry.claimedAtMs > cutoffMs);
    return stale.map((entry) => entry.job);
  }

  /** Removes and returns every waiting job. */
  takeAll(): JobRecord[] {
    const all = this.#waiting.map((entry) => entry.job);
    this.#waiting = [];
    return all;
  }
}
