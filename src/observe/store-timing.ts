/**
 * The one place store calls are timed: `timeStore` wraps every asynchronous Store method and
 * reports its duration and outcome to an observer (the Prometheus metrics'
 * `nightshift_store_call_duration_seconds`). The observer is read at each call, so metrics
 * created later (at start) still see every call; without one a call costs one extra function
 * frame.
 */
import type { Store } from '../store/types.js';

export type StoreCallObserver = (method: string, seconds: number, ok: boolean) => void;

/** Every Store method that returns a promise (all but `jobAvailableListen`), checked against the interface below. */
const TIMED_METHODS = [
  'migrate',
  'close',
  'timeNow',
  'jobInsertMany',
  'jobFetch',
  'jobFinishMany',
  'jobHeartbeat',
  'jobRescueExpired',
  'jobGet',
  'jobAttempts',
  'jobList',
  'jobCancel',
  'jobRetry',
  'jobStats',
  'jobDelete',
  'jobPrune',
  'jobQueueOldest',
  'jobNewestFinished',
  'jobAhead',
  'jobKeyHolders',
  'jobDependencies',
  'jobSettleStranded',
  'jobResultPrune',
  'queueHold',
  'queueRateWait',
  'jobRateWait',
  'jobRateLateStart',
  'queuePause',
  'queueResume',
  'queuePausedList',
  'queuePausedSince',
  'scheduleUpsertMany',
  'scheduleGet',
  'scheduleList',
  'scheduleDelete',
  'scheduleUpdateNext',
  'scheduleTickClaim',
  'scheduleTickList',
  'scheduleTickPrune',
  'scheduleHasActiveJob',
  'processHeartbeat',
  'processList',
  'processRemove',
  'eventAppend',
  'eventList',
  'eventBounds',
  'eventPrune',
  'statsAdd',
  'statsList',
  'statsPrune',
  'statsRollup',
  'alertOpen',
  'alertResolve',
  'alertList',
  'alertSilenceAdd',
  'alertSilenceList',
  'alertSilenceRemove',
  'alertPrune',
  'tokenInsert',
  'tokenList',
  'tokenRevoke',
] as const satisfies readonly (keyof Store)[];

type TimedMethod = (typeof TIMED_METHODS)[number];
// A new Store method must be listed above (or be deliberately untimed here): this fails to compile otherwise.
type Untimed = Exclude<keyof Store, TimedMethod | 'kind' | 'eventAppendSize' | 'jobAvailableListen'>;
const allListed: [Untimed] extends [never] ? true : Untimed = true;
void allListed;

// Every timed method takes at most one argument (its params object): the wrapper passes one on.
type MoreThanOne = { [M in TimedMethod]: Parameters<Store[M]> extends [] | [unknown?] ? never : M }[TimedMethod];
const oneArgument: [MoreThanOne] extends [never] ? true : MoreThanOne = true;
void oneArgument;

/**
 * A Store that reports the duration of each call to `observer()` (when it returns one). The
 * wrapper is a plain function with one `then` beside each call, not an `async` function around a bound
 * one with rest arguments: it runs for every claim and finish, mostly in workers that live
 * minutes, before the engine has compiled it. A store method that throws instead of rejecting
 * still gives a rejected promise.
 */
export function timeStore(store: Store, observer: () => StoreCallObserver | null): Store {
  const timed = {
    kind: store.kind,
    eventAppendSize: store.eventAppendSize,
    jobAvailableListen: (listener: (queues: string[]) => void) => store.jobAvailableListen(listener),
  } as Record<string, unknown>;
  for (const method of TIMED_METHODS) {
    const fn = store[method] as (params?: unknown) => Promise<unknown>;
    timed[method] = (params?: unknown): Promise<unknown> => {
      const observe = observer();
      const started = observe ? performance.now() : 0;
      let pending: Promise<unknown>;
      try {
        pending = fn.call(store, params);
      } catch (error) {
        observe?.(method, (performance.now() - started) / 1000, false);
        return Promise.reject(error);
      }
      if (!observe) return pending;
      // Observed on a side branch: the caller gets the store's own promise, one step sooner
      // than a promise chained after the observation (the branch also marks a rejection as
      // handled here; the caller still sees it on `pending`).
      pending.then(
        () => observe(method, (performance.now() - started) / 1000, true),
        () => observe(method, (performance.now() - started) / 1000, false),
      );
      return pending;
    };
  }
  return timed as unknown as Store;
}
