import type { Logger } from 'pino';
import { NightshiftError, NotFoundError, StateError, ValidationError } from '../errors.js';
import type { AnyJobDefinition, JobDefinition } from '../job/define-job.js';
import { assertValidName } from '../job/names.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, serializePayload } from '../job/payload.js';
import { checkPayload, type SchemaInput, type StandardSchema } from '../job/schema.js';
import { tellCancelledDependents } from '../observe/cancelled-dependents.js';
import { NightshiftEvents } from '../observe/events.js';
import { explainJob, type JobWhy } from './job-why.js';
import { isJobId } from '../store/job-ids.js';
import { readQueueThroughput, readStatsReport, readTimeseries, type StatsReport, type Timeseries, type TimeseriesBucket, type TimeseriesWindow } from '../observe/stats-report.js';
import { listProcesses, type ProcessView } from '../observe/process-registry.js';
import { createSilentLogger } from '../observe/logger.js';
import { JOB_STATES, type JobInsert, type JobInsertResult, type JobListFilter, type JobState, type JobStats, type Store, type StoreTransaction } from '../store/types.js';
import { createJobRegistry, type JobList } from '../job/job-registry.js';
import { assertStorableText, checkKey, MAX_REASON_LENGTH } from '../job/input-bounds.js';
import { cancelMany, deleteMany, deleteOne, retryMany, unmetDependencyOf, type BulkActionResult } from './bulk-actions.js';
import type { EnqueueManyOptions, EnqueueOptions, EnqueueResult, FlowNode, FlowResult, JobEnqueuer } from '../job/enqueue-types.js';
import { flattenFlow } from './flow.js';
import { resolveEnqueueOptions } from './enqueue-options.js';
import { resolveConcurrencyKey, resolveRateKey } from '../job/concurrency-key.js';
import { toAttempt, toJob, type Job, type JobDetails } from '../job/job-view.js';

export type { EnqueueManyOptions, EnqueueOptions, EnqueueResult, JobEnqueuer } from '../job/enqueue-types.js';
export type { BulkActionResult } from './bulk-actions.js';

/** Options of `createClient`. */
export interface ClientOptions {
  store: Store;
  /** Jobs that can be enqueued by name (a definition can always be passed directly). */
  jobs?: JobList;
  /** Where `job:enqueued` / `job:cancelled` go; default a new emitter. */
  events?: NightshiftEvents;
  /** Largest serialized payload, in bytes; default 1 MiB (1 048 576). */
  maxPayloadBytes?: number;
  /** Default: a silent logger. */
  logger?: Logger;
}

/** Which jobs: the filter of `client.list` and of the bulk actions (`retryMany`, `cancelMany`, `deleteMany`). */
export type JobFilter = Omit<ListParams, 'limit' | 'cursor'>;

/** Filter and page of `client.list`. */
export interface ListParams {
  state?: JobState | readonly JobState[];
  queue?: string | readonly string[];
  /** Exact job name(s). */
  job?: string | readonly string[];
  /** Case-insensitive part of the job name. */
  nameContains?: string;
  /**
   * Text search: a case-insensitive part of the job name or of its de-duplication key, or the
   * exact job id (see `JobListFilter.search` in store/types.ts). Empty: no filter.
   */
  search?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Jobs created by this schedule (exact schedule id). */
  scheduleId?: string;
  /** Jobs whose last error is of this kind or kinds (`timeout`, `error`, `unrecoverable`, `lease_expired`, …). */
  errorKind?: string | string[];
  /** Page size, 1 … 1000; default 50. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

export interface ListPage {
  /** Newest first. */
  jobs: Job[];
  nextCursor: string | null;
}

/** Enqueues and inspects jobs. Safe to share; holds no connections of its own. */
export interface Client extends JobEnqueuer {
  readonly events: NightshiftEvents;
  /**
   * Inserts a flow (a job and the jobs it waits for, nested) in one transaction; every job is
   * checked as an enqueue of it would be, and nothing is stored unless all of it is. A parent
   * runs after its children completed and reads their results with `ctx.childResults()`.
   */
  flow(root: FlowNode, options?: { tx?: StoreTransaction }): Promise<FlowResult>;
  /** A job with its attempts. NotFoundError when there is none. */
  get(id: string): Promise<JobDetails>;
  /** Why job `id` is not running (or that it is): one reason, from the store's state now. NotFoundError when there is none. */
  why(id: string): Promise<JobWhy>;
  list(params?: ListParams): Promise<ListPage>;
  /** Cancels a job that has not finished (a running handler is aborted). StateError when it already finished. */
  cancel(id: string, reason?: string): Promise<Job>;
  /**
   * Runs a job that ended (completed, dead, cancelled), waits for a retry or is scheduled, now;
   * one more attempt when it had used them all. StateError when it is running, already available,
   * or waiting for the jobs it depends on.
   */
  retry(id: string): Promise<Job>;
  stats(): Promise<JobStats>;
  /** The jobs this client knows by name, sorted by name. */
  definitions(): AnyJobDefinition[];
  /**
   * Every queue that has jobs, is paused, has a registered job or a live consumer, with its counts
   * by state, whether it is paused (cluster-wide: pausing is stored) and who consumes it (from the
   * process registry). Sorted by name.
   */
  queues(): Promise<QueueView[]>;
  /** Stops every worker on the store from claiming jobs of `queue` (enqueues still work). */
  pauseQueue(queue: string): Promise<void>;
  resumeQueue(queue: string): Promise<void>;
  /** The store's current time: answers only while the store does (readiness checks). */
  ping(): Promise<Date>;
  /** Deletes a finished job and its attempts. NotFoundError if there is none; StateError if it has not finished. */
  delete(id: string): Promise<void>;
  /** Retries every job `filter` selects that `retry` would (ended, retryable, scheduled); others are left alone. At most 100 000 per call; `more` says when to call again. */
  retryMany(filter: JobFilter): Promise<BulkActionResult>;
  /** Cancels every job `filter` selects that has not finished. At most 100 000 per call. */
  cancelMany(filter: JobFilter, reason?: string): Promise<BulkActionResult>;
  /** Deletes every finished job `filter` selects, with its attempts. At most 100 000 per call. */
  deleteMany(filter: JobFilter): Promise<BulkActionResult>;
  /** Cancels every job of `queue` that no worker has claimed (running jobs, and jobs a worker claimed ahead of a free slot, go on). */
  drainQueue(queue: string, reason?: string): Promise<BulkActionResult>;
  /** Every live Nightshift process on the store (the process registry), by id. */
  processes(): Promise<ProcessView[]>;
  /**
   * Runs, success rate, run time and wait percentiles over the last hour and day: in total, per
   * queue and per job name (from the per-minute stats every runtime adds to; see the stats docs).
   */
  activity(): Promise<StatsReport>;
  /** Enqueued, completed and failed per bucket per queue, for charts. */
  timeseries(params: { window: TimeseriesWindow; bucket?: TimeseriesBucket; queue?: string }): Promise<Timeseries>;
}

/** One queue as `client.queues()` shows it. */
export interface QueueView {
  name: string;
  paused: boolean;
  counts: Record<JobState, number>;
  /** From the process registry: live processes whose worker consumes this queue. */
  consumers: number;
  /** Their configured concurrency, added up (0: no live worker consumes the queue). */
  concurrency: number;
  /** Handlers of this queue running in them at their last heartbeat (≤ 10 s old). */
  running: number;
  /** How long the oldest due job of the queue has waited to start, ms (0: none is due). */
  lagMs: number;
  /**
   * Attempts that completed / failed (retried or dead) in the minute rows overlapping the last
   * 60 s (the current minute and the one before) and in the last hour, from the stats.
   */
  completedLastMinute: number;
  failedLastMinute: number;
  completedLastHour: number;
  failedLastHour: number;
}

function asList<T extends string>(value: T | readonly T[] | undefined): T[] | undefined {
  return value === undefined ? undefined : typeof value === 'string' ? [value] : [...value];
}

function assertDate(name: string, value: unknown): void {
  if (value !== undefined && (!(value instanceof Date) || Number.isNaN(value.getTime()))) {
    throw new ValidationError('INVALID_OPTION', `list: ${name} must be a valid Date`);
  }
}

/** Checks the filter part of `ListParams` (also the filter of the bulk actions) and returns the store's filter. */
export function toListFilter(params: JobFilter): JobListFilter {
  const states = asList(params.state);
  for (const state of states ?? []) {
    if (!JOB_STATES.includes(state)) throw new ValidationError('INVALID_OPTION', `list: unknown state "${state}" (known: ${JOB_STATES.join(', ')})`);
  }
  const queues = asList(params.queue);
  for (const queue of queues ?? []) assertValidName('queue name', queue);
  const names = asList(params.job);
  for (const name of names ?? []) assertValidName('job name', name);
  assertDate('createdAfter', params.createdAfter);
  assertDate('createdBefore', params.createdBefore);
  for (const field of ['nameContains', 'search'] as const) {
    if (params[field] !== undefined && typeof params[field] !== 'string') {
      throw new ValidationError('INVALID_OPTION', `list: ${field} must be a string`);
    }
  }
  if (params.scheduleId !== undefined) assertValidName('schedule id', params.scheduleId);
  const errorKinds = asList(params.errorKind);
  for (const kind of errorKinds ?? []) {
    if (typeof kind !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(kind)) throw new ValidationError('INVALID_OPTION', `list: errorKind must be a kind like timeout or lease_expired (lower-case letters, digits, _), got ${JSON.stringify(kind)}`);
  }
  const filter: JobListFilter = {};
  if (errorKinds) filter.errorKinds = errorKinds;
  if (states) filter.states = states;
  if (queues) filter.queues = queues;
  if (names) filter.names = names;
  if (params.nameContains) {
    assertStorableText(params.nameContains, 'list: nameContains');
    filter.nameContains = params.nameContains;
  }
  if (params.search) {
    assertStorableText(params.search, 'list: search');
    filter.search = params.search;
  }
  if (params.scheduleId !== undefined) filter.scheduleId = params.scheduleId;
  if (params.createdAfter) filter.createdAfter = params.createdAfter;
  if (params.createdBefore) filter.createdBefore = params.createdBefore;
  return filter;
}


/** A cancel reason: a string of at most MAX_REASON_LENGTH storable characters. */
function checkReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH) {
    throw new ValidationError('INVALID_OPTION', `cancel: reason must be a string of at most ${MAX_REASON_LENGTH} characters`);
  }
  assertStorableText(reason, 'cancel: reason');
}

/** Creates a client. See `Client`. */
export function createClient(options: ClientOptions): Client {
  const { store } = options;
  const jobs = createJobRegistry(options.jobs);
  const events = options.events ?? new NightshiftEvents();
  const logger = options.logger ?? createSilentLogger();
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1) {
    throw new ValidationError('INVALID_OPTION', `maxPayloadBytes must be a positive integer (bytes), got ${String(maxPayloadBytes)}`);
  }

  const resolveJob = (jobOrName: unknown): AnyJobDefinition => {
    if (typeof jobOrName === 'string') {
      assertValidName('job name', jobOrName);
      const job = jobs.get(jobOrName);
      if (!job) {
        const known = [...jobs.keys()].sort().join(', ') || '(none registered)';
        throw new ValidationError('UNKNOWN_JOB', `unknown job "${jobOrName}"; known jobs: ${known}. Register it in the jobs list or pass its definition.`);
      }
      return job;
    }
    if (jobOrName && typeof jobOrName === 'object' && typeof (jobOrName as AnyJobDefinition).name === 'string' && '~standard' in ((jobOrName as AnyJobDefinition).schema ?? {})) {
      return jobOrName as AnyJobDefinition;
    }
    throw new ValidationError('UNKNOWN_JOB', 'enqueue needs a job definition (from defineJob) or a registered job name');
  };

  /** Serializes and validates one payload. */
  const preparePayload = async (job: AnyJobDefinition, payload: unknown): Promise<string> => {
    // Serialization first: a function, BigInt or cycle is "not storable", whatever the schema says.
    const text = serializePayload(payload, maxPayloadBytes);
    // Awaited only when the schema is asynchronous.
    const checked = checkPayload(job.name, job.schema, payload);
    if (checked instanceof Promise) await checked;
    return text;
  };

  /** Names the item in a bulk enqueue's error (`item 3: …`, issue paths prefixed with the index). */
  const itemError = (error: unknown, index: number | null): unknown => {
    if (index === null || !(error instanceof NightshiftError)) return error;
    return new ValidationError(error.code, `item ${index}: ${error.message}`, {
      cause: error,
      issues: error.issues.map((issue) => ({ path: issue.path === '' ? String(index) : `${index}.${issue.path}`, message: issue.message })),
    });
  };

  const storeNowMs = async (options: EnqueueOptions | undefined): Promise<number | null> =>
    options && typeof options === 'object' && typeof options.delayMs === 'number' && options.delayMs > 0 ? (await store.timeNow()).getTime() : null;

  const announce = <P>(results: JobInsertResult[]): EnqueueResult<P>[] => {
    const emit = events.has('job:enqueued');
    return results.map((result) => {
      if (emit) events.emit('job:enqueued', { job: result.job, inserted: result.inserted });
      return { job: toJob<P>(result.job), inserted: result.inserted };
    });
  };

  const enqueue = async (jobOrName: unknown, payload: unknown, options?: EnqueueOptions): Promise<EnqueueResult> => {
    const job = resolveJob(jobOrName);
    const where = `enqueue "${job.name}"`;
    const resolved = resolveEnqueueOptions(where, job, options, await storeNowMs(options));
    const text = await preparePayload(job, payload);
    const insert: JobInsert = {
      name: job.name,
      payload: text,
      ...resolved,
      scheduleId: null,
      meta: null,
      ...resolveConcurrencyKey(where, job.perKey, payload, options?.concurrencyKey),
      ...resolveRateKey(where, job.rateLimit, payload, options?.rateKey),
    };
    const insertOne = () => store.jobInsertMany(options?.tx === undefined ? { jobs: [insert] } : { jobs: [insert], tx: options.tx });
    const results = insert.debounce !== undefined && options?.tx === undefined ? await inCallOrder(`${insert.name}\u0000${insert.debounce.key}`, insertOne) : await insertOne();
    return announce(results)[0]!;
  };

  /**
   * Debounced enqueues of one key from this client, written in the order they were called: the
   * last call's data is the job's, as documented. On PostgreSQL, concurrent calls go out on
   * several connections and would otherwise commit in any order (SQLite writes one at a time).
   * Calls from other processes are ordered by their commits, as they must be.
   */
  const debounceChains = new Map<string, Promise<unknown>>();
  const inCallOrder = async <T>(key: string, write: () => Promise<T>): Promise<T> => {
    const previous = debounceChains.get(key) ?? Promise.resolve();
    const current = previous.then(write, write);
    debounceChains.set(key, current);
    try {
      return await current;
    } finally {
      if (debounceChains.get(key) === current) debounceChains.delete(key);
    }
  };

  const enqueueMany = async (jobOrName: unknown, payloads: readonly unknown[], options?: EnqueueManyOptions): Promise<EnqueueResult[]> => {
    const job = resolveJob(jobOrName);
    if (!Array.isArray(payloads)) throw new ValidationError('INVALID_OPTION', `enqueueMany "${job.name}": payloads must be an array`);
    if (payloads.length === 0) return [];
    const { keyOf, ...shared } = options ?? {};
    if ('key' in shared) throw new ValidationError('INVALID_OPTION', `enqueueMany "${job.name}": use keyOf(payload, index) for per-item keys, not key`);
    if (keyOf !== undefined && typeof keyOf !== 'function') throw new ValidationError('INVALID_OPTION', `enqueueMany "${job.name}": keyOf must be a function`);
    const base = resolveEnqueueOptions(`enqueueMany "${job.name}"`, job, shared, await storeNowMs(shared));
    const inserts: JobInsert[] = new Array<JobInsert>(payloads.length);
    for (let index = 0; index < payloads.length; index++) {
      const payload: unknown = payloads[index];
      let text: string;
      try {
        // Serialization first: a function, BigInt or cycle is "not storable", whatever the schema says.
        text = serializePayload(payload, maxPayloadBytes);
        // Awaited only when the schema is asynchronous: a sync check per item keeps bulk enqueues fast.
        const checked = checkPayload(job.name, job.schema, payload);
        if (checked instanceof Promise) await checked;
      } catch (error) {
        throw itemError(error, index);
      }
      let key: string | null = null;
      if (keyOf) {
        const itemKey = keyOf(payload, index);
        if (itemKey !== undefined) key = checkKey(`enqueueMany "${job.name}" item ${index}`, itemKey);
      }
      let concurrency: { concurrencyKey: string | null; concurrencyLimit: number | null } | null = null;
      let rate: ReturnType<typeof resolveRateKey> = {};
      if (job.perKey || shared.concurrencyKey !== undefined || job.rateLimit || shared.rateKey !== undefined) {
        try {
          concurrency = resolveConcurrencyKey(`enqueueMany "${job.name}"`, job.perKey, payload, shared.concurrencyKey);
          rate = resolveRateKey(`enqueueMany "${job.name}"`, job.rateLimit, payload, shared.rateKey);
        } catch (error) {
          throw itemError(error, index);
        }
      }
      inserts[index] = {
        name: job.name,
        payload: text,
        queue: base.queue,
        priority: base.priority,
        maxAttempts: base.maxAttempts,
        runAt: base.runAt,
        key,
        timeoutMs: base.timeoutMs,
        scheduleId: null,
        meta: null,
        ...(concurrency ?? {}),
        ...rate,
        ...(base.dependsOn ? { dependsOn: base.dependsOn } : {}),
        ...(base.onDependencyFailure ? { onDependencyFailure: base.onDependencyFailure } : {}),
        ...(base.throttle ? { throttle: base.throttle } : {}),
        ...(base.debounce ? { debounce: base.debounce } : {}),
      };
    }
    const results = await store.jobInsertMany(shared.tx === undefined ? { jobs: inserts } : { jobs: inserts, tx: shared.tx });
    logger.debug({ job: job.name, count: inserts.length }, 'enqueued jobs in bulk');
    return announce(results);
  };

  const flow = async (root: FlowNode, options: { tx?: StoreTransaction } = {}): Promise<FlowResult> => {
    const { inserts, shape } = await flattenFlow(root, async (node, where) => {
      const job = resolveJob(node.job);
      const at = `${where} "${job.name}"`;
      if (node.options && 'tx' in node.options) throw new ValidationError('INVALID_OPTION', `${at}: give tx to flow(), not to one of its jobs`);
      if (node.options && ('throttle' in node.options || 'debounce' in node.options)) throw new ValidationError('INVALID_OPTION', `${at}: throttle and debounce are not for jobs of a flow`);
      const resolved = resolveEnqueueOptions(at, job, node.options, await storeNowMs(node.options));
      let text: string;
      try {
        text = await preparePayload(job, node.data);
      } catch (error) {
        throw error instanceof NightshiftError ? new ValidationError(error.code, `${at}: ${error.message}`, { cause: error, issues: [...error.issues] }) : error;
      }
      return {
        name: job.name,
        payload: text,
        ...resolved,
        scheduleId: null,
        meta: null,
        ...resolveConcurrencyKey(at, job.perKey, node.data, node.options?.concurrencyKey),
        ...resolveRateKey(at, job.rateLimit, node.data, node.options?.rateKey),
      };
    });
    // A root whose key a pending job holds: the flow is that job, and nothing of this one is
    // inserted (else its children would run again with nothing waiting on them: a retried POST).
    // The store decides it inside the insert's transaction (`flow: true`), so two posts of one
    // keyed flow racing each other store one flow between them.
    const results = await store.jobInsertMany(options.tx === undefined ? { jobs: inserts, flow: true } : { jobs: inserts, tx: options.tx, flow: true });
    if (results.length < inserts.length) return { job: toJob(results[0]!.job), inserted: false, children: [] };
    logger.debug({ jobs: inserts.length }, 'enqueued a flow');
    return shape(announce(results));
  };

  const assertId = (id: unknown): string => {
    if (!isJobId(id)) throw new NotFoundError('JOB_NOT_FOUND', `no job with id ${JSON.stringify(id)} (ids are decimal strings)`);
    return id;
  };
  const notFound = (id: string): NotFoundError => new NotFoundError('JOB_NOT_FOUND', `no job with id ${id}`);

  return {
    events,
    enqueue: enqueue as Client['enqueue'],
    enqueueMany: enqueueMany as Client['enqueueMany'],
    flow,

    async get(id) {
      assertId(id);
      const [record, attempts] = await Promise.all([store.jobGet({ id }), store.jobAttempts({ id })]);
      if (!record) throw notFound(id);
      return { ...toJob(record), attempts: attempts.map(toAttempt) };
    },

    async why(id) {
      assertId(id);
      const record = await store.jobGet({ id });
      if (!record) throw notFound(id);
      return explainJob(store, record);
    },

    async list(params = {}) {
      if (params.limit !== undefined && (!Number.isInteger(params.limit) || params.limit < 1 || params.limit > 1000)) {
        throw new ValidationError('INVALID_OPTION', `list: limit must be an integer from 1 to 1000, got ${String(params.limit)}`);
      }
      const filter = toListFilter(params);
      const page = await store.jobList({ filter, limit: params.limit ?? 50, cursor: params.cursor ?? null });
      return { jobs: page.jobs.map((record) => toJob(record)), nextCursor: page.nextCursor };
    },

    async cancel(id, reason = 'cancelled on request') {
      assertId(id);
      checkReason(reason);
      const cancelledDependents: string[] = [];
      const record = await store.jobCancel({ id, reason, cancelledDependents });
      if (!record) throw notFound(id);
      if (record.state !== 'cancelled') throw new StateError(`job ${id} is ${record.state}; only jobs that have not finished can be cancelled`);
      if (events.has('job:cancelled')) events.emit('job:cancelled', { job: record, reason });
      // The jobs waiting on it that it took down with it, after it.
      await tellCancelledDependents(store, events, cancelledDependents);
      return toJob(record);
    },

    async retry(id) {
      assertId(id);
      // An available job would only lose its place in line (the store leaves it as it is, and
      // would hand it back looking retried): said here instead.
      const current = await store.jobGet({ id });
      if (!current) throw notFound(id);
      if (current.state === 'available') throw new StateError(`job ${id} is already available: it starts as soon as a worker of queue "${current.queue}" is free`);
      const unmet = await unmetDependencyOf(store, current);
      if (unmet !== null) throw new StateError(`job ${id} was cancelled because job ${unmet.id} it depends on ended ${unmet.state}; retry job ${unmet.id} first, and this one once it completed`);
      const record = await store.jobRetry({ id });
      if (!record) throw notFound(id);
      if (record.state === 'running') throw new StateError(`job ${id} is running; wait for it to finish or cancel it first`);
      if (record.state === 'waiting') throw new StateError(`job ${id} is waiting for the jobs it depends on; it becomes available when they complete`);
      if (record.state !== 'available') throw new StateError(`job ${id} is ${record.state} and could not be retried`);
      if (events.has('job:retried')) events.emit('job:retried', { job: record });
      return toJob(record);
    },

    stats: () => store.jobStats(),

    definitions: () => [...jobs.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),

    activity: () => readStatsReport(store),

    timeseries: (params) => readTimeseries(store, params),

    async queues() {
      const [stats, paused, processes, oldest, throughput, now] = await Promise.all([
        store.jobStats(),
        store.queuePausedList(),
        listProcesses(store),
        store.jobQueueOldest(),
        readQueueThroughput(store),
        store.timeNow(),
      ]);
      const pausedSet = new Set(paused);
      const byName = new Map<string, QueueView>();
      const empty = (): Record<JobState, number> => Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
      const add = (name: string, counts: Record<JobState, number>): QueueView => {
        const view: QueueView = {
          name,
          paused: pausedSet.has(name),
          counts,
          consumers: 0,
          concurrency: 0,
          running: 0,
          lagMs: 0,
          completedLastMinute: 0,
          failedLastMinute: 0,
          completedLastHour: 0,
          failedLastHour: 0,
          ...throughput.get(name),
        };
        byName.set(name, view);
        return view;
      };
      for (const queue of stats.queues) add(queue.queue, { ...empty(), ...queue.counts });
      for (const { queue, oldestRunAt } of oldest) {
        const view = byName.get(queue) ?? add(queue, empty());
        view.lagMs = Math.max(0, now.getTime() - oldestRunAt.getTime());
      }
      for (const name of [...pausedSet, ...throughput.keys(), ...[...jobs.values()].map((job) => job.queue)]) {
        if (!byName.has(name)) add(name, empty());
      }
      // Who consumes each queue: the live processes' own reports (see the process registry).
      for (const process of processes) {
        for (const slot of process.queues) {
          if (typeof slot?.queue !== 'string') continue;
          const view = byName.get(slot.queue) ?? add(slot.queue, empty());
          view.consumers++;
          view.concurrency += Number(slot.concurrency) || 0;
          view.running += Number(slot.busy) || 0;
        }
      }
      return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async pauseQueue(queue) {
      assertValidName('queue name', queue);
      await store.queuePause({ queue });
      if (events.has('queue:paused')) events.emit('queue:paused', { queue });
    },

    async resumeQueue(queue) {
      assertValidName('queue name', queue);
      await store.queueResume({ queue });
      if (events.has('queue:resumed')) events.emit('queue:resumed', { queue });
    },

    ping: () => store.timeNow(),

    async delete(id) {
      assertId(id);
      await deleteOne(store, id);
    },

    retryMany: (filter) => retryMany(store, toListFilter(filter), events),

    cancelMany(filter, reason = 'cancelled on request') {
      checkReason(reason);
      return cancelMany(store, toListFilter(filter), reason, events);
    },

    deleteMany: (filter) => deleteMany(store, toListFilter(filter)),

    processes: () => listProcesses(store),

    drainQueue(queue, reason = `queue ${queue} drained`) {
      assertValidName('queue name', queue);
      checkReason(reason);
      return cancelMany(store, { queues: [queue], states: ['scheduled', 'available', 'retryable', 'waiting'] }, reason, events);
    },
  };
}
