/** Conformance: finishing attempts — every outcome, the fence, the attempt history. */
import { describe, expect, it } from 'vitest';
import { MAX_DELAY_MS, MAX_ERROR_MESSAGE_LENGTH, MAX_ERROR_STACK_LENGTH, REPLACEMENT_CHARACTER } from '../../job/input-bounds.js';
import type { JobFinish } from '../types.js';
import { errorRecord, fetchJobs, insertAndClaim, insertJob, jobInput, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

export function describeJobFinish(factory: StoreFactory): void {
  describe('job finish', () => {
    const t = useStoreFixture(factory);

    async function finishOne(id: string, token: string, finish: JobFinish) {
      return t.store.jobFinishMany({ items: [{ id, token, finish }] });
    }

    it('startDelayMs moves the attempt\'s start to when its handler started, for completed and other outcomes', async () => {
      const a = await insertAndClaim(t.store);
      const b = await insertAndClaim(t.store, { maxAttempts: 1 });
      const claimedAt = t.clock.now();
      t.clock.advance(500);
      await t.store.jobFinishMany({
        items: [
          { id: a.id, token: a.lease.token, finish: { outcome: 'completed', result: null }, startDelayMs: 120 },
          { id: b.id, token: b.lease.token, finish: { outcome: 'dead', error: errorRecord() }, startDelayMs: 200 },
        ],
      });
      expect((await t.store.jobGet({ id: a.id }))?.attemptedAt?.getTime()).toBe(claimedAt + 120);
      const [attemptA] = await t.store.jobAttempts({ id: a.id });
      expect(attemptA).toMatchObject({ startedAt: new Date(claimedAt + 120), durationMs: 380, outcome: 'completed' });
      const [attemptB] = await t.store.jobAttempts({ id: b.id });
      expect(attemptB).toMatchObject({ startedAt: new Date(claimedAt + 200), durationMs: 300, outcome: 'dead' });
    });

    it('completed: state completed, result and finishedAt stored, lease cleared', async () => {
      const job = await insertAndClaim(t.store);
      t.clock.advance(250);
      expect(await finishOne(job.id, job.lease.token, { outcome: 'completed', result: '{"ok":true}' })).toEqual({ applied: [job.id], rejected: [] });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored).toMatchObject({ state: 'completed', attempt: 1, result: '{"ok":true}', lease: null });
      expect(stored?.finishedAt?.getTime()).toBe(t.clock.now());
    });

    it('failed: state retryable retryDelayMs after the store\'s now, attempt kept, lastError stored, not finished', async () => {
      const job = await insertAndClaim(t.store);
      const retryAt = new Date(t.clock.now() + 7_000);
      const error = errorRecord({ name: 'TypeError', message: 'bad thing', kind: 'error' });
      await finishOne(job.id, job.lease.token, { outcome: 'failed', error, retryDelayMs: 7_000 });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored).toMatchObject({ state: 'retryable', attempt: 1, lease: null, finishedAt: null, lastError: error });
      expect(stored?.runAt.getTime()).toBe(retryAt.getTime());
    });

    it('dead: state dead, finishedAt set, lastError stored', async () => {
      const job = await insertAndClaim(t.store);
      const error = errorRecord({ kind: 'unrecoverable', stack: null });
      await finishOne(job.id, job.lease.token, { outcome: 'dead', error });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored).toMatchObject({ state: 'dead', attempt: 1, lease: null, lastError: error });
      expect(stored?.finishedAt?.getTime()).toBe(t.clock.now());
    });

    it('snoozed: state scheduled delayMs after the store\'s now and the attempt is given back', async () => {
      const job = await insertAndClaim(t.store);
      const runAt = new Date(t.clock.now() + 60_000);
      await finishOne(job.id, job.lease.token, { outcome: 'snoozed', delayMs: 60_000 });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored).toMatchObject({ state: 'scheduled', attempt: 0, lease: null, finishedAt: null });
      expect(stored?.runAt.getTime()).toBe(runAt.getTime());
      expect(await fetchJobs(t.store)).toEqual([]);
      t.clock.advance(60_000);
      const [again] = await fetchJobs(t.store);
      expect(again).toMatchObject({ id: job.id, attempt: 1 });
    });

    it('snoozing does not use up attempts', async () => {
      const inserted = await insertJob(t.store, { maxAttempts: 1 });
      for (let i = 0; i < 3; i++) {
        const [job] = await fetchJobs(t.store);
        expect(job?.id).toBe(inserted.id);
        await finishOne(inserted.id, job!.lease!.token, { outcome: 'snoozed', delayMs: 0 });
      }
      expect((await t.store.jobGet({ id: inserted.id }))?.attempt).toBe(0);
    });

    it('cancelled by the handler: state cancelled with the reason as lastError', async () => {
      const job = await insertAndClaim(t.store);
      await finishOne(job.id, job.lease.token, { outcome: 'cancelled', reason: 'user deleted' });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored).toMatchObject({ state: 'cancelled', lease: null, lastError: { message: 'user deleted', kind: 'cancelled' } });
      expect(stored?.finishedAt?.getTime()).toBe(t.clock.now());
    });

    it('released: available again at once, attempt given back', async () => {
      const job = await insertAndClaim(t.store);
      t.clock.advance(100);
      await finishOne(job.id, job.lease.token, { outcome: 'released' });
      const stored = await t.store.jobGet({ id: job.id });
      expect(stored).toMatchObject({ state: 'available', attempt: 0, lease: null, finishedAt: null });
      const [again] = await fetchJobs(t.store);
      expect(again).toMatchObject({ id: job.id, attempt: 1 });
    });

    it('rejects a stale token and changes nothing', async () => {
      const job = await insertAndClaim(t.store);
      const result = await finishOne(job.id, `${job.lease.token}-stale`, { outcome: 'completed', result: null });
      expect(result).toEqual({ applied: [], rejected: [job.id] });
      expect(await t.store.jobGet({ id: job.id })).toMatchObject({ state: 'running', lease: { token: job.lease.token } });
      expect(await t.store.jobAttempts({ id: job.id })).toMatchObject([{ outcome: 'running' }]);
    });

    it('rejects a second finish of the same attempt', async () => {
      const job = await insertAndClaim(t.store);
      await finishOne(job.id, job.lease.token, { outcome: 'completed', result: '1' });
      expect(await finishOne(job.id, job.lease.token, { outcome: 'dead', error: errorRecord() })).toEqual({ applied: [], rejected: [job.id] });
      expect(await t.store.jobGet({ id: job.id })).toMatchObject({ state: 'completed', result: '1', lastError: null });
    });

    it('rejects the token of a previous attempt after the job was claimed again', async () => {
      const first = await insertAndClaim(t.store);
      await finishOne(first.id, first.lease.token, { outcome: 'failed', error: errorRecord(), retryDelayMs: 0 });
      const [second] = await fetchJobs(t.store);
      expect(second?.id).toBe(first.id);
      expect(await finishOne(first.id, first.lease.token, { outcome: 'completed', result: null })).toEqual({ applied: [], rejected: [first.id] });
      expect(await finishOne(first.id, second!.lease!.token, { outcome: 'completed', result: null })).toEqual({ applied: [first.id], rejected: [] });
    });

    it('rejects unknown and never-claimed jobs', async () => {
      const waiting = await insertJob(t.store);
      const result = await t.store.jobFinishMany({
        items: [
          { id: waiting.id, token: 'whatever', finish: { outcome: 'completed', result: null } },
          { id: '99999999', token: 'whatever', finish: { outcome: 'completed', result: null } },
        ],
      });
      expect(result).toEqual({ applied: [], rejected: [waiting.id, '99999999'] });
      expect((await t.store.jobGet({ id: waiting.id }))?.state).toBe('available');
    });

    it('applies a mixed batch item by item', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 4 }, () => jobInput()) });
      const [a, b, c, d] = await fetchJobs(t.store, 'default', 4);
      const result = await t.store.jobFinishMany({
        items: [
          { id: a!.id, token: a!.lease!.token, finish: { outcome: 'completed', result: '"a"' } },
          { id: b!.id, token: 'wrong', finish: { outcome: 'completed', result: '"b"' } },
          { id: c!.id, token: c!.lease!.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 1000 } },
          { id: d!.id, token: d!.lease!.token, finish: { outcome: 'released' } },
        ],
      });
      expect(result.applied.sort()).toEqual([a!.id, c!.id, d!.id].sort());
      expect(result.rejected).toEqual([b!.id]);
      expect((await t.store.jobGet({ id: a!.id }))?.state).toBe('completed');
      expect((await t.store.jobGet({ id: b!.id }))?.state).toBe('running');
      expect((await t.store.jobGet({ id: c!.id }))?.state).toBe('retryable');
      expect((await t.store.jobGet({ id: d!.id }))?.state).toBe('available');
    });

    it('records every attempt with worker, times, duration, outcome, error and result', async () => {
      const inserted = await insertJob(t.store, { maxAttempts: 3 });
      const t0 = t.clock.now();
      const [first] = await t.store.jobFetch({ queue: 'default', limit: 1, owner: 'worker-a', leaseMs: 30_000 });
      expect(await t.store.jobAttempts({ id: inserted.id })).toEqual([
        { jobId: inserted.id, attempt: 1, workerId: 'worker-a', startedAt: new Date(t0), finishedAt: null, durationMs: null, outcome: 'running', error: null, result: null },
      ]);
      t.clock.advance(1_500);
      const error = errorRecord({ message: 'first try failed' });
      await finishOne(inserted.id, first!.lease!.token, { outcome: 'failed', error, retryDelayMs: 0 });
      t.clock.advance(500);
      const t1 = t.clock.now();
      const [second] = await t.store.jobFetch({ queue: 'default', limit: 1, owner: 'worker-b', leaseMs: 30_000 });
      t.clock.advance(2_250);
      await finishOne(inserted.id, second!.lease!.token, { outcome: 'completed', result: '{"sum":3}' });
      const attempts = await t.store.jobAttempts({ id: inserted.id });
      expect(attempts).toEqual([
        { jobId: inserted.id, attempt: 1, workerId: 'worker-a', startedAt: new Date(t0), finishedAt: new Date(t0 + 1_500), durationMs: 1_500, outcome: 'failed', error, result: null },
        { jobId: inserted.id, attempt: 2, workerId: 'worker-b', startedAt: new Date(t1), finishedAt: new Date(t1 + 2_250), durationMs: 2_250, outcome: 'completed', error: null, result: '{"sum":3}' },
      ]);
    });

    it('records snoozed and released attempts under the attempt number they gave back', async () => {
      const job = await insertAndClaim(t.store);
      await finishOne(job.id, job.lease.token, { outcome: 'snoozed', delayMs: 0 });
      const [again] = await fetchJobs(t.store);
      await finishOne(job.id, again!.lease!.token, { outcome: 'released' });
      const attempts = await t.store.jobAttempts({ id: job.id });
      expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([
        [1, 'snoozed'],
        [1, 'released'],
      ]);
    });

    it('stores the longest delay the core allows, added to the store\'s clock', async () => {
      const failing = await insertAndClaim(t.store);
      const snoozing = await insertAndClaim(t.store);
      expect(
        await t.store.jobFinishMany({
          items: [
            { id: failing.id, token: failing.lease.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: MAX_DELAY_MS } },
            { id: snoozing.id, token: snoozing.lease.token, finish: { outcome: 'snoozed', delayMs: MAX_DELAY_MS } },
          ],
        }),
      ).toEqual({ applied: [failing.id, snoozing.id], rejected: [] });
      expect((await t.store.jobGet({ id: failing.id }))?.runAt.getTime()).toBe(t.clock.now() + MAX_DELAY_MS);
      expect((await t.store.jobGet({ id: snoozing.id }))?.runAt.getTime()).toBe(t.clock.now() + MAX_DELAY_MS);
    });

    it('stores error texts as the core hands them in: control characters, U+FFFD, astral characters, the longest texts', async () => {
      const job = await insertAndClaim(t.store);
      const error = errorRecord({
        name: 'Weird\u0001Error',
        message: `tab\tbell\u0007 ${REPLACEMENT_CHARACTER} emoji 😀 quote " backslash \\ ${'m'.repeat(MAX_ERROR_MESSAGE_LENGTH - 40)}`.slice(0, MAX_ERROR_MESSAGE_LENGTH),
        stack: 's'.repeat(MAX_ERROR_STACK_LENGTH),
      });
      await finishOne(job.id, job.lease.token, { outcome: 'dead', error });
      expect((await t.store.jobGet({ id: job.id }))?.lastError).toEqual(error);
      expect((await t.store.jobAttempts({ id: job.id }))[0]?.error).toEqual(error);
    });

    it('a job with no attempts has an empty history; an unknown job too', async () => {
      const job = await insertJob(t.store);
      expect(await t.store.jobAttempts({ id: job.id })).toEqual([]);
      expect(await t.store.jobAttempts({ id: '424242' })).toEqual([]);
    });
  });
}
