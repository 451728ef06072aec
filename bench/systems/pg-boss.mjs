// pg-boss 10 harness. Fastest documented paths: `send` for single jobs, `insert` (one statement)
// for bulk, and `work({ batchSize })` for consumption: a batch is fetched in one SKIP LOCKED query
// and completed in one statement.
//
// pg-boss 10 has no per-worker concurrency option (teamSize was removed); a worker loop fetches a
// batch, runs the handler, then sleeps for the rest of `pollingIntervalSeconds` (minimum 0.5 s) unless
// `notifyWorker(id)` was called. So "concurrency C" is one `work()` loop with batchSize C whose
// handler runs the batch in parallel, and a loop that got a full batch calls `notifyWorker` so it
// fetches again at once instead of sleeping while a backlog exists. Without that, 20,000 jobs at 10
// per 0.5 s would take over 16 minutes, which measures the poll interval, not pg-boss. (Splitting C
// over several loops was tried and was slower on this workload.)
//
// W6 (per-key concurrency 1): a queue with the `singleton` policy ("only 1 job active, unlimited
// queued; can be extended with singletonKey"), each job's key as its singletonKey. The fetch takes
// at most one job per key from each batch it locks and a unique index refuses a second active job
// of a key. A batch can then come back short although the queue is not empty, so in that workload
// the loop asks for the next batch after any non-empty one, not only after a full one. And the
// handler completes its batch itself before returning: pg-boss completes a batch after the handler
// without awaiting it, so the next fetch could meet a key of that batch still active; the unique
// index then fails the fetch, which pg-boss reports as no jobs, and the loop sleeps a poll interval
// (measured: 1,000 jobs took 0.7 to 8.5 s that way). Its own completion after ours updates nothing.
import PgBoss from 'pg-boss';
import pg from 'pg';

/** `work()` loops per worker process; each takes concurrency/LOOPS jobs per fetch. */
const LOOPS = 1;

export const name = 'pg-boss';
export const packageName = 'pg-boss';
/** Settings used, printed with the results. */
export const settings =
  'send / insert; one work() loop, batchSize = concurrency, handler runs the batch in parallel, notifyWorker after a full batch, pollingIntervalSeconds 0.5 (minimum); ' +
  'W6: queue policy singleton, singletonKey = the key, handler completes its batch itself, notifyWorker after any non-empty batch';

/** Caveats printed under the table for a case. */
export function caseNotes(workloadId) {
  if (workloadId === 'W4') return ['pg-boss 10 does not notify workers of new jobs: they are found by its poll (0.5 s minimum)'];
  return [];
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
/** The bench queue's options: the singleton policy when jobs carry a per-key limit of 1 (W6). */
function queueOptions(ctx) {
  if (ctx.perKey === null || ctx.perKey === undefined) return {};
  if (ctx.perKey !== 1) throw new Error(`pg-boss limits a singletonKey to 1 active job, not ${ctx.perKey}`);
  return { policy: 'singleton' };
}

function newBoss(ctx, max) {
  const boss = new PgBoss({ connectionString: ctx.pgUrl, schema: ctx.namespace, schedule: false, max });
  // pg-boss reports worker and maintenance errors as events; an unhandled 'error' would crash.
  boss.on('error', (error) => process.emitWarning(`pg-boss: ${error.message}`));
  return boss;
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openProducer(ctx) {
  const boss = newBoss(ctx, 10);
  await boss.start();
  await boss.createQueue(ctx.queue, queueOptions(ctx));
  const keyed = ctx.perKey !== null && ctx.perKey !== undefined;
  return {
    enqueueOne: async (payload) => {
      await boss.send(ctx.queue, payload, keyed ? { singletonKey: payload.key } : {});
    },
    enqueueMany: async (payloads) => {
      await boss.insert(payloads.map((data) => (keyed ? { name: ctx.queue, data, singletonKey: data.key } : { name: ctx.queue, data })));
    },
    close: () => boss.stop({ graceful: false, wait: true }),
  };
}

/**
 * @param {import('./case-context.mjs').CaseContext} ctx
 * @param {{ concurrency: number, handle: (payload: { seq: number, t: number }) => Promise<void> | void }} options
 */
export async function openWorker(ctx, { concurrency, handle }) {
  const loops = Math.min(LOOPS, concurrency);
  const boss = newBoss(ctx, Math.max(10, loops + 4));
  await boss.start();
  await boss.createQueue(ctx.queue, queueOptions(ctx));
  const keyed = ctx.perKey !== null && ctx.perKey !== undefined;
  return {
    start: async () => {
      for (let i = 0; i < loops; i++) {
        const batchSize = Math.floor(concurrency / loops) + (i < concurrency % loops ? 1 : 0);
        let id = null;
        id = await boss.work(ctx.queue, { batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => {
          await Promise.all(jobs.map((job) => handle(job.data)));
          if (keyed) await boss.complete(ctx.queue, jobs.map((job) => job.id));
          if ((keyed ? jobs.length > 0 : jobs.length === batchSize) && id !== null) boss.notifyWorker(id);
        });
      }
    },
    stop: () => boss.stop({ graceful: true, wait: true, timeout: 30_000 }),
  };
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openObserver(ctx) {
  const client = new pg.Client({ connectionString: ctx.pgUrl });
  await client.connect();
  const table = `${pg.escapeIdentifier(ctx.namespace)}.job`;
  return {
    countCompleted: async () => {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table} WHERE name = $1 AND state = 'completed'`, [ctx.queue]);
      return rows[0].n;
    },
    storedSeqs: async () => {
      const { rows } = await client.query(`SELECT (data->>'seq')::int AS seq FROM ${table} WHERE name = $1`, [ctx.queue]);
      return rows.map((row) => row.seq);
    },
    close: () => client.end(),
  };
}
