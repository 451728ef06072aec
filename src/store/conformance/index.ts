/**
 * The store conformance suite: the behaviour every Store implementation must show, run unchanged
 * against each of them (SQLite, PostgreSQL, …). A change of store behaviour starts here.
 *
 * Usage, from a vitest test file:
 *
 *   runStoreConformance('sqlite', async () => {
 *     const clock = new TestClock();
 *     const store = createSqliteStore({ path: freshFile(), clock: clock.fn });
 *     return { store, clock, cleanup: () => store.close() };
 *   });
 *
 * The factory is called once per test and must return a store on a fresh, empty database; the
 * suite calls `migrate()` itself. Assertions only use the Store interface, never the database;
 * the fixture's `endWithoutSettling` is the one write that bypasses it (to stage a crash).
 * A factory that can also return `openAnother()` (a second store on the same database, as
 * another process would open it) gets the concurrency tests run across both connections.
 *
 * Behaviour the suite pins down beyond the interface's comments, so every store agrees:
 * - a job whose runAt is in the future is inserted `scheduled`, otherwise `available`;
 * - snoozed and released attempts give their attempt back and are recorded under that number;
 * - `jobRescueExpired` writes the error record it is given, exactly, on the job and its `lost` attempt,
 *   and returns each rescued job as `jobGet` reads it right after;
 * - cancelling a running job records its attempt as `cancelled`; the worker's late finish is rejected;
 * - a heartbeat's `progress: null` keeps the stored progress, like a missing one;
 * - `jobRetry` throws StateError when another pending job holds the job's key;
 * - `createdAfter` is inclusive and `createdBefore` exclusive;
 * - a claim by `ids` ignores run_at and paused queues, but never takes a job of another queue;
 * - `scheduleUpsertMany` naming one id twice is refused whole (DUPLICATE_SCHEDULE), storing nothing;
 * - a tick claimed after a later one never moves `lastRunAt` backwards (and is still claimed);
 * - `scheduleTickPrune` keeps each schedule id's newest tick, and a fire time at or below the
 *   newest pruned one is never claimed again, even after the schedule is deleted and re-created.
 * - a malformed job id ('', '0', '01', ' 1', '1.5', out of range …) names no job: every method
 *   taking one answers "not found" and changes nothing, never with a database error;
 * - every write that makes a job claimable at once (a due insert, a failed finish with no delay, a
 *   snooze with no delay, a release, a retry, a rescue that retries, a resume, a repair of a
 *   stranded dependent) wakes the listeners
 *   of every connection with that queue; an unsubscribed listener is never called again, not even
 *   later in a wake-up already under way;
 * - `eventList`: an empty filter list matches nothing, a missing one everything; an event without
 *   a queue or job name never matches a list of them; the pruned-through mark only goes up.
 * - after `close()`, calls fail with a non-retryable StoreError saying the store is closed (never
 *   a "connection lost" that invites a retry); `close()` again does nothing.
 */
import { describe } from 'vitest';
import type { StoreFactory } from './conformance-fixtures.js';
import { describeJobFetch } from './jobs-fetch.js';
import { describeJobFetchIds } from './jobs-fetch-ids.js';
import { describeJobLimits } from './jobs-limits.js';
import { describeJobDependencies, describeStrandedDependents, describeThrottleDebounce } from './jobs-dependencies.js';
import { describeJobFinish } from './jobs-finish.js';
import { describeJobIds } from './jobs-ids.js';
import { describeJobInsert } from './jobs-insert.js';
import { describeJobInspect } from './jobs-inspect.js';
import { describeJobLeases } from './jobs-leases.js';
import { describeJobRaces } from './jobs-races.js';
import { describeJobWakeUps } from './jobs-wake-ups.js';
import { describeScheduleTickPrune } from './schedule-tick-prune.js';
import { describeEvents } from './events.js';
import { describeProcesses } from './processes.js';
import { describeSchedules } from './schedules.js';
import { describeAlerts } from './alerts.js';
import { describeJobAhead, describeStats } from './stats.js';
import { describeTokens } from './tokens.js';

export type { StoreFactory, StoreFixture } from './conformance-fixtures.js';
export { TestClock, TEST_CLOCK_START_MS } from './test-clock.js';

/** Registers the whole suite under `describe(\`store conformance: ${label}\`)`. */
export function runStoreConformance(label: string, factory: StoreFactory): void {
  describe(`store conformance: ${label}`, () => {
    describeJobInsert(factory);
    describeJobWakeUps(factory);
    describeJobFetch(factory);
    describeJobFetchIds(factory);
    describeJobLimits(factory);
    describeJobDependencies(factory);
    describeStrandedDependents(factory);
    describeThrottleDebounce(factory);
    describeJobFinish(factory);
    describeJobLeases(factory);
    describeJobInspect(factory);
    describeJobIds(factory);
    describeSchedules(factory);
    describeScheduleTickPrune(factory);
    describeJobRaces(factory);
    describeProcesses(factory);
    describeAlerts(factory);
    describeStats(factory);
    describeJobAhead(factory);
    describeTokens(factory);
    describeEvents(factory);
  });
}
