import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { openRuntime, openTempStore, until, type Runtime, type TempStore } from '../fixtures/sqlite-runtime.js';

const CHILDREN = 25;

/** A child job and a parent fanning out to it through the handler context. */
function fanOutJobs() {
  const child = defineJob({
    name: 'fan.child',
    queue: 'children',
    schema: z.object({ parentId: z.string(), index: z.number().int() }),
    handler: ({ index }) => ({ square: index * index }),
  });
  const parent = defineJob({
    name: 'fan.parent',
    schema: z.object({ count: z.number().int().positive() }),
    handler: async ({ count }, ctx) => {
      // Typed by the child's schema; keyed so that a retried parent adds nothing twice.
      const results = await ctx.enqueueMany(
        child,
        Array.from({ length: count }, (_, index) => ({ parentId: ctx.id, index })),
        { keyOf: (payload) => `${payload.parentId}:${payload.index}` },
      );
      // By name too, with options.
      const { job: summary } = await ctx.enqueue('fan.summary', { parentId: ctx.id }, { priority: 5 });
      return { children: results.map((result) => result.job.id), summary: summary.id };
    },
  });
  const summary = defineJob({ name: 'fan.summary', schema: z.object({ parentId: z.string() }), handler: ({ parentId }) => `summary of ${parentId}` });
  return { child, parent, summary };
}

let runtime: Runtime | null = null;
let temp: TempStore | null = null;
let nightshift: Nightshift | null = null;
afterEach(async () => {
  await nightshift?.stop();
  nightshift = null;
  await runtime?.close();
  runtime = null;
  await temp?.cleanup();
  temp = null;
});

describe('enqueueing from a handler', () => {
  it('fans out from a parent job to N children on the worker\'s own SQLite store, and all complete', async () => {
    const { child, parent, summary } = fanOutJobs();
    runtime = await openRuntime([parent, child, summary]);
    const { client, events, worker, store } = runtime;
    const childrenDone = new Set<string>();
    events.on('job:completed', ({ job }) => {
      if (job.name === 'fan.child') childrenDone.add(job.id);
    });
    const parentDone = events.waitFor('job:completed', ({ job }) => job.name === 'fan.parent');
    await worker.start();
    const { job } = await client.enqueue(parent, { count: CHILDREN });

    const { result } = await parentDone;
    const { children, summary: summaryId } = result as { children: string[]; summary: string };
    expect(children).toHaveLength(CHILDREN);
    // The store's wake-up listener starts the children: no poll interval to wait out (it is 60 s here).
    await until(() => childrenDone.size === CHILDREN, `all ${CHILDREN} children complete`);
    expect([...childrenDone].sort()).toEqual([...children].sort());

    const stored = await Promise.all(children.map((id) => client.get(id)));
    expect(stored.map((record) => record.payload)).toEqual(Array.from({ length: CHILDREN }, (_, index) => ({ parentId: job.id, index })));
    expect(stored.every((record) => record.state === 'completed' && record.queue === 'children')).toBe(true);
    expect(stored.map((record) => record.result)).toEqual(Array.from({ length: CHILDREN }, (_, index) => ({ square: index * index })));
    await until(async () => (await store.jobGet({ id: summaryId }))?.state === 'completed', 'the summary job completes');
    expect((await client.get(summaryId)).priority).toBe(5);
    expect((await client.get(job.id)).state).toBe('completed');
  });

  it('validates what a handler enqueues: a bad child payload fails the parent and writes nothing', async () => {
    const { child, summary } = fanOutJobs();
    const careless = defineJob({
      name: 'fan.careless',
      schema: z.object({}),
      retry: { attempts: 1 },
      handler: async (_payload, ctx) => {
        await ctx.enqueueMany(child, [{ parentId: ctx.id, index: 0 }, { parentId: ctx.id, index: 0.5 }]);
      },
    });
    runtime = await openRuntime([careless, child, summary]);
    const { client, events, worker } = runtime;
    await worker.start();
    const failed = events.waitFor('job:failed');
    await client.enqueue(careless, {});
    const { error } = await failed;
    expect(error.message).toContain('item 1');
    expect((await client.list({ job: 'fan.child' })).jobs).toEqual([]);
  });

  it('enqueues through the runtime\'s client under createNightshift: its jobs, events and payload limit', async () => {
    const { summary } = fanOutJobs();
    const namer = defineJob({
      name: 'fan.namer',
      schema: z.object({ note: z.string() }),
      retry: { attempts: 1 },
      // Doubles the note: a note that fits the parent's payload can overflow the child's.
      handler: async ({ note }, ctx) => (await ctx.enqueue('fan.summary', { parentId: note + note })).job.id,
    });
    temp = await openTempStore();
    nightshift = createNightshift({ store: temp.store, jobs: [namer, summary], maxPayloadBytes: 200 });
    const { events } = nightshift;
    await nightshift.start();

    const enqueued = events.waitFor('job:enqueued', ({ job }) => job.name === 'fan.summary');
    const completed = events.waitFor('job:completed', ({ job }) => job.name === 'fan.summary');
    await nightshift.enqueue(namer, { note: 'short' });
    const { job } = await enqueued;
    expect((await completed).job.id).toBe(job.id);

    // The runtime's 200-byte limit applies inside handlers too.
    const failed = events.waitFor('job:failed', ({ job: parent }) => parent.name === 'fan.namer');
    await nightshift.enqueue(namer, { note: 'x'.repeat(100) }, { key: 'long' });
    const parentFailed = await failed;
    expect(parentFailed.error.message).toMatch(/200/);
    const summaries = await nightshift.client.list({ job: 'fan.summary' });
    expect(summaries.jobs.map((record) => record.id)).toEqual([job.id]);
  });
});
