import type { Logger } from 'pino';
import { StoreError } from '../errors.js';
import { MAX_ERROR_MESSAGE_LENGTH, toStorableText } from '../job/input-bounds.js';
import type { JobFinish, JobFinishItem, JobFinishResult, Store } from '../store/types.js';

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
  /** Called when a write failed (transient failures are retried; see `Completer`). */
  onError(error: unknown): void;
  /** Called after a write that cancelled jobs waiting on one it ended (`JobFinishResult.cancelledDependents`). */
  onDependentsCancelled?(ids: string[]): void;
  /**
   * Called with true when a transient failure leaves finishes waiting for a retry, and with false
   * once a write succeeds again. The worker claims no new jobs in between.
   */
  onStallChange?(stalled: boolean, error: unknown): void;
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
 * Failures, by kind (see `isTransient`):
 * - Transient (connection lost, lock busy, disk full, read-only server): the batch goes back in
 *   front of the buffer and is retried with backoff (50 ms doubling to 5 s) until it is written.
 *   While a retry is pending the completer is *stalled* (`stalled`, `onStallChange`): the worker
 *   claims nothing new until finishes can be written again.
 * - Anything else (the database refused a value, a bug in a store): one item must not take the
 *   others down, so the batch is split in halves and each half written on its own, down to the
 *   single finishes that fail (the fallback: O(bad · log n) writes instead of n). Each of those
 *   is then recorded as `dead` with a `finish could not be stored` error naming the reason
 *   (kind `finish_not_stored`) — never silently left to the rescuer, which would run a job
 *   again. Only if even that write is refused is the job left running, and logged: its lease
 *   expires and the rescuer takes it back.
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
  #stalled = false;

  constructor(options: CompleterOptions<E>) {
    this.#options = options;
    this.#maxBatch = options.maxBatch ?? COMPLETER_MAX_BATCH;
    this.#flushDelayMs = options.flushDelayMs ?? COMPLETER_FLUSH_DELAY_MS;
  }

  /** Finishes waiting or being written. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** True while finishes wait for a retry after a transient store failure. */
  get stalled(): boolean {
    return this.#stalled;
  }

  /**
   * Writes waiting finishes now instead of at the end of the retry delay (another store call
   * just succeeded, so the store is probably back), and resolves once that write is done.
   */
  async retryNow(): Promise<void> {
    if (this.#retryTimer) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      void this.#flush();
    }
    if (this.#inFlight) await this.#inFlight;
  }

  /** The finishes waiting to be written (their jobs still hold leases the heartbeat renews). */
  waiting(): readonly E[] {
    return this.#buffer;
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

  /**
   * Writes everything buffered; resolves when the buffer is empty, or once `giveUpAfterMs` passed
   * while transient failures kept finishes from being written (default: keep trying, up to 1000
   * rounds). Finishes given up on are logged; their jobs stay running until their leases expire
   * and the rescuer takes them back, to be run again (at-least-once).
   */
  async drain(options: { giveUpAfterMs?: number } = {}): Promise<void> {
    this.#unschedule();
    if (this.#retryTimer) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
    }
    const deadline = options.giveUpAfterMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.giveUpAfterMs;
    // Bounded: each round either writes or settles a batch, or waits out one retry delay.
    for (let round = 0; round < 1000 && (this.#buffer.length > 0 || this.#inFlight); round++) {
      if (this.#inFlight) await this.#inFlight;
      else if (Date.now() >= deadline) break;
      else await this.#flush(true);
    }
    if (this.#buffer.length > 0) {
      this.#options.logger.error(
        { count: this.#buffer.length, jobIds: this.#buffer.slice(0, 20).map((entry) => entry.item.id) },
        'gave up writing job finishes at shutdown (the store kept failing); these jobs will be rescued when their leases expire and run again',
      );
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
    const failure = await this.#writeIsolating(batch);
    if (failure === null) {
      this.#retryDelayMs = 0;
      this.#setStalled(false, null);
      return;
    }
    // A transient failure: put what is unwritten back in front and retry later (or on the next drain round).
    this.#options.onError(failure.error);
    this.#setStalled(true, failure.error);
    this.#buffer = failure.unwritten.concat(this.#buffer);
    this.#retryDelayMs = Math.min(5000, this.#retryDelayMs === 0 ? 50 : this.#retryDelayMs * 2);
    if (!draining) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        void this.#flush();
      }, this.#retryDelayMs);
    } else {
      await new Promise((resolve) => setTimeout(resolve, this.#retryDelayMs));
    }
  }

  /**
   * Writes `batch`, isolating finishes the store refuses for good (see the class comment).
   * Returns null when every finish was written or settled, else the ones a transient failure left
   * unwritten, in order.
   */
  async #writeIsolating(batch: E[]): Promise<{ unwritten: E[]; error: unknown } | null> {
    let result: JobFinishResult;
    try {
      result = await this.#options.store.jobFinishMany({ items: batch.map((entry) => entry.item) });
    } catch (error) {
      if (isTransient(error)) return { unwritten: batch, error };
      this.#options.onError(error);
      if (batch.length === 1) return this.#writeNotStored(batch[0] as E, error);
      this.#options.logger.warn({ err: error, count: batch.length }, 'a batch of job finishes was refused; writing it in parts to find the finishes the store cannot take');
      const middle = batch.length >> 1;
      const first = await this.#writeIsolating(batch.slice(0, middle));
      if (first !== null) return { unwritten: first.unwritten.concat(batch.slice(middle)), error: first.error };
      return this.#writeIsolating(batch.slice(middle));
    }
    this.#report(batch, result);
    return null;
  }

  /** One finish the store refused for good: record the job as dead with why, instead of the finish. */
  async #writeNotStored(entry: E, cause: unknown): Promise<{ unwritten: E[]; error: unknown } | null> {
    if (entry.item.finish.outcome === 'dead' && entry.item.finish.error.kind === FINISH_NOT_STORED) {
      // Already the substitute, refused too: nothing storable is left to try.
      this.#options.logger.error(
        { err: cause, jobId: entry.item.id },
        'could not record a job finish, not even as dead; the job stays running until its lease expires and the rescuer takes it back',
      );
      return null;
    }
    const substitute = { ...entry, item: { ...entry.item, finish: notStoredFinish(entry.item.finish, cause) } } as E;
    this.#options.logger.error({ err: cause, jobId: entry.item.id, outcome: entry.item.finish.outcome }, 'the store refused a job finish; recording the job as dead with the reason');
    return this.#writeIsolating([substitute]);
  }

  #report(batch: E[], result: JobFinishResult): void {
    const rejected = result.rejected.length === 0 ? null : new Set(result.rejected);
    for (const entry of batch) this.#options.onWritten(entry, rejected === null || !rejected.has(entry.item.id));
    if (result.cancelledDependents !== undefined && result.cancelledDependents.length > 0) this.#options.onDependentsCancelled?.(result.cancelledDependents);
  }

  #setStalled(stalled: boolean, error: unknown): void {
    if (this.#stalled === stalled) return;
    this.#stalled = stalled;
    if (stalled) this.#options.logger.warn({ err: error }, 'job finishes cannot be written right now; retrying, and claiming no new jobs meanwhile');
    else this.#options.logger.info('job finishes are being written again');
    this.#options.onStallChange?.(stalled, error);
  }
}

/** `ErrorRecord.kind` of a finish the store refused and that was recorded as dead instead. */
export const FINISH_NOT_STORED = 'finish_not_stored';

/**
 * Whether a failed write may succeed as it is if tried again later. Only a `StoreError` that says
 * so: anything else (a driver error nobody mapped, a bug) would fail the same way every time, so
 * it is isolated rather than retried forever.
 */
function isTransient(error: unknown): boolean {
  return error instanceof StoreError && error.retryable;
}

/** The dead finish recorded instead of one the store refused. */
function notStoredFinish(finish: JobFinish, cause: unknown): JobFinish {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return {
    outcome: 'dead',
    error: {
      name: 'FinishNotStoredError',
      message: toStorableText(`finish could not be stored (the attempt ended ${finish.outcome}): ${reason}`, MAX_ERROR_MESSAGE_LENGTH),
      stack: null,
      kind: FINISH_NOT_STORED,
    },
  };
}
