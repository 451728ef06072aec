/** Conformance: inserting jobs, de-duplication keys, raw payloads, the clock (wake-ups: jobs-wake-ups.ts). */
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../errors.js';
import { FINAL_STATES, type JobState } from '../types.js';
import { errorRecord, fetchJobs, insertAndClaim, insertJob, jobInput, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

export function describeJobInsert(factory: StoreFactory): void {
  describe('job insert', () => {
    const t = useStoreFixture(factory);

    it('after close(), calls fail at once with a non-retryable StoreError saying the store is closed; close() again does nothing', async () => {
      await insertJob(t.store);
      await t.store.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['jobInsertMany (one job)', () => t.store.jobInsertMany({ jobs: [jobInput()] })],
        ['jobInsertMany (two jobs)', () => t.store.jobInsertMany({ jobs: [jobInput(), jobInput()] })],
        ['jobGet', () => t.store.jobGet({ id: '1' })],
        ['jobList', () => t.store.jobList({ limit: 10 })],
      ];
      for (const [name, call] of calls) {
        const error = await call().then(
          () => null,
          (rejected: unknown) => rejected,
        );
        expect(error, name).toBeInstanceOf(StoreError);
        expect((error as StoreError).retryable, name).toBe(false);
        expect((error as StoreError).code, name).toBe('STORE_ERROR');
        expect((error as StoreError).message, name).toContain('the store is closed; create a new one');
      }
      await t.store.close();
    });

    it('migrate is idempotent', async () => {
      await t.store.migrate();
      await t.store.migrate();
      expect(await t.store.jobList({})).toEqual({ jobs: [], nextCursor: null });
    });

    it('timeNow follows the injected clock', async () => {
      expect((await t.store.timeNow()).getTime()).toBe(t.clock.now());
      t.clock.advance(90_000);
      expect((await t.store.timeNow()).getTime()).toBe(t.clock.now());
    });

    it('returns the inserted record with every field, due now by the store clock', async () => {
      const now = t.clock.now();
      const [result] = await t.store.jobInsertMany({
        jobs: [jobInput({ name: 'mail.send', queue: 'mail', payload: '{"to":"a@b.c"}', priority: 7, maxAttempts: 5, timeoutMs: 1234, meta: '{"m":1}' })],
      });
      expect(result?.inserted).toBe(true);
      const job = result!.job;
      expect(job).toMatchObject({
        name: 'mail.send',
        queue: 'mail',
        payload: '{"to":"a@b.c"}',
        state: 'available',
        priority: 7,
        attempt: 0,
        maxAttempts: 5,
        key: null,
        timeoutMs: 1234,
        lease: null,
        lastError: null,
        result: null,
        progress: null,
        scheduleId: null,
        meta: '{"m":1}',
        attemptedAt: null,
        finishedAt: null,
      });
      expect(job.id).toMatch(/^[1-9][0-9]*$/);
      expect(job.runAt.getTime()).toBe(now);
      expect(job.createdAt.getTime()).toBe(now);
      expect(await t.store.jobGet({ id: job.id })).toEqual(job);
    });

    it('one-job inserts made at once each get their own record, and every one is stored', async () => {
      const results = await Promise.all(Array.from({ length: 30 }, (_, n) => t.store.jobInsertMany({ jobs: [jobInput({ payload: `{"n":${n}}`, queue: n % 2 === 0 ? 'even' : 'odd' })] })));
      expect(results.every((result) => result.length === 1 && result[0]!.inserted)).toBe(true);
      expect(results.map(([result]) => result!.job.payload)).toEqual(Array.from({ length: 30 }, (_, n) => `{"n":${n}}`));
      expect(new Set(results.map(([result]) => result!.job.id)).size).toBe(30);
      for (const [result] of results) expect(await t.store.jobGet({ id: result!.job.id })).toEqual(result!.job);
      expect((await t.store.jobList({ limit: 100 })).jobs).toHaveLength(30);
    });

    it('a future runAt makes the job scheduled', async () => {
      const runAt = new Date(t.clock.now() + 60_000);
      const job = await insertJob(t.store, { runAt });
      expect(job.state).toBe('scheduled');
      expect(job.runAt.getTime()).toBe(runAt.getTime());
      expect((await t.store.jobGet({ id: job.id }))?.state).toBe('scheduled');
    });

    it('a past runAt makes the job available and keeps the given runAt', async () => {
      const runAt = new Date(t.clock.now() - 60_000);
      const job = await insertJob(t.store, { runAt });
      expect(job.state).toBe('available');
      expect(job.runAt.getTime()).toBe(runAt.getTime());
    });

    it('bulk insert returns results in input order with distinct increasing ids', async () => {
      const jobs = Array.from({ length: 250 }, (_, i) => jobInput({ payload: JSON.stringify({ i }), priority: i % 5 }));
      const results = await t.store.jobInsertMany({ jobs });
      expect(results).toHaveLength(250);
      results.forEach((result, i) => {
        expect(result.inserted).toBe(true);
        expect(result.job.payload).toBe(JSON.stringify({ i }));
        expect(result.job.priority).toBe(i % 5);
      });
      const ids = results.map((r) => BigInt(r.job.id));
      for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
      const stored = await t.store.jobGet({ id: results[249]!.job.id });
      expect(stored?.payload).toBe(JSON.stringify({ i: 249 }));
    });

    it('an empty batch inserts nothing', async () => {
      expect(await t.store.jobInsertMany({ jobs: [] })).toEqual([]);
    });

    it('returns payload text untouched, even when it is not valid JSON', async () => {
      const payloads = ['{"broken": ', 'not json at all', '{"unicode":"é€😀","nested":{"a":[1,2,3]}}', ' {"spaces" : 1 } '];
      const results = await t.store.jobInsertMany({ jobs: payloads.map((payload) => jobInput({ payload })) });
      for (const [i, payload] of payloads.entries()) {
        expect(results[i]!.job.payload).toBe(payload);
        expect((await t.store.jobGet({ id: results[i]!.job.id }))?.payload).toBe(payload);
      }
      const fetched = await fetchJobs(t.store, 'default', 10);
      expect(fetched.map((j) => j.payload).sort()).toEqual([...payloads].sort());
    });

    it('jobGet returns null for unknown or malformed ids', async () => {
      expect(await t.store.jobGet({ id: '987654321' })).toBeNull();
      expect(await t.store.jobGet({ id: 'abc' })).toBeNull();
    });

    describe('de-duplication key', () => {
      it('a second insert with the same name and key returns the existing job, inserted:false', async () => {
        const [first] = await t.store.jobInsertMany({ jobs: [jobInput({ key: 'k1', payload: '{"v":1}' })] });
        const [second] = await t.store.jobInsertMany({ jobs: [jobInput({ key: 'k1', payload: '{"v":2}' })] });
        expect(first?.inserted).toBe(true);
        expect(second?.inserted).toBe(false);
        expect(second?.job.id).toBe(first?.job.id);
        expect(second?.job.payload).toBe('{"v":1}');
        expect((await t.store.jobList({})).jobs).toHaveLength(1);
      });

      it('duplicates inside one batch resolve to the first of them', async () => {
        const results = await t.store.jobInsertMany({
          jobs: [jobInput({ key: 'dup' }), jobInput({ key: 'other' }), jobInput({ key: 'dup' }), jobInput({ key: null }), jobInput({ key: null })],
        });
        expect(results.map((r) => r.inserted)).toEqual([true, true, false, true, true]);
        expect(results[2]!.job.id).toBe(results[0]!.job.id);
        expect(new Set(results.map((r) => r.job.id)).size).toBe(4);
      });

      it('the same key under another job name is a different job', async () => {
        const a = await t.store.jobInsertMany({ jobs: [jobInput({ name: 'a.job', key: 'same' })] });
        const b = await t.store.jobInsertMany({ jobs: [jobInput({ name: 'b.job', key: 'same' })] });
        expect(a[0]?.inserted).toBe(true);
        expect(b[0]?.inserted).toBe(true);
        expect(a[0]?.job.id).not.toBe(b[0]?.job.id);
      });

      it('a running job still blocks its key', async () => {
        const running = await insertAndClaim(t.store, { key: 'busy' });
        const [again] = await t.store.jobInsertMany({ jobs: [jobInput({ key: 'busy' })] });
        expect(again?.inserted).toBe(false);
        expect(again?.job.id).toBe(running.id);
        expect(again?.job.state).toBe('running');
      });

      it('a scheduled job blocks its key', async () => {
        const first = await insertJob(t.store, { key: 'later', runAt: new Date(t.clock.now() + 3_600_000) });
        const [again] = await t.store.jobInsertMany({ jobs: [jobInput({ key: 'later' })] });
        expect(again).toMatchObject({ inserted: false, job: { id: first.id, state: 'scheduled' } });
      });

      const finalCases: { state: JobState; finish: (id: string, token: string) => Promise<unknown> }[] = [
        { state: 'completed', finish: (id, token) => t.store.jobFinishMany({ items: [{ id, token, finish: { outcome: 'completed', result: null } }] }) },
        { state: 'dead', finish: (id, token) => t.store.jobFinishMany({ items: [{ id, token, finish: { outcome: 'dead', error: errorRecord() } }] }) },
        { state: 'cancelled', finish: (id) => t.store.jobCancel({ id, reason: 'no longer needed' }) },
      ];
      for (const { state, finish } of finalCases) {
        it(`the key is reusable once the first job is ${state}`, async () => {
          const first = await insertAndClaim(t.store, { key: 'reuse' });
          await finish(first.id, first.lease.token);
          expect((await t.store.jobGet({ id: first.id }))?.state).toBe(state);
          expect(FINAL_STATES).toContain(state);
          const [second] = await t.store.jobInsertMany({ jobs: [jobInput({ key: 'reuse' })] });
          expect(second?.inserted).toBe(true);
          expect(second?.job.id).not.toBe(first.id);
          const [third] = await t.store.jobInsertMany({ jobs: [jobInput({ key: 'reuse' })] });
          expect(third).toMatchObject({ inserted: false, job: { id: second?.job.id } });
        });
      }
    });
  });
}
