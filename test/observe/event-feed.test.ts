// The event feed's writer on real stores: batches, order, a store that fails (bounded buffer,
// oldest dropped, the rest written once the store is back), and the pruner's event retention.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPruner } from '../../src/maintenance/pruner.js';
import { createEventFeedWriter, EVENT_RETENTION_MS } from '../../src/observe/event-feed.js';
import { NightshiftEvents } from '../../src/observe/events.js';
import { runObservers } from '../../src/observe/run-observers.js';
import { TestClock } from '../../src/store/conformance/index.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { decodeEventBatch, encodeEvents, EventBatchBuilder } from '../../src/store/event-batches.js';
import type { JobRecord, Store } from '../../src/store/types.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sqliteStore(clock?: TestClock): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-feed-'));
  const store = createSqliteStore({ path: path.join(dir, 'jobs.db'), ...(clock ? { clock: clock.fn } : {}) });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => store.close());
  return store;
}

async function allEvents(store: Store): Promise<string[]> {
  return (await store.eventList({ afterId: '0', limit: 100_000 })).map((event) => event.queue!);
}

/** A started writer over `store`, and the sizes of the batches it wrote, in order. */
function startWriter(store: Store, options: { flushSize?: number; flushIntervalMs?: number } = {}) {
  const events = new NightshiftEvents();
  const writer = createEventFeedWriter({ store, events, ...options });
  cleanups.push(() => writer.stop());
  const batches: number[] = [];
  events.on('feed:flushed', ({ count }) => batches.push(count));
  writer.start();
  return { events, writer, batches };
}

describe('event feed writer', () => {
  it('writes a burst in batches of at most flushSize, in the order the events were emitted', async () => {
    const store = sqliteStore();
    await store.migrate();
    const { events, batches } = startWriter(store, { flushSize: 1000 });
    for (let i = 0; i < 2500; i++) events.emit('queue:paused', { queue: `q${i}` });
    await events.waitFor('feed:flushed', () => batches.reduce((sum, count) => sum + count, 0) === 2500);
    expect(Math.max(...batches)).toBeLessThanOrEqual(1000);
    expect(batches.length).toBeLessThanOrEqual(5);
    expect(await allEvents(store)).toEqual(Array.from({ length: 2500 }, (_, i) => `q${i}`));
    const [first] = await store.eventList({ afterId: '0', limit: 1 });
    expect(first).toMatchObject({ type: 'queue:paused', jobName: null, jobId: null, data: '{}' });
  });

  it('gives each job:enqueued its own data, whichever field changed from the job before', async () => {
    const store = sqliteStore();
    await store.migrate();
    const events = new NightshiftEvents();
    const writer = createEventFeedWriter({ store, events, flushIntervalMs: 60_000 });
    cleanups.push(() => writer.stop());
    writer.start();
    const runAt = new Date('2026-03-01T10:00:00.000Z');
    const base = { state: 'available', priority: 0, attempt: 0, maxAttempts: 3, runAt, scheduleId: null } as const;
    // Each differs from the one before in one field (a bulk enqueue's jobs mostly share them all).
    const variants = [
      base,
      base,
      { ...base, state: 'scheduled' },
      { ...base, state: 'scheduled', priority: 5 },
      { ...base, state: 'scheduled', priority: 5, maxAttempts: 9 },
      { ...base, state: 'scheduled', priority: 5, maxAttempts: 9, runAt: new Date(runAt.getTime() + 1) },
      { ...base, state: 'scheduled', priority: 5, maxAttempts: 9, runAt: new Date(runAt.getTime() + 1), scheduleId: 'nightly' },
      { ...base, attempt: 1 },
      base,
    ];
    variants.forEach((fields, i) => {
      const job = { id: String(i + 1), name: 'mail.send', queue: 'mail', ...fields } as unknown as JobRecord;
      events.emit('job:enqueued', { job, inserted: true });
    });
    // A key match (not inserted) writes nothing.
    events.emit('job:enqueued', { job: { id: '99', name: 'mail.send', queue: 'mail', ...base } as unknown as JobRecord, inserted: false });
    await writer.flush();
    const written = await store.eventList({ afterId: '0', limit: 100 });
    expect(written.map((event) => event.jobId)).toEqual(variants.map((_, i) => String(i + 1)));
    expect(written.map((event) => JSON.parse(event.data))).toEqual(
      variants.map((fields) => ({ ...fields, runAt: fields.runAt.toISOString() })),
    );
  });

  it('stop() writes what is still waiting', async () => {
    const store = sqliteStore();
    await store.migrate();
    const events = new NightshiftEvents();
    const writer = createEventFeedWriter({ store, events, flushIntervalMs: 60_000 });
    writer.start();
    events.emit('queue:resumed', { queue: 'mail' });
    expect(writer.buffered).toBe(1);
    await writer.stop();
    expect(await allEvents(store)).toEqual(['mail']);
    // Stopped: no longer listening.
    events.emit('queue:resumed', { queue: 'late' });
    expect(writer.buffered).toBe(0);
  });

  const url = postgresUrl();
  function postgresStore(): Store {
    const { schema, drop } = testSchema(url!, 'feed');
    cleanups.push(drop);
    const store = createPostgresStore({ connectionString: url!, schema, poolSize: 2 });
    cleanups.push(() => store.close());
    return store;
  }

  // Without a flushSize the writer flushes as soon as the store's preferred append size waits
  // (SQLite 1000, PostgreSQL 5000); one event more waits for the interval.
  for (const [name, open] of [
    ['SQLite', sqliteStore],
    ['PostgreSQL', postgresStore],
  ] as const) {
    it.skipIf(name === 'PostgreSQL' && url === null)(`flushes at the store's eventAppendSize by default (${name})`, async () => {
      const store = open();
      await store.migrate();
      const size = store.eventAppendSize;
      expect(size).toBe(name === 'SQLite' ? 1000 : 5000);
      const { events, writer, batches } = startWriter(store, { flushIntervalMs: 60_000 });
      const flushed = events.waitFor('feed:flushed');
      for (let i = 0; i <= size; i++) events.emit('queue:paused', { queue: `q${i}` });
      await flushed;
      expect(batches).toEqual([size]);
      expect(writer.buffered).toBe(1);
      expect((await allEvents(store)).length).toBe(size);
    });
  }

  // job:started and job:completed keep only numbers until their batch is written; their data
  // is the same text the other events' JSON would be, per event, also for a batch written late.
  for (const [name, open] of [
    ['SQLite', sqliteStore],
    ['PostgreSQL', postgresStore],
  ] as const) {
    it.skipIf(name === 'PostgreSQL' && url === null)(`writes each run event's own attempt, maximum, worker and duration (${name})`, async () => {
      const store = open();
      await store.migrate();
      const { events, writer } = startWriter(store, { flushIntervalMs: 60_000 });
      const runs = [
        { id: '1', attempt: 1, maxAttempts: 3, workerId: 'w-1', durationMs: 0.0625 },
        { id: '2', attempt: 1, maxAttempts: 3, workerId: 'w-1', durationMs: 12 },
        { id: '3', attempt: 2, maxAttempts: 3, workerId: 'w-1', durationMs: 1234.5678 },
        { id: '4', attempt: 2, maxAttempts: 5, workerId: 'w-"2"', durationMs: 0 },
        { id: '5', attempt: 1, maxAttempts: 5, workerId: 'w-"2"', durationMs: Number.NaN },
      ];
      for (const run of runs) {
        const job = { id: run.id, name: 'mail.send', queue: 'mail', attempt: run.attempt, maxAttempts: run.maxAttempts } as unknown as JobRecord;
        runObservers(events).started(job, run.workerId);
        runObservers(events).completed(job, run.durationMs);
      }
      await writer.flush();
      const written = await store.eventList({ afterId: '0', limit: 100 });
      expect(written.map((event) => [event.type, event.jobId, JSON.parse(event.data)])).toEqual(
        runs.flatMap((run) => [
          ['job:started', run.id, { attempt: run.attempt, maxAttempts: run.maxAttempts, workerId: run.workerId }],
          ['job:completed', run.id, JSON.parse(JSON.stringify({ attempt: run.attempt, durationMs: Number.isFinite(run.durationMs) ? Math.round(run.durationMs * 1000) / 1000 : null }))],
        ]),
      );
      expect(written.every((event) => event.queue === 'mail' && event.jobName === 'mail.send')).toBe(true);
    });
  }

  it.skipIf(url === null)('while the store fails it keeps at most maxBuffered events, drops the oldest, and writes the rest once the store is back', async () => {
    const { schema, drop } = testSchema(url!, 'feed');
    cleanups.push(drop);
    const store = createPostgresStore({ connectionString: url!, schema, poolSize: 2 });
    cleanups.push(() => store.close());
    await store.migrate();
    const admin = new pg.Client({ connectionString: url! });
    await admin.connect();
    cleanups.push(() => admin.end());
    const table = (name: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;

    const events = new NightshiftEvents();
    const writer = createEventFeedWriter({ store, events, maxBuffered: 50, flushIntervalMs: 10 });
    cleanups.push(() => writer.stop());
    let dropped = 0;
    events.on('feed:dropped', ({ count }) => (dropped += count));
    writer.start();
    // A real failure: the table is not there for a while.
    await admin.query(`ALTER TABLE ${table('event_batches')} RENAME TO batches_away`);
    for (let i = 0; i < 30; i++) events.emit('queue:paused', { queue: `q${i}` });
    await writer.flush();
    expect(writer.buffered).toBe(30);
    for (let i = 30; i < 70; i++) events.emit('queue:paused', { queue: `q${i}` });
    await writer.flush();
    expect(writer.buffered).toBe(50);
    expect(dropped).toBe(20);
    // A run's events wait too, and are written with their own data once the store is back.
    const job = { id: '7', name: 'mail.send', queue: 'q70', attempt: 2, maxAttempts: 4 } as unknown as JobRecord;
    runObservers(events).started(job, 'w-9');
    runObservers(events).completed(job, 3.25);
    await writer.flush();
    expect(writer.buffered).toBe(50);
    expect(dropped).toBe(22);

    await admin.query(`ALTER TABLE ${table('batches_away')} RENAME TO event_batches`);
    while (writer.buffered > 0) await writer.flush();
    expect(await allEvents(store)).toEqual([...Array.from({ length: 48 }, (_, i) => `q${i + 22}`), 'q70', 'q70']);
    const run = (await store.eventList({ afterId: '0', limit: 100 })).slice(-2);
    expect(run.map((event) => [event.type, JSON.parse(event.data)])).toEqual([
      ['job:started', { attempt: 2, maxAttempts: 4, workerId: 'w-9' }],
      ['job:completed', { attempt: 2, durationMs: 3.25 }],
    ]);
  });
});

describe('durations in feed events', () => {
  it('reads back what JSON prints for the duration rounded to the microsecond, as a number or not', () => {
    const json = (ms: number) => JSON.stringify(Number.isFinite(ms) ? Math.round(ms * 1000) / 1000 : null);
    const durationsRead = (durations: number[]): string[] => {
      const builder = new EventBatchBuilder();
      for (const ms of durations) builder.addCompleted('job:completed', 'q', 'n', '1', 1, ms);
      return decodeEventBatch(builder.seal()!.bytes).map((event) => JSON.stringify((JSON.parse(event.data) as { durationMs: unknown }).durationMs));
    };
    const edges = [0, 0.0004, 0.0005, 0.001, 0.01, 0.1, 0.12, 0.1234, 1, 1.5, 2.25, 9.999, 10.001, 999.9995, 1e6 + 0.5, 2_147_483_646.999, 2_147_483_647, 3e12, -0.4, -1.25, NaN, Infinity, -Infinity];
    expect(durationsRead(edges)).toEqual(edges.map(json));
    // A fixed pseudo-random sweep over durations from sub-millisecond to hours.
    let seed = 42;
    const sweep: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      sweep.push((seed / 2_147_483_648) * 10 ** ((i % 8) - 2));
    }
    expect(durationsRead(sweep)).toEqual(sweep.map(json));
  });
});

describe('pruner: event retention', () => {
  it('deletes feed events older than eventsMs (default 1 hour), keeps newer ones', async () => {
    const clock = new TestClock();
    const store = sqliteStore(clock);
    await store.migrate();
    const event = (queue: string) => ({ type: 'queue:paused', queue, jobName: null, jobId: null, data: '{}' });
    await store.eventAppend({ batches: encodeEvents([event('old')]) });
    clock.advance(EVENT_RETENTION_MS - 60_000);
    await store.eventAppend({ batches: encodeEvents([event('recent')]) });
    clock.advance(120_000);
    let pruned = -1;
    await createPruner({ store, onEventsPruned: (deleted) => (pruned = deleted) }).runNow();
    expect(pruned).toBe(1);
    expect(await allEvents(store)).toEqual(['recent']);
    await createPruner({ store, retention: { eventsMs: 30_000 } }).runNow();
    expect(await allEvents(store)).toEqual([]);
  });
});
