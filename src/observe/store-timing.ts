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

/** A Store that reports the duration of each call to `observer()` (when it returns one). */
export function timeStore(store: Store, observer: () => StoreCallObserver | null): Store {
  const timed = {
    kind: store.kind,
    eventAppendSize: store.eventAppendSize,
    jobAvailableListen: (listener: (queues: string[]) => void) => store.jobAvailableListen(listener),
  } as Record<string, unknown>;
  for (const method of TIMED_METHODS) {
    const call = (store[method] as (...args: unknown[]) => Promise<unknown>).bind(store);
    timed[method] = async (...args: unknown[]) => {
      const observe = observer();
      if (!observe) return call(...args);
      const started = performance.now();
      try {
        const result = await call(...args);
        observe(method, (performance.now() - started) / 1000, true);
        return result;
      } catch (error) {
        observe(method, (performance.now() - started) / 1000, false);
        throw error;
      }
    };
  }
  return timed as unknown as Store;
}
