/** Conformance: the event feed — append, read after a cursor with filters, prune, and commit order across connections. */
import { describe, expect, it } from 'vitest';
import { encodeEvents, EventBatchBuilder } from '../event-batches.js';
import type { EventBatch, EventInsert, EventRecord, Store } from '../types.js';
import { insertAndClaim, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

/** An event to append with defaults: a `job:completed` of `conformance.job` on `default`. */
function eventInput(overrides: Partial<EventInsert> = {}): EventInsert {
  return { type: 'job:completed', queue: 'default', jobName: 'conformance.job', jobId: '1', data: '{"attempt":1}', ...overrides };
}

/** Reads every event after `afterId`, page by page. */
async function readAll(store: Store, afterId = '0', limit = 1000): Promise<EventRecord[]> {
  const all: EventRecord[] = [];
  let cursor = afterId;
  for (;;) {
    const page = await store.eventList({ afterId: cursor, limit });
    all.push(...page);
    if (page.length < limit) return all;
    cursor = page[page.length - 1]!.id;
  }
}

export function describeEvents(factory: StoreFactory): void {
  describe('event feed', () => {
    const t = useStoreFixture(factory);

    it('appends a batch in order with increasing ids and the store clock, and keeps every field as given', async () => {
      expect(await t.store.eventBounds()).toEqual({ newestId: null, prunedThroughId: null });
      await t.store.eventAppend({ batches: encodeEvents([]) });
      const data = JSON.stringify({ message: 'hôst "quoted" 😀', n: 1 });
      await t.store.eventAppend({
        batches: encodeEvents([
          eventInput({ type: 'job:enqueued', jobId: '7', data }),
          eventInput({ type: 'queue:paused', queue: 'mail', jobName: null, jobId: null, data: '{}' }),
          eventInput({ type: 'schedule:fired', queue: null, jobName: null, jobId: null }),
        ]),
      });
      t.clock.advance(1000);
      await t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: '7' })]) });
      const events = await t.store.eventList({ afterId: '0', limit: 10 });
      expect(events.map((e) => e.type)).toEqual(['job:enqueued', 'queue:paused', 'schedule:fired', 'job:completed']);
      const ids = events.map((e) => BigInt(e.id));
      for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
      expect(events[0]).toEqual({ id: events[0]!.id, at: new Date(t.clock.now() - 1000), type: 'job:enqueued', queue: 'default', jobName: 'conformance.job', jobId: '7', data });
      expect(events[1]).toMatchObject({ queue: 'mail', jobName: null, jobId: null, data: '{}' });
      expect(events[3]!.at).toEqual(new Date(t.clock.now()));
      expect(await t.store.eventBounds()).toEqual({ newestId: events[3]!.id, prunedThroughId: null });
    });

    it('reads after a cursor, at most limit, oldest first: paging sees every event exactly once', async () => {
      await t.store.eventAppend({ batches: encodeEvents(Array.from({ length: 25 }, (_, i) => eventInput({ jobId: String(i) }))) });
      const all = await t.store.eventList({ afterId: '0', limit: 100 });
      expect(all.map((e) => e.jobId)).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
      const paged = await readAll(t.store, '0', 7);
      expect(paged).toEqual(all);
      expect((await t.store.eventList({ afterId: all[9]!.id, limit: 3 })).map((e) => e.jobId)).toEqual(['10', '11', '12']);
      expect(await t.store.eventList({ afterId: all[24]!.id, limit: 10 })).toEqual([]);
      expect(await t.store.eventList({ afterId: '0', limit: 0 })).toEqual([]);
    });

    it('names the append size it prefers, and takes an append of that many events whole, in order', async () => {
      const size = t.store.eventAppendSize;
      expect(Number.isSafeInteger(size) && size >= 1).toBe(true);
      await t.store.eventAppend({ batches: encodeEvents(Array.from({ length: size }, (_, i) => eventInput({ jobId: String(i) }))) });
      const all = await readAll(t.store);
      expect(all.map((e) => e.jobId)).toEqual(Array.from({ length: size }, (_, i) => String(i)));
    });

    it('keeps the batches of one append in order, each event as its batch holds it, ids increasing across them', async () => {
      const builder = new EventBatchBuilder();
      builder.addStarted('job:started', 'mail', 'send', '41', 1, 3, 'host-1:7');
      builder.addCompleted('job:completed', 'mail', 'send', '41', 1, 2.5);
      builder.add('job:dead', 'mail', 'send', '42', '{"attempt":3,"error":{"message":"h\u00f4st \\"x\\""}}');
      const runs = builder.seal()!;
      const more = encodeEvents(Array.from({ length: 3 }, (_, i) => eventInput({ jobId: String(100 + i) })));
      await t.store.eventAppend({ batches: [runs, ...more, runs] });
      const all = await readAll(t.store);
      const fields = (e: EventRecord) => [e.type, e.queue, e.jobName, e.jobId, e.data];
      const first = [
        ['job:started', 'mail', 'send', '41', '{"attempt":1,"maxAttempts":3,"workerId":"host-1:7"}'],
        ['job:completed', 'mail', 'send', '41', '{"attempt":1,"durationMs":2.5}'],
        ['job:dead', 'mail', 'send', '42', '{"attempt":3,"error":{"message":"h\u00f4st \\"x\\""}}'],
      ];
      expect(all.map(fields)).toEqual([...first, ...['100', '101', '102'].map((id) => fields({ ...eventInput({ jobId: id }), id: '', at: new Date(0) })), ...first]);
      const ids = all.map((e) => BigInt(e.id));
      for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    });

    it('refuses an append holding anything that is not a batch, and writes none of it', async () => {
      const [good] = encodeEvents([eventInput({ jobId: 'kept-out' })]);
      const wrong: unknown[] = [
        { count: 0, bytes: good!.bytes },
        { count: 10_001, bytes: good!.bytes },
        { count: 1, bytes: new TextEncoder().encode('[["job:started",null,null,null,{}]]') },
        { count: 1, bytes: 'not bytes' },
        null,
      ];
      for (const bad of wrong) {
        await expect(t.store.eventAppend({ batches: [good!, bad as EventBatch] })).rejects.toMatchObject({ name: 'ValidationError', code: 'INVALID_OPTION' });
      }
      await expect(t.store.eventAppend({ batches: 'x' as unknown as EventBatch[] })).rejects.toMatchObject({ name: 'ValidationError' });
      expect(await readAll(t.store)).toEqual([]);
      expect(await t.store.eventBounds()).toEqual({ newestId: null, prunedThroughId: null });
    });

    it('appends made while jobs are being finished resolve once readable, in the order asked, and the finishes apply', async () => {
      const jobs: Awaited<ReturnType<typeof insertAndClaim>>[] = [];
      for (let i = 0; i < 3; i++) jobs.push(await insertAndClaim(t.store));
      const finish = (job: (typeof jobs)[number]) =>
        t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: null } }] });
      expect((await finish(jobs[0]!)).applied).toEqual([jobs[0]!.id]);
      // Appends asked right after a finish, the next finish not awaited before the last append.
      const first = t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: 'a' }), eventInput({ jobId: 'b' })]) });
      const second = t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: 'c' })]) });
      const finished = finish(jobs[1]!);
      const third = t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: 'd' })]) });
      await Promise.all([first, second, third]);
      expect((await readAll(t.store)).map((e) => e.jobId)).toEqual(['a', 'b', 'c', 'd']);
      expect((await finished).applied).toEqual([jobs[1]!.id]);
      expect((await finish(jobs[2]!)).applied).toEqual([jobs[2]!.id]);
      for (const job of jobs) expect((await t.store.jobGet({ id: job.id }))?.state).toBe('completed');
    });

    it('stores appends under way at once in the order they were asked for', async () => {
      const appends = Array.from({ length: 20 }, (_, i) => t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: `${i}-a` }), eventInput({ jobId: `${i}-b` })]) }));
      await Promise.all(appends);
      expect((await readAll(t.store)).map((e) => e.jobId)).toEqual(Array.from({ length: 20 }, (_, i) => [`${i}-a`, `${i}-b`]).flat());
    });

    it('filters by types, queues and job names; every given list must match', async () => {
      await t.store.eventAppend({
        batches: encodeEvents([
          eventInput({ type: 'job:started', queue: 'mail', jobName: 'send', jobId: '1' }),
          eventInput({ type: 'job:completed', queue: 'mail', jobName: 'send', jobId: '1' }),
          eventInput({ type: 'job:completed', queue: 'media', jobName: 'resize', jobId: '2' }),
          eventInput({ type: 'job:failed', queue: 'media', jobName: 'resize', jobId: '3' }),
          eventInput({ type: 'schedule:fired', queue: null, jobName: null, jobId: null }),
        ]),
      });
      const ids = async (filter: Parameters<Store['eventList']>[0]['filter']) =>
        (await t.store.eventList({ afterId: '0', limit: 100, filter })).map((e) => `${e.type}/${e.jobId}`);
      expect(await ids({ types: ['job:completed'] })).toEqual(['job:completed/1', 'job:completed/2']);
      expect(await ids({ types: ['job:completed', 'schedule:fired'] })).toEqual(['job:completed/1', 'job:completed/2', 'schedule:fired/null']);
      expect(await ids({ queues: ['media'] })).toEqual(['job:completed/2', 'job:failed/3']);
      expect(await ids({ names: ['send'] })).toEqual(['job:started/1', 'job:completed/1']);
      expect(await ids({ types: ['job:completed'], queues: ['media'] })).toEqual(['job:completed/2']);
      expect(await ids({ types: ['job:completed'], names: ['send', 'resize'], queues: ['mail'] })).toEqual(['job:completed/1']);
      expect(await ids({ queues: [] })).toEqual([]);
      expect(await ids({})).toHaveLength(5);
      // The filter and the cursor together: the limit counts matching events.
      const first = (await t.store.eventList({ afterId: '0', limit: 1, filter: { queues: ['media'] } }))[0]!;
      expect((await t.store.eventList({ afterId: first.id, limit: 1, filter: { queues: ['media'] } })).map((e) => e.jobId)).toEqual(['3']);
    });

    it('prunes whole appends older than a time, oldest first, up to a number of events, and says how far it pruned', async () => {
      await t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: 'a' }), eventInput({ jobId: 'b' })]) });
      await t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: 'c' })]) });
      t.clock.advance(60_000);
      await t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: 'd' })]) });
      const all = await readAll(t.store);
      const before = new Date(t.clock.now() - 30_000);
      // [a, b] fits in 2; [c] would make 3.
      expect(await t.store.eventPrune({ before, limit: 2 })).toEqual({ deleted: 2 });
      let left = await readAll(t.store);
      expect(left.map((e) => e.jobId)).toEqual(['c', 'd']);
      expect((await t.store.eventBounds()).prunedThroughId).toBe(all[1]!.id);
      expect(await t.store.eventPrune({ before, limit: 2 })).toEqual({ deleted: 1 });
      expect(await t.store.eventPrune({ before, limit: 2 })).toEqual({ deleted: 0 });
      left = await readAll(t.store);
      expect(left.map((e) => e.jobId)).toEqual(['d']);
      expect(await t.store.eventBounds()).toEqual({ newestId: left[0]!.id, prunedThroughId: all[2]!.id });
      // An append larger than the limit still goes, whole, rather than staying forever.
      await t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: 'e' }), eventInput({ jobId: 'f' }), eventInput({ jobId: 'g' })]) });
      t.clock.advance(60_000);
      expect(await t.store.eventPrune({ before: new Date(t.clock.now()), limit: 1 })).toEqual({ deleted: 1 });
      expect(await t.store.eventPrune({ before: new Date(t.clock.now()), limit: 1 })).toEqual({ deleted: 3 });
      // Pruning everything keeps the mark, and a later event gets a higher id than any pruned one.
      const bounds = await t.store.eventBounds();
      expect(bounds.newestId).toBeNull();
      expect(BigInt(bounds.prunedThroughId!)).toBeGreaterThan(BigInt(left[0]!.id));
      await t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: 'h' })]) });
      const [again] = await readAll(t.store);
      expect(again!.jobId).toBe('h');
      expect(BigInt(again!.id)).toBeGreaterThan(BigInt(bounds.prunedThroughId!));
      expect((await t.store.eventBounds()).newestId).toBe(again!.id);
    });

    it('a cursor inside an append reads the rest of it; a cursor that is not a number reads from the start', async () => {
      await t.store.eventAppend({ batches: encodeEvents(Array.from({ length: 5 }, (_, i) => eventInput({ jobId: String(i) }))) });
      await t.store.eventAppend({ batches: encodeEvents([eventInput({ jobId: '5' })]) });
      const all = await readAll(t.store);
      expect((await t.store.eventList({ afterId: all[2]!.id, limit: 10 })).map((e) => e.jobId)).toEqual(['3', '4', '5']);
      expect((await t.store.eventList({ afterId: all[4]!.id, limit: 10 })).map((e) => e.jobId)).toEqual(['5']);
      for (const cursor of ['', 'abc', '-5', '1e9', '99999999999999999999']) {
        expect((await t.store.eventList({ afterId: cursor, limit: 10 })).map((e) => e.jobId)).toEqual(['0', '1', '2', '3', '4', '5']);
      }
    });

    it('a reader tailing while two connections append never skips an event: ids follow commit order', async () => {
      const stores: Store[] = [t.store];
      if (t.fixture.openAnother !== undefined) stores.push(await t.fixture.openAnother());
      const reader = stores[stores.length - 1]!;
      const BATCHES = 24;
      const PER_BATCH = 400;
      let writing = true;
      const writers = Promise.all(
        Array.from({ length: BATCHES }, (_, b) =>
          stores[b % stores.length]!.eventAppend({ batches: encodeEvents(Array.from({ length: PER_BATCH }, (_, i) => eventInput({ jobId: `${b}.${i}` }))) }),
        ),
      ).finally(() => {
        writing = false;
      });
      // Tail exactly as the API's poller does: after the newest id seen, never looking back.
      const seen: EventRecord[] = [];
      let cursor = '0';
      for (;;) {
        const done = !writing;
        const page = await reader.eventList({ afterId: cursor, limit: 100 });
        seen.push(...page);
        if (page.length > 0) cursor = page[page.length - 1]!.id;
        if (done && page.length < 100) break;
      }
      await writers;
      expect(seen).toHaveLength(BATCHES * PER_BATCH);
      expect(new Set(seen.map((e) => e.jobId)).size).toBe(BATCHES * PER_BATCH);
      expect(seen).toEqual(await readAll(t.store));
    });
  });
}
