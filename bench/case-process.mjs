// One benchmark process: a producer or a worker of one system for one case, forked by the runner
// (run.mjs → case-runner.mjs) so that its peak memory is its own. It receives its spec in the
// BENCH_SPEC environment variable, talks to the runner over the IPC channel, and exits when done.
//
// Roles:
//   enqueue  times W1 (one awaited enqueue at a time) or W2 (bulk batches) and reports the time.
//   seed     fills the queue before a drain (not timed); with `keys`, each key's payloads are seeded together.
//   seed-flow inserts the flow of W8 (one parent waiting on `children` jobs) in one call, and reports how long it took.
//   produce  enqueues at a fixed rate for the latency workload, stamping each payload.
//   work     opens a worker, reports `ready`, starts on `go`, reports progress, and on `stop`
//            stops and reports its run ledger, latencies and peak memory. With a `rate` it is
//            also the producer (in-process latency workload) and reports `produced`. With `timed`
//            the ledger also keeps each call's start, end and key (limit checks of W6/W7).
//            With `children` it runs the flow of W8 and also reports when each parent call started,
//            what it read of its children's results and when the last child handler returned.
import { readFileSync } from 'node:fs';
import { setImmediate as setImmediatePromise, setTimeout as sleep } from 'node:timers/promises';
import { RunLedger } from './run-ledger.mjs';
import { loadHarness, preciseNow } from './systems/case-context.mjs';

/** @type {{ role: string, ctx: import('./systems/case-context.mjs').CaseContext, jobs: number, batch?: number, keys?: number, rate?: number, idleMs?: number, concurrency?: number, handler?: string, mode?: string, surfaces?: string, timed?: boolean, children?: number }} */
const spec = JSON.parse(process.env.BENCH_SPEC ?? 'null');
if (!spec || typeof process.send !== 'function') {
  console.error('case-process.mjs is started by bench/run.mjs, not directly');
  process.exit(2);
}

// If the runner dies, do not linger holding connections.
const exitOnDisconnect = () => process.exit(3);
process.on('disconnect', exitOnDisconnect);

const memory = startMemorySampler();

/** @param {object} message */
function send(message) {
  process.send?.(message);
}

/**
 * Sends a message and resolves once it is written to the IPC channel: a large one (the timed
 * ledger of 20,000 calls) may still be queued when the process disconnects after its last step.
 * @param {object} message
 */
function sendFlushed(message) {
  return new Promise((resolve, reject) => {
    if (!process.send) return resolve(undefined);
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve(undefined)));
  });
}

/** Resolves with the next IPC message of the given type. */
function nextMessage(type) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message?.type !== type) return;
      process.off('message', listener);
      resolve(message);
    };
    process.on('message', listener);
  });
}

async function main() {
  const harness = await loadHarness(spec.ctx.system);
  switch (spec.role) {
    case 'enqueue':
      return runEnqueue(harness);
    case 'seed':
      return runSeed(harness);
    case 'seed-flow':
      return runSeedFlow(harness);
    case 'produce':
      return runProduce(harness);
    case 'work':
      return runWork(harness);
    default:
      throw new Error(`unknown role ${spec.role}`);
  }
}

async function runEnqueue(harness) {
  const producer = await harness.openProducer(spec.ctx);
  let elapsedMs;
  if (spec.mode === 'single') {
    const started = preciseNow();
    for (let seq = 0; seq < spec.jobs; seq++) await producer.enqueueOne({ seq, t: preciseNow() });
    elapsedMs = preciseNow() - started;
  } else {
    const batches = makeBatches(spec.jobs, spec.batch ?? 1_000);
    const started = preciseNow();
    for (const batch of batches) await producer.enqueueMany(batch);
    elapsedMs = preciseNow() - started;
  }
  await producer.close();
  send({ type: 'result', elapsedMs, peakRssBytes: memory.peak() });
}

async function runSeed(harness) {
  const producer = await harness.openProducer(spec.ctx);
  for (const batch of makeBatches(spec.jobs, spec.batch ?? 1_000, spec.keys)) await producer.enqueueMany(batch);
  await producer.close();
  send({ type: 'result', peakRssBytes: memory.peak() });
}

/** Inserts one parent (sequence number `children`) waiting on `children` no-op children (0 … children-1), timing the call. */
async function runSeedFlow(harness) {
  if (typeof harness.openFlowProducer !== 'function') throw new Error(`${spec.ctx.system} has no flow harness`);
  const producer = await harness.openFlowProducer(spec.ctx);
  const children = Array.from({ length: spec.children }, (_, seq) => ({ seq }));
  const started = preciseNow();
  await producer.enqueueFlow({ parent: { seq: spec.children }, children });
  const seedMs = preciseNow() - started;
  await producer.close();
  send({ type: 'result', seedMs, peakRssBytes: memory.peak() });
}

async function runProduce(harness) {
  const result = await producePaced(harness);
  send({ type: 'result', ...result, peakRssBytes: memory.peak() });
}

/** Enqueues `spec.jobs` jobs at `spec.rate` per second, each stamped with its enqueue time. */
async function producePaced(harness) {
  const producer = await harness.openProducer(spec.ctx);
  const intervalMs = 1000 / (spec.rate ?? 100);
  const started = preciseNow();
  let late = 0;
  for (let seq = 0; seq < spec.jobs; seq++) {
    // Pace against the schedule, not the previous send, so slow enqueues do not stretch the run.
    const due = started + seq * intervalMs;
    const wait = due - preciseNow();
    if (wait > 0) await sleep(wait);
    else if (wait < -intervalMs) late++;
    await producer.enqueueOne({ seq, t: preciseNow() });
  }
  const elapsedMs = preciseNow() - started;
  await producer.close();
  return { elapsedMs, late };
}

async function runWork(harness) {
  const ledger = new RunLedger(spec.jobs, { timed: spec.timed === true });
  /** @type {number[]} */
  const latencies = [];
  const timer5 = spec.handler === 'timer5';
  const yieldOnce = spec.handler === 'yield';
  const measureLatency = spec.handler === 'latency';
  const handle = (payload) => {
    if (measureLatency) latencies.push(preciseNow() - payload.t);
    const call = spec.timed ? ledger.begin(payload?.seq, payload?.key, preciseNow()) : (ledger.record(payload?.seq), -1);
    // The last expected call is reported at once rather than on the next 20 ms progress tick,
    // so that the runner's wait for the store to show every job completed starts without delay.
    if (ledger.calls === spec.jobs) send({ type: 'progress', calls: ledger.calls });
    const work = timer5 ? sleep(5) : yieldOnce ? setImmediatePromise() : undefined;
    if (!spec.timed) return work;
    if (work === undefined) {
      ledger.end(call, preciseNow());
      return undefined;
    }
    return work.then(() => ledger.end(call, preciseNow()));
  };
  const flow = spec.children === undefined ? null : flowHandlers(ledger);
  const worker = flow
    ? await harness.openFlowWorker(spec.ctx, { concurrency: spec.concurrency ?? 10, child: flow.child, parent: flow.parent })
    : await harness.openWorker(spec.ctx, { concurrency: spec.concurrency ?? 10, handle, surfaces: spec.surfaces });
  const go = nextMessage('go');
  const stop = nextMessage('stop');
  send({ type: 'ready' });
  await go;
  // CPU time of this process from go to stop (user + system): what the work cost, less exposed
  // than wall time to what else the machine does.
  const cpuAtGo = process.cpuUsage();
  await worker.start();
  // When start() resolved (the runner's clock) and the CPU it took: one-time costs of a process,
  // reported beside the throughput rather than inside it for workloads timed from the start.
  const startCpu = process.cpuUsage(cpuAtGo);
  const startedAt = preciseNow();
  send({ type: 'started' });
  if (spec.rate) {
    // In-process latency: idle like the cross-process case, then produce from this process.
    await sleep(spec.idleMs ?? 0);
    const produced = await producePaced(harness);
    send({ type: 'produced', ...produced });
  }
  let reported = -1;
  const progress = setInterval(() => {
    if (ledger.calls === reported) return;
    reported = ledger.calls;
    send({ type: 'progress', calls: ledger.calls });
  }, 20);
  await stop;
  const cpu = process.cpuUsage(cpuAtGo);
  clearInterval(progress);
  await worker.stop();
  await sendFlushed({
    type: 'result',
    counts: ledger.counts,
    foreign: ledger.foreign,
    calls: ledger.calls,
    timings: ledger.timings,
    latencies,
    flow: flow?.report ?? null,
    cpuMs: (cpu.user + cpu.system) / 1000,
    startedAt,
    startCpuMs: (startCpu.user + startCpu.system) / 1000,
    peakRssBytes: memory.peak(),
  });
}

/**
 * The handlers of W8. A child records its sequence number and returns `{ seq }`; the parent records
 * its own (so the ledger also shows it ran once), its start time, and then checks what it reads of
 * its children's results: how many, whether each completed, and whether their `seq`s are exactly
 * 0 … children-1. The runner judges the report (judgeFlow in run-ledger.mjs).
 * @param {RunLedger} ledger
 */
function flowHandlers(ledger) {
  const children = spec.children ?? 0;
  /** @type {import('./run-ledger.mjs').FlowReport} */
  const report = { parentStarts: [], lastChildEnd: Number.NEGATIVE_INFINITY, results: [] };
  const noteCall = () => {
    if (ledger.calls === spec.jobs) send({ type: 'progress', calls: ledger.calls });
  };
  return {
    report,
    child: (payload) => {
      ledger.record(payload?.seq);
      noteCall();
      const result = { seq: payload?.seq };
      report.lastChildEnd = Math.max(report.lastChildEnd, preciseNow());
      return result;
    },
    parent: async (payload, readChildResults) => {
      report.parentStarts.push(preciseNow());
      const entries = await readChildResults();
      const seen = new Uint8Array(children);
      let completed = 0;
      let distinct = 0;
      for (const entry of entries) {
        if (entry.completed) completed++;
        const seq = entry.result?.seq;
        if (Number.isInteger(seq) && seq >= 0 && seq < children && seen[seq] === 0) {
          seen[seq] = 1;
          distinct++;
        }
      }
      report.results.push({ count: entries.length, completed, distinct });
      // Recorded after the read, so the runner stops the worker only once the parent has checked.
      ledger.record(payload?.seq);
      noteCall();
      return { children: entries.length };
    },
  };
}

/**
 * Splits 0 … jobs-1 into payload batches. With `keys`, the jobs of each key are seeded together
 * (job `seq` has key `k<floor(seq / (jobs / keys))>`): in claim order a key's jobs come one after
 * another, so a system that ignored the limit would run many of one key at once (and the check
 * would say so), and one that served keys unfairly would work through one key at a time.
 */
function makeBatches(jobs, size, keys) {
  const batches = [];
  const perKey = keys ? Math.max(1, Math.ceil(jobs / keys)) : 0;
  for (let start = 0; start < jobs; start += size) {
    const batch = [];
    for (let seq = start; seq < Math.min(jobs, start + size); seq++) batch.push(keys ? { seq, t: preciseNow(), key: `k${Math.floor(seq / perKey)}` } : { seq, t: preciseNow() });
    batches.push(batch);
  }
  return batches;
}

/**
 * Peak resident memory of this process. On Linux the kernel's high-water mark (VmHWM) is exact;
 * elsewhere RSS is sampled every 50 ms.
 */
function startMemorySampler() {
  let sampled = process.memoryUsage.rss();
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage.rss());
  }, 50);
  timer.unref();
  return {
    peak() {
      sampled = Math.max(sampled, process.memoryUsage.rss());
      try {
        const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
        if (match) return Math.max(sampled, Number(match[1]) * 1024);
      } catch {
        // Not Linux: the sampled value stands.
      }
      return sampled;
    },
  };
}

try {
  await main();
  // Let the result message flush before exiting; libraries with lingering timers must not keep
  // the process (and the benchmark) alive.
  process.off('disconnect', exitOnDisconnect);
  process.disconnect?.();
  setTimeout(() => process.exit(0), 200).unref();
} catch (error) {
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 200).unref();
}
