import type { Logger } from 'pino';
import { StoreError } from '../errors.js';
import type { JobFinishItem, Store } from '../store/types.js';

/** Largest number of finishes written in one `jobFinishMany` call. */
export const COMPLETER_MAX_BATCH = 1000;

/** One finish waiting to be written, with whatever the caller needs back once it is. */
export interface CompleterEntry {
  readonly item: JobFinishItem;
}

export interface CompleterOptions<E extends CompleterEntry> {
  store: Store;
  logger: Logger;
  /** Called once per entry after its write: `applied` false means the fence refused it (stale). */
  onWritten(entry: E, applied: boolean): void;
  /** Called when a batch could not be written (it is retried when the error is retryable). */
  onError(error: unknown): void;
  /** Flush as soon as this many finishes are waiting; default `COMPLETER_MAX_BATCH`. */
  maxBatch?: number;
  /**
   * How long a finish waits for others to join its write, in ms; default
   * `COMPLETER_FLUSH_DELAY_MS`. 0 writes on the next turn of the event loop.
   */
  flushDelayMs?: number;
  /**
   * True while a claim is scheduled for the next turn of the event loop. A write that falls due
   * then lets that claim run first (once), so slots freed a moment ago are refilled before the
   * event loop is busy writing.
   */
  claimPending?(): boolean;
}

/**
 * Default time a finish waits for others before it is written, in ms. Each write is one
 * transaction whose fixed cost (BEGIN, COMMIT, the pages every batch touches) is shared by the
 * finishes in it: written on the next tick, a fast SQLite queue wrote ~10 finishes per
 * transaction and spent a third of its time in them; waiting 1 ms (a timer's granularity) lets
 * a few dozen share one. Short enough not to matter to anyone watching the job: its state and
 * `job:completed` follow within a millisecond or two.
 */
export const COMPLETER_FLUSH_DELAY_MS = 1;

/**
 * Batches job finishes into `store.jobFinishMany`: a finish is written `flushDelayMs` after it
 * arrives, together with every other finish that arrived meanwhile (or at once when `maxBatch`
 * are waiting). One write is in flight at a time; finishes that arrive during it form the next
 * batch, so under load batches grow on their own instead of writes piling up.
 *
 * A batch that fails with a retryable store error is retried with backoff; a non-retryable
 * failure drops the batch after logging it — those jobs stay `running` until their lease expires
 * and the rescuer takes them back, so nothing is lost, only delayed.
 */
export class Completer<E extends CompleterEntry> {
  readonly #options: CompleterOptions<E>;
  readonly #maxBatch: number;
  readonly #flushDelayMs: number;
  #buffer: E[] = [];
  /** A flush is scheduled (timer, then possibly an immediate) and has not run yet. */
  #scheduled = false;
  #flushTimer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #retryDelayMs = 0;
  #retryTimer: NodeJS.Timeout | null = null;

  constructor(options: CompleterOptions<E>) {
    this.#options = options;
    this.#maxBatch = options.maxBatch ?? COMPLETER_MAX_BATCH;
    this.#flushDelayMs = options.flushDelayMs ?? COMPLETER_FLUSH_DELAY_MS;
  }

  /** Finishes waiting or being written. */
  get pending(): number {
    return this.#buffer.length;
  }

  add(entry: E): void {
    this.#buffer.push(entry);
    if (this.#inFlight || this.#retryTimer) return; // picked up when the current write ends
    if (this.#buffer.length >= this.#maxBatch) {
      this.#unschedule();
      void this.#flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#flushDelayMs > 0) this.#flushTimer = setTimeout(this.#onTimer, this.#flushDelayMs);
      else setImmediate(this.#onTick);
    }
  }

  readonly #onTimer = (): void => {
    this.#flushTimer = null;
    // Timers run before immediates: a claim scheduled by jobs that just ended goes first.
    if (this.#options.claimPending?.()) setImmediate(this.#onTick);
    else this.#onTick();
  };

  readonly #onTick = (): void => {
    if (!this.#scheduled) return; // a full batch or a drain wrote it already
    this.#scheduled = false;
    if (!this.#inFlight && !this.#retryTimer) void this.#flush();
  };

  #unschedule(): void {
    this.#scheduled = false;
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
  }

  /** Writes everything buffered; resolves when the buffer is empty (or a write gave up). */
  async drain(): Promise<void> {
    this.#unschedule();
    if (this.#retryTimer) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
    }
    // Bounded: each round either writes or drops a batch, or waits on a retry timer we cleared.
    for (let round = 0; round < 1000 && (this.#buffer.length > 0 || this.#inFlight); round++) {
      if (this.#inFlight) await this.#inFlight;
      else await this.#flush(true);
    }
  }

  #flush(draining = false): Promise<void> {
    const batch = this.#buffer.length <= this.#maxBatch ? this.#buffer : this.#buffer.slice(0, this.#maxBatch);
    this.#buffer = batch === this.#buffer ? [] : this.#buffer.slice(this.#maxBatch);
    if (batch.length === 0) return Promise.resolve();
    this.#inFlight = this.#write(batch, draining).finally(() => {
      this.#inFlight = null;
      if (this.#buffer.length > 0 && !this.#retryTimer && !draining) void this.#flush();
    });
    return this.#inFlight;
  }

  async #write(batch: E[], draining: boolean): Promise<void> {
    let result;
    try {
      result = await this.#options.store.jobFinishMany({ items: batch.map((entry) => entry.item) });
    } catch (error) {
      this.#options.onError(error);
      const retryable = error instanceof StoreError ? error.retryable : true;
      if (!retryable) {
        this.#options.logger.error({ err: error, count: batch.length }, 'could not record job finishes; the rescuer will take these jobs back when their leases expire');
        return;
      }
      // Put the batch back in front and retry later (or on the next drain round).
      this.#buffer = batch.concat(this.#buffer);
      this.#retryDelayMs = Math.min(5000, this.#retryDelayMs === 0 ? 50 : this.#retryDelayMs * 2);
      if (!draining) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          void this.#flush();
        }, this.#retryDelayMs);
      } else {
        await new Promise((resolve) => setTimeout(resolve, this.#retryDelayMs));
      }
      return;
    }
    this.#retryDelayMs = 0;
    const rejected = result.rejected.length === 0 ? null : new Set(result.rejected);
    for (const entry of batch) this.#options.onWritten(entry, rejected === null || !rejected.has(entry.item.id));
  }
}
