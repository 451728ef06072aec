import type { ErrorRecord, JobRecord, StrandedSettleResult } from '../store/types.js';

/**
 * Every lifecycle event Nightshift emits, with its payload type. Tests wait on these instead of
 * sleeping; metrics and the dashboard's live view subscribe to them.
 */
export interface NightshiftEventMap {
  'job:enqueued': { job: JobRecord; inserted: boolean };
  'job:started': { job: JobRecord; workerId: string };
  'job:completed': { job: JobRecord; result: unknown; durationMs: number };
  /**
   * An attempt failed. `retryDelayMs`: how long after the store's now it will be retried (null when
   * dead); `retryAt` is that instant by this process's clock, an estimate — the store's clock decides.
   * Also emitted by the rescuer for an attempt whose lease expired (error kind `lease_expired`;
   * `durationMs` from the attempt's start to the rescue, `retryAt` the store's time of the rescue).
   */
  'job:failed': { job: JobRecord; error: ErrorRecord; willRetry: boolean; retryDelayMs: number | null; retryAt: Date | null; durationMs: number };
  /** `delayMs` after the store's now; `runAt` is that instant by this process's clock, an estimate. */
  'job:snoozed': { job: JobRecord; delayMs: number; runAt: Date };
  'job:cancelled': { job: JobRecord; reason: string };
  /**
   * A job that had ended, was waiting to be retried or was scheduled was made runnable now by an
   * operator (`client.retry`, `retryMany`, the API, the CLI). `job`: as the retry left it
   * (`available`; its `maxAttempts` one higher when it had used them all).
   */
  'job:retried': { job: JobRecord };
  'job:released': { job: JobRecord };
  /** A finishing write was refused: the job was no longer running under this worker's lease. */
  'job:stale': { jobId: string; workerId: string };
  'job:progress': { jobId: string; progress: unknown };
  /** Emitted by a handler through `ctx.publish`. */
  'job:event': { jobId: string; name: string; event: string; data: unknown };
  'worker:fetched': { queue: string; count: number };
  'worker:error': { error: unknown; during: string };
  /**
   * `stalled: true`: job finishes could not be written for a transient reason (disk full, store
   * unreachable, read-only); they are retried and the worker claims nothing new. `false`: they
   * are written again and claiming resumes.
   */
  'worker:stalled': { workerId: string; stalled: boolean; error: unknown };
  'worker:stopped': { workerId: string };
  'rescuer:rescued': { retried: string[]; dead: string[] };
  /** The rescuer released or cancelled waiting jobs stranded by a dependency that ended or was deleted unsettled (`Store.jobSettleStranded`). */
  'rescuer:settled': StrandedSettleResult;
  'schedule:fired': { scheduleId: string; fireAt: Date; jobId: string | null; status: string };
  'schedule:error': { scheduleId: string; error: unknown };
  /** Missed ticks (older than the scheduler's grace period) were skipped rather than run. */
  'schedule:missed': { scheduleId: string; count: number; first: Date; last: Date };
  /** A scheduler pass failed as a whole (store unreachable…); the loop retries on its next pass. */
  'scheduler:error': { error: unknown; during: string };
  /** `client.pauseQueue` / `resumeQueue` stopped or restarted claims from a queue on the whole store. */
  'queue:paused': { queue: string };
  'queue:resumed': { queue: string };
  /** The event feed wrote a batch of this process's events to the store (see `observe/event-feed.ts`). */
  'feed:flushed': { count: number };
  /** The event feed's buffer was full while the store failed: the oldest `count` events were dropped. */
  'feed:dropped': { count: number };
}

export type NightshiftEventName = keyof NightshiftEventMap;

type AnyListener = (payload: never) => void;

/**
 * Typed events over `NightshiftEventMap`. Listeners of an event are kept in an array that is
 * replaced, never changed, when one is added or removed: `emit` walks the array it finds without
 * copying it (a worker emits two or three events per job, each to every surface that listens),
 * and a listener added or removed during an emit takes effect from the next one, as with Node's
 * EventEmitter. A listener that throws stops the emit and the error reaches the emitter's caller.
 */
export class NightshiftEvents {
  readonly #listeners = new Map<NightshiftEventName, readonly AnyListener[]>();

  on<E extends NightshiftEventName>(event: E, listener: (payload: NightshiftEventMap[E]) => void): () => void {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener as AnyListener]);
    return () => this.off(event, listener);
  }

  once<E extends NightshiftEventName>(event: E, listener: (payload: NightshiftEventMap[E]) => void): () => void {
    const once = Object.assign(
      (payload: NightshiftEventMap[E]) => {
        this.off(event, once);
        listener(payload);
      },
      { original: listener },
    );
    return this.on(event, once);
  }

  /** Removes one registration of `listener`, the last one added, `once` ones included (as EventEmitter does). */
  off<E extends NightshiftEventName>(event: E, listener: (payload: NightshiftEventMap[E]) => void): void {
    const current = this.#listeners.get(event);
    if (current === undefined) return;
    let index = current.length - 1;
    while (index >= 0 && current[index] !== listener && (current[index] as { original?: unknown }).original !== listener) index--;
    if (index < 0) return;
    const next = current.filter((_, at) => at !== index);
    if (next.length === 0) this.#listeners.delete(event);
    else this.#listeners.set(event, next);
  }

  emit<E extends NightshiftEventName>(event: E, payload: NightshiftEventMap[E]): void {
    const listeners = this.#listeners.get(event) as readonly ((payload: NightshiftEventMap[E]) => void)[] | undefined;
    if (listeners === undefined) return;
    for (let i = 0; i < listeners.length; i++) listeners[i]!(payload);
  }

  /** Whether anything listens to `event`: emitters skip building a payload nobody reads. */
  has(event: NightshiftEventName): boolean {
    return this.#listeners.has(event);
  }

  /**
   * Resolves with the first payload of `event` for which `predicate` holds; rejects after
   * `timeoutMs` (a safety net for tests, not a synchronisation mechanism).
   */
  waitFor<E extends NightshiftEventName>(
    event: E,
    predicate: (payload: NightshiftEventMap[E]) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<NightshiftEventMap[E]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${event}`));
      }, timeoutMs);
      const off = this.on(event, (payload) => {
        if (!predicate(payload)) return;
        clearTimeout(timer);
        off();
        resolve(payload);
      });
    });
  }
}
