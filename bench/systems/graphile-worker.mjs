// graphile-worker 0.17 harness. Fastest documented paths: `addJob` for single jobs, `addJobs`
// (one call of the `add_jobs` SQL function) for bulk, and a runner with prepared statements on,
// LISTEN/NOTIFY for new jobs, the batching options of its performance guide (`localQueue` so
// one query locks a batch; `completeJobBatchDelay: 0` so completions issued together are written
// together) and a pool of `concurrency + 2` as its option docs recommend.
//
// graphile-worker deletes a job when it completes, so "completed in the store" is "no longer in
// the jobs table".
//
// W6 (per-key concurrency 1): each job's key as its `queueName`; graphile-worker runs the jobs of
// one named queue one at a time ("only specify if you want jobs in this queue to run serially").
// Without the local queue: in 0.17.3 its batched fetch can lock several jobs of one named queue at
// once and run them together (graphile/worker#621, fixed after 0.17.3 by #622). Measured here with
// each key's 20 jobs seeded together: 10 of one queue at once with the local queue, 1 without.
import pg from 'pg';
import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';

export const name = 'graphile-worker';
export const packageName = 'graphile-worker';
/** Settings used, printed with the results. */
export const settings =
  'addJob / addJobs; run() with prepared statements, LISTEN/NOTIFY, localQueue.size = 5 x concurrency, completeJobBatchDelay 0, pool concurrency + 2; ' +
  'W6: queueName = the key, no localQueue (graphile/worker#621)';

const TASK = 'bench';
const silentLogger = new Logger(() => () => {});

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openProducer(ctx) {
  const utils = await makeWorkerUtils({ connectionString: ctx.pgUrl, schema: ctx.namespace, logger: silentLogger });
  await utils.migrate();
  if (ctx.perKey !== null && ctx.perKey !== undefined && ctx.perKey !== 1) throw new Error(`graphile-worker runs a named queue one job at a time, not ${ctx.perKey}`);
  // A named queue per key runs its jobs one at a time (W6).
  const spec = ctx.perKey ? (payload) => ({ queueName: payload.key }) : () => ({});
  return {
    enqueueOne: async (payload) => {
      await utils.addJob(TASK, payload, spec(payload));
    },
    enqueueMany: async (payloads) => {
      await utils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload, ...spec(payload) })));
    },
    close: () => utils.release(),
  };
}

/**
 * @param {import('./case-context.mjs').CaseContext} ctx
 * @param {{ concurrency: number, handle: (payload: { seq: number, t: number }) => Promise<void> | void }} options
 */
export async function openWorker(ctx, { concurrency, handle }) {
  const options = {
    connectionString: ctx.pgUrl,
    schema: ctx.namespace,
    concurrency,
    maxPoolSize: Math.max(10, concurrency + 2),
    noHandleSignals: true,
    noPreparedStatements: false,
    // Only matters for jobs scheduled in the future: new jobs arrive by LISTEN/NOTIFY.
    pollInterval: 1000,
    logger: silentLogger,
    taskList: {
      [TASK]: async (payload) => {
        await handle(/** @type {{ seq: number, t: number }} */ (payload));
      },
    },
    preset: {
      worker: {
        // The guide suggests concurrency + 1 as a start and more for very fast tasks; 5 x concurrency
        // ran no-op and 5 ms jobs 2-3x faster than concurrency + 1 here, and 10x gained nothing more.
        // Off for named queues (W6): see the header.
        ...(ctx.perKey ? {} : { localQueue: { size: concurrency * 5 } }),
        completeJobBatchDelay: 0,
      },
    },
  };
  await runMigrations(options);
  /** @type {import('graphile-worker').Runner | null} */
  let runner = null;
  return {
    start: async () => {
      runner = await run(options);
    },
    stop: async () => {
      if (runner) await runner.stop();
      runner = null;
    },
  };
}

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openObserver(ctx, { jobs }) {
  const client = new pg.Client({ connectionString: ctx.pgUrl });
  await client.connect();
  const table = `${pg.escapeIdentifier(ctx.namespace)}._private_jobs`;
  return {
    countCompleted: async () => {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
      return jobs - rows[0].n;
    },
    storedSeqs: async () => {
      const { rows } = await client.query(`SELECT (payload->>'seq')::int AS seq FROM ${table}`);
      return rows.map((row) => row.seq);
    },
    close: () => client.end(),
  };
}
