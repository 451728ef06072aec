/**
 * Group commit for one-job enqueues on PostgreSQL.
 *
 * A one-job enqueue is a round trip and a commit (a WAL flush) whatever it holds, so an API server
 * answering many clients, or a program enqueueing from many callers at once, waits on the server
 * once per job. One-job inserts that cannot conflict (no key, no dependency, no throttle,
 * debounce or rate key: the store's fast path) therefore share statements: a job that finds no
 * shared insert under way is sent at once; jobs that arrive while one is under way wait for it
 * and are then sent together, in one multi-row statement (one transaction), in the order they
 * were asked for. A lone caller waits for nobody; callers arriving together share a commit.
 *
 * One job never spoils the others: if a shared statement fails for a reason that is not the
 * connection or the store itself (a trigger refusing one row, say), each of its jobs is inserted
 * again on its own, so every caller gets its own result or its own error. An error that would
 * fail each job alone too (the server unreachable, the store closed) fails every job of the
 * statement with it.
 */
import type { JobInsert, JobInsertResult } from '../types.js';

interface Waiter {
  readonly job: JobInsert;
  readonly resolve: (result: JobInsertResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface PgInsertBatchOptions {
  /** Inserts the jobs in one statement, in order (rejects with a mapped store error). */
  readonly insertAll: (jobs: readonly JobInsert[]) => Promise<JobInsertResult[]>;
  /** Whether an error of a shared statement would fail each job alone too (connection lost, store closed). */
  readonly failsEveryJob: (error: unknown) => boolean;
}

/** Most jobs sent in one shared statement; more wait for the next. */
export const PG_INSERT_BATCH_MAX = 1000;

export class PgInsertBatch {
  private waiting: Waiter[] = [];
  /** The shared insert under way, if any. */
  private flight: Promise<void> | null = null;
  private closing = false;

  constructor(private readonly options: PgInsertBatchOptions) {}

  /** Inserts `job`: at once when no shared insert is under way, else with the jobs that wait for it to end. */
  add(job: JobInsert): Promise<JobInsertResult> {
    // Once the store closes, a call is not gathered: it fails (or not) on its own, as it would
    // have before, and cannot keep the close waiting.
    if (this.closing) return this.options.insertAll([job]).then((results) => results[0]!);
    return new Promise<JobInsertResult>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      if (this.flight === null) this.flight = this.send();
    });
  }

  /**
   * For the store's close: calls from now on are no longer gathered; resolves once what was
   * already asked for is written (or has failed).
   */
  async close(): Promise<void> {
    this.closing = true;
    while (this.flight !== null) await this.flight;
  }

  /** Sends what waits, then what arrived meanwhile, until nothing waits. */
  private async send(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const waiters = this.waiting.length <= PG_INSERT_BATCH_MAX ? this.waiting : this.waiting.slice(0, PG_INSERT_BATCH_MAX);
        this.waiting = waiters === this.waiting ? [] : this.waiting.slice(waiters.length);
        await this.insert(waiters);
      }
    } finally {
      this.flight = null;
    }
  }

  private async insert(waiters: readonly Waiter[]): Promise<void> {
    let results: JobInsertResult[];
    try {
      results = await this.options.insertAll(waiters.map((waiter) => waiter.job));
    } catch (error) {
      if (waiters.length === 1 || this.options.failsEveryJob(error)) {
        for (const waiter of waiters) waiter.reject(error);
        return;
      }
      // Each on its own, one after the other: its own result or its own error.
      for (const waiter of waiters) {
        try {
          const [result] = await this.options.insertAll([waiter.job]);
          waiter.resolve(result!);
        } catch (alone) {
          waiter.reject(alone);
        }
      }
      return;
    }
    for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(results[i]!);
  }
}
