// Feed appends that ride the next job finish on SQLite (sqlite-event-rider.ts), on a real file.
// Commits are counted in the WAL file itself: each commit ends with a frame whose header gives
// the database size after it (zero in every other frame), so the count tells whether an append
// took a transaction of its own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { insertAndClaim } from '../../src/store/conformance/conformance-fixtures.js';
import { encodeEvents } from '../../src/store/event-batches.js';
import { RIDE_RECENT_MS, RIDE_WAIT_MS } from '../../src/store/sqlite/sqlite-event-rider.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { EventInsert, JobRecord, Store } from '../../src/store/types.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Commit frames in the WAL of `file` (those of the WAL's current generation: salts as in its header). */
function walCommits(file: string): number {
  const wal = fs.readFileSync(`${file}-wal`);
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const salts = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salts[0] || wal.readUInt32BE(at + 12) !== salts[1]) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}

async function open(): Promise<{ store: Store; file: string; watcher: Database.Database; commits: () => number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-rider-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'jobs.db');
  const store = createSqliteStore({ path: file });
  cleanups.push(() => store.close());
  await store.migrate();
  const watcher = new Database(file);
  cleanups.push(() => {
    watcher.close();
  });
  return { store, file, watcher, commits: () => walCommits(file) };
}

const event = (jobId: string): EventInsert => ({ type: 'job:completed', queue: 'default', jobName: 'conformance.job', jobId, data: '{"attempt":1}' });
const complete = (store: Store, job: JobRecord) => store.jobFinishMany({ items: [{ id: job.id, token: job.lease!.token, finish: { outcome: 'completed', result: null } }] });
const ids = async (store: Store) => (await store.eventList({ afterId: '0', limit: 100 })).map((e) => e.jobId);
/** Whether `promise` settled by now (after the microtasks already queued). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('sqlite feed appends ride the next job finish', () => {
  it('right after a finish, an append waits for the next one and commits with it: one commit for both', async () => {
    const { store, commits } = await open();
    const first = await insertAndClaim(store);
    const second = await insertAndClaim(store);
    await complete(store, first);
    const before = commits();
    const append = store.eventAppend({ batches: encodeEvents([event('a'), event('b')]) });
    expect(await settled(append)).toBe(false);
    expect(await ids(store)).toEqual([]);
    expect((await complete(store, second)).applied).toEqual([second.id]);
    await append;
    expect(commits() - before).toBe(1);
    expect(await ids(store)).toEqual(['a', 'b']);
  });

  it('an append with no finish to ride with is written on its own within the wait', async () => {
    const { store, commits } = await open();
    await complete(store, await insertAndClaim(store));
    const before = commits();
    const started = performance.now();
    await store.eventAppend({ batches: encodeEvents([event('alone')]) });
    expect(performance.now() - started).toBeGreaterThanOrEqual(RIDE_WAIT_MS - 1);
    expect(commits() - before).toBe(1);
    expect(await ids(store)).toEqual(['alone']);
  });

  it('with no finish lately, an append is written at once', async () => {
    const { store, commits } = await open();
    await complete(store, await insertAndClaim(store));
    await new Promise((resolve) => setTimeout(resolve, RIDE_RECENT_MS + 20));
    const before = commits();
    const append = store.eventAppend({ batches: encodeEvents([event('now')]) });
    expect(commits() - before).toBe(1);
    await append;
    expect(await ids(store)).toEqual(['now']);
  });

  it('an event insert that fails never fails the finish it rides with; the append fails on its own', async () => {
    const { store, watcher } = await open();
    const first = await insertAndClaim(store);
    const second = await insertAndClaim(store);
    watcher.exec(`CREATE TRIGGER refuse_events BEFORE INSERT ON nightshift_event_batches BEGIN SELECT RAISE(ABORT, 'no events today'); END`);
    await complete(store, first);
    const append = store.eventAppend({ batches: encodeEvents([event('refused')]) });
    const caught = append.catch((error: unknown) => error);
    expect((await complete(store, second)).applied).toEqual([second.id]);
    expect((await store.jobGet({ id: second.id }))?.state).toBe('completed');
    const error = await caught;
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toContain('no events today');
    watcher.exec('DROP TRIGGER refuse_events');
    expect(await ids(store)).toEqual([]);
  });

  it('a finish that fails leaves the appends waiting, and they are written on their own', async () => {
    const { store, watcher } = await open();
    const first = await insertAndClaim(store);
    const second = await insertAndClaim(store);
    await complete(store, first);
    const append = store.eventAppend({ batches: encodeEvents([event('kept')]) });
    // The finish fails as a whole (its completion is refused): nothing of it commits.
    watcher.exec(`CREATE TRIGGER refuse_attempts BEFORE UPDATE ON nightshift_jobs WHEN NEW.state = 'completed' BEGIN SELECT RAISE(ABORT, 'not now'); END`);
    await expect(complete(store, second)).rejects.toThrow(/not now/);
    watcher.exec('DROP TRIGGER refuse_attempts');
    await append;
    expect(await ids(store)).toEqual(['kept']);
    expect((await store.jobGet({ id: second.id }))?.state).toBe('running');
  });

  it('closing the store writes the appends still waiting', async () => {
    const { store, file } = await open();
    await complete(store, await insertAndClaim(store));
    const append = store.eventAppend({ batches: encodeEvents([event('late')]) });
    await store.close();
    await append;
    const reader = new Database(file, { readonly: true });
    cleanups.push(() => {
      reader.close();
    });
    expect(reader.prepare('SELECT count(*) FROM nightshift_event_batches').pluck().get()).toBe(1);
  });
});

describe('sqlite feed rows', () => {
  it('are stored as bytes (a BLOB), and rows of text or packed text written before still read, in order', async () => {
    const { store, watcher } = await open();
    await store.eventAppend({ batches: encodeEvents([event('bytes-1'), event('bytes-2')]) });
    expect(watcher.prepare('SELECT typeof(events) FROM nightshift_event_batches').pluck().all()).toEqual(['blob']);
    // Rows as earlier versions wrote them: a batch's text (format 2), and that text packed.
    const text = (id: string) => `{"v":2,"d":["job:completed","default","conformance.job"],"e":[[0,1,2,${JSON.stringify(id)},{"attempt":1}]]}`;
    const insert = watcher.prepare('INSERT INTO nightshift_event_batches (at, n, events) VALUES (?, 1, ?)');
    insert.run(Date.now(), text('text-1'));
    insert.run(Date.now(), deflateRawSync(text('packed-1')));
    await store.eventAppend({ batches: encodeEvents([event('bytes-3')]) });
    expect(await ids(store)).toEqual(['bytes-1', 'bytes-2', 'text-1', 'packed-1', 'bytes-3']);
    const read = await store.eventList({ afterId: '0', limit: 100 });
    for (const one of read) expect(one).toMatchObject({ type: 'job:completed', queue: 'default', jobName: 'conformance.job', data: '{"attempt":1}' });
  });
});
