/**
 * Shared set-up of the conformance suite: a fresh store per test, and builders for store inputs
 * with sensible defaults so each test states only what it is about.
 */
import { afterEach, beforeEach } from 'vitest';
import type { ErrorRecord, JobInsert, JobRecord, ScheduleInput, Store } from '../types.js';
import type { TestClock } from './test-clock.js';

/** What a store factory hands the suite for one test. */
export interface StoreFixture {
  /** A store on a fresh, empty database. The suite calls `migrate()` on it. */
  store: Store;
  /** The clock the store was created with (`clock: clock.fn`). */
  clock: TestClock;
  /** Closes the store(s) and removes the database. */
  cleanup(): Promise<void>;
  /**
   * Writes job `id`'s final state (finished now, by the fixture's clock) straight into the
   * database, bypassing the store, and settles nothing: what a finish leaves behind when its
   * process dies before the jobs waiting on it are settled. The one write of the suite that does
   * not go through the Store interface; every store's fixture must provide it.
   */
  endWithoutSettling(params: { id: string; state: 'completed' | 'dead' | 'cancelled' }): Promise<void>;
  /**
   * Optional: opens another store on the same database (another connection, as another process
   * would), with the same clock. Concurrency tests run across both when present. `cleanup`
   * closes it too.
   */
  openAnother?(): Promise<Store>;
}

/** Creates one fresh store per test. */
export type StoreFactory = () => Promise<StoreFixture>;

/** Lease length the suite claims with, ms. */
export const LEASE_MS = 30_000;
export const OWNER = 'conformance-worker';

/**
 * Registers beforeEach/afterEach hooks in the current describe block and returns accessors for
 * the current test's fixture.
 */
export function useStoreFixture(factory: StoreFactory): { readonly store: Store; readonly clock: TestClock; readonly fixture: StoreFixture } {
  let current: StoreFixture | null = null;
  beforeEach(async () => {
    current = await factory();
    await current.store.migrate();
  });
  afterEach(async () => {
    const fixture = current;
    current = null;
    if (fixture !== null) await fixture.cleanup();
  });
  const get = (): StoreFixture => {
    if (current === null) throw new Error('no store fixture: only use it inside a test');
    return current;
  };
  return {
    get store() {
      return get().store;
    },
    get clock() {
      return get().clock;
    },
    get fixture() {
      return get();
    },
  };
}

/** A job insert with defaults: queue `default`, priority 0, 3 attempts, due now, no key. */
export function jobInput(overrides: Partial<JobInsert> = {}): JobInsert {
  return {
    name: 'conformance.job',
    queue: 'default',
    payload: '{"n":1}',
    priority: 0,
    maxAttempts: 3,
    runAt: null,
    key: null,
    timeoutMs: null,
    scheduleId: null,
    meta: null,
    ...overrides,
  };
}

/** Inserts one job and returns its record. */
export async function insertJob(store: Store, overrides: Partial<JobInsert> = {}): Promise<JobRecord> {
  const [result] = await store.jobInsertMany({ jobs: [jobInput(overrides)] });
  if (result === undefined) throw new Error('jobInsertMany returned no result');
  return result.job;
}

/** Claims jobs of `queue` with the suite's owner and lease. */
export function fetchJobs(store: Store, queue = 'default', limit = 10): Promise<JobRecord[]> {
  return store.jobFetch({ queue, limit, owner: OWNER, leaseMs: LEASE_MS });
}

/** Inserts one job and claims it; fails the test if the claim does not return exactly that job. */
export async function insertAndClaim(store: Store, overrides: Partial<JobInsert> = {}): Promise<JobRecord & { lease: NonNullable<JobRecord['lease']> }> {
  const inserted = await insertJob(store, overrides);
  const claimed = await fetchJobs(store, inserted.queue, 1);
  const job = claimed[0];
  if (claimed.length !== 1 || job === undefined || job.id !== inserted.id || job.lease === null) {
    throw new Error(`expected to claim job ${inserted.id}, got ${JSON.stringify(claimed.map((j) => j.id))}`);
  }
  return job as JobRecord & { lease: NonNullable<JobRecord['lease']> };
}

/** An error record as a worker would report it. */
export function errorRecord(overrides: Partial<ErrorRecord> = {}): ErrorRecord {
  return { name: 'Error', message: 'boom', stack: 'Error: boom\n    at handler', kind: 'error', ...overrides };
}

/**
 * The error record the suite hands `jobRescueExpired`, as the core's rescuer would: every store
 * must write it exactly as given (non-ASCII text and a stack included), on the job and its attempt.
 */
export const LOST_ERROR: ErrorRecord = {
  name: 'LeaseExpiredError',
  message: 'conformance: the lease ran out — taken back ✓',
  stack: 'LeaseExpiredError: conformance\n    at rescuer',
  kind: 'lease_expired',
};

/** A schedule input with defaults: every minute, UTC, enabled, from code. */
export function scheduleInput(overrides: Partial<ScheduleInput> = {}): ScheduleInput {
  return {
    id: 'conformance-schedule',
    jobName: 'conformance.job',
    cron: '* * * * *',
    timezone: 'UTC',
    enabled: true,
    description: null,
    input: '{}',
    catchUp: 0,
    overlap: 'allow',
    source: 'code',
    jobOptions: null,
    ...overrides,
  };
}

/**
 * Waits until `check` returns true, polling every few ms; the deadline is a safety net that
 * fails the test, not a synchronisation mechanism.
 */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
