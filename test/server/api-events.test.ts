// GET /api/events: the cluster-wide event feed over real HTTP, with the jobs run by a worker in
// another process, on SQLite and PostgreSQL. Streams are parsed from the fetch body as they come.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { killAll, spawnWorker, stopAll, type ChildWorker } from '../fixtures/child-workers.js';
import { spawnPgWorker } from '../postgres/fixtures/pg-child-workers.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

// The same definition as the worker processes': this process only enqueues it.
const count = defineJob({ name: 'count', schema: z.object({ n: z.number() }), handler: ({ n }) => ({ n }) });

interface SseEvent {
  id: string | null;
  event: string;
  data: { id: string; type: string; at: string; queue: string | null; jobName: string | null; jobId: string | null; data: Record<string, unknown> } | Record<string, unknown>;
}

/** An open event stream: every event received so far, and a way to wait for more. */
interface EventStream {
  status: number;
  contentType: string | null;
  events: SseEvent[];
  /** Resolves once `predicate` holds for the events received; the timeout is a safety net. */
  until(predicate: (events: SseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<SseEvent[]>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens `url` and parses Server-Sent Events (id/event/data lines, comments skipped) as they arrive. */
async function openStream(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of response.body) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        let end;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          let id: string | null = null;
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') id = value;
            else if (field === 'event') event = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length === 0) continue; // a comment or a `retry:` line
          events.push({ id, event, data: JSON.parse(data.join('\n')) as SseEvent['data'] });
          for (const wake of [...waiters]) wake();
        }
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    } finally {
      for (const wake of [...waiters]) wake();
    }
  })();
  let done = false;
  void ended.finally(() => {
    done = true;
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    events,
    ended,
    close: () => abort.abort(),
    until(predicate, what, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(events)) {
            finish();
            resolve(events);
          } else if (done) {
            finish();
            reject(new Error(`the stream ended before ${what}; got ${JSON.stringify(events.map((e) => e.event))}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(events.map((e) => `${e.id} ${e.event}`))}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

const jobEvents = (events: SseEvent[], type: string) => events.filter((e) => e.event === type).map((e) => (e.data as { jobId: string }).jobId);

describe('GET /api/events', () => {
  let nightshift: Nightshift | null = null;
  const streams: EventStream[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await stopAll(10_000);
    await killAll();
    await nightshift?.stop();
    nightshift = null;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  for (const kind of ['sqlite', 'postgres'] as const) {
    const url = postgresUrl();
    it.skipIf(kind === 'postgres' && url === null)(`on ${kind}: streams another process's job events, filters, resumes from Last-Event-ID, says when it cannot`, async () => {
      let store: Store;
      let child: ChildWorker;
      if (kind === 'sqlite') {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-events-'));
        cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
        const file = path.join(dir, 'jobs.db');
        store = createSqliteStore({ path: file });
        await store.migrate();
        child = spawnWorker({ NS_DB: file, NS_WORKER_ID: 'remote-worker' });
      } else {
        const schema = testSchema(url!, 'events');
        cleanups.push(schema.drop);
        store = createPostgresStore({ connectionString: url!, schema: schema.schema, poolSize: 3 });
        await store.migrate();
        child = spawnPgWorker({ NS_PG_URL: url!, NS_SCHEMA: schema.schema, NS_WORKER_ID: 'remote-worker' });
      }
      const opened = store;
      cleanups.push(() => opened.close());
      // This process only enqueues and serves the API; the child runs every job.
      nightshift = createNightshift({ store, jobs: [count], worker: false, http: { port: 0 } });
      await nightshift.start();
      const base = nightshift.httpAddress!;
      await child.waitForLine((line) => line.type === 'ready');

      const all = await openStream(`${base}/api/events?name=count`);
      streams.push(all);
      expect(all.status).toBe(200);
      expect(all.contentType).toMatch(/^text\/event-stream/);
      const completedOnly = await openStream(`${base}/api/events?type=job:completed&queue=default`);
      streams.push(completedOnly);
      const otherQueue = await openStream(`${base}/api/events?queue=elsewhere`);
      streams.push(otherQueue);

      const first = await nightshift.enqueueMany(count, [{ n: 1 }, { n: 2 }, { n: 3 }]);
      const firstIds = first.map((result) => result.job.id);
      await all.until((events) => firstIds.every((id) => jobEvents(events, 'job:completed').includes(id)), 'three completions from the other process');
      for (const id of firstIds) {
        const mine = all.events.filter((e) => (e.data as { jobId: string }).jobId === id).map((e) => e.event);
        // The enqueue is written by this process, start and completion by the worker's: each
        // process's events keep their order, but two processes' are in the order they were written.
        expect([...mine].sort()).toEqual(['job:completed', 'job:enqueued', 'job:started']);
        expect(mine.indexOf('job:started')).toBeLessThan(mine.indexOf('job:completed'));
      }
      const started = all.events.find((e) => e.event === 'job:started')!;
      expect(started.data).toMatchObject({ type: 'job:started', queue: 'default', jobName: 'count', data: { attempt: 1, workerId: 'remote-worker' } });
      expect(started.id).toBe((started.data as { id: string }).id);
      const ids = all.events.map((e) => BigInt(e.id!));
      for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
      // No payloads in the feed.
      expect(JSON.stringify(all.events)).not.toContain('"n":');

      await completedOnly.until((events) => events.length >= 3, 'the filtered stream');
      expect(completedOnly.events.map((e) => e.event)).toEqual(['job:completed', 'job:completed', 'job:completed']);

      // A queue pause from the API is an event too (a queue filter that matches no job shows only it).
      expect((await fetch(`${base}/api/queues/elsewhere/pause`, { method: 'POST' })).status).toBe(200);
      await otherQueue.until((events) => events.length >= 1, 'the pause');
      expect(otherQueue.events.map((e) => e.event)).toEqual(['queue:paused']);

      // Disconnect after the second event, let more happen, reconnect with Last-Event-ID.
      const cursor = all.events[1]!.id!;
      all.close();
      const second = await nightshift.enqueueMany(count, [{ n: 4 }, { n: 5 }]);
      await completedOnly.until((events) => second.every((result) => jobEvents(events, 'job:completed').includes(result.job.id)), 'two more completions');
      const expected = (await store.eventList({ afterId: cursor, limit: 1000, filter: { names: ['count'] } })).map((e) => `${e.id} ${e.type}`);
      expect(expected).toHaveLength(3 * 3 - 2 + 2 * 3);
      const resumed = await openStream(`${base}/api/events?name=count`, { 'last-event-id': cursor });
      streams.push(resumed);
      await resumed.until((events) => events.length >= expected.length, 'the events after the cursor');
      expect(resumed.events.map((e) => `${e.id} ${e.event}`)).toEqual(expected);
      // `?after=` does the same.
      const after = await openStream(`${base}/api/events?name=count&after=${cursor}`);
      streams.push(after);
      await after.until((events) => events.length >= expected.length, 'the events after ?after=');
      expect(after.events.map((e) => `${e.id} ${e.event}`)).toEqual(expected);

      // Past the retention: pruned events are announced with a gap, then the stream goes on.
      await store.eventPrune({ before: new Date(Date.now() + 60_000), limit: 10_000 });
      const late = await openStream(`${base}/api/events`, { 'last-event-id': cursor });
      streams.push(late);
      await late.until((events) => events.length >= 1, 'the gap');
      expect(late.events[0]).toMatchObject({ id: null, event: 'gap', data: { after: cursor } });

      // A cursor beyond the newest event (the store was reset, or the id is another store's):
      // a gap that says so, then every event the feed keeps, instead of silence.
      await nightshift.enqueueMany(count, [{ n: 6 }]);
      await completedOnly.until((events) => events.length >= 6, 'one more completion');
      const kept = (await store.eventList({ afterId: '0', limit: 1000 })).map((e) => `${e.id} ${e.type}`);
      expect(kept.length).toBeGreaterThan(0);
      const ahead = await openStream(`${base}/api/events?after=999999999999999`);
      streams.push(ahead);
      await ahead.until((events) => events.length >= 1 + kept.length, 'the gap and every kept event');
      expect(ahead.events[0]).toMatchObject({ id: null, event: 'gap', data: { after: '999999999999999', message: expect.stringContaining('beyond the newest event') } });
      expect(ahead.events.slice(1, 1 + kept.length).map((e) => `${e.id} ${e.event}`)).toEqual(kept);

      // The OpenAPI document describes the stream.
      const openapi = (await (await fetch(`${base}/api/openapi.json`)).json()) as { paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, unknown> }>; parameters?: { name: string; in: string }[] } }> };
      const route = openapi.paths['/api/events']!.get!;
      expect(Object.keys(route.responses['200']!.content!)).toEqual(['text/event-stream']);
      expect(route.parameters!.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(['after', 'name', 'queue', 'type']);
      expect(route.parameters!.filter((p) => p.in === 'header').map((p) => p.name)).toEqual(['last-event-id']);

      // Bad input is refused before anything streams.
      expect((await fetch(`${base}/api/events?type=job:exploded`)).status).toBe(400);
      expect((await fetch(`${base}/api/events`, { headers: { 'last-event-id': 'abc' } })).status).toBe(400);

      // Stopping the runtime ends the open streams instead of hanging on them.
      const stopped = nightshift.stop();
      await Promise.all([late.ended, resumed.ended, completedOnly.ended]);
      await stopped;
      nightshift = null;
    });
  }
});
