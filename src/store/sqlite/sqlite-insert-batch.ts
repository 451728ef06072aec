/**
 * Group commit for one-job enqueues on SQLite.
 *
 * A commit is most of what a one-job insert costs: SQLite writes every page the statement dirtied
 * (the table's leaf, each index's leaf, the queue-count row) to the WAL and takes and drops its
 * file locks, whether the transaction holds one row or a thousand. An API server answering many
 * clients, or a program enqueueing from many callers at once, pays that per job. So one-job inserts
 * that cannot conflict (no key, no dependency, no throttle or debounce: the store's fast path) are
 * group-committed: the first of a turn of the event loop is inserted at once, and those that
 * arrive after it in the same turn (other requests, other callers) are gathered and committed
 * together at its end (`setImmediate`), in one IMMEDIATE transaction and one multi-row insert, in
 * the order they were asked for.
 *
 * One job never spoils the others: if the shared transaction fails for a reason other than the
 * lock being busy (a trigger refusing one row, say), it is rolled back whole and each job is
 * inserted on its own, so every caller gets its own result or its own error. A busy lock or a
 * closed store fails every job of the group with that error, as it would have failed each of them
 * alone. A store closing with jobs gathered commits them first.
 */
import type { JobInsert, JobInsertResult } from '../types.js';

interface Waiter {
  readonly job: JobInsert;
  readonly resolve: (result: JobInsertResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface InsertBatchOptions {
  /** Inserts the jobs in one transaction (throws a mapped store error). */
  readonly insertAll: (jobs: readonly JobInsert[]) => JobInsertResult[];
  /** Inserts one job on its own (throws a mapped store error). */
  readonly insertOne: (job: JobInsert) => JobInsertResult;
  /** Called once per flush with the results that were stored. */
  readonly onInserted: (results: readonly JobInsertResult[]) => void;
  /** Whether an error of the shared transaction would fail each job alone too (lock busy, store closed). */
  readonly failsEveryJob: (error: unknown) => boolean;
}

/** Commits of a single gathered job in a row after which calls are inserted at once for a while. */
const SOLO_COMMITS_BEFORE_ALONE = 4;
/** Calls inserted at once before gathering is tried again. */
const ALONE_CALLS = 256;

export class InsertBatch {
  private waiting: Waiter[] = [];
  private scheduled: NodeJS.Immediate | null = null;
  /** Gathered commits in a row that held one job only. */
  private soloCommits = 0;
  /** Calls still to insert at once, without gathering. */
  private alone = 0;

  constructor(private readonly options: InsertBatchOptions) {}

  /**
   * Inserts `job`: at once when it is the first of this turn of the event loop, else queued for
   * the commit at the end of the turn, with every other job that arrives before then.
   *
   * A caller enqueueing one job at a time and awaiting each makes every second call wait for the
   * end of a turn with nobody else to share its commit. So after a few such commits of one job
   * in a row, the next calls are inserted at once, and gathering is tried again after them.
   */
  add(job: JobInsert): Promise<JobInsertResult> {
    if (this.alone > 0) {
      this.alone--;
      return this.insertNow(job);
    }
    if (this.scheduled === null) {
      // Opens the turn: the next jobs until the end of it are gathered.
      this.scheduled = setImmediate(() => this.flush());
      return this.insertNow(job);
    }
    return new Promise<JobInsertResult>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
    });
  }

  /** Commits what is gathered now (also called by close). */
  flush(): void {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    const waiters = this.waiting;
    if (waiters.length === 0) return;
    this.waiting = [];
    if (waiters.length === 1) {
      if (++this.soloCommits >= SOLO_COMMITS_BEFORE_ALONE) {
        this.soloCommits = 0;
        this.alone = ALONE_CALLS;
      }
      this.settleAlone(waiters);
      return;
    }
    this.soloCommits = 0;
    let results: JobInsertResult[];
    try {
      results = this.options.insertAll(waiters.map((waiter) => waiter.job));
    } catch (error) {
      if (this.options.failsEveryJob(error)) {
        for (const waiter of waiters) waiter.reject(error);
        return;
      }
      this.settleAlone(waiters);
      return;
    }
    this.options.onInserted(results);
    for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(results[i]!);
  }

  private insertNow(job: JobInsert): Promise<JobInsertResult> {
    try {
      const result = this.options.insertOne(job);
      this.options.onInserted([result]);
      return Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Each job in its own statement: its own result or its own error. */
  private settleAlone(waiters: readonly Waiter[]): void {
    const stored: JobInsertResult[] = [];
    for (const waiter of waiters) {
      try {
        const result = this.options.insertOne(waiter.job);
        stored.push(result);
        waiter.resolve(result);
      } catch (error) {
        waiter.reject(error);
      }
    }
    if (stored.length > 0) this.options.onInserted(stored);
  }
}
