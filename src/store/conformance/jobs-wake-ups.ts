/**
 * Conformance: wake-ups (`jobAvailableListen`). Every write that makes a job claimable at once
 * wakes the listeners of the connection that wrote it and of every other connection to the same
 * database (another process), with the job's queue; an unsubscribed listener is never called again.
 *
 * A store may also wake listeners on its own when it starts listening (PostgreSQL checks for due
 * jobs once LISTEN takes effect, since notifications sent before reached nobody). So that such a
 * wake-up is never taken for the one a case is about, each case leaves its queue without due jobs
 * before it listens, and `listenSettled` waits until a job inserted through another connection
 * has been heard before the write under test is made.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../types.js';
import type { TestClock } from './test-clock.js';
import { errorRecord, insertAndClaim, insertJob, jobInput, LEASE_MS, LOST_ERROR, useStoreFixture, waitUntil, type StoreFactory, type StoreFixture } from './conformance-fixtures.js';

/** The queues a listener heard since it settled, and its unsubscribe function. */
interface Heard {
  queues: Set<string>;
  stop(): void;
}

/**
 * Listens on `listening` and, when `probe` (another connection) is given, waits until a job it
 * inserts is heard: by then the store's own start-of-listening wake-ups have been delivered. What
 * was heard until then is forgotten.
 */
async function listenSettled(listening: Store, probe: Store | null): Promise<Heard> {
  const queues = new Set<string>();
  const stop = listening.jobAvailableListen((names) => names.forEach((queue) => queues.add(queue)));
  if (probe !== null) {
    await probe.jobInsertMany({ jobs: [jobInput({ queue: 'wake-probe' })] });
    await waitUntil(() => queues.has('wake-probe'), 'a job inserted on another connection to be heard (listener settled)');
  }
  queues.clear();
  return { queues, stop };
}

/** A write that makes a job claimable at once: `prepare` leaves `queue` without due jobs and returns the write. */
interface WakeCase {
  what: string;
  queue: string;
  prepare(store: Store, clock: TestClock, queue: string, fixture: StoreFixture): Promise<() => Promise<unknown>>;
}

const WAKE_CASES: WakeCase[] = [
  {
    what: 'inserting a due job',
    queue: 'wake-insert',
    prepare: async (store, _clock, queue) => () => insertJob(store, { queue }),
  },
  {
    what: 'a failed finish with retryDelayMs 0',
    queue: 'wake-failed',
    prepare: async (store, _clock, queue) => {
      const job = await insertAndClaim(store, { queue });
      return () => store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 0 } }] });
    },
  },
  {
    what: 'a snoozed finish with delayMs 0',
    queue: 'wake-snoozed',
    prepare: async (store, _clock, queue) => {
      const job = await insertAndClaim(store, { queue });
      return () => store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'snoozed', delayMs: 0 } }] });
    },
  },
  {
    what: 'a released finish',
    queue: 'wake-released',
    prepare: async (store, _clock, queue) => {
      const job = await insertAndClaim(store, { queue });
      return () => store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'released' } }] });
    },
  },
  {
    what: 'jobRetry of a dead job',
    queue: 'wake-retry',
    prepare: async (store, _clock, queue) => {
      const job = await insertAndClaim(store, { queue, maxAttempts: 1 });
      await store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'dead', error: errorRecord() } }] });
      return () => store.jobRetry({ id: job.id });
    },
  },
  {
    what: 'jobRescueExpired retrying a job',
    queue: 'wake-rescue',
    prepare: async (store, clock, queue) => {
      const job = await insertAndClaim(store, { queue, maxAttempts: 2 });
      clock.advance(LEASE_MS + 1);
      return async () => expect((await store.jobRescueExpired({ limit: 10, error: LOST_ERROR })).retried).toEqual([job.id]);
    },
  },
  {
    what: 'jobSettleStranded releasing a job',
    queue: 'wake-stranded',
    prepare: async (store, clock, queue, fixture) => {
      // Its dependency completed, but the process died before the job was released.
      const dep = await insertJob(store, { queue: 'wake-stranded-dependency', runAt: new Date(clock.now() + 60_000) });
      const job = await insertJob(store, { queue, dependsOn: [dep.id] });
      await fixture.endWithoutSettling({ id: dep.id, state: 'completed' });
      return async () => expect((await store.jobSettleStranded({ limit: 10 })).released).toEqual([job.id]);
    },
  },
  {
    what: 'queueResume',
    queue: 'wake-resume',
    prepare: async (store, clock, queue) => {
      await store.queuePause({ queue });
      // A job waits in the queue (another process's store only wakes for queues with pending
      // jobs); not due yet, so no start-of-listening check reports the queue before the resume.
      await insertJob(store, { queue, runAt: new Date(clock.now() + 60_000) });
      return () => store.queueResume({ queue });
    },
  },
];

export function describeJobWakeUps(factory: StoreFactory): void {
  describe('jobAvailableListen', () => {
    const t = useStoreFixture(factory);

    for (const { what, queue, prepare } of WAKE_CASES) {
      it(`${what} wakes the listeners of the same connection with its queue`, async () => {
        const act = await prepare(t.store, t.clock, queue, t.fixture);
        const probe = (await t.fixture.openAnother?.()) ?? null;
        const heard = await listenSettled(t.store, probe);
        try {
          await act();
          await waitUntil(() => heard.queues.has(queue), `a wake-up for queue ${queue} after ${what}`);
        } finally {
          heard.stop();
        }
      });

      it(`${what} wakes the listeners of another connection with its queue`, async () => {
        const openAnother = t.fixture.openAnother;
        if (openAnother === undefined) return;
        const act = await prepare(t.store, t.clock, queue, t.fixture);
        const other = await openAnother();
        const heard = await listenSettled(other, t.store);
        try {
          await act();
          await waitUntil(() => heard.queues.has(queue), `a wake-up on another connection for queue ${queue} after ${what}`);
        } finally {
          heard.stop();
        }
      });
    }

    it('fires after a bulk insert for each queue that got due jobs', async () => {
      const heard = await listenSettled(t.store, null);
      try {
        await t.store.jobInsertMany({ jobs: [jobInput({ queue: 'q-a' }), jobInput({ queue: 'q-b' }), jobInput({ queue: 'q-a' })] });
        await waitUntil(() => heard.queues.has('q-a') && heard.queues.has('q-b'), 'notifications for q-a and q-b');
      } finally {
        heard.stop();
      }
    });

    it('after its unsubscribe function is called, a listener is never called again; the others still are', async () => {
      const other = (await t.fixture.openAnother?.()) ?? null;
      const gone: string[][] = [];
      const unsubscribe = t.store.jobAvailableListen((queues) => gone.push(queues));
      const kept = await listenSettled(t.store, other);
      try {
        unsubscribe();
        gone.length = 0;
        await insertJob(t.store, { queue: 'after-unsubscribe' });
        if (other !== null) await insertJob(other, { queue: 'after-unsubscribe-elsewhere' });
        // Wake-ups arrive in commit order: once the second is heard, the first has been delivered.
        await waitUntil(
          () => kept.queues.has('after-unsubscribe') && (other === null || kept.queues.has('after-unsubscribe-elsewhere')),
          'the listener still subscribed to hear both inserts',
        );
        expect(gone).toEqual([]);
        // Unsubscribing twice is harmless and leaves the others subscribed.
        unsubscribe();
        await insertJob(t.store, { queue: 'after-second-unsubscribe' });
        await waitUntil(() => kept.queues.has('after-second-unsubscribe'), 'the listener still subscribed to hear a third insert');
        expect(gone).toEqual([]);
      } finally {
        kept.stop();
      }
    });

    it('a listener unsubscribed by another one during a wake-up is not called in that wake-up', async () => {
      const witness = await listenSettled(t.store, null);
      const called: string[] = [];
      const unsubscribes: (() => void)[] = [];
      // Whichever is called first unsubscribes both: the other must not be called after that.
      for (const name of ['first', 'second']) {
        unsubscribes.push(
          t.store.jobAvailableListen(() => {
            called.push(name);
            for (const unsubscribe of unsubscribes) unsubscribe();
          }),
        );
      }
      try {
        await insertJob(t.store, { queue: 'unsubscribed-in-a-wake-up' });
        await waitUntil(() => witness.queues.has('unsubscribed-in-a-wake-up'), 'the witness listener to hear the insert');
        expect(called).toHaveLength(1);
      } finally {
        witness.stop();
      }
    });
  });
}
