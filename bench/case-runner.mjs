// Runs one benchmark case (one workload × one system on one store): forks the producer and worker
// processes (case-process.mjs), times the workload from the runner, confirms completion by
// counting in the store, checks exactly-once, and cleans the case's data up.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { judgeFlow, judgeLedgers, judgeLimits, judgeStoredSeqs } from './run-ledger.mjs';
import { loadHarness, preciseNow } from './systems/case-context.mjs';

const CASE_PROCESS = fileURLToPath(new URL('./case-process.mjs', import.meta.url));

/** Safety nets only: a case that exceeds them is reported as failed, never waited on forever. */
const LIMITS = {
  /** Setup, seeding and enqueue phases, ms. */
  phaseMs: 15 * 60_000,
  /** Waiting for the handlers of a drain to have been called for every job, ms. */
  drainMs: 15 * 60_000,
  /** No handler call at all for this long fails a drain, ms. */
  stallMs: 60_000,
  /** After every handler ran, waiting for the store to show every job completed, ms. */
  settleMs: 60_000,
  /** How often the store is counted once every handler ran, ms (a drain's last jobs finish within a few ms). */
  settlePollMs: 2,
  /** A stopped process gets this long to exit before it is killed, ms. */
  exitMs: 30_000,
  /** Idle time of the worker before the latency producer starts, ms. */
  idleBeforeLatencyMs: 1_000,
};

const SHORT_NAMES = { nightshift: 'ns', bullmq: 'bullmq', 'pg-boss': 'pgboss', 'graphile-worker': 'gw' };

/**
 * @typedef {object} CaseResult
 * @property {string} workload
 * @property {string} system
 * @property {string} store
 * @property {number} jobs
 * @property {number | null} elapsedMs
 * @property {number | null} jobsPerSec
 * @property {{ p50: number, p95: number, p99: number, max: number } | null} latencyMs
 * @property {number | null} peakRssBytes  Peak RSS of the measured process (worker, or producer for W1/W2); max over processes.
 * @property {number | null} cpuMs  Drains: CPU time (user + system) of the worker processes from go to stop, summed.
 * @property {number | null} startMs  Drains: from go until every worker's start() resolved, ms.
 * @property {number | null} startCpuMs  Drains: CPU time the workers' start() took, summed.
 * @property {'go' | 'started'} timedFrom  Drains: where jobs/s is timed from (the workload's `timedFrom`, default go).
 * @property {import('./run-ledger.mjs').ExactlyOnceReport | null} exactlyOnce
 * @property {import('./run-ledger.mjs').LimitsReport | null} limits  Per-key / rate limit checks (W6, W7), else null.
 * @property {import('./run-ledger.mjs').FlowVerdict | null} flow  The flow's times and the parent's check (W8), else null.
 * @property {string[]} notes
 * @property {string | null} error
 */

/**
 * @param {{ workload: import('./workloads.mjs').Workload, system: string, store: 'sqlite' | 'postgres' | 'redis', pgUrl: string, redisUrl: string, runTag: string }} params
 * @returns {Promise<CaseResult>}
 */
export async function runCase({ workload, system, store, pgUrl, redisUrl, runTag }) {
  const short = SHORT_NAMES[system] ?? system;
  const namespace = store === 'redis' ? `nsbench-${runTag}-${workload.id.toLowerCase()}` : `${short}_${workload.id.toLowerCase()}`;
  const sqliteDir = store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'nightshift-bench-')) : null;
  /** @type {import('./systems/case-context.mjs').CaseContext} */
  const ctx = {
    system,
    store,
    namespace,
    queue: 'bench',
    pgUrl,
    redisUrl,
    sqlitePath: sqliteDir ? join(sqliteDir, `${workload.id.toLowerCase()}.db`) : '',
    perKey: workload.perKey ?? null,
    rateLimit: workload.rateLimit ?? null,
  };
  const limited = workload.perKey !== undefined || workload.rateLimit !== undefined;
  /** @type {CaseResult} */
  const result = {
    workload: workload.id,
    system,
    store,
    jobs: workload.jobs,
    elapsedMs: null,
    jobsPerSec: null,
    latencyMs: null,
    peakRssBytes: null,
    cpuMs: null,
    startMs: null,
    startCpuMs: null,
    timedFrom: 'go',
    exactlyOnce: null,
    limits: null,
    flow: null,
    notes: [],
    error: null,
  };
  const harness = await loadHarness(system);
  result.notes.push(...(harness.caseNotes?.(workload.id, store) ?? []));
  /** @type {CaseProcess[]} */
  const processes = [];
  let observer = null;
  try {
    if (store === 'postgres') await dropSchema(pgUrl, namespace);
    switch (workload.kind) {
      case 'enqueue-single':
      case 'enqueue-bulk': {
        const producer = track(processes, new CaseProcess({ role: 'enqueue', ctx, jobs: workload.jobs, batch: workload.batch, mode: workload.kind === 'enqueue-single' ? 'single' : 'bulk' }));
        const done = await producer.waitFor('result', LIMITS.phaseMs);
        await producer.finish();
        result.elapsedMs = done.elapsedMs;
        result.peakRssBytes = done.peakRssBytes;
        observer = await harness.openObserver(ctx, { jobs: workload.jobs });
        result.exactlyOnce = judgeStoredSeqs(workload.jobs, await observer.storedSeqs());
        result.notes.push('exactly-once: each job stored once');
        break;
      }
      case 'drain': {
        const seeder = track(processes, new CaseProcess({ role: 'seed', ctx, jobs: workload.jobs, batch: 1_000, keys: workload.keys }));
        await seeder.waitFor('result', LIMITS.phaseMs);
        await seeder.finish();
        const workers = [];
        for (let i = 0; i < (workload.processes ?? 1); i++) {
          workers.push(track(processes, new CaseProcess({ role: 'work', ctx, jobs: workload.jobs, concurrency: workload.concurrency, handler: workload.handler, surfaces: workload.surfaces, timed: limited })));
        }
        await Promise.all(workers.map((worker) => worker.waitFor('ready', LIMITS.phaseMs)));
        observer = await harness.openObserver(ctx, { jobs: workload.jobs });
        const started = preciseNow();
        for (const worker of workers) worker.send({ type: 'go' });
        await waitForCompletion(workers, observer, workload.jobs);
        result.elapsedMs = preciseNow() - started;
        const reports = await stopWorkers(workers);
        result.peakRssBytes = Math.max(...reports.map((report) => report.peakRssBytes));
        if (reports.every((report) => typeof report.cpuMs === 'number')) {
          result.startMs = Math.max(...reports.map((report) => report.startedAt)) - started;
          result.startCpuMs = reports.reduce((sum, report) => sum + report.startCpuMs, 0);
          result.cpuMs = reports.reduce((sum, report) => sum + report.cpuMs, 0);
          if (workload.timedFrom === 'started') {
            // Throughput after every worker started: the drain less its start, the CPU less start()'s.
            result.timedFrom = 'started';
            result.elapsedMs -= result.startMs;
            result.cpuMs -= result.startCpuMs;
          }
        }
        result.exactlyOnce = judgeLedgers(workload.jobs, reports);
        if (limited) {
          result.limits = judgeLimits(reports, { perKey: workload.perKey, rateLimit: workload.rateLimit });
          const rate = result.limits.rate;
          if (rate) {
            const bursts =
              rate.ratio > 1.02 && rate.maxInWindow <= rate.max
                ? `; ${rate.achievedPerSec.toFixed(1)}/s from first to last start although no ${rate.perMs} ms window held more than ${rate.maxInWindow}: jobs starting together as a window opens shorten that span by up to one window`
                : '';
            result.notes.push(`least-squares pace of the starts ${rate.slopePerSec.toFixed(1)}/s${bursts}`);
          }
        }
        break;
      }
      case 'latency': {
        const inProcess = workload.inProcess === true;
        const worker = track(
          processes,
          new CaseProcess({
            role: 'work',
            ctx,
            jobs: workload.jobs,
            concurrency: workload.concurrency,
            handler: 'latency',
            ...(inProcess ? { rate: workload.rate, idleMs: LIMITS.idleBeforeLatencyMs } : {}),
          }),
        );
        await worker.waitFor('ready', LIMITS.phaseMs);
        observer = await harness.openObserver(ctx, { jobs: workload.jobs });
        worker.send({ type: 'go' });
        await worker.waitFor('started', LIMITS.phaseMs);
        let produced;
        if (inProcess) {
          // The worker process idles, then produces on its own schedule and reports `produced`.
          produced = await worker.waitFor('produced', LIMITS.phaseMs);
        } else {
          // The workload is defined with an idle worker: let it settle into its waiting state.
          await sleep(LIMITS.idleBeforeLatencyMs);
          const producer = track(processes, new CaseProcess({ role: 'produce', ctx, jobs: workload.jobs, rate: workload.rate }));
          produced = await producer.waitFor('result', LIMITS.phaseMs);
          await producer.finish();
        }
        if (produced.late > 0) result.notes.push(`producer fell behind schedule on ${produced.late} jobs`);
        await waitForCompletion([worker], observer, workload.jobs);
        const [report] = await stopWorkers([worker]);
        result.elapsedMs = produced.elapsedMs;
        result.peakRssBytes = report.peakRssBytes;
        result.latencyMs = percentiles(report.latencies);
        result.exactlyOnce = judgeLedgers(workload.jobs, [report]);
        break;
      }
      case 'flow': {
        // The tree is inserted in one call, timed but outside the total (a note reports it).
        const seeder = track(processes, new CaseProcess({ role: 'seed-flow', ctx, jobs: workload.jobs, children: workload.children }));
        const seeded = await seeder.waitFor('result', LIMITS.phaseMs);
        await seeder.finish();
        result.notes.push(`seeding the flow (${(workload.children + 1).toLocaleString('en-US')} jobs in one call, not in the total) took ${formatMs(seeded.seedMs)}`);
        const worker = track(processes, new CaseProcess({ role: 'work', ctx, jobs: workload.jobs, concurrency: workload.concurrency, children: workload.children }));
        await worker.waitFor('ready', LIMITS.phaseMs);
        observer = await harness.openObserver(ctx, { jobs: workload.jobs });
        const started = preciseNow();
        worker.send({ type: 'go' });
        await waitForCompletion([worker], observer, workload.jobs);
        const reports = await stopWorkers([worker]);
        result.peakRssBytes = Math.max(...reports.map((report) => report.peakRssBytes));
        result.exactlyOnce = judgeLedgers(workload.jobs, reports);
        result.flow = judgeFlow(workload.children, reports.map((report) => report.flow), started);
        result.elapsedMs = result.flow.totalMs;
        break;
      }
      default:
        throw new Error(`unknown workload kind ${workload.kind}`);
    }
    if (result.elapsedMs !== null && workload.kind !== 'latency' && workload.kind !== 'flow') result.jobsPerSec = (workload.jobs / result.elapsedMs) * 1000;
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    for (const child of processes) await child.kill();
    if (observer) {
      await settle(observer.destroy?.(), result);
      await settle(observer.close(), result);
    }
    if (store === 'postgres') await settle(dropSchema(pgUrl, namespace), result);
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  }
  return result;
}

/** Waits until every handler ran (from progress reports), then until the store counts every job completed. */
async function waitForCompletion(workers, observer, jobs) {
  const totalCalls = () => workers.reduce((sum, worker) => sum + worker.calls, 0);
  await new Promise((resolve, reject) => {
    const started = Date.now();
    let lastCalls = -1;
    let lastChange = Date.now();
    const finish = (error) => {
      clearInterval(watchdog);
      for (const worker of workers) {
        worker.onProgress = null;
        worker.onExit = null;
      }
      if (error) reject(error);
      else resolve(undefined);
    };
    const check = () => {
      if (totalCalls() >= jobs) finish(null);
    };
    // A case that stops making progress fails after stallMs instead of running into drainMs.
    const watchdog = setInterval(() => {
      const calls = totalCalls();
      if (calls !== lastCalls) {
        lastCalls = calls;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > LIMITS.stallMs) {
        finish(new Error(`handlers ran ${calls} of ${jobs} jobs and none more for ${LIMITS.stallMs} ms`));
      }
      if (Date.now() - started > LIMITS.drainMs) finish(new Error(`handlers ran ${calls} of ${jobs} jobs within ${LIMITS.drainMs} ms`));
    }, 1_000);
    for (const worker of workers) {
      worker.onProgress = check;
      worker.onExit = () => finish(new Error(`a worker process exited early${worker.lastError ? `: ${worker.lastError}` : ''}`));
    }
    check();
  });
  const settleDeadline = Date.now() + LIMITS.settleMs;
  let completed = 0;
  while (Date.now() < settleDeadline) {
    completed = await observer.countCompleted();
    if (completed >= jobs) return;
    await sleep(LIMITS.settlePollMs);
  }
  throw new Error(`every handler ran but the store shows ${completed} of ${jobs} completed after ${LIMITS.settleMs} ms`);
}

/** Stops worker processes and returns their reports. */
async function stopWorkers(workers) {
  for (const worker of workers) {
    worker.onExit = null;
    worker.send({ type: 'stop' });
  }
  const reports = await Promise.all(workers.map((worker) => worker.waitFor('result', LIMITS.exitMs)));
  await Promise.all(workers.map((worker) => worker.finish()));
  return reports;
}

/** A duration for a note: ms below 10 s, else s. */
function formatMs(ms) {
  return ms < 10_000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Nearest-rank percentiles of latencies in ms. */
export function percentiles(values) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return { p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1] };
}

async function dropSchema(pgUrl, schema) {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Awaits a cleanup step, recording (not throwing) its failure. */
async function settle(promise, result) {
  try {
    await promise;
  } catch (error) {
    result.notes.push(`cleanup: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function track(list, child) {
  list.push(child);
  return child;
}

/** A forked case-process.mjs with typed waits on its messages. */
class CaseProcess {
  constructor(spec) {
    this.role = spec.role;
    this.calls = 0;
    /** @type {(() => void) | null} */
    this.onProgress = null;
    /** @type {(() => void) | null} */
    this.onExit = null;
    /** @type {string | null} */
    this.lastError = null;
    this.messages = [];
    this.waiters = [];
    this.exitCode = undefined;
    this.child = fork(CASE_PROCESS, [], {
      env: { ...process.env, BENCH_SPEC: JSON.stringify(spec), LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
      ...(process.env.BENCH_PROF && spec.role === 'work' ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`, ...(process.env.BENCH_PROF_INTERVAL ? [`--cpu-prof-interval=${process.env.BENCH_PROF_INTERVAL}`] : [])] } : {}),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? signal;
        this.flushWaiters();
        this.onExit?.();
        resolve(this.exitCode);
      });
    });
    this.child.on('message', (message) => {
      if (message?.type === 'progress') {
        this.calls = message.calls;
        this.onProgress?.();
        return;
      }
      if (message?.type === 'error') this.lastError = message.message;
      this.messages.push(message);
      this.flushWaiters();
    });
  }

  send(message) {
    if (this.child.connected) this.child.send(message);
  }

  /** Resolves with the next message of `type`; rejects on an error report, an exit, or the timeout. */
  waitFor(type, timeoutMs) {
    return new Promise((resolve, reject) => {
      const waiter = { type, resolve, reject, timer: setTimeout(() => this.dropWaiter(waiter, new Error(`${this.role} process: no "${type}" within ${timeoutMs} ms`)), timeoutMs) };
      this.waiters.push(waiter);
      this.flushWaiters();
    });
  }

  dropWaiter(waiter, error) {
    this.waiters = this.waiters.filter((entry) => entry !== waiter);
    clearTimeout(waiter.timer);
    waiter.reject(error);
  }

  flushWaiters() {
    for (const waiter of [...this.waiters]) {
      const index = this.messages.findIndex((message) => message.type === waiter.type || message.type === 'error');
      if (index >= 0) {
        const [message] = this.messages.splice(index, 1);
        this.waiters = this.waiters.filter((entry) => entry !== waiter);
        clearTimeout(waiter.timer);
        if (message.type === 'error') waiter.reject(new Error(`${this.role} process failed: ${message.message}`));
        else waiter.resolve(message);
      } else if (this.exitCode !== undefined) {
        this.dropWaiter(waiter, new Error(`${this.role} process exited (${this.exitCode}) before "${waiter.type}"${this.lastError ? `: ${this.lastError}` : ''}`));
      }
    }
  }

  /** Waits for a normal exit; kills the process (by its pid) if it does not come. */
  async finish() {
    const exited = await Promise.race([this.exited, sleep(LIMITS.exitMs).then(() => 'timeout')]);
    if (exited === 'timeout') await this.kill();
  }

  /** Kills this process if it is still running (SIGTERM, then SIGKILL). */
  async kill() {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const exited = await Promise.race([this.exited, sleep(5_000).then(() => 'timeout')]);
    if (exited === 'timeout' && this.exitCode === undefined) this.child.kill('SIGKILL');
    await Promise.race([this.exited, sleep(5_000)]);
  }
}
