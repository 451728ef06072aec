/** Conformance: heartbeats, lease expiry and the rescuer. */
import { describe, expect, it } from 'vitest';
import { errorRecord, fetchJobs, insertAndClaim, insertJob, jobInput, LEASE_MS, LOST_ERROR, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

export function describeJobLeases(factory: StoreFactory): void {
  describe('leases and rescue', () => {
    const t = useStoreFixture(factory);

    it('a heartbeat extends the lease by leaseMs from now', async () => {
      const job = await insertAndClaim(t.store);
      t.clock.advance(20_000);
      expect(await t.store.jobHeartbeat({ items: [{ id: job.id, token: job.lease.token }], leaseMs: LEASE_MS })).toEqual({ held: [job.id] });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored?.lease?.expiresAt.getTime()).toBe(t.clock.now() + LEASE_MS);
      expect(stored?.lease?.token).toBe(job.lease.token);
      // Past the original expiry but within the extended one: not rescued.
      t.clock.advance(LEASE_MS - 1_000);
      expect(await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR })).toEqual({ retried: [], dead: [], jobs: [], cancelledDependents: [] });
      expect((await t.store.jobGet({ id: job.id }))?.state).toBe('running');
    });

    it('a heartbeat stores progress when given and keeps it otherwise', async () => {
      const job = await insertAndClaim(t.store);
      await t.store.jobHeartbeat({ items: [{ id: job.id, token: job.lease.token, progress: '{"pct":40}' }], leaseMs: LEASE_MS });
      expect((await t.store.jobGet({ id: job.id }))?.progress).toBe('{"pct":40}');
      await t.store.jobHeartbeat({ items: [{ id: job.id, token: job.lease.token }], leaseMs: LEASE_MS });
      expect((await t.store.jobGet({ id: job.id }))?.progress).toBe('{"pct":40}');
      // null means "no news", like a missing progress: the last report stays.
      await t.store.jobHeartbeat({ items: [{ id: job.id, token: job.lease.token, progress: null }], leaseMs: LEASE_MS });
      expect((await t.store.jobGet({ id: job.id }))?.progress).toBe('{"pct":40}');
      await t.store.jobHeartbeat({ items: [{ id: job.id, token: job.lease.token, progress: '{"pct":90}' }], leaseMs: LEASE_MS });
      expect((await t.store.jobGet({ id: job.id }))?.progress).toBe('{"pct":90}');
    });

    it('a batch heartbeat extends every lease still held', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 5 }, () => jobInput()) });
      const jobs = await fetchJobs(t.store, 'default', 5);
      t.clock.advance(10_000);
      const { held } = await t.store.jobHeartbeat({ items: jobs.map((j) => ({ id: j.id, token: j.lease!.token })), leaseMs: LEASE_MS });
      expect([...held].sort()).toEqual(jobs.map((j) => j.id).sort());
      for (const job of jobs) expect((await t.store.jobGet({ id: job.id }))?.lease?.expiresAt.getTime()).toBe(t.clock.now() + LEASE_MS);
    });

    it('a heartbeat reports lost leases: wrong token, finished, cancelled or unknown jobs', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 4 }, () => jobInput()) });
      const [held, wrong, done, cancelled] = await fetchJobs(t.store, 'default', 4);
      await t.store.jobFinishMany({ items: [{ id: done!.id, token: done!.lease!.token, finish: { outcome: 'completed', result: null } }] });
      await t.store.jobCancel({ id: cancelled!.id, reason: 'stop' });
      const result = await t.store.jobHeartbeat({
        items: [
          { id: held!.id, token: held!.lease!.token },
          { id: wrong!.id, token: 'not-the-token' },
          { id: done!.id, token: done!.lease!.token },
          { id: cancelled!.id, token: cancelled!.lease!.token },
          { id: '77777777', token: 'x' },
        ],
        leaseMs: LEASE_MS,
      });
      expect(result).toEqual({ held: [held!.id] });
      expect((await t.store.jobGet({ id: done!.id }))?.state).toBe('completed');
      expect((await t.store.jobGet({ id: cancelled!.id }))?.state).toBe('cancelled');
    });

    it('does not rescue a lease that has not expired', async () => {
      const job = await insertAndClaim(t.store);
      t.clock.advance(LEASE_MS - 1);
      expect(await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR })).toEqual({ retried: [], dead: [], jobs: [], cancelledDependents: [] });
      expect((await t.store.jobGet({ id: job.id }))?.state).toBe('running');
    });

    it('rescues an expired lease to retryable, due now, when attempts remain', async () => {
      const job = await insertAndClaim(t.store, { maxAttempts: 2 });
      t.clock.advance(LEASE_MS + 1);
      const rescued = await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR });
      expect(rescued).toMatchObject({ retried: [job.id], dead: [] });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored).toMatchObject({ state: 'retryable', attempt: 1, lease: null, finishedAt: null });
      // The rescued job as the rescue left it: what the core reports the lost attempt with.
      expect(rescued.jobs).toEqual([stored]);
      expect(rescued.jobs[0]!.attemptedAt?.getTime()).toBe(job.attemptedAt?.getTime());
      expect(stored?.lastError).toEqual(LOST_ERROR);
      expect(stored!.runAt.getTime()).toBeLessThanOrEqual(t.clock.now());
      const [again] = await fetchJobs(t.store);
      expect(again).toMatchObject({ id: job.id, attempt: 2 });
    });

    it('rescues an expired lease to dead when no attempt remains', async () => {
      const job = await insertAndClaim(t.store, { maxAttempts: 1 });
      t.clock.advance(LEASE_MS + 1);
      const rescued = await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR });
      expect(rescued).toMatchObject({ retried: [], dead: [job.id] });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored).toMatchObject({ state: 'dead', attempt: 1, lease: null });
      expect(rescued.jobs).toEqual([stored]);
      expect(stored?.lastError).toEqual(LOST_ERROR);
      expect(stored?.finishedAt?.getTime()).toBe(t.clock.now());
      expect(await fetchJobs(t.store)).toEqual([]);
    });

    it('records the rescued attempt as lost with the error record it was given', async () => {
      const job = await insertAndClaim(t.store);
      const startedAt = t.clock.now();
      t.clock.advance(LEASE_MS + 500);
      await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR });
      const attempts = await t.store.jobAttempts({ id: job.id });
      expect(attempts).toHaveLength(1);
      expect(attempts[0]).toMatchObject({
        jobId: job.id,
        attempt: 1,
        workerId: job.lease.owner,
        outcome: 'lost',
        error: LOST_ERROR,
        result: null,
      });
      expect(attempts[0]!.startedAt.getTime()).toBe(startedAt);
      expect(attempts[0]!.finishedAt?.getTime()).toBe(t.clock.now());
      expect(attempts[0]!.durationMs).toBe(LEASE_MS + 500);
    });

    it('writes exactly the error record each call is given, whether the job is retried or dead', async () => {
      const retried = await insertAndClaim(t.store, { maxAttempts: 2 });
      const dead = await insertAndClaim(t.store, { maxAttempts: 1 });
      t.clock.advance(LEASE_MS + 1);
      const error = { name: 'WorkerVanished', message: 'line one\nline two: 日本語 \u{1F600}', stack: null, kind: 'lease_expired' };
      const rescued = await t.store.jobRescueExpired({ limit: 10, error });
      expect(rescued).toMatchObject({ retried: [retried.id], dead: [dead.id] });
      expect(rescued.jobs.map((job) => [job.id, job.state, job.lastError]).sort()).toEqual(
        [
          [retried.id, 'retryable', error],
          [dead.id, 'dead', error],
        ].sort(),
      );
      for (const job of [retried, dead]) {
        expect((await t.store.jobGet({ id: job.id }))?.lastError).toEqual(error);
        expect((await t.store.jobAttempts({ id: job.id })).map((attempt) => attempt.error)).toEqual([error]);
      }
      // The next rescue writes its own record.
      const [again] = await fetchJobs(t.store);
      expect(again?.id).toBe(retried.id);
      t.clock.advance(LEASE_MS + 1);
      expect(await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR })).toMatchObject({ retried: [], dead: [retried.id] });
      expect((await t.store.jobGet({ id: retried.id }))?.lastError).toEqual(LOST_ERROR);
      expect((await t.store.jobAttempts({ id: retried.id })).map((attempt) => attempt.error)).toEqual([error, LOST_ERROR]);
    });

    it('after a rescue the old token is rejected for finish and heartbeat', async () => {
      const job = await insertAndClaim(t.store);
      t.clock.advance(LEASE_MS + 1);
      await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR });
      expect(await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: null } }] })).toEqual({
        applied: [],
        rejected: [job.id],
      });
      expect(await t.store.jobHeartbeat({ items: [{ id: job.id, token: job.lease.token }], leaseMs: LEASE_MS })).toEqual({ held: [] });
      // Claimed again by someone else: the old token still does not apply.
      const [again] = await fetchJobs(t.store);
      expect(await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 0 } }] })).toEqual({
        applied: [],
        rejected: [job.id],
      });
      expect((await t.store.jobGet({ id: job.id }))?.lease?.token).toBe(again!.lease!.token);
    });

    it('never reopens a job that completed, even with an expired lease time', async () => {
      const job = await insertAndClaim(t.store);
      t.clock.advance(LEASE_MS + 1);
      await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: '"done"' } }] });
      expect(await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR })).toEqual({ retried: [], dead: [], jobs: [], cancelledDependents: [] });
      expect(await t.store.jobGet({ id: job.id })).toMatchObject({ state: 'completed', result: '"done"' });
    });

    it('respects the rescue limit and leaves the rest for the next pass', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 5 }, () => jobInput()) });
      await fetchJobs(t.store, 'default', 5);
      t.clock.advance(LEASE_MS + 1);
      const first = await t.store.jobRescueExpired({ limit: 3, error: LOST_ERROR });
      expect(first.retried).toHaveLength(3);
      const second = await t.store.jobRescueExpired({ limit: 3, error: LOST_ERROR });
      expect(second.retried).toHaveLength(2);
      expect(new Set([...first.retried, ...second.retried]).size).toBe(5);
      expect(await t.store.jobRescueExpired({ limit: 3, error: LOST_ERROR })).toEqual({ retried: [], dead: [], jobs: [], cancelledDependents: [] });
    });

    it('only rescues running jobs', async () => {
      const pending = await insertJob(t.store, { runAt: new Date(t.clock.now() - 10 * LEASE_MS) });
      t.clock.advance(LEASE_MS * 3);
      expect(await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR })).toEqual({ retried: [], dead: [], jobs: [], cancelledDependents: [] });
      expect((await t.store.jobGet({ id: pending.id }))?.state).toBe('available');
    });
  });
}
