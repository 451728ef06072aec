// The HTTP table of `npm run bench` (`--only HTTP` prints it alone): enqueue throughput through the
// HTTP API against the same runtime's in-process client, on SQLite (a temp file) and PostgreSQL.
//
// The server runs in a forked process (http-server-process.mjs) and this process is the load
// generator: on a 2-core machine each gets a core, as a client and a server would on two machines.
// Each cell runs a closed loop (autocannon for the HTTP cells) for a fixed time after a warm-up and reports jobs/s; the HTTP rows
// also report per-request latency, both processes' CPU use, and the ratio to the in-process row.
// Cells run one after another on one store, so later cells find a larger table (a few hundred
// thousand jobs by the last one). Every HTTP cell checks that the store holds as many new jobs as
// requests were answered 201 for.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { HTTP_JOB_NAME, renderTextTable, startServerProcess } from './http-load.mjs';

/** The issue's targets, jobs/s on SQLite; PostgreSQL has none. */
export const HTTP_TARGETS = { single: 8_000, bulk: 80_000 };

/** Concurrent clients of the one-job-per-request cells, and of the bulk cells. */
const SINGLE_CLIENTS = 32;
const BULK_CLIENTS = 4;
/** Jobs per bulk request (`POST /api/jobs/bulk`) and per `enqueueMany` call. */
const BULK_SIZE = 1_000;

/**
 * @typedef {object} HttpEnqueueRow
 * @property {'sqlite' | 'postgres'} store
 * @property {string} cell        Stable id: http-health (requests/s of GET /health, no job), http-single,
 *                                inprocess-single, http-bulk, http-bulk-minimal (ids-only replies), inprocess-bulk.
 * @property {string} label
 * @property {number | null} jobsPerSec  Requests/s for http-health.
 * @property {{ p50: number, p97_5: number } | null} requestMs  Per-request latency (HTTP cells), ms.
 * @property {number | null} serverCpuPct  Server process CPU over the cell, % of one core.
 * @property {number | null} serverCpuUsPerJob  Server process CPU per job (per request for http-health), µs:
 *                                the ceiling on one core is 1,000,000 / this, whatever else runs on the machine.
 * @property {number | null} clientCpuPct  Load generator CPU over the cell, % of one core (HTTP cells).
 * @property {number | null} target
 * @property {number | null} vsInProcess   HTTP jobs/s divided by the in-process row's.
 * @property {string | null} check         Stored-count check of HTTP cells, or the error.
 */

const cpuMs = (usage) => (usage.user + usage.system) / 1000;

/**
 * One HTTP cell: autocannon from this process (raw keep-alive sockets, one per client, each
 * sending its next request when the last reply is in), a warm-up first; CPU of both processes;
 * stored-count check. Every request of a cell carries the same body: the payloads' values do not
 * change what the server does, and a fixed body keeps the load generator's own cost low, which
 * on a 2-core machine is CPU the server cannot have.
 */
async function httpCell(server, { clients, warmupMs, durationMs, bulk, health = false, minimal = false }) {
  const url = new URL(server.address);
  if (url.hostname !== '127.0.0.1') throw new Error(`the HTTP tables only load loopback, not ${url.hostname}`);
  const request = health
    ? { method: 'GET', path: '/health' }
    : {
        method: 'POST',
        path: bulk ? '/api/jobs/bulk' : '/api/jobs',
        headers: { 'content-type': 'application/json', ...(minimal ? { prefer: 'return=minimal' } : {}) },
        body: JSON.stringify(bulk ? { name: HTTP_JOB_NAME, items: Array.from({ length: BULK_SIZE }, (_, seq) => ({ data: { seq } })) } : { name: HTTP_JOB_NAME, data: { seq: 0 } }),
      };
  const expected = health ? 200 : 201;
  const jobsPerRequest = health || !bulk ? 1 : BULK_SIZE;
  const before = (await server.ask({ type: 'count' }, 'count')).jobs;
  // CPU is read around the whole run, warm-up included: % of the run's wall time, and per job
  // over every job the run enqueued.
  const serverCpu0 = await server.ask({ type: 'cpu' }, 'cpu');
  const clientCpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let answered = 0;
  const wrong = new Map();
  const result = await new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: url.origin,
        connections: clients,
        duration: durationMs / 1000,
        warmup: { connections: clients, duration: warmupMs / 1000 },
        requests: [request],
        timeout: 30,
      },
      (error, value) => (error ? reject(error) : resolve(value)),
    );
    instance.on('response', (_client, status) => {
      if (status === expected) answered++;
      else wrong.set(status, (wrong.get(status) ?? 0) + 1);
    });
  });
  const wallMs = performance.now() - wall0;
  const serverCpu1 = await server.ask({ type: 'cpu' }, 'cpu');
  const clientCpuMs = cpuMs(process.cpuUsage(clientCpu0));
  const serverCpuMs = serverCpu1.userMs + serverCpu1.systemMs - serverCpu0.userMs - serverCpu0.systemMs;
  if (wrong.size > 0 || result.errors > 0) {
    throw new Error(`${request.method} ${request.path}: ${[...wrong].map(([status, n]) => `${n} answered ${status}`).join(', ') || 'no wrong status'}; ${result.errors} socket errors`);
  }
  const acknowledged = health ? 0 : answered * jobsPerRequest;
  const after = (await server.ask({ type: 'count' }, 'count')).jobs;
  return {
    jobsPerSec: (result.requests.total * jobsPerRequest) / (result.duration ?? durationMs / 1000),
    serverCpuUsPerJob: (1000 * serverCpuMs) / (health ? answered : acknowledged),
    requestMs: { p50: result.latency.p50, p97_5: result.latency.p97_5 },
    serverCpuPct: (100 * serverCpuMs) / wallMs,
    clientCpuPct: (100 * clientCpuMs) / wallMs,
    check: health ? null : storedCheck(after - before, acknowledged, clients * jobsPerRequest),
  };
}

/**
 * The stored-count check. autocannon stops with up to one request per client still unanswered:
 * the server may have stored those jobs, so up to `inFlight` more stored than acknowledged is
 * right; fewer, or more than that, is a lost or an invented job.
 */
function storedCheck(stored, acknowledged, inFlight) {
  const extra = stored - acknowledged;
  if (extra < 0 || extra > inFlight) return `MISMATCH: ${acknowledged} answered 201, ${stored} stored`;
  return `ok (${stored.toLocaleString('en-US')} stored${extra > 0 ? `, ${extra.toLocaleString('en-US')} unanswered at the stop` : ''})`;
}

/** One in-process cell, timed inside the server process. */
async function inProcessCell(server, { mode, concurrency, warmupMs, durationMs }) {
  const serverCpu0 = await server.ask({ type: 'cpu' }, 'cpu');
  const wall0 = performance.now();
  const run = await server.ask({ type: 'enqueue', mode, concurrency, batch: BULK_SIZE, warmupMs, durationMs }, 'enqueued', warmupMs + durationMs + 60_000);
  const wallMs = performance.now() - wall0;
  const serverCpu1 = await server.ask({ type: 'cpu' }, 'cpu');
  const serverCpuMs = serverCpu1.userMs + serverCpu1.systemMs - serverCpu0.userMs - serverCpu0.systemMs;
  return { jobsPerSec: run.jobs / (run.elapsedMs / 1000), serverCpuPct: (100 * serverCpuMs) / wallMs, serverCpuUsPerJob: (1000 * serverCpuMs) / run.totalJobs };
}

/**
 * Runs the table's cells on each store. `pgUrl` is the bench database (run.mjs creates it).
 * @param {{ stores: string[], pgUrl: string, quick: boolean, log: (text: string) => void }} options
 * @returns {Promise<HttpEnqueueRow[]>}
 */
export async function measureHttpEnqueue({ stores, pgUrl, quick, log }) {
  const timing = quick ? { warmupMs: 200, durationMs: 1_000 } : { warmupMs: 500, durationMs: 3_000 };
  /** @type {HttpEnqueueRow[]} */
  const rows = [];
  for (const store of stores) {
    const dir = store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'nightshift-bench-http-')) : null;
    const spec = store === 'sqlite' ? { store, sqlitePath: join(dir, 'http.db') } : { store, pgUrl, schema: 'ns_http' };
    const target = (kind) => (store === 'sqlite' ? HTTP_TARGETS[kind] : null);
    const row = (cell, label, kind, values) => ({ store, cell, label, jobsPerSec: null, requestMs: null, serverCpuPct: null, serverCpuUsPerJob: null, clientCpuPct: null, target: cell.startsWith('http') ? (target(kind) ?? null) : null, vsInProcess: null, check: null, ...values });
    let server = null;
    try {
      server = await startServerProcess(spec);
      const plan = [
        ['http-health', `HTTP GET /health (the floor: no store), ${SINGLE_CLIENTS} clients`, 'none', () => httpCell(server, { clients: SINGLE_CLIENTS, bulk: false, health: true, ...timing })],
        ['http-single', `HTTP POST /api/jobs, 1 job/request, ${SINGLE_CLIENTS} clients`, 'single', () => httpCell(server, { clients: SINGLE_CLIENTS, bulk: false, ...timing })],
        ['inprocess-single', `in-process client.enqueue, ${SINGLE_CLIENTS} callers`, 'single', () => inProcessCell(server, { mode: 'single', concurrency: SINGLE_CLIENTS, ...timing })],
        ['http-bulk', `HTTP POST /api/jobs/bulk, ${BULK_SIZE.toLocaleString('en-US')}/request, ${BULK_CLIENTS} clients`, 'bulk', () => httpCell(server, { clients: BULK_CLIENTS, bulk: true, ...timing })],
        [
          'http-bulk-minimal',
          `HTTP POST /api/jobs/bulk, ${BULK_SIZE.toLocaleString('en-US')}/request, Prefer: return=minimal (ids only), ${BULK_CLIENTS} clients`,
          'bulk',
          () => httpCell(server, { clients: BULK_CLIENTS, bulk: true, minimal: true, ...timing }),
        ],
        ['inprocess-bulk', `in-process client.enqueueMany ${BULK_SIZE.toLocaleString('en-US')}, ${BULK_CLIENTS} callers`, 'bulk', () => inProcessCell(server, { mode: 'bulk', concurrency: BULK_CLIENTS, ...timing })],
      ];
      for (const [cell, label, kind, measure] of plan) {
        log(`bench: HTTP ${store} ${label} … `);
        try {
          const values = await measure();
          rows.push(row(cell, label, kind, values));
          log(`${Math.round(values.jobsPerSec)} ${cell === 'http-health' ? 'requests' : 'jobs'}/s\n`);
        } catch (error) {
          rows.push(row(cell, label, kind, { check: `error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` }));
          log(`error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
        }
      }
    } catch (error) {
      rows.push(row('server', 'server process', 'single', { check: `error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` }));
    } finally {
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
    for (const [cell, kind] of [
      ['http-single', 'single'],
      ['http-bulk', 'bulk'],
      ['http-bulk-minimal', 'bulk'],
    ]) {
      const http = rows.find((r) => r.store === store && r.cell === cell);
      const local = rows.find((r) => r.store === store && r.cell === `inprocess-${kind}`);
      if (http?.jobsPerSec && local?.jobsPerSec) http.vsInProcess = http.jobsPerSec / local.jobsPerSec;
    }
  }
  return rows;
}

const int = (value) => Math.round(value).toLocaleString('en-US');

/** The table as text. */
export function renderHttpEnqueueTable(rows) {
  const header = ['store', 'enqueue path', 'jobs/s', 'target', 'met', 'HTTP/in-process', 'request p50 / p97.5', 'server CPU', 'server CPU/job', 'client CPU', 'check'];
  const cells = rows.map((row) => [
    row.store,
    row.label,
    row.jobsPerSec === null ? '-' : row.cell === 'http-health' ? `(${int(row.jobsPerSec)} req/s)` : int(row.jobsPerSec),
    row.target === null ? '-' : `>= ${int(row.target)}`,
    row.target === null || row.jobsPerSec === null ? '-' : row.jobsPerSec >= row.target ? 'yes' : 'NO',
    row.vsInProcess === null ? '-' : `${row.vsInProcess.toFixed(2)}x`,
    row.requestMs === null ? '-' : `${row.requestMs.p50.toFixed(1)} / ${row.requestMs.p97_5.toFixed(1)} ms`,
    row.serverCpuPct === null ? '-' : `${Math.round(row.serverCpuPct)} %`,
    row.serverCpuUsPerJob === null ? '-' : `${row.serverCpuUsPerJob.toFixed(row.serverCpuUsPerJob < 10 ? 1 : 0)} µs`,
    row.clientCpuPct === null ? '-' : `${Math.round(row.clientCpuPct)} %`,
    row.check ?? '-',
  ]);
  return renderTextTable(header, cells, 2);
}
