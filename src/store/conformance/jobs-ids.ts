/**
 * Conformance: job ids every store takes the same way (`store/job-ids.ts`). An id is the decimal
 * text of a positive integer without leading zeros, at most 2^63 − 1; anything else names no job,
 * so every method that takes one answers "not found" (null, an empty result, rejected, not held)
 * and changes nothing: never a database error, and never another spelling of a real job's id.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../errors.js';
import type { JobRecord } from '../types.js';
import { errorRecord, insertAndClaim, insertJob, LEASE_MS, OWNER, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

/** The largest id in range: well formed, so simply not found. */
const LARGEST_ID = '9223372036854775807';

/** Malformed ids, some of them other spellings of `realId` that a lenient parser would take for it. */
function malformedIds(realId: string): string[] {
  return [
    '',
    '0',
    '00',
    '01',
    '-1',
    '1.5',
    'abc',
    '123456789012345678901234567890',
    ' 1',
    '1 ',
    '+1',
    '1e3',
    '0x1',
    '\u0661', // ARABIC-INDIC DIGIT ONE: a digit, but not an ASCII one
    '9223372036854775808', // one above the largest id
    `0${realId}`,
    ` ${realId}`,
    `${realId} `,
    `+${realId}`,
    `${realId}.0`,
    `${realId}\u0000`,
  ];
}

export function describeJobIds(factory: StoreFactory): void {
  describe('job ids', () => {
    const t = useStoreFixture(factory);

    /** A dead job with one recorded attempt (what jobRetry and jobDelete would act on). */
    async function deadJob(): Promise<JobRecord> {
      const job = await insertAndClaim(t.store, { maxAttempts: 1 });
      await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'dead', error: errorRecord() } }] });
      return job;
    }

    it('jobGet, jobAttempts and jobAhead answer "not found" for malformed ids', async () => {
      const dead = await deadJob();
      const available = await insertJob(t.store);
      expect(await t.store.jobAhead({ id: available.id, limit: 10 })).toBe(0);
      for (const id of [...malformedIds(dead.id), ...malformedIds(available.id), LARGEST_ID]) {
        expect(await t.store.jobGet({ id }), `jobGet(${JSON.stringify(id)})`).toBeNull();
        expect(await t.store.jobAttempts({ id }), `jobAttempts(${JSON.stringify(id)})`).toEqual([]);
        expect(await t.store.jobAhead({ id, limit: 10 }), `jobAhead(${JSON.stringify(id)})`).toBeNull();
      }
    });

    it('jobCancel, jobRetry and jobDelete answer "not found" for malformed ids and change nothing', async () => {
      const dead = await deadJob();
      const available = await insertJob(t.store);
      for (const id of [...malformedIds(available.id), LARGEST_ID]) {
        expect(await t.store.jobCancel({ id, reason: 'no' }), `jobCancel(${JSON.stringify(id)})`).toBeNull();
      }
      for (const id of [...malformedIds(dead.id), LARGEST_ID]) {
        expect(await t.store.jobRetry({ id }), `jobRetry(${JSON.stringify(id)})`).toBeNull();
      }
      expect(await t.store.jobDelete({ ids: [...malformedIds(dead.id), LARGEST_ID] })).toEqual({ deleted: [] });
      expect((await t.store.jobGet({ id: available.id }))?.state).toBe('available');
      expect((await t.store.jobGet({ id: dead.id }))?.state).toBe('dead');
      // Well-formed ids among malformed ones are still served.
      expect(await t.store.jobDelete({ ids: ['01', dead.id, 'abc'] })).toEqual({ deleted: [dead.id] });
    });

    it('jobFetch({ ids }) claims nothing by a malformed id, and still claims the well-formed ones', async () => {
      const job = await insertJob(t.store);
      const fetch = (ids: string[]) => t.store.jobFetch({ queue: 'default', limit: 10, owner: OWNER, leaseMs: LEASE_MS, ids });
      expect(await fetch([...malformedIds(job.id), LARGEST_ID])).toEqual([]);
      expect((await t.store.jobGet({ id: job.id }))?.state).toBe('available');
      expect((await fetch(['01', job.id, ' 1'])).map((claimed) => claimed.id)).toEqual([job.id]);
    });

    it('jobFinishMany rejects and jobHeartbeat does not hold malformed ids; the well-formed items of the batch apply', async () => {
      const job = await insertAndClaim(t.store);
      const token = job.lease.token;
      const ids = [...malformedIds(job.id), LARGEST_ID];
      expect(await t.store.jobHeartbeat({ items: [...ids.map((id) => ({ id, token })), { id: job.id, token }], leaseMs: LEASE_MS })).toEqual({
        held: [job.id],
      });
      const finished = await t.store.jobFinishMany({
        items: [...ids.map((id) => ({ id, token, finish: { outcome: 'completed' as const, result: null } })), { id: job.id, token, finish: { outcome: 'completed', result: '1' } }],
      });
      expect(finished).toEqual({ applied: [job.id], rejected: ids });
      expect(await t.store.jobGet({ id: job.id })).toMatchObject({ state: 'completed', result: '1' });
    });

    it('jobList refuses a malformed cursor with a ValidationError', async () => {
      const job = await insertJob(t.store);
      for (const cursor of malformedIds(job.id)) {
        await expect(t.store.jobList({ cursor }), `jobList cursor ${JSON.stringify(cursor)}`).rejects.toBeInstanceOf(ValidationError);
      }
    });
  });
}
