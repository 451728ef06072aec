// graphile-worker 0.17 harness. Fastest documented paths: `addJob` for single jobs, `addJobs`
// (one call of the `add_jobs` SQL function) for bulk, and a runner with prepared statements on,
// LISTEN/NOTIFY for new jobs, the batching options of its performance guide (`localQueue` so
// one query locks a batch; `completeJobBatchDelay: 0` so completions issued together are written
// together) and a pool of `concurrency + 2` as its option docs recommend.
//
// graphile-worker deletes a job when it completes, so "completed in the store" is "no longer in
// the jobs table".
import pg from 'pg';
import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';

export const name = 'graphile-worker';
export const packageName = 'graphile-worker';
/** Settings used, printed with the results. */
export const settings = 'addJob / addJobs; run() with prepared statements, LISTEN/NOTIFY, localQueue.size = 5 x concurrency, completeJobBatchDelay 0, pool concurrency + 2';

const TASK = 'bench';
const silentLogger = new Logger(() => () => {});

/** @param {import('./case-context.mjs').CaseContext} ctx */
export async function openProducer(ctx) {
  const utils = await makeWorkerUtils({ connectionString: ctx.pgUrl, schema: ctx.namespace, logger: silentLogger });
  await utils.migrate();
  return {
    enqueueOne: async (payload) => {
      await utils.addJob(TASK, payload);
    },
    enqueueMany: async (payloads) => {
      await utils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
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
        localQueue: { size: concurrency * 5 },
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
