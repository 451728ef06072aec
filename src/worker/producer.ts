import type { JobRecord, Store } from '../store/types.js';
import type { Service } from '../service.js';

export interface ProducerOptions {
  store: Store;
  queue: string;
  workerId: string;
  leaseMs: number;
  /** Base time between fallback polls, in ms; each wait is jittered by ±20 %. */
  pollIntervalMs: number;
  /** The queue's cluster-wide limit, applied by the store in each claim (see `QueueOptions.globalConcurrency`). */
  globalConcurrency?: number;
  /** Claims honour the jobs' per-key limits (see `JobFetchParams.perKeyConcurrency`). */
  perKeyConcurrency?: boolean;
  /** The queue's cluster-wide rate limit: claims apply it, and a short claim sleeps until the window has room. */
  rateLimit?: { max: number; perMs: number };
  /** Claims apply the jobs' per-key rate limits (see `JobFetchParams.perKeyRate`); a short claim sleeps until a key has room. */
  perKeyRate?: boolean;
  /** How many jobs to claim now: at most the queue's free slots plus its room to claim ahead (see ClaimSize); 0 for none. */
  claimLimit(): number;
  /**
   * Hands a claimed job on: to the executor, or to wait for a free slot. `claimTimeAt`: when the
   * claim's time was taken (see `JobFetchParams.onClaimTime`), on `performance.now()`'s clock (a
   * rate-limited queue gives back a job whose start, read when it would start, lags its claim by
   * more than half the rate window's margin).
   */
  dispatch(job: JobRecord, claimTimeAt: number): void;
  /** A fetch came back (for the `worker:fetched` event). */
  fetched(count: number): void;
  onError(error: unknown): void;
}

/**
 * Claims jobs of one queue, never more than its free slots plus the jobs it may hold ahead of them.
 *
 * State machine (one comment, each transition one method below):
 *
 *   stopped ──start()──▶ idle ──trigger()──▶ scheduled ──(next tick)──▶ fetching
 *      ▲                  ▲  ▲                                              │
 *      │                  │  └──── no free slots / short page / error ──────┤
 *      │                  └────────── (full page or trigger during fetch:   │
 *      │                               back to scheduled) ◀─────────────────┘
 *      └──stop()── any state (a fetch in flight is awaited; its jobs still run)
 *
 * `trigger()` is the debounced wake-up: fed by the store's job-available listener, by finished
 * jobs freeing slots, and by a jittered poll (the fallback for inserts from other processes when
 * the store cannot notify). Several triggers in one tick cause one fetch, so a burst of finishes
 * turns into one claim of the freed slots (in chunks when the queue's handlers are slow: see
 * ClaimSize; a full chunk fetches again on the next tick).
 */
/** How soon a rate-limited queue claims again when the store says there is room after a short claim, ms (doubling). */
const ROOM_RETRY_MS = 1;
/** Empty claims with room in a row before a rate-limited queue waits for a wake-up or its poll. */
const ROOM_RETRIES = 5;
/** Most due times a producer keeps (`triggerIn`); later ones are left to the poll. */
const MAX_DUE_TIMES = 64;
/** Longest delay `triggerIn` keeps a timer for, ms (1 hour): later jobs are found by the poll, a second late at most in hours. */
const MAX_DUE_DELAY_MS = 3_600_000;
/** How much after a due time the fetch is asked for, ms. */
const DUE_MARGIN_MS = 2;

export class Producer implements Service {
  readonly name: string;
  readonly #options: ProducerOptions;
  #state: 'stopped' | 'idle' | 'scheduled' | 'fetching' = 'stopped';
  /** A trigger arrived while fetching: fetch again once the current fetch is done. */
  #again = false;
  #inFlight: Promise<void> | null = null;
  #pollTimer: NodeJS.Timeout | null = null;
  /** Rate-limited queue: wakes the producer when the store says the window has room again. */
  #roomTimer: NodeJS.Timeout | null = null;
  /** Claims of a rate-limited queue in a row that took nothing although the store said there was room. */
  #emptyRetries = 0;
  /** When jobs this process knows of become due (`triggerIn`), on `performance.now()`'s clock, earliest first. */
  #dueAt: number[] = [];
  #dueTimer: NodeJS.Timeout | null = null;

  constructor(options: ProducerOptions) {
    this.#options = options;
    this.name = `producer:${options.queue}`;
  }

  get queue(): string {
    return this.#options.queue;
  }

  /** A fetch is scheduled for the next turn of the event loop (the completer lets it go first). */
  get fetchScheduled(): boolean {
    return this.#state === 'scheduled';
  }

  start(): void {
    if (this.#state !== 'stopped') return;
    this.#state = 'idle';
    this.#armPoll();
    this.trigger();
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    if (this.#pollTimer) {
      clearTimeout(this.#pollTimer);
      this.#pollTimer = null;
    }
    if (this.#roomTimer) {
      clearTimeout(this.#roomTimer);
      this.#roomTimer = null;
    }
    if (this.#dueTimer) {
      clearTimeout(this.#dueTimer);
      this.#dueTimer = null;
    }
    this.#dueAt = [];
    if (this.#inFlight) await this.#inFlight;
  }

  /** Asks for a fetch soon. Cheap and safe to call any number of times. */
  trigger(): void {
    switch (this.#state) {
      case 'idle':
        this.#state = 'scheduled';
        setImmediate(this.#onScheduled);
        return;
      case 'fetching':
        this.#again = true;
        return;
      default:
        return; // scheduled: already coming; stopped: ignored
    }
  }

  /**
   * Asks for a fetch in `delayMs`: a job of the queue this process knows of becomes due then (a
   * delayed enqueue, a retry's backoff, a snooze), so it starts on time instead of at the next
   * jittered poll. Up to `MAX_DUE_TIMES` times within `MAX_DUE_DELAY_MS` are kept, the earliest;
   * one timer runs, for the first. Other times, and jobs from other processes, are found by the poll.
   */
  triggerIn(delayMs: number): void {
    if (this.#state === 'stopped' || !(delayMs >= 0) || delayMs > MAX_DUE_DELAY_MS) return;
    // A few ms late rather than early: the store's clock decides when the job is due.
    const at = performance.now() + delayMs + DUE_MARGIN_MS;
    const due = this.#dueAt;
    if (due.length >= MAX_DUE_TIMES && at >= due[due.length - 1]!) return;
    let index = due.length;
    while (index > 0 && due[index - 1]! > at) index--;
    due.splice(index, 0, at);
    if (due.length > MAX_DUE_TIMES) due.pop();
    if (index === 0) this.#armDue();
  }

  #armDue(): void {
    if (this.#dueTimer) clearTimeout(this.#dueTimer);
    this.#dueTimer = null;
    const first = this.#dueAt[0];
    if (first === undefined || this.#state === 'stopped') return;
    this.#dueTimer = setTimeout(this.#onDue, Math.max(0, Math.ceil(first - performance.now())));
    this.#dueTimer.unref?.();
  }

  readonly #onDue = (): void => {
    this.#dueTimer = null;
    const now = performance.now();
    // Every time that has come: one fetch takes them all.
    let passed = 0;
    while (passed < this.#dueAt.length && this.#dueAt[passed]! <= now + 1) passed++;
    this.#dueAt.splice(0, passed);
    this.trigger();
    this.#armDue();
  };

  readonly #onScheduled = (): void => {
    if (this.#state !== 'scheduled') return;
    // Waiting for a rate limit's window to have room: its timer triggers the next claim.
    if (this.#roomTimer !== null) {
      this.#state = 'idle';
      return;
    }
    const limit = this.#options.claimLimit();
    if (limit <= 0) {
      // A finishing job triggers again when a slot frees up.
      this.#state = 'idle';
      return;
    }
    this.#state = 'fetching';
    this.#again = false;
    this.#inFlight = this.#fetch(limit);
  };

  async #fetch(limit: number): Promise<void> {
    const options = this.#options;
    let full = false;
    try {
      // When the claim's time was taken (its rate-limit counts are recorded no earlier): the
      // request's time unless the store says it later, after the locks it waited for.
      let claimTimeAt = performance.now();
      const rated = options.rateLimit !== undefined || options.perKeyRate === true;
      const jobs = await options.store.jobFetch({
        queue: options.queue,
        limit,
        owner: options.workerId,
        leaseMs: options.leaseMs,
        ...(options.globalConcurrency !== undefined ? { globalConcurrency: options.globalConcurrency } : {}),
        ...(options.perKeyConcurrency === true ? { perKeyConcurrency: true } : {}),
        ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit } : {}),
        ...(options.perKeyRate === true ? { perKeyRate: true } : {}),
        ...(rated ? { onClaimTime: () => void (claimTimeAt = performance.now()) } : {}),
      });
      full = jobs.length >= limit;
      options.fetched(jobs.length);
      // Claimed jobs run even when stop() came during the fetch: they are ours now, and the
      // worker's shutdown waits for (or releases) them. Started before anything else is awaited:
      // under a rate limit, a job's start should follow its claim as closely as it can.
      for (const job of jobs) options.dispatch(job, claimTimeAt);
      // Fewer than asked on a rate-limited queue: maybe no jobs, maybe no room. Ask when there
      // is room and sleep until then rather than polling.
      if (!full && (options.rateLimit !== undefined || options.perKeyRate === true)) await this.#sleepUntilRoom(options.rateLimit, jobs.length);
    } catch (error) {
      // Do not spin on a failing store: the next poll tries again.
      this.#again = false;
      options.onError(error);
    } finally {
      this.#inFlight = null;
      this.#fetched(full);
    }
  }

  async #sleepUntilRoom(rateLimit: { max: number; perMs: number } | undefined, claimed: number): Promise<void> {
    const options = this.#options;
    let waitMs = await options.store.queueRateWait({ queue: options.queue, ...(rateLimit ? { rateLimit } : {}), ...(options.perKeyRate ? { perKeyRate: true } : {}) });
    if (this.#state === 'stopped') return;
    if (waitMs <= 0) {
      // Room now: it opened between the claim and this question, or the queue has no due job.
      // Claim again soon, backing off (2, 4, 8 … ms); after a few empty claims with room in a
      // row no job is due, and the producer waits for a wake-up or its poll like any other
      // queue (it does not spin).
      if (claimed > 0) this.#emptyRetries = 0;
      else if (this.#emptyRetries >= ROOM_RETRIES) return;
      else this.#emptyRetries++;
      waitMs = ROOM_RETRY_MS * 2 ** this.#emptyRetries;
    } else {
      this.#emptyRetries = 0;
    }
    if (this.#roomTimer) clearTimeout(this.#roomTimer);
    this.#roomTimer = setTimeout(() => {
      this.#roomTimer = null;
      this.trigger();
    }, waitMs);
  }

  #fetched(full: boolean): void {
    if (this.#state !== 'fetching') return; // stopped meanwhile
    this.#state = 'idle';
    // A full page means more may be waiting; a trigger during the fetch may be for new jobs.
    if (full || this.#again) this.trigger();
  }

  #armPoll(): void {
    if (this.#state === 'stopped') return;
    const delay = Math.max(1, Math.round(this.#options.pollIntervalMs * (0.8 + Math.random() * 0.4)));
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null;
      this.trigger();
      this.#armPoll();
    }, delay);
  }
}
