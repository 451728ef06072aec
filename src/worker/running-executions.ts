import type { Execution } from './executor.js';

/**
 * The executions running on a worker right now: what the heartbeat renews, what shutdown waits
 * for, and what a cancel looks up.
 *
 * An array with swap-remove rather than a `Map` keyed by job id: a Map that gains and loses one
 * entry per job keeps rehashing, and V8 links each obsolete table to its successor, so one table
 * promoted to the old generation keeps every later table — and the jobs in them — alive through
 * young collections until the next full one. Under a fast drain that promoted every claimed job
 * and was most of the worker's peak memory. The set is bounded by the worker's total concurrency,
 * so the linear lookup by id (cancels only) stays cheap.
 */
export class RunningExecutions {
  readonly #items: Execution[] = [];

  /** Executions running. */
  get size(): number {
    return this.#items.length;
  }

  add(execution: Execution): void {
    execution.slot = this.#items.length;
    this.#items.push(execution);
  }

  /** Removes `execution`; no-op when it is not (or no longer) here. */
  delete(execution: Execution): void {
    const slot = execution.slot;
    if (slot < 0 || this.#items[slot] !== execution) return;
    const last = this.#items.pop() as Execution;
    if (last !== execution) {
      this.#items[slot] = last;
      last.slot = slot;
    }
    execution.slot = -1;
  }

  has(execution: Execution): boolean {
    return execution.slot >= 0 && this.#items[execution.slot] === execution;
  }

  /** The latest execution of job `id` (a job re-claimed by this worker may briefly run twice), or undefined. */
  get(id: string): Execution | undefined {
    for (let index = this.#items.length - 1; index >= 0; index--) {
      const execution = this.#items[index] as Execution;
      if (execution.job.id === id) return execution;
    }
    return undefined;
  }

  /** A snapshot: safe to iterate while executions settle. */
  values(): Execution[] {
    return this.#items.slice();
  }
}
