/**
 * What this process's own surfaces (metrics, activity stats, the event feed) are told of every
 * run, without an event being built for them.
 *
 * Every run starts and most complete: two events per job, each once for every surface. Through
 * `NightshiftEvents` each is a payload object, and `job:completed` carries a copy of the job in
 * its new state (listeners may keep what they are given). The surfaces keep nothing of the job,
 * so a worker hands them its own record instead: no payload, no copy.
 *
 * And not at once: a worker's runs are queued and delivered together at the end of the current
 * task (a microtask), each observer walking them in order. Called from inside the worker's own
 * hot functions (a handler's start, a finish's report), the surfaces' code was compiled into
 * those and made them slower too; from one loop of their own it is not. Measured on W3 (20,000
 * no-op jobs, every surface on, CPU profiles of the worker): the copies and payloads were about
 * a third of what the surfaces cost its main thread, and delivering from a loop of its own about
 * 20–30 ms of the rest per drain.
 *
 * Order: an observer sees the runs in the order they happened. Whatever reads an observer's
 * state, or records other events in order with runs (the event feed), calls `deliver()` first,
 * so nothing waiting in the queue is missed or overtaken.
 *
 * The metrics and the activity stats count runs without an observer of their own: while either
 * wants it, a delivery first counts its runs into the emitter's tally (run-tally.ts), in the
 * same loop, and they read the tally when they are read.
 *
 * The events themselves are unchanged: beside `started()`/`completed()` here, the worker still
 * emits `job:started` and `job:completed` (with its own copy of the job in the state the finish
 * wrote) to whoever listens, at once. Internal: not exported from the package.
 */
import type { JobRecord } from '../store/types.js';
import type { NightshiftEvents } from './events.js';
import { RunTally } from './run-tally.js';

export interface RunObserver {
  /** An attempt started. `job`: the worker's record as claimed (state `running`); read it, keep nothing of it. */
  started(job: JobRecord, workerId: string): void;
  /**
   * An attempt completed and its finish is written. `job`: the worker's record as claimed (its
   * state still says `running`); read it, keep nothing of it. `durationMs`: the handler's run.
   */
  completed(job: JobRecord, durationMs: number): void;
}

const STARTED = 0;
const COMPLETED = 1;

/**
 * Delivery is scheduled as a reaction to this settled promise. `queueMicrotask` would do the
 * same, but Node makes an async resource and a bound function for each call, and a worker
 * delivers a few thousand times in a drain of 20,000 jobs: 14 against 31 ms per 8,000
 * schedulings, measured in fresh processes.
 */
const SETTLED = Promise.resolve();

/** The observers of one emitter and the runs waiting to be delivered to them. */
export class RunObservers {
  /** Replaced, never changed, when an observer comes or goes (`setList`). */
  #list: readonly RunObserver[] = [];
  /** The runs counted for the metrics and the stats; counting only while `tallyUsers` > 0. */
  readonly tally = new RunTally();
  #tallyUsers = 0;
  /** Whether anyone is told of runs (an observer, or the tally's users): else runs are not queued. */
  #active = false;
  readonly #events: NightshiftEvents;
  // The waiting runs, in order: kind, job, and the worker id (started) or duration (completed).
  #kinds: number[] = [];
  #jobs: JobRecord[] = [];
  #values: (string | number)[] = [];
  // A second set that takes turns with the first: deliver() walks one while new runs go into the
  // other, then empties it for the next turn, instead of three new arrays per delivery. A worker
  // on PostgreSQL delivers in nearly every task, one or two runs at a time (W3 profiles, ten
  // turns each: deliver() 6.8 → 5.0 ms per drain, the worker's extra GC 9.5 → 1.2 ms).
  #spareKinds: number[] | null = [];
  #spareJobs: JobRecord[] = [];
  #spareValues: (string | number)[] = [];
  #scheduled = false;
  readonly #deliverSoon = (): void => this.deliver();

  constructor(events: NightshiftEvents) {
    this.#events = events;
  }

  started(job: JobRecord, workerId: string): void {
    if (!this.#active) return;
    this.#kinds.push(STARTED);
    this.#jobs.push(job);
    this.#values.push(workerId);
    this.#schedule();
  }

  completed(job: JobRecord, durationMs: number): void {
    if (!this.#active) return;
    this.#kinds.push(COMPLETED);
    this.#jobs.push(job);
    this.#values.push(durationMs);
    this.#schedule();
  }

  /**
   * Delivers every waiting run now: counts it into the tally (while used), then tells each
   * observer. An observer that throws does not stop the others; its error goes to `worker:error`
   * (it ran in a microtask, where it would otherwise end the process).
   */
  deliver(): void {
    this.#scheduled = false;
    const count = this.#jobs.length;
    if (count === 0) return;
    const kinds = this.#kinds;
    const jobs = this.#jobs;
    const values = this.#values;
    // The spare set is missing only while a delivery is under way (an observer that delivers,
    // as the feed's flush does): then new arrays.
    const spare = this.#spareKinds;
    this.#spareKinds = null;
    this.#kinds = spare ?? [];
    this.#jobs = spare ? this.#spareJobs : [];
    this.#values = spare ? this.#spareValues : [];
    if (this.#tallyUsers > 0) {
      const tally = this.tally;
      try {
        for (let i = 0; i < count; i++) {
          if (kinds[i] === STARTED) tally.started(jobs[i]!);
          else tally.completed(jobs[i]!, values[i] as number);
        }
      } catch (error) {
        if (this.#events.has('worker:error')) this.#events.emit('worker:error', { error, during: 'run tally' });
      }
    }
    const list = this.#list;
    for (let k = 0; k < list.length; k++) {
      const observer = list[k]!;
      try {
        for (let i = 0; i < count; i++) {
          if (kinds[i] === STARTED) observer.started(jobs[i]!, values[i] as string);
          else observer.completed(jobs[i]!, values[i] as number);
        }
      } catch (error) {
        if (this.#events.has('worker:error')) this.#events.emit('worker:error', { error, during: 'run observer' });
      }
    }
    // Emptied (the jobs let go) and kept for the next turn.
    kinds.length = 0;
    jobs.length = 0;
    values.length = 0;
    this.#spareKinds = kinds;
    this.#spareJobs = jobs;
    this.#spareValues = values;
  }

  /** Counts runs into `tally` from now on, until the returned function is called (idempotent). */
  useTally(): () => void {
    this.deliver();
    this.#tallyUsers++;
    this.#update();
    let used = true;
    return () => {
      if (!used) return;
      used = false;
      // What waited was counted while it was used.
      this.deliver();
      this.#tallyUsers--;
      this.#update();
    };
  }

  /** The observers, in the order they came. */
  get list(): readonly RunObserver[] {
    return this.#list;
  }

  /** Sets `list` (after delivering what waited, for the observers it was meant for). */
  setList(list: readonly RunObserver[]): void {
    this.deliver();
    this.#list = list;
    this.#update();
  }

  #update(): void {
    this.#active = this.#list.length > 0 || this.#tallyUsers > 0;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    void SETTLED.then(this.#deliverSoon);
  }
}

const byEmitter = new WeakMap<NightshiftEvents, RunObservers>();

/** The observers of `events` (the same object for the emitter's life). */
export function runObservers(events: NightshiftEvents): RunObservers {
  let observers = byEmitter.get(events);
  if (observers === undefined) byEmitter.set(events, (observers = new RunObservers(events)));
  return observers;
}

/** Adds `observer` to the runs of every worker on `events`; returns its removal (idempotent). */
export function observeRuns(events: NightshiftEvents, observer: RunObserver): () => void {
  const observers = runObservers(events);
  observers.setList([...observers.list, observer]);
  // What waited was meant for it too (setList delivers first).
  return () => observers.setList(observers.list.filter((one) => one !== observer));
}
