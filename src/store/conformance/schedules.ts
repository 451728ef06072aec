/** Conformance: schedules, exactly-once tick claims, tick history. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../errors.js';
import type { Store } from '../types.js';
import { errorRecord, fetchJobs, jobInput, scheduleInput, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

export function describeSchedules(factory: StoreFactory): void {
  describe('schedules', () => {
    const t = useStoreFixture(factory);

    it('upserts, gets and lists schedules', async () => {
      const now = t.clock.now();
      const [created] = await t.store.scheduleUpsertMany({
        schedules: [scheduleInput({ id: 'nightly-report', cron: '0 3 * * *', timezone: 'Europe/Paris', description: 'report', input: '{"x":1}', catchUp: 2, overlap: 'skip', source: 'file', jobOptions: '{"queue":"reports"}' })],
      });
      expect(created).toEqual({
        id: 'nightly-report',
        jobName: 'conformance.job',
        cron: '0 3 * * *',
        timezone: 'Europe/Paris',
        enabled: true,
        description: 'report',
        input: '{"x":1}',
        catchUp: 2,
        overlap: 'skip',
        source: 'file',
        jobOptions: '{"queue":"reports"}',
        createdAt: new Date(now),
        updatedAt: new Date(now),
        nextRunAt: null,
        lastRunAt: null,
        lastJobId: null,
      });
      expect(await t.store.scheduleGet({ id: 'nightly-report' })).toEqual(created);
      expect(await t.store.scheduleGet({ id: 'missing' })).toBeNull();
    });

    it('refuses a call that names one schedule id twice, with DUPLICATE_SCHEDULE naming the id, storing nothing', async () => {
      const [kept] = await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'kept', cron: '0 1 * * *' })] });
      const call = t.store.scheduleUpsertMany({
        schedules: [scheduleInput({ id: 'kept', cron: '0 2 * * *' }), scheduleInput({ id: 'twice' }), scheduleInput({ id: 'other' }), scheduleInput({ id: 'twice', cron: '0 4 * * *' })],
      });
      await expect(call).rejects.toBeInstanceOf(ValidationError);
      await expect(call).rejects.toMatchObject({ code: 'DUPLICATE_SCHEDULE', message: expect.stringContaining('"twice"') });
      // The whole call: neither the new schedules nor the change to the existing one.
      expect(await t.store.scheduleList({})).toEqual([kept]);
    });

    it('upserts several schedules at once, returning them in input order', async () => {
      const records = await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'zeta' }), scheduleInput({ id: 'alpha', cron: '0 * * * *' }), scheduleInput({ id: 'mid' })] });
      expect(records.map((r) => r.id)).toEqual(['zeta', 'alpha', 'mid']);
      expect(records[1]?.cron).toBe('0 * * * *');
      expect((await t.store.scheduleList({})).map((r) => r.id)).toEqual(['alpha', 'mid', 'zeta']);
      expect(await t.store.scheduleUpsertMany({ schedules: [] })).toEqual([]);
    });

    it('an upsert replaces the definition and keeps run bookkeeping and createdAt', async () => {
      const createdAt = t.clock.now();
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 's1' })] });
      const fireAt = new Date(createdAt + 60_000);
      const claimed = await t.store.scheduleTickClaim({ scheduleId: 's1', fireAt, nextRunAt: new Date(createdAt + 120_000), job: jobInput({ scheduleId: 's1' }), status: 'enqueued' });
      t.clock.advance(5_000);
      const [updated] = await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 's1', cron: '*/5 * * * *', enabled: false, description: 'changed' })] });
      expect(updated).toMatchObject({ id: 's1', cron: '*/5 * * * *', enabled: false, description: 'changed', lastRunAt: fireAt, lastJobId: claimed!.job!.id });
      expect(updated!.createdAt.getTime()).toBe(createdAt);
      expect(updated!.updatedAt.getTime()).toBe(t.clock.now());
    });

    it('lists with filters, ordered by id', async () => {
      await t.store.scheduleUpsertMany({
        schedules: [
          scheduleInput({ id: 'b-hourly', cron: '0 * * * *', source: 'file' }),
          scheduleInput({ id: 'a-daily', cron: '0 0 * * *', enabled: false, source: 'code' }),
        ],
      });
      t.clock.advance(10_000);
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'c_weekly%', cron: '0 0 * * 0', source: 'api' })] });
      const ids = async (filter?: Parameters<Store['scheduleList']>[0]['filter']) => (await t.store.scheduleList({ filter })).map((s) => s.id);
      expect(await ids()).toEqual(['a-daily', 'b-hourly', 'c_weekly%']);
      expect(await ids({ enabled: true })).toEqual(['b-hourly', 'c_weekly%']);
      expect(await ids({ enabled: false })).toEqual(['a-daily']);
      expect(await ids({ idContains: 'HOUR' })).toEqual(['b-hourly']);
      expect(await ids({ idContains: '_' })).toEqual(['c_weekly%']);
      expect(await ids({ idContains: '%' })).toEqual(['c_weekly%']);
      expect(await ids({ cron: '0 0 * * *' })).toEqual(['a-daily']);
      expect(await ids({ source: 'file' })).toEqual(['b-hourly']);
      expect(await ids({ createdAfter: new Date(t.clock.now() - 5_000) })).toEqual(['c_weekly%']);
      expect(await ids({ createdBefore: new Date(t.clock.now() - 5_000) })).toEqual(['a-daily', 'b-hourly']);
    });

    it('deletes schedules by id and reports how many', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'x' }), scheduleInput({ id: 'y' }), scheduleInput({ id: 'z' })] });
      expect(await t.store.scheduleDelete({ ids: ['x', 'z', 'missing'] })).toEqual({ deleted: 2 });
      expect((await t.store.scheduleList({})).map((s) => s.id)).toEqual(['y']);
      expect(await t.store.scheduleDelete({ ids: [] })).toEqual({ deleted: 0 });
    });

    it('updateNext sets nextRunAt and optionally enabled, leaving the rest', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'n', description: 'keep me' })] });
      const next = new Date(t.clock.now() + 60_000);
      await t.store.scheduleUpdateNext({ id: 'n', nextRunAt: next });
      expect(await t.store.scheduleGet({ id: 'n' })).toMatchObject({ nextRunAt: next, enabled: true, description: 'keep me' });
      await t.store.scheduleUpdateNext({ id: 'n', nextRunAt: null, enabled: false });
      expect(await t.store.scheduleGet({ id: 'n' })).toMatchObject({ nextRunAt: null, enabled: false, description: 'keep me' });
      await t.store.scheduleUpdateNext({ id: 'n', nextRunAt: next, enabled: true });
      expect(await t.store.scheduleGet({ id: 'n' })).toMatchObject({ nextRunAt: next, enabled: true });
    });

    it('claims a tick once, creating its job in the same step and advancing the schedule', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'tick' })] });
      const fireAt = new Date(t.clock.now());
      const nextRunAt = new Date(fireAt.getTime() + 60_000);
      const claimed = await t.store.scheduleTickClaim({
        scheduleId: 'tick',
        fireAt,
        nextRunAt,
        job: jobInput({ scheduleId: 'tick', meta: JSON.stringify({ fireAt: fireAt.toISOString() }) }),
        status: 'enqueued',
      });
      expect(claimed).not.toBeNull();
      expect(claimed!.tick).toEqual({ scheduleId: 'tick', fireAt, claimedAt: new Date(t.clock.now()), jobId: claimed!.job!.id, status: 'enqueued' });
      expect(claimed!.job).toMatchObject({ state: 'available', scheduleId: 'tick' });
      expect(await t.store.jobGet({ id: claimed!.job!.id })).toMatchObject({ scheduleId: 'tick' });
      expect(await t.store.scheduleGet({ id: 'tick' })).toMatchObject({ lastRunAt: fireAt, lastJobId: claimed!.job!.id, nextRunAt });
      const again = await t.store.scheduleTickClaim({ scheduleId: 'tick', fireAt, nextRunAt, job: jobInput({ scheduleId: 'tick' }), status: 'enqueued' });
      expect(again).toBeNull();
      expect((await t.store.jobList({ filter: { scheduleId: 'tick' } })).jobs).toHaveLength(1);
    });

    it('concurrent claims of one tick: exactly one wins and exactly one job exists', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'race' })] });
      const fireAt = new Date(t.clock.now());
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother());
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          stores[i % stores.length]!.scheduleTickClaim({ scheduleId: 'race', fireAt, nextRunAt: null, job: jobInput({ scheduleId: 'race' }), status: 'enqueued' }),
        ),
      );
      expect(claims.filter((c) => c !== null)).toHaveLength(1);
      expect((await t.store.jobList({ filter: { scheduleId: 'race' } })).jobs).toHaveLength(1);
      expect(await t.store.scheduleTickList({ scheduleId: 'race', limit: 10 })).toHaveLength(1);
    });

    it('a tick can be claimed without a job (skipped by the overlap policy)', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'skip' })] });
      const fireAt = new Date(t.clock.now());
      const claimed = await t.store.scheduleTickClaim({ scheduleId: 'skip', fireAt, nextRunAt: null, job: null, status: 'skipped_overlap' });
      expect(claimed).toEqual({ tick: { scheduleId: 'skip', fireAt, claimedAt: new Date(t.clock.now()), jobId: null, status: 'skipped_overlap' }, job: null });
      expect(await t.store.scheduleGet({ id: 'skip' })).toMatchObject({ lastRunAt: fireAt, lastJobId: null });
      expect(await t.store.scheduleTickClaim({ scheduleId: 'skip', fireAt, nextRunAt: null, job: null, status: 'skipped_overlap' })).toBeNull();
    });

    it('lists ticks newest first, up to the limit', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'hist' })] });
      const base = t.clock.now();
      for (let i = 0; i < 5; i++) {
        await t.store.scheduleTickClaim({ scheduleId: 'hist', fireAt: new Date(base + i * 60_000), nextRunAt: null, job: null, status: 'enqueued' });
      }
      const ticks = await t.store.scheduleTickList({ scheduleId: 'hist', limit: 3 });
      expect(ticks.map((tick) => tick.fireAt.getTime())).toEqual([base + 240_000, base + 180_000, base + 120_000]);
      expect(await t.store.scheduleTickList({ scheduleId: 'other', limit: 3 })).toEqual([]);
    });

    it('reports whether a schedule has a job that is not finished', async () => {
      await t.store.scheduleUpsertMany({ schedules: [scheduleInput({ id: 'active' })] });
      expect(await t.store.scheduleHasActiveJob({ scheduleId: 'active' })).toBe(false);
      const claimed = await t.store.scheduleTickClaim({ scheduleId: 'active', fireAt: new Date(t.clock.now()), nextRunAt: null, job: jobInput({ scheduleId: 'active' }), status: 'enqueued' });
      expect(await t.store.scheduleHasActiveJob({ scheduleId: 'active' })).toBe(true);
      const [job] = await fetchJobs(t.store);
      expect(job?.id).toBe(claimed!.job!.id);
      expect(await t.store.scheduleHasActiveJob({ scheduleId: 'active' })).toBe(true);
      await t.store.jobFinishMany({ items: [{ id: job!.id, token: job!.lease!.token, finish: { outcome: 'dead', error: errorRecord() } }] });
      expect(await t.store.scheduleHasActiveJob({ scheduleId: 'active' })).toBe(false);
    });
  });
}
