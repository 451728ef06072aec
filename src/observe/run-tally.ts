/**
 * One count of this process's runs, kept for the two surfaces that count them: the Prometheus
 * metrics (completions, run times and waits as histograms) and the activity stats (the same,
 * added to the store every few seconds). They count the same runs into the same buckets, so the
 * runs are counted once, here, and each surface takes what is new when it reads (a scrape, a
 * flush): per run one cell lookup and a few additions instead of one of each per surface, and no
 * observer of their own for the engine to compile and call. (Measured on W3, 20,000 no-op jobs
 * in a fresh process: the two observers were about a tenth of what every surface on cost.)
 *
 * The run observers (run-observers.ts) count runs here when they deliver them, so a reader
 * delivers first (`RunObservers.deliver()`), as it does for any state kept from runs.
 *
 * Buckets: upper bounds in ms (`RUN_BOUNDS_MS`); a value equal to a bound goes in its bucket, the
 * last bucket holds everything above the last bound. The metrics serve the same bounds in
 * seconds. Durations and waits below zero (a clock step) count as 0. Internal: not exported from
 * the package.
 */
import type { JobRecord } from '../store/types.js';

/** Upper bounds (ms) of the buckets for run times and waits, ascending. */
export const RUN_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000] as const;
/** Buckets per histogram: one per bound and one above the last. */
export const RUN_BUCKETS = RUN_BOUNDS_MS.length + 1;

/** Most (queue, job name) pairs counted; runs of further pairs are not counted (`dropped`; the stats recorder logs them). */
export const MAX_TALLY_PAIRS = 10_000;

/** The bucket of `ms` (≥ 0): a binary search over the bounds, four or five comparisons. */
export function runBucket(ms: number): number {
  let low = 0;
  let high: number = RUN_BOUNDS_MS.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ms <= RUN_BOUNDS_MS[middle]!) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** Completions with their run times, and starts with their waits, as bucket counts and sums (ms). */
class RunCounts {
  completed = 0;
  readonly durationCounts = new Float64Array(RUN_BUCKETS);
  durationSumMs = 0;
  /** Starts that had a wait (an attempt time): the wait histogram's count. */
  waits = 0;
  readonly waitCounts = new Float64Array(RUN_BUCKETS);
  waitSumMs = 0;
}

/** What one (queue, job name) pair has run since the tally began; it only grows. */
export class TallyCell extends RunCounts {
  constructor(
    readonly queue: string,
    readonly name: string,
  ) {
    super();
  }
}

/** What a reader takes from one cell: what it counted since the reader last took from it. */
export interface TallyDelta {
  readonly cell: TallyCell;
  readonly completed: number;
  readonly durationCounts: Float64Array;
  readonly durationSumMs: number;
  readonly waits: number;
  readonly waitCounts: Float64Array;
  readonly waitSumMs: number;
}

/** The runs of one emitter, by (queue, job name). */
export class RunTally {
  /** Every cell, in the order first counted. */
  readonly cells: TallyCell[] = [];
  /** Runs not counted because `MAX_TALLY_PAIRS` pairs were counted already. */
  dropped = 0;
  readonly #byQueue = new Map<string, Map<string, TallyCell>>();
  // The last pair counted: a worker's runs mostly repeat it (one queue, one job name).
  #last: TallyCell | null = null;

  started(job: JobRecord): void {
    const attemptedAt = job.attemptedAt;
    if (attemptedAt === null) return;
    const cell = this.#cell(job.queue, job.name);
    if (cell === null) return;
    const waited = attemptedAt.getTime() - job.runAt.getTime();
    const ms = waited > 0 ? waited : 0;
    cell.waits++;
    cell.waitCounts[runBucket(ms)]!++;
    cell.waitSumMs += ms;
  }

  completed(job: JobRecord, durationMs: number): void {
    const cell = this.#cell(job.queue, job.name);
    if (cell === null) return;
    const ms = durationMs > 0 ? durationMs : 0;
    cell.completed++;
    cell.durationCounts[runBucket(ms)]!++;
    cell.durationSumMs += ms;
  }

  /** A reader that takes only what is counted from now on. */
  reader(): TallyReader {
    return new TallyReader(this);
  }

  #cell(queue: string, name: string): TallyCell | null {
    const last = this.#last;
    if (last !== null && last.queue === queue && last.name === name) return last;
    let byName = this.#byQueue.get(queue);
    if (byName === undefined) this.#byQueue.set(queue, (byName = new Map()));
    let cell = byName.get(name);
    if (cell === undefined) {
      if (this.cells.length >= MAX_TALLY_PAIRS) {
        this.dropped++;
        return null;
      }
      cell = new TallyCell(queue, name);
      byName.set(name, cell);
      this.cells.push(cell);
    }
    this.#last = cell;
    return cell;
  }
}

/** One surface's view of a tally: `take` hands over what was counted since its last `take`. */
export class TallyReader {
  readonly #tally: RunTally;
  /** What it has taken of each cell so far. */
  readonly #taken = new Map<TallyCell, RunCounts>();

  constructor(tally: RunTally) {
    this.#tally = tally;
    // What was counted before the reader came is not its own.
    for (const cell of tally.cells) this.#takeFrom(cell);
  }

  /** Calls `visit` with what each cell counted since the last take (cells with nothing new are skipped). */
  take(visit: (delta: TallyDelta) => void): void {
    for (const cell of this.#tally.cells) {
      const delta = this.#takeFrom(cell);
      if (delta !== null) visit(delta);
    }
  }

  #takeFrom(cell: TallyCell): TallyDelta | null {
    let taken = this.#taken.get(cell);
    if (taken === undefined) this.#taken.set(cell, (taken = new RunCounts()));
    if (taken.completed === cell.completed && taken.waits === cell.waits) return null;
    const durationCounts = new Float64Array(RUN_BUCKETS);
    const waitCounts = new Float64Array(RUN_BUCKETS);
    for (let i = 0; i < RUN_BUCKETS; i++) {
      durationCounts[i] = cell.durationCounts[i]! - taken.durationCounts[i]!;
      waitCounts[i] = cell.waitCounts[i]! - taken.waitCounts[i]!;
    }
    const delta: TallyDelta = {
      cell,
      completed: cell.completed - taken.completed,
      durationCounts,
      durationSumMs: cell.durationSumMs - taken.durationSumMs,
      waits: cell.waits - taken.waits,
      waitCounts,
      waitSumMs: cell.waitSumMs - taken.waitSumMs,
    };
    taken.completed = cell.completed;
    taken.durationCounts.set(cell.durationCounts);
    taken.durationSumMs = cell.durationSumMs;
    taken.waits = cell.waits;
    taken.waitCounts.set(cell.waitCounts);
    taken.waitSumMs = cell.waitSumMs;
    return delta;
  }
}
