// Nightshift harness, on the SQLite or PostgreSQL store. Uses the built package (dist/, made by
// `npm run build`, which `npm run bench` runs first) through its public entry point, exactly as an
// application would: `enqueue` awaited per job, `enqueueMany` for bulk (one insert statement per
// batch), and `createNightshift` with the queue's concurrency for consumption.
import { z } from 'zod';
import { loadNightshift, rateLimitSupported } from './nightshift-exports.mjs';
import { ALERT_RULES } from '../alert-rules.mjs';

export const name = 'nightshift';
export const packageName = 'nightshift';
/** Settings used, printed with the results. */
export const settings =
  'enqueue / enqueueMany; createNightshift with queue concurrency, store and runtime defaults otherwise (lease, polls, rescuer, pruner); ' +
  'W6: defineJob concurrencyKey on the payload\'s key, perKey 1; W7: queue rateLimit { max, perMs }; ' +
  'W8: client.flow (the tree in one transaction), child and parent jobs on one queue, ctx.childResults() in the parent';

/** Caveats printed under the table for a case. */
export function caseNotes(workloadId, store) {
  if (workloadId === 'W4' && store === 'sqlite') return ['SQLite cannot notify other processes: the store notices their commits by polling the database file (changePollIntervalMs)'];
  return [];
}

const JOB_NAME = 'bench';
const payloadSchema = z.object({ seq: z.number().int().min(0), t: z.number(), key: z.string().optional() });

/**
 * The bench job's definition: with `ctx.perKey` (W6), jobs of one payload `key` run at most
 * `perKey` at once. Producer and worker define it alike, so the key is stored at enqueue.
 * @param {Record<string, any>} api
 * @param {import('./case-context.mjs').CaseContext} ctx
 * @param {(payload: { seq: number, t: number, key?: string }) => unknown} handler
 */
function benchJob(api, ctx, handler) {
  const perKey = ctx.perKey === null || ctx.perKey === undefined ? {} : { concurrencyKey: 'key', perKey: ctx.perKey };
  return api.defineJob({ name: JOB_NAME, queue: ctx.queue, schema: payloadSchema, ...perKey, handler });
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
async function openStore(ctx) {
  const api = await loadNightshift();
  const store =
    ctx.store === 'sqlite'
      ? api.createSqliteStore({ path: ctx.sqlitePath })
      : api.createPostgresStore({ connectionString: ctx.pgUrl, schema: ctx.namespace });
  await store.migrate();
  return { api, store };
}

/**
 * The runtime opened by `openWorker` in this process, if any. A producer in the same process
 * enqueues through it, as an application does with `nightshift.enqueue`: one store, and the
 * in-process wake-up instead of a notification or a poll.
 * @type {{ app: { client: { enqueue: Function, enqueueMany: Function } }, job: unknown } | null}
 */
let inProcessRuntime = null;

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openProducer(ctx) {
  if (inProcessRuntime) {
    const { app, job } = inProcessRuntime;
    return {
      enqueueOne: async (payload) => {
        await app.client.enqueue(job, payload);
      },
      enqueueMany: async (payloads) => {
        await app.client.enqueueMany(job, payloads);
      },
      close: async () => undefined, // the worker owns the store
    };
  }
  const { api, store } = await openStore(ctx);
  // The client only needs the name, queue and schema; the handler never runs in this process.
  const job = benchJob(api, ctx, () => undefined);
  const client = api.createClient({ store, jobs: [job] });
  return {
    enqueueOne: async (payload) => {
      await client.enqueue(job, payload);
    },
    enqueueMany: async (payloads) => {
      await client.enqueueMany(job, payloads);
    },
    close: () => store.close(),
  };
}

/**
 * @param {import('./case-context.mjs').CaseContext} ctx
 * @param {{ concurrency: number, handle: (payload: { seq: number, t: number }) => Promise<void> | void, surfaces?: 'off' | 'on' }} options
 *   `surfaces`: metrics, process registry, event feed and activity stats all off or all on; `alerts`: all on
 *   and ALERT_RULES evaluated; unset: defaults.
 */
export async function openWorker(ctx, { concurrency, handle, surfaces }) {
  // An option the build does not know would be ignored, and W7 would measure an unlimited queue.
  if (ctx.rateLimit && !rateLimitSupported()) {
    throw new Error('this build of Nightshift has no queue rateLimit option (none in QueueOptions, dist/worker/worker-options.d.ts)');
  }
  const { api, store } = await openStore(ctx);
  const job = benchJob(api, ctx, async (payload) => {
    await handle(payload);
  });
  const on = surfaces === 'on' || surfaces === 'alerts';
  const switches = surfaces === undefined ? {} : { metrics: on, processRegistry: on, eventFeed: on, stats: on, ...(surfaces === 'alerts' ? { alerts: { rules: ALERT_RULES } } : {}) };
  // BENCH_SURFACES=metrics,eventFeed,… : only those on in W3O (to see what each costs).
  if (on && process.env.BENCH_SURFACES) for (const key of ['metrics', 'processRegistry', 'eventFeed', 'stats']) switches[key] = process.env.BENCH_SURFACES.split(',').includes(key);
  const queue = { concurrency, ...(ctx.rateLimit ? { rateLimit: { max: ctx.rateLimit.max, perMs: ctx.rateLimit.perMs } } : {}) };
  const app = api.createNightshift({ store, jobs: [job], queues: { [ctx.queue]: queue }, ...switches });
  inProcessRuntime = { app, job };
  return {
    start: () => app.start(),
    stop: async () => {
      await app.stop();
      await store.close();
    },
  };
}

const flowPayloadSchema = z.object({ seq: z.number().int().min(0) });

/**
 * The flow jobs of W8, on the bench queue: children and their parent are two job names of one
 * queue, so one worker with the queue's concurrency runs both.
 * @param {Record<string, any>} api
 * @param {import('./case-context.mjs').CaseContext} ctx
 */
function flowJobs(api, ctx, { child = () => undefined, parent = () => undefined } = {}) {
  return {
    child: api.defineJob({ name: `${JOB_NAME}.child`, queue: ctx.queue, schema: flowPayloadSchema, handler: child }),
    parent: api.defineJob({ name: `${JOB_NAME}.parent`, queue: ctx.queue, schema: flowPayloadSchema, handler: parent }),
  };
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openFlowProducer(ctx) {
  const { api, store } = await openStore(ctx);
  const jobs = flowJobs(api, ctx);
  const client = api.createClient({ store, jobs: [jobs.child, jobs.parent] });
  return {
    // One call: the client inserts the whole tree in one transaction.
    enqueueFlow: async ({ parent, children }) => {
      await client.flow({ job: jobs.parent, data: parent, children: children.map((data) => ({ job: jobs.child, data })) });
    },
    close: () => store.close(),
  };
}

/**
 * @param {import('./case-context.mjs').CaseContext} ctx
 * @param {{ concurrency: number, child: (payload: { seq: number }) => unknown, parent: (payload: { seq: number }, readChildResults: () => Promise<{ completed: boolean, result: unknown }[]>) => Promise<unknown> }} options
 */
export async function openFlowWorker(ctx, { concurrency, child, parent }) {
  const { api, store } = await openStore(ctx);
  const jobs = flowJobs(api, ctx, {
    child: async (payload) => child(payload),
    parent: async (payload, jobCtx) =>
      parent(payload, async () => (await jobCtx.childResults()).map((entry) => ({ completed: entry.state === 'completed', result: entry.result }))),
  });
  const app = api.createNightshift({ store, jobs: [jobs.child, jobs.parent], queues: { [ctx.queue]: { concurrency } } });
  return {
    start: () => app.start(),
    stop: async () => {
      await app.stop();
      await store.close();
    },
  };
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openObserver(ctx) {
  const { store } = await openStore(ctx);
  return {
    countCompleted: async () => {
      const stats = await store.jobStats();
      const queue = stats.queues.find((entry) => entry.queue === ctx.queue);
      return queue ? queue.counts.completed : 0;
    },
    storedSeqs: async () => {
      const seqs = [];
      let cursor = null;
      // Bounded: 1,000 pages of 1,000 is far above the largest workload.
      for (let page = 0; page < 1_000; page++) {
        const result = await store.jobList({ filter: { queues: [ctx.queue] }, limit: 1_000, cursor });
        for (const record of result.jobs) seqs.push(JSON.parse(record.payload).seq);
        cursor = result.nextCursor;
        if (cursor === null) break;
      }
      return seqs;
    },
    close: () => store.close(),
  };
}
