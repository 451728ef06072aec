/**
 * Event feed appends that ride the next job finish on SQLite.
 *
 * On SQLite what a feed append costs a busy worker is mostly its transaction, not its rows:
 * taking and dropping the file locks and committing to the WAL cost the same for a batch of a
 * thousand events as for an empty one. A worker draining no-op jobs appends about seventy times
 * a second, and with each append in its own transaction the feed cost W3 about 9 % of its
 * throughput; written inside the transactions that finish jobs anyway, about 1 %
 * (`npm run bench -- --only W3B,W3O`: with the events' text left empty but their transaction
 * kept, the cost stayed where it was).
 *
 * So while this connection is finishing jobs (a `jobFinishMany` in the last `RIDE_RECENT_MS`),
 * an append waits up to `RIDE_WAIT_MS` for the next one, and that finish's IMMEDIATE transaction
 * writes the events after the finishes. Otherwise (a process that runs no worker, an idle one,
 * a finish that does not come in time) the events are written in a transaction of their own, as
 * any append was before.
 *
 * What an append still promises: it resolves once its events are committed, and appends are
 * stored in the order they were asked for (one connection, every write under the write lock, the
 * waiting ones written together in order). An append larger than a batch is still seen whole. A
 * failing event insert never fails the finish it rides with: it runs in a savepoint, and on an
 * error the events stay waiting and are then written on their own, where the error reaches the
 * caller. A rolled-back finish puts them back the same way.
 */
/** A finish within this long (ms) means more are coming: appends wait for the next one. */
export const RIDE_RECENT_MS = 50;
/** Longest an append waits for a finish to ride with before it is written alone, ms. */
export const RIDE_WAIT_MS = 10;

interface Waiting<Row> {
  readonly rows: readonly Row[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Appends taken into a transaction, settled once it ended. */
export type RidingAppends = readonly Waiting<unknown>[];

export interface EventRiderOptions<Row> {
  /**
   * Writes the rows of appends (batches ready to insert) in one transaction (throws a mapped
   * store error). Called inside the finish's open transaction, better-sqlite3 makes that
   * transaction a savepoint of it.
   */
  readonly append: (rows: readonly Row[]) => void;
}

export class EventRider<Row> {
  #waiting: Waiting<Row>[] = [];
  #timer: NodeJS.Timeout | null = null;
  /** `performance.now()` of the last finish (a scheduling guess, not the store's clock). */
  #lastFinishAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: EventRiderOptions<Row>) {}

  /** Appends `rows`: at once when no finish is expected soon, else with the next finish. */
  add(rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    if (this.#waiting.length === 0 && performance.now() - this.#lastFinishAt > RIDE_RECENT_MS) {
      try {
        this.options.append(rows);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ rows, resolve, reject });
      this.#arm();
    });
  }

  /**
   * Inside a finish's transaction, after its writes: writes every waiting append. Returns them,
   * to be settled once the transaction ended, or null when none waited or their insert failed
   * (they keep waiting; the timer writes them alone).
   */
  rideIn(): RidingAppends | null {
    this.#lastFinishAt = performance.now();
    const waiting = this.#waiting;
    if (waiting.length === 0) return null;
    try {
      this.options.append(waiting.length === 1 ? waiting[0]!.rows : waiting.flatMap((entry) => entry.rows));
    } catch {
      return null;
    }
    this.#waiting = [];
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    return waiting;
  }

  /** After the finish's transaction: committed, the appends resolve; rolled back, they wait again (in front, in order). */
  settle(riding: RidingAppends | null, committed: boolean): void {
    if (riding === null) return;
    if (committed) {
      for (const entry of riding) entry.resolve();
      return;
    }
    this.#waiting = (riding as readonly Waiting<Row>[]).concat(this.#waiting);
    this.#arm();
  }

  /** Writes what waits on its own after `RIDE_WAIT_MS`, unless a finish takes it first. */
  #arm(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      this.flush();
    }, RIDE_WAIT_MS);
  }

  /** Writes what waits in a transaction of its own now (the timer; the store closing). */
  flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const waiting = this.#waiting;
    if (waiting.length === 0) return;
    this.#waiting = [];
    try {
      this.options.append(waiting.length === 1 ? waiting[0]!.rows : waiting.flatMap((entry) => entry.rows));
    } catch (error) {
      for (const entry of waiting) entry.reject(error);
      return;
    }
    for (const entry of waiting) entry.resolve();
  }
}
