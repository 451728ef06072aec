// BullMQ 6 harness on Redis (ioredis driver). Fastest documented paths: `Queue.add` for single
// jobs, `Queue.addBulk` (one pipelined MULTI) for bulk, and a `Worker` with `concurrency`, which
// fetches the next job in the same Lua call that completes the previous one.
//
// Completed jobs are kept (the default) so that the completed set in Redis is what the run counts;
// `removeOnComplete` would be a little faster but would leave nothing to count.
import { FlowProducer, Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

export const name = 'bullmq';
export const packageName = 'bullmq';
/** Settings used, printed with the results. */
export const settings =
  'add / addBulk; Worker concurrency, ioredis, completed jobs kept (default); W7: Worker limiter { max, duration }; ' +
  'W8: FlowProducer.add (one MULTI), children and parent on one queue, job.getChildrenValues() in the parent';

/** Caveats printed under the table for a case. */
export function caseNotes(workloadId) {
  if (workloadId === 'W7') {
    return [
      'the limiter is a fixed window: a counter in Redis incremented as each job becomes active, expiring `duration` after the first (prepareJobForProcessing.lua); ' +
        'the starts of one window and of the next can fall within one second',
    ];
  }
  return [];
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
function connection(ctx) {
  const url = new URL(ctx.redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    // Required by BullMQ for the blocking connection of a Worker.
    maxRetriesPerRequest: null,
  };
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openProducer(ctx) {
  const queue = new Queue(ctx.queue, { connection: connection(ctx), prefix: ctx.namespace });
  await queue.waitUntilReady();
  return {
    enqueueOne: async (payload) => {
      await queue.add('bench', payload);
    },
    enqueueMany: async (payloads) => {
      await queue.addBulk(payloads.map((data) => ({ name: 'bench', data })));
    },
    close: () => queue.close(),
  };
}

/**
 * @param {import('./case-context.mjs').CaseContext} ctx
 * @param {{ concurrency: number, handle: (payload: { seq: number, t: number }) => Promise<void> | void }} options
 */
export async function openWorker(ctx, { concurrency, handle }) {
  const worker = new Worker(
    ctx.queue,
    async (job) => {
      await handle(job.data);
    },
    {
      connection: connection(ctx),
      prefix: ctx.namespace,
      concurrency,
      autorun: false,
      // W7: BullMQ's queue-wide rate limiter (kept in Redis, so shared by every worker of the queue).
      ...(ctx.rateLimit ? { limiter: { max: ctx.rateLimit.max, duration: ctx.rateLimit.perMs } } : {}),
    },
  );
  worker.on('error', (error) => process.emitWarning(`bullmq worker: ${error.message}`));
  await worker.waitUntilReady();
  /** @type {Promise<void> | null} */
  let running = null;
  return {
    start: async () => {
      running = worker.run();
    },
    stop: async () => {
      await worker.close();
      await running;
    },
  };
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openFlowProducer(ctx) {
  const flows = new FlowProducer({ connection: connection(ctx), prefix: ctx.namespace });
  await flows.waitUntilReady();
  return {
    // FlowProducer.add writes the whole tree in one MULTI: all of it or nothing.
    enqueueFlow: async ({ parent, children }) => {
      await flows.add({ name: 'parent', queueName: ctx.queue, data: parent, children: children.map((data) => ({ name: 'child', queueName: ctx.queue, data })) });
    },
    close: () => flows.close(),
  };
}

/**
 * Children and parent on one queue, so one Worker with the concurrency runs both; the job name tells them apart.
 * @param {import('./case-context.mjs').CaseContext} ctx
 * @param {{ concurrency: number, child: (payload: { seq: number }) => unknown, parent: (payload: { seq: number }, readChildResults: () => Promise<{ completed: boolean, result: unknown }[]>) => Promise<unknown> }} options
 */
export async function openFlowWorker(ctx, { concurrency, child, parent }) {
  const worker = new Worker(
    ctx.queue,
    async (job) => {
      if (job.name !== 'parent') return child(job.data);
      // getChildrenValues holds the return values of the children that completed, keyed by job key.
      return parent(job.data, async () => Object.values(await job.getChildrenValues()).map((result) => ({ completed: true, result })));
    },
    { connection: connection(ctx), prefix: ctx.namespace, concurrency, autorun: false },
  );
  worker.on('error', (error) => process.emitWarning(`bullmq worker: ${error.message}`));
  await worker.waitUntilReady();
  /** @type {Promise<void> | null} */
  let running = null;
  return {
    start: async () => {
      running = worker.run();
    },
    stop: async () => {
      await worker.close();
      await running;
    },
  };
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openObserver(ctx) {
  const queue = new Queue(ctx.queue, { connection: connection(ctx), prefix: ctx.namespace });
  await queue.waitUntilReady();
  return {
    countCompleted: () => queue.getCompletedCount(),
    storedSeqs: async () => {
      const seqs = [];
      const page = 5_000;
      // Bounded: a queue never holds more than the largest workload.
      for (let start = 0; start < 1_000_000; start += page) {
        const jobs = await queue.getWaiting(start, start + page - 1);
        for (const job of jobs) seqs.push(job.data?.seq);
        if (jobs.length < page) break;
      }
      return seqs;
    },
    /** Deletes every key of this case (the queue's keys all live under the unique prefix). */
    destroy: async () => {
      await queue.obliterate({ force: true });
      // Sweep anything obliterate leaves (e.g. the events stream), still only under our prefix.
      const client = new IORedis(ctx.redisUrl);
      try {
        let cursor = '0';
        for (let i = 0; i < 100_000; i++) {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${ctx.namespace}:*`, 'COUNT', 1000);
          if (keys.length > 0) await client.unlink(...keys);
          cursor = next;
          if (cursor === '0') break;
        }
      } finally {
        client.disconnect();
      }
    },
    close: () => queue.close(),
  };
}
