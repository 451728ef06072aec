import type { Logger } from 'pino';
import { createClient, type Client } from './client/client.js';
import { StateError } from './errors.js';
import { createPruner, type Retention } from './maintenance/pruner.js';
import { createRescuer } from './maintenance/rescuer.js';
import { createEventFeedReader, createEventFeedWriter } from './observe/event-feed.js';
import { parseRetention, type RetentionMs } from './job/retention.js';
import { NightshiftEvents } from './observe/events.js';
import { createSilentLogger } from './observe/logger.js';
import type { Clock, Store } from './store/types.js';
import type { JobList } from './job/job-registry.js';
import type { Service } from './service.js';
import { createMetrics, type Metrics } from './observe/metrics.js';
import { setUpAlerting } from './alerts/alert-runtime.js';
import type { AlertRules, AlertRulesInput } from './alerts/alert-rules.js';
import type { AlertChannel } from './alerts/channels/index.js';
import { timeStore } from './observe/store-timing.js';
import { createStatsRecorder, type StatsRecorder } from './observe/stats-recorder.js';
import { createProcessRegistry } from './observe/process-registry.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ApiServerOptions } from './server/server.js';
import type { ApiService, HttpListenOptions } from './server/api-service.js';
import { createWorker, type Worker } from './worker/worker.js';
import type { QueueOptions } from './worker/worker-options.js';

/** Options of `createNightshift`. */
export interface NightshiftOptions {
  store: Store;
  jobs: JobList;
  /** Per-queue concurrency and timeout (see `QueueOptions`). */
  queues?: Readonly<Record<string, QueueOptions>>;
  /** Run a worker in this process; default true. A web process that only enqueues sets false. */
  worker?: boolean;
  /** Worker id; default `hostname-pid-random`. */
  workerId?: string;
  /** Lease length in ms; default 30 000. */
  leaseMs?: number;
  /** Grace period of `stop()` for running handlers, in ms; default `SHUTDOWN_TIMEOUT_MS` env or 30 000. */
  shutdownTimeoutMs?: number;
  /** Fallback poll interval per queue, in ms; default 1000. */
  pollIntervalMs?: number;
  /** Largest serialized payload, in bytes; default 1 MiB. */
  maxPayloadBytes?: number;
  /** Clock for `ctx.now()`, durations and event estimates, ms since the epoch; default `Date.now`. Retry and snooze times come from the store's clock. */
  clock?: Clock;
  /** Random source for backoff jitter; default `Math.random`. */
  random?: () => number;
  /** Shared lifecycle events; default a new emitter (see `nightshift.events`). */
  events?: NightshiftEvents;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Expired-lease rescue; `false` turns it off. Default on whenever the worker runs, every 5000 ms. */
  rescue?: false | { intervalMs?: number };
  /** Retention of finished jobs; `false` turns it off. Default on whenever the worker runs. */
  prune?: false | { intervalMs?: number; retention?: Retention; batchSize?: number };
  /** More services to run with this runtime (started after the built-in ones, stopped before them). */
  services?: readonly Service[];
  /**
   * Heartbeat this process into the store's process registry (id, host, pid, version, roles,
   * queues, busy slots, running jobs) every 10 s, for `GET /api/workers` and `client.processes()`.
   * Default: on whenever the worker or the HTTP API runs.
   */
  processRegistry?: boolean;
  /**
   * Copy this process's job, schedule and queue lifecycle events into the store's cluster-wide
   * event feed (batched every 100 ms, never awaited by a job), which `GET /api/events` serves.
   * Default: on when the HTTP API runs here, off otherwise — turn it on in the workers whose
   * events the feed should carry. It is not free: on this project's W3 (no-op jobs), every
   * operator surface together costs a worker's drain 4–9 % on SQLite (`npm run bench -- --only
   * W3B,W3O`); for jobs that do real work the share is far smaller. `nightshift daemon` turns it on unless
   * `--no-event-feed`. `retentionMs`: how long the pruner
   * keeps feed events, ms; default 3 600 000 (1 hour) — `prune.retention.eventsMs` wins if set.
   */
  eventFeed?: boolean | { retentionMs?: number };
  /**
   * Count this process's activity (enqueues, attempts by outcome, run times, waits) per queue
   * and job name and add it to the store's per-minute stats every `flushMs` (default 5000) and at
   * stop: what `client.activity()`, `client.timeseries()`, `GET /api/stats` and the queues'
   * per-minute figures read. Default on. A process that enqueues without starting a runtime adds
   * nothing; neither do the PostgreSQL `enqueue()` function and the rescuer.
   */
  stats?: boolean | { flushMs?: number };
  /**
   * Alerting: evaluate these rules (the `alerts.yaml` shape, or parsed `AlertRules`) every
   * `settings.evaluateEvery` seconds and deliver what fires. Channels: `log` always; Slack,
   * Discord and email from the environment (`NOTIFY_SLACK_ENABLED`, `SLACK_WEBHOOK_URL`, …; see
   * the README) merged with the rules' `slack`/`discord`/`email` settings; plus `channels` given
   * here (they win by name). Any number of runtimes may evaluate: each alert is delivered once per
   * store. Deliveries are jobs on queue `nightshift.alerts`, sent by whichever worker claims them,
   * so every worker of the store should be given the same channels. Off by default.
   */
  alerts?: { rules: AlertRulesInput | AlertRules; channels?: readonly AlertChannel[]; env?: NodeJS.ProcessEnv; evaluate?: boolean };
  /**
   * Collect Prometheus metrics (job counters and durations, queue gauges, worker slots, Node
   * process metrics) in `nightshift.metrics`; default false, true when `http` is set. An app may
   * serve `nightshift.metrics.registry` itself. Counting starts on start(); prom-client and the
   * process metrics are loaded on the first read of the registry.
   */
  metrics?: boolean;
  /**
   * Serve the HTTP API (REST under `/api`, `/health`, `/ready`, `/metrics`) from this process.
   * Started first and stopped last, so `/ready` answers 503 while the rest shuts down. See
   * `ApiServerOptions` for tokens; without any, only a loopback host is accepted. The schedule
   * routes use `scheduleManager` when given, else one built from this runtime's store and jobs.
   */
  http?: HttpListenOptions & Pick<ApiServerOptions, 'tokens' | 'allowedOrigins' | 'allowedHosts' | 'bodyLimitBytes' | 'env' | 'checkReplies' | 'authFailureLimit' | 'tokenSource' | 'scheduleManager' | 'scheduleFile'>;
}

/** A running Nightshift: client, worker and background services under one start/stop. */
export interface Nightshift {
  readonly client: Client;
  /** Null when created with `worker: false`. */
  readonly worker: Worker | null;
  /** Prometheus metrics once started; null before, or without the `metrics` or `http` option. */
  readonly metrics: Metrics | null;
  /** The HTTP API's address (`http://host:port`) once started with `http`; else null. */
  readonly httpAddress: string | null;
  /** Null while started; otherwise why the runtime is not ready (`starting`, `stopping`, …). */
  readiness(): string | null;
  readonly events: NightshiftEvents;
  readonly store: Store;
  readonly enqueue: Client['enqueue'];
  readonly enqueueMany: Client['enqueueMany'];
  /** The services started by `start()`, in start order. */
  readonly services: readonly Service[];
  /** Adds a service (e.g. the scheduler); started at once if the runtime is already running. */
  addService(service: Service): Promise<void>;
  /** Migrates the store, then starts the worker and every service. Idempotent. */
  start(): Promise<void>;
  /** Stops every service in reverse order (the worker shuts down gracefully). Idempotent. Does not close the store. */
  stop(): Promise<void>;
  /**
   * First SIGINT/SIGTERM: graceful `stop()`, then exit 0 (1 if stopping failed). A second signal
   * exits at once with 130 (SIGINT) or 143 (SIGTERM). Returns a function removing the handlers.
   */
  handleSignals(): () => void;
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** Creates the runtime. Nothing runs until `start()`. */
export function createNightshift(options: NightshiftOptions): Nightshift {
  const wantsMetrics = Boolean(options.metrics || options.http);
  // Store calls are timed in one wrapper (for the metrics); without metrics the store is used as given.
  let metrics: Metrics | null = null;
  const store = wantsMetrics ? timeStore(options.store, () => metrics?.observeStoreCall ?? null) : options.store;
  const events = options.events ?? new NightshiftEvents();
  const logger = options.logger ?? createSilentLogger();
  const alerting = options.alerts ? setUpAlerting(options.alerts, logger) : null;
  const jobs = alerting ? [...Object.values(options.jobs ?? {}), alerting.deliveryJob] : options.jobs;
  const client = createClient({ store, jobs, events, logger, maxPayloadBytes: options.maxPayloadBytes });
  const runWorker = options.worker ?? true;
  const worker = runWorker
    ? createWorker({
        store,
        jobs,
        events,
        logger,
        queues: options.queues,
        id: options.workerId,
        leaseMs: options.leaseMs,
        shutdownTimeoutMs: options.shutdownTimeoutMs,
        pollIntervalMs: options.pollIntervalMs,
        clock: options.clock,
        random: options.random,
        // Handlers enqueue through the runtime's client: it knows every job and the payload limit.
        client,
      })
    : null;

  // Counting starts on start(); prom-client is loaded only when the registry is first read
  // (see observe/metrics.ts), so a worker whose metrics nobody scrapes never loads it.
  const createRuntimeMetrics = (): void => {
    if (metrics || !wantsMetrics) return;
    metrics = createMetrics({
      events,
      jobs: client.definitions(),
      queues: Object.keys(options.queues ?? {}),
      sources: {
        queues: () => client.queues(),
        schedules: () => store.scheduleList({}),
        ...(worker ? { slots: () => worker.slots() } : {}),
      },
    });
  };

  const services: Service[] = [];
  let api: ApiService | null = null;
  if (options.http) {
    // Loaded only when asked for: a worker without the API does not load the HTTP stack.
    const http = options.http;
    const lazy: ApiService = {
      name: 'api',
      get address() {
        return api && api !== lazy ? api.address : null;
      },
      async start() {
        const { createApiService } = await import('./server/api-service.js');
        const scheduleManager =
          http.scheduleManager ??
          (await import('./scheduler/schedule-manager.js')).createScheduleManager({
            store,
            jobs: client.definitions(),
            events,
            ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes }),
          });
        const { activeApiTokens } = await import('./client/api-tokens.js');
        // A payload limit above the default raises the body limit with it (plus room for the
        // request's other fields), unless the API's own limit is set.
        const bodyLimit = http.bodyLimitBytes === undefined && options.maxPayloadBytes !== undefined ? { bodyLimitBytes: options.maxPayloadBytes + 64 * 1024 } : {};
        api = createApiService({ ...http, ...bodyLimit, client, scheduleManager, logger, tokenSource: () => activeApiTokens(store), eventFeed: createEventFeedReader(store), ...(metrics ? { metrics } : {}), ...(alerting ? { alerts: alerting.admin(store) } : {}), readiness: () => readiness() });
        await api.start();
      },
      async stop() {
        if (api && api !== lazy) await api.stop();
      },
    };
    api = lazy;
    services.push(lazy);
  }
  const eventFeed = options.eventFeed ?? options.http !== undefined;
  // Before the worker: it listens before the first job starts and writes the last ones after the worker stopped.
  if (eventFeed) services.push(createEventFeedWriter({ store, events, logger }));
  let statsRecorder: StatsRecorder | null = null;
  if (options.stats ?? true) {
    statsRecorder = createStatsRecorder({ store, events, logger, flushMs: typeof options.stats === 'object' ? options.stats.flushMs : undefined });
    services.push(statsRecorder);
  }
  if (worker) services.push(worker);
  if (options.rescue !== false && (runWorker || options.rescue)) {
    services.push(
      createRescuer({
        store,
        events,
        logger,
        intervalMs: options.rescue ? options.rescue.intervalMs : undefined,
        onRescued: () => worker?.wake(),
        onStrandedSettled: (result) => worker?.wake(result.queues),
        ...(worker ? { beforePass: () => worker.flushFinishes() } : {}),
      }),
    );
  }
  if (options.prune !== false && (runWorker || options.prune)) {
    const prune = options.prune || {};
    const eventsMs = typeof eventFeed === 'object' ? eventFeed.retentionMs : undefined;
    const retention = eventsMs === undefined ? prune.retention : { eventsMs, ...prune.retention };
    // Retention per job (its definition) and per queue (its options), checked here like any option.
    const names: Record<string, RetentionMs> = {};
    for (const job of client.definitions()) if (job.retention) names[job.name] = job.retention;
    const queues: Record<string, RetentionMs> = {};
    for (const [queue, settings] of Object.entries(options.queues ?? {})) {
      const own = parseRetention(`queues.${queue}`, settings?.keep, settings?.keepResult);
      if (own) queues[queue] = own;
    }
    services.push(createPruner({ store, events, logger, intervalMs: prune.intervalMs, retention, batchSize: prune.batchSize, overrides: { names, queues } }));
  }
  if (alerting?.evaluate) {
    const recorder = statsRecorder;
    services.push(alerting.service({ store, events, jobNames: client.definitions().map((job) => job.name), ...(recorder ? { beforeEventPass: () => recorder.flush() } : {}) }));
  }
  services.push(...(options.services ?? []));
  if (options.processRegistry ?? (worker !== null || options.http !== undefined)) {
    // Last to start, first to stop: it describes the services above and leaves the registry first.
    const registryId = worker?.id ?? options.workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    services.push(
      createProcessRegistry({
        store,
        id: registryId,
        logger,
        describe: () => ({
          roles: [...(worker ? ['worker'] : []), ...(services.some((service) => service.name === 'scheduler') ? ['scheduler'] : []), ...(options.http ? ['api'] : [])],
          queues: worker
            ? worker.slots().map((slot) => ({ queue: slot.queue, concurrency: slot.slots, busy: slot.busy, globalConcurrency: slot.globalConcurrency, rateLimit: slot.rateLimit }))
            : [],
          runningJobIds: worker ? worker.runningJobIds() : [],
        }),
      }),
    );
  }

  let state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';
  let starting: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;
  const started: Service[] = [];

  const start = (): Promise<void> => {
    if (state === 'stopping' || state === 'stopped') return Promise.reject(new StateError('this Nightshift runtime was stopped; create a new one to start again'));
    starting ??= (async () => {
      state = 'starting';
      await store.migrate();
      createRuntimeMetrics();
      try {
        for (const service of services) {
          await service.start();
          started.push(service);
        }
      } catch (error) {
        // Leave nothing half-running behind a failed start.
        await stopStarted();
        state = 'stopped';
        throw error;
      }
      state = 'started';
      logger.info({ services: services.map((service) => service.name) }, 'nightshift started');
    })();
    return starting;
  };

  const stopStarted = async (): Promise<void> => {
    for (const service of started.splice(0).reverse()) {
      try {
        await service.stop();
      } catch (error) {
        logger.error({ err: error, service: service.name }, 'service failed to stop cleanly');
      }
    }
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (starting) await starting.catch(() => undefined);
      state = 'stopping';
      await stopStarted();
      metrics?.stop();
      state = 'stopped';
      logger.info('nightshift stopped');
    })();
    return stopping;
  };

  const readiness = (): string | null => (state === 'started' ? null : state === 'new' || state === 'starting' ? 'starting' : 'shutting down');

  return {
    client,
    worker,
    get metrics() {
      return metrics;
    },
    get httpAddress() {
      return api?.address ?? null;
    },
    readiness,
    events,
    store: options.store,
    enqueue: client.enqueue,
    enqueueMany: client.enqueueMany,
    get services() {
      return [...services];
    },
    async addService(service) {
      services.push(service);
      if (state === 'started') {
        await service.start();
        started.push(service);
      }
    },
    start,
    stop,
    handleSignals() {
      let received = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        received++;
        if (received > 1) {
          logger.warn({ signal }, 'second signal: exiting without waiting for running jobs');
          process.exit(SIGNAL_EXIT_CODES[signal as keyof typeof SIGNAL_EXIT_CODES] ?? 1);
        }
        logger.info({ signal }, 'shutting down gracefully; send the signal again to exit at once');
        stop().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'graceful shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      return () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      };
    },
  };
}

