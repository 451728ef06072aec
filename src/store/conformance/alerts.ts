/** Conformance: alert episodes (one open per key, delivery jobs inserted with them) and silences. */
import { describe, expect, it } from 'vitest';
import type { AlertOpenParams } from '../alert-types.js';
import { jobInput, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

const opening = (overrides: Partial<AlertOpenParams> = {}): AlertOpenParams => ({
  key: 'failures|job|sync',
  rule: 'failures',
  severity: 'high',
  subjectKind: 'job',
  subject: 'sync',
  info: '{"measured":"3 failed"}',
  suppressed: null,
  ...overrides,
});

export function describeAlerts(factory: StoreFactory): void {
  describe('alert episodes and silences', () => {
    const t = useStoreFixture(factory);

    it('opens one episode per key with its delivery jobs; a second opening only marks it seen', async () => {
      const first = await t.store.alertOpen({ ...opening(), jobs: [jobInput({ name: 'nightshift.alert.deliver', queue: 'nightshift.alerts' }), jobInput({ name: 'nightshift.alert.deliver', queue: 'nightshift.alerts' })] });
      expect(first.opened).toBe(true);
      expect(first.jobs).toHaveLength(2);
      expect(first.episode).toMatchObject({ key: 'failures|job|sync', rule: 'failures', severity: 'high', subjectKind: 'job', subject: 'sync', resolvedAt: null, suppressed: null, info: '{"measured":"3 failed"}' });
      expect(first.episode.deliveryJobIds).toEqual(first.jobs.map((job) => job.id));
      expect(first.episode.openedAt.getTime()).toBe(t.clock.now());
      t.clock.advance(30_000);
      const again = await t.store.alertOpen({ ...opening({ info: '{"measured":"4 failed"}' }), jobs: [jobInput({ name: 'nightshift.alert.deliver' })] });
      expect(again).toMatchObject({ opened: false, jobs: [] });
      expect(again.episode.id).toBe(first.episode.id);
      expect(again.episode.lastSeenAt.getTime()).toBe(t.clock.now());
      // Only the first opening's jobs exist.
      expect((await t.store.jobStats()).totals.available).toBe(2);
    });

    it('resolves the open episode once, inserting its jobs only then; the key can open again after', async () => {
      const { episode } = await t.store.alertOpen({ ...opening(), jobs: [jobInput()] });
      t.clock.advance(60_000);
      const resolved = await t.store.alertResolve({ key: episode.key, jobs: [jobInput()] });
      expect(resolved.episode).toMatchObject({ id: episode.id, resolvedAt: new Date(t.clock.now()) });
      expect(resolved.episode!.deliveryJobIds).toHaveLength(2);
      expect(await t.store.alertResolve({ key: episode.key, jobs: [jobInput()] })).toEqual({ episode: null, jobs: [] });
      expect((await t.store.jobStats()).totals.available).toBe(2);
      const reopened = await t.store.alertOpen({ ...opening({ suppressed: 'throttled' }), jobs: [] });
      expect(reopened.opened).toBe(true);
      expect(reopened.episode.id).not.toBe(episode.id);
      expect(reopened.episode.suppressed).toBe('throttled');
    });

    it('lists episodes newest first with filters and a cursor', async () => {
      await t.store.alertOpen({ ...opening(), jobs: [] });
      await t.store.alertOpen({ ...opening({ key: 'dlq|queue|mail', rule: 'dlq', subjectKind: 'queue', subject: 'mail', severity: 'critical' }), jobs: [] });
      t.clock.advance(1000);
      await t.store.alertResolve({ key: 'failures|job|sync', jobs: [] });
      await t.store.alertOpen({ ...opening(), jobs: [] });
      const all = await t.store.alertList({ limit: 10 });
      expect(all.map((e) => [e.rule, e.resolvedAt === null])).toEqual([
        ['failures', true],
        ['dlq', true],
        ['failures', false],
      ]);
      expect((await t.store.alertList({ filter: { open: true }, limit: 10 })).map((e) => e.rule)).toEqual(['failures', 'dlq']);
      expect((await t.store.alertList({ filter: { open: false }, limit: 10 })).map((e) => e.rule)).toEqual(['failures']);
      expect((await t.store.alertList({ filter: { severity: 'critical' }, limit: 10 })).map((e) => e.subject)).toEqual(['mail']);
      expect((await t.store.alertList({ filter: { subjectKind: 'job', subject: 'sync' }, limit: 10 })).length).toBe(2);
      expect((await t.store.alertList({ filter: { key: 'dlq|queue|mail' }, limit: 10 })).length).toBe(1);
      const page = await t.store.alertList({ limit: 1 });
      expect((await t.store.alertList({ filter: { beforeId: page[0]!.id }, limit: 10 })).map((e) => e.rule)).toEqual(['dlq', 'failures']);
      expect(await t.store.alertList({ filter: { beforeId: 'not-an-id' }, limit: 10 })).toEqual([]);
      expect((await t.store.alertList({ filter: { openedAfter: new Date(t.clock.now() - 500) }, limit: 10 })).length).toBe(1);
    });

    it('keeps silences until they expire; lists active ones; removes by id; prunes old episodes and silences', async () => {
      const silence = await t.store.alertSilenceAdd({ rule: 'failures', subject: 'sync', until: new Date(t.clock.now() + 7_200_000), reason: 'deploying' });
      await t.store.alertSilenceAdd({ rule: 'dlq', subject: null, until: new Date(t.clock.now() + 60_000), reason: null });
      expect(silence).toMatchObject({ rule: 'failures', subject: 'sync', reason: 'deploying', createdAt: new Date(t.clock.now()) });
      expect((await t.store.alertSilenceList({ activeOnly: true })).map((s) => s.rule)).toEqual(['failures', 'dlq']);
      t.clock.advance(120_000);
      expect((await t.store.alertSilenceList({ activeOnly: true })).map((s) => s.rule)).toEqual(['failures']);
      expect((await t.store.alertSilenceList({ activeOnly: false })).length).toBe(2);
      expect(await t.store.alertSilenceRemove({ id: silence.id })).toBe(true);
      expect(await t.store.alertSilenceRemove({ id: silence.id })).toBe(false);
      expect(await t.store.alertSilenceRemove({ id: 'x' })).toBe(false);
      await t.store.alertOpen({ ...opening(), jobs: [] });
      await t.store.alertResolve({ key: 'failures|job|sync', jobs: [] });
      await t.store.alertOpen({ ...opening({ key: 'still|job|open' }), jobs: [] });
      t.clock.advance(60_000);
      // The resolved episode and the expired silence go; the open episode stays.
      expect(await t.store.alertPrune({ before: new Date(t.clock.now()) })).toEqual({ deleted: 2 });
      expect((await t.store.alertList({ limit: 10 })).map((e) => e.key)).toEqual(['still|job|open']);
    });

    it('two openings of the same key at once: exactly one opens, with its jobs', async () => {
      const other = t.fixture.openAnother ? await t.fixture.openAnother() : t.store;
      const results = await Promise.all([t.store.alertOpen({ ...opening(), jobs: [jobInput()] }), other.alertOpen({ ...opening(), jobs: [jobInput()] })]);
      expect(results.filter((result) => result.opened)).toHaveLength(1);
      expect((await t.store.jobStats()).totals.available).toBe(1);
      if (other !== t.store) await other.close();
    });
  });
}
