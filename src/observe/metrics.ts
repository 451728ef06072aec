/**
 * Prometheus metrics (prom-client), fed by the lifecycle events of one process and, for the
 * cluster-wide gauges, by the store (read through the client, cached a few seconds so a busy
 * scraper costs one query per interval).
 *
 * Labels are bounded: `job` and `queue` take only names this process registered (anything else
 * is counted as `other`), `kind` only the error kinds the library records; never ids or payloads.
 * Each `createMetrics` has its own registry, so several runtimes (or tests) in one process do
 * not share counters; `registry` is what `/metrics` serves, and an app may serve it itself.
 *
 * Counting needs no prom-client: job and store-call events go into cells (metric-cells.ts). The
 * registry, and with it prom-client and Node's process metrics, is made when it is first read
 * (the first scrape, or `registry`), and serves everything counted since `createMetrics`. A
 * worker whose metrics nobody reads never loads prom-client; its drain does not pay for the
 * loading and compiling either. Completions, run times and waits are not counted here per run:
 * they come from the process's run tally (run-tally.ts), shared with the activity stats and
 * taken at each read, so their series are listed in the order the tally first counted them.
 */
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import type { NightshiftEvents } from './events.js';
import { runObservers } from './run-observers.js';
import { RUN_BOUNDS_MS } from './run-tally.js';
import { CellCounter, CellHistogram, type CounterCell, type HistogramCell } from './metric-cells.js';

/** Error kinds used as label values; any other kind is reported as `other`. */
const ERROR_KINDS = new Set(['error', 'timeout', 'unrecoverable', 'lease_expired', 'corrupt', 'invalid_payload', 'unknown_job', 'finish_not_stored']);

/** What the cluster-wide gauges read. */
export interface MetricsSources {
  /** Per queue: counts by state and lag (a store read; cached for `cacheMs`). */
  queues?(): Promise<{ name: string; counts: Record<string, number>; lagMs?: number }[]>;
  /** Every stored schedule's last and next fire time (a store read; cached for `cacheMs`). */
  schedules?(): Promise<{ id: string; lastRunAt: Date | null; nextRunAt: Date | null }[]>;
  /** This process's worker: configured slots and busy slots per queue. */
  slots?(): { queue: string; slots: number; busy: number }[];
}

export interface MetricsOptions {
  events: NightshiftEvents;
  /** Job names and queues that may appear as label values. */
  jobs: readonly { name: string; queue: string }[];
  /** Extra queue names (configured without a job). */
  queues?: readonly string[];
  sources?: MetricsSources;
  /** How long a store read for the gauges is reused, ms; default 5000. */
  cacheMs?: number;
  /**
   * Add Node's process metrics (CPU, memory, event loop lag, GC); default true. They start with the
   * registry: garbage collections and event loop delay are measured from the first read on.
   */
  processMetrics?: boolean;
}

export interface Metrics {
  /** The prom-client registry; made (and prom-client loaded) on first use. */
  readonly registry: Registry;
  /** The Prometheus text exposition. */
  text(): Promise<string>;
  /** Records one store call (the store timing wrapper calls it; see `timeStore`). */
  observeStoreCall(method: string, seconds: number, ok: boolean): void;
  /** Stops listening to events. Idempotent. */
  stop(): void;
}

/** What one (queue, job) label pair has counted; each field is that pair's series in one metric. */
interface JobCell {
  readonly labels: { readonly queue: string; readonly job: string };
  readonly wait: HistogramCell;
  readonly duration: HistogramCell;
  readonly completed: CounterCell;
  readonly retried: CounterCell;
  readonly dead: CounterCell;
  /** By error kind (after mapping unknown kinds to `other`). */
  readonly failed: Map<string, CounterCell>;
}

/** The run tally's bounds in seconds: 0.005, 0.01, … 3600 (each the same number as its literal). */
const DURATION_BUCKETS = RUN_BOUNDS_MS.map((ms) => ms / 1000);

/** prom-client, loaded on first use: synchronously, because `Metrics.registry` is a plain property. */
let promClient: typeof PromClient | null = null;
const loadPromClient = (): typeof PromClient => (promClient ??= createRequire(import.meta.url)('prom-client') as typeof PromClient);

export function createMetrics(options: MetricsOptions): Metrics {
  const jobNames = new Set(options.jobs.map((job) => job.name));
  const queueNames = new Set([...options.jobs.map((job) => job.queue), ...(options.queues ?? [])]);
  const jobLabel = (name: string) => (jobNames.has(name) ? name : 'other');
  const queueLabel = (name: string) => (queueNames.has(name) ? name : 'other');
  const cacheMs = options.cacheMs ?? 5000;

  // Completions, run times and waits are counted in the process's run tally (run-tally.ts),
  // shared with the activity stats; a read takes what it counted since the last read. Runs of the
  // current task reach the tally at its end (see run-observers.ts): a read delivers them first.
  const runs = runObservers(options.events);
  const releaseTally = runs.useTally();
  const tallyReader = runs.tally.reader();
  let stopped = false;
  const beforeRead = (): void => {
    if (stopped) return;
    runs.deliver();
    tallyReader.take(({ cell: tallied, completed: done, durationCounts, durationSumMs, waits, waitCounts, waitSumMs }) => {
      const cell = jobCell(tallied.queue, tallied.name);
      completed.add(cell.completed, done);
      if (done > 0) duration.addCounts(cell.duration, durationCounts, durationSumMs / 1000);
      if (waits > 0) wait.addCounts(cell.wait, waitCounts, waitSumMs / 1000);
    });
  };
  const duration = new CellHistogram({
    name: 'nightshift_job_duration_seconds',
    help: 'How long handlers ran, by outcome-independent attempt (seconds).',
    buckets: DURATION_BUCKETS,
    beforeRead,
  });
  const wait = new CellHistogram({
    name: 'nightshift_job_wait_seconds',
    help: 'From when a job was due (run_at) to when its attempt started (seconds).',
    buckets: DURATION_BUCKETS,
    beforeRead,
  });
  const completed = new CellCounter({ name: 'nightshift_jobs_completed_total', help: 'Attempts that completed.', labelNames: ['queue', 'job'], beforeRead });
  const failed = new CellCounter({ name: 'nightshift_jobs_failed_total', help: 'Attempts that failed (retried or dead), by error kind.', labelNames: ['queue', 'job', 'kind'], beforeRead });
  const retried = new CellCounter({ name: 'nightshift_jobs_retried_total', help: 'Failed attempts that will be retried.', labelNames: ['queue', 'job'], beforeRead });
  const dead = new CellCounter({ name: 'nightshift_jobs_dead_total', help: 'Jobs that ended dead.', labelNames: ['queue', 'job'], beforeRead });

  // One cell per (queue, job) label pair, found through two maps so an event builds no string and
  // no labels object; the metrics above read the cells only when scraped (see metric-cells.ts).
  const jobCells = new Map<string, Map<string, JobCell>>();
  // The last pair asked for: a worker's events mostly repeat it (one queue, one job name).
  let lastQueue = '';
  let lastJob = '';
  let lastCell: JobCell | null = null;
  const jobCell = (queueName: string, jobName: string): JobCell => {
    if (lastCell !== null && queueName === lastQueue && jobName === lastJob) return lastCell;
    const cell = findJobCell(queueName, jobName);
    lastQueue = queueName;
    lastJob = jobName;
    lastCell = cell;
    return cell;
  };
  const findJobCell = (queueName: string, jobName: string): JobCell => {
    const queue = queueLabel(queueName);
    const job = jobLabel(jobName);
    let byJob = jobCells.get(queue);
    if (byJob === undefined) jobCells.set(queue, (byJob = new Map()));
    let cell = byJob.get(job);
    if (cell === undefined) {
      const labels = { queue, job };
      cell = {
        labels,
        wait: wait.cell(labels),
        duration: duration.cell(labels),
        completed: completed.cell(labels),
        retried: retried.cell(labels),
        dead: dead.cell(labels),
        failed: new Map(),
      };
      byJob.set(job, cell);
    }
    return cell;
  };
  const failedCell = (cell: JobCell, errorKind: string): CounterCell => {
    const kind = ERROR_KINDS.has(errorKind) ? errorKind : 'other';
    let counter = cell.failed.get(kind);
    if (counter === undefined) cell.failed.set(kind, (counter = failed.cell({ ...cell.labels, kind })));
    return counter;
  };

  const cachedRead = <T>(read: (() => Promise<T[]>) | undefined): (() => Promise<T[]>) => {
    let cached: { at: number; value: Promise<T[]> } | null = null;
    return () => {
      const now = Date.now();
      if (!read) return Promise.resolve([]);
      if (!cached || now - cached.at > cacheMs) cached = { at: now, value: read().catch(() => []) };
      return cached.value;
    };
  };
  const readQueues = cachedRead(options.sources?.queues?.bind(options.sources));
  const readSchedules = cachedRead(options.sources?.schedules?.bind(options.sources));
  const storeCalls = new CellHistogram({
    name: 'nightshift_store_call_duration_seconds',
    help: 'How long calls into the store took in this process, by method and outcome (ok/error).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  });
  /** Per store method: the `ok` and `error` series. */
  const storeCallCells = new Map<string, { ok: HistogramCell; error: HistogramCell }>();
  // The registry lists the families in this order; the cells above count from the start.
  const buildRegistry = (): Registry => {
    const { Registry, Counter, Gauge, collectDefaultMetrics } = loadPromClient();
    const registry = new Registry();
    duration.register(registry);
    wait.register(registry);
    completed.register(registry, Counter);
    failed.register(registry, Counter);
    retried.register(registry, Counter);
    dead.register(registry, Counter);
    storeCalls.register(registry);
    new Gauge({
      name: 'nightshift_queue_jobs',
      help: 'Jobs in the store by queue and state (cluster-wide, cached a few seconds).',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        // Queues this process does not know are summed under `other`: a queue name is whatever an
        // enqueue sent, and a series per name would let any client grow the scrape without bound.
        const sums = new Map<string, Map<string, number>>();
        for (const queue of await readQueues()) {
          const label = queueLabel(queue.name);
          let byState = sums.get(label);
          if (byState === undefined) sums.set(label, (byState = new Map()));
          for (const [state, count] of Object.entries(queue.counts)) byState.set(state, (byState.get(state) ?? 0) + count);
        }
        for (const [queue, byState] of sums) for (const [state, count] of byState) this.set({ queue, state }, count);
      },
    });
    new Gauge({
      name: 'nightshift_queue_lag_seconds',
      help: 'How long the oldest due job of each queue has waited to start (cluster-wide, cached a few seconds; 0 when none is due).',
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        this.reset();
        // Unknown queues under `other`, as above: the longest wait among them.
        const lags = new Map<string, number>();
        for (const queue of await readQueues()) {
          const label = queueLabel(queue.name);
          lags.set(label, Math.max(lags.get(label) ?? 0, (queue.lagMs ?? 0) / 1000));
        }
        for (const [queue, lag] of lags) this.set({ queue }, lag);
      },
    });
    const scheduleGauge = (name: string, help: string, pick: (schedule: { lastRunAt: Date | null; nextRunAt: Date | null }) => Date | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['schedule'],
        registers: [registry],
        async collect() {
          this.reset();
          for (const schedule of await readSchedules()) {
            const at = pick(schedule);
            if (at) this.set({ schedule: schedule.id }, at.getTime() / 1000);
          }
        },
      });
    scheduleGauge('nightshift_schedule_last_run_timestamp_seconds', 'Fire time of each schedule’s last claimed tick (Unix seconds; absent before the first).', (s) => s.lastRunAt);
    scheduleGauge('nightshift_schedule_next_run_timestamp_seconds', 'Next fire time of each schedule (Unix seconds; absent when paused or it never fires again).', (s) => s.nextRunAt);
    new Gauge({
      name: 'nightshift_worker_slots',
      help: 'Configured concurrency of this process’s worker, by queue.',
      labelNames: ['queue'],
      registers: [registry],
      collect() {
        this.reset();
        for (const slot of options.sources?.slots?.() ?? []) this.set({ queue: queueLabel(slot.queue) }, slot.slots);
      },
    });
    new Gauge({
      name: 'nightshift_worker_busy_slots',
      help: 'Handlers running now in this process’s worker, by queue.',
      labelNames: ['queue'],
      registers: [registry],
      collect() {
        this.reset();
        for (const slot of options.sources?.slots?.() ?? []) this.set({ queue: queueLabel(slot.queue) }, slot.busy);
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'nightshift_process_' });
    return registry;
  };
  let registry: Registry | null = null;

  const offs = [
    releaseTally,
    options.events.on('job:failed', ({ job, error, willRetry, durationMs }) => {
      runs.deliver();
      const cell = jobCell(job.queue, job.name);
      failed.inc(failedCell(cell, error.kind));
      duration.observe(cell.duration, durationMs / 1000);
      if (willRetry) retried.inc(cell.retried);
      else dead.inc(cell.dead);
    }),
  ];
  return {
    get registry() {
      return (registry ??= buildRegistry());
    },
    text() {
      try {
        return (registry ??= buildRegistry()).metrics();
      } catch (error) {
        return Promise.reject(error);
      }
    },
    observeStoreCall(method, seconds, ok) {
      let cells = storeCallCells.get(method);
      if (cells === undefined) {
        cells = { ok: storeCalls.cell({ method, outcome: 'ok' }), error: storeCalls.cell({ method, outcome: 'error' }) };
        storeCallCells.set(method, cells);
      }
      storeCalls.observe(ok ? cells.ok : cells.error, seconds);
    },
    stop() {
      if (stopped) return;
      // Runs counted until now are this registry's: taken before it stops reading the tally.
      beforeRead();
      stopped = true;
      for (const off of offs) off();
    },
  };
}
