// The server process of the HTTP tables (http-enqueue-table.mjs, http-reads-table.mjs), forked by
// the runner so that the load generator and the server have a CPU each, as a client and an API
// server on different machines would. It runs Nightshift as `nightshift serve` does: the built
// package's `createNightshift({ worker: false, http: { port: 0 } })` with every other option at its
// default (metrics, event feed and process registry on, as they are with `http`), on the store
// named in BENCH_HTTP_SPEC. The same runtime's `client` is what the in-process rows time, so the
// HTTP/in-process ratio compares one store, one runtime and one job definition.
//
// IPC, runner → server:
//   { type: 'enqueue', mode: 'single' | 'bulk', concurrency, batch, durationMs, warmupMs }
//       times `client.enqueue` (one job per call, `concurrency` callers) or `client.enqueueMany`
//       (`batch` jobs per call) for durationMs after a warm-up; answers { type: 'enqueued', jobs,
//       totalJobs, elapsedMs } (jobs and elapsedMs of the timed window; totalJobs with the warm-up's).
//   { type: 'cpu' }    answers { type: 'cpu', userMs, systemMs } (this process's CPU time so far).
//   { type: 'count' }  answers { type: 'count', jobs } (every job in the store, by state totals).
//   { type: 'stop' }   stops the runtime, closes the store and exits 0.
// Server → runner: { type: 'ready', address } once listening; { type: 'error', message } on failure.
import { z } from 'zod';
import { loadNightshift } from './systems/nightshift-exports.mjs';

/** @type {{ store: 'sqlite' | 'postgres', sqlitePath?: string, pgUrl?: string, schema?: string, jobName: string, extraJobs?: { name: string, queue: string }[] }} */
const spec = JSON.parse(process.env.BENCH_HTTP_SPEC ?? 'null');
if (!spec || typeof process.send !== 'function') {
  console.error('http-server-process.mjs is started by bench/run.mjs, not directly');
  process.exit(2);
}
// If the runner dies, do not linger holding the port and connections.
process.on('disconnect', () => process.exit(3));

const send = (message) => process.send?.(message);

async function main() {
  const api = await loadNightshift();
  const store =
    spec.store === 'sqlite'
      ? api.createSqliteStore({ path: spec.sqlitePath })
      : api.createPostgresStore({ connectionString: spec.pgUrl, schema: spec.schema });
  // A schema as an application would have one: the API validates every payload against it.
  const job = api.defineJob({ name: spec.jobName, queue: 'http', schema: z.object({ seq: z.number().int().min(0) }), handler: () => undefined });
  // The seeded jobs' names are registered too, so the catalog and metrics see them as an app would.
  const others = (spec.extraJobs ?? []).map(({ name, queue }) => api.defineJob({ name, queue, handler: () => undefined }));
  const app = api.createNightshift({ store, jobs: [job, ...others], worker: false, http: { port: 0 } });
  await app.start();

  let seq = 1e9; // above the runner's sequence numbers; only the count matters here
  const enqueueLoop = async ({ mode, concurrency, batch, durationMs, warmupMs }) => {
    const run = async (untilMs) => {
      let jobs = 0;
      const caller = async () => {
        while (performance.now() < untilMs) {
          if (mode === 'single') {
            await app.client.enqueue(job, { seq: seq++ });
            jobs++;
          } else {
            const payloads = Array.from({ length: batch }, () => ({ seq: seq++ }));
            await app.client.enqueueMany(job, payloads);
            jobs += batch;
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, caller));
      return jobs;
    };
    const warmupJobs = await run(performance.now() + warmupMs);
    const started = performance.now();
    const jobs = await run(started + durationMs);
    return { jobs, totalJobs: warmupJobs + jobs, elapsedMs: performance.now() - started };
  };

  process.on('message', (message) => {
    void (async () => {
      try {
        switch (message?.type) {
          case 'enqueue':
            send({ type: 'enqueued', ...(await enqueueLoop(message)) });
            break;
          case 'cpu': {
            const usage = process.cpuUsage();
            send({ type: 'cpu', userMs: usage.user / 1000, systemMs: usage.system / 1000 });
            break;
          }
          case 'count': {
            const stats = await store.jobStats();
            send({ type: 'count', jobs: Object.values(stats.totals).reduce((sum, count) => sum + count, 0) });
            break;
          }
          case 'stop':
            await app.stop();
            await store.close();
            process.exit(0);
            break;
          default:
            break;
        }
      } catch (error) {
        send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    })();
  });
  send({ type: 'ready', address: app.httpAddress });
}

main().catch((error) => {
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
