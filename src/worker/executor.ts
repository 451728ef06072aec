import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { JobTimeoutError, LeaseLostError, RateLimitedError, ShutdownError, ValidationError } from '../errors.js';
import type { AnyJobDefinition, ChildResult, JobContext } from '../job/define-job.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, parseStoredJson, serializePayload } from '../job/payload.js';
import { clampDelayMs } from '../job/input-bounds.js';
import type { NightshiftEvents } from '../observe/events.js';
import { runObservers, type RunObservers } from '../observe/run-observers.js';
import type { Clock, JobFinish, JobRecord } from '../store/types.js';
import { decideFailure, decideOutcome, isHandlerOutcome, toErrorRecord } from './retry-decision.js';
import { RunningExecutions } from './running-executions.js';

/** Longest delay `setTimeout` honours; longer timeouts mean "no timeout" rather than 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a running handler was told to stop. */
export type AbortCause = 'timeout' | 'lease_lost' | 'shutdown';

/**
 * One running attempt of a job on this worker. It settles exactly once: with the handler's
 * outcome, or earlier when it is aborted (timeout, lease lost, shutdown) — a handler that ignores
 * its AbortSignal does not hold the slot, and whatever it returns later is ignored.
 */
/**
 * A rate-limited job's start deadlines, on `performance.now()`'s clock (see the worker's
 * dispatch): past `at`, it is given back unstarted instead, with `rateRefund`: the rate-limit
 * counts its claim took; past `moveAfter` when its handler's first synchronous run returns, those
 * counts move to then (`ExecutorHost.rateLateStart`).
 */
export interface StartBy {
  at: number;
  moveAfter: number;
  rateRefund: { queue: boolean; key: boolean };
}

export class Execution {
  readonly job: JobRecord;
  readonly token: string;
  readonly definition: AnyJobDefinition | undefined;
  readonly startedAtMs: number;
  timer: NodeJS.Timeout | null = null;
  controller: AbortController | null = null;
  abortReason: Error | null = null;
  settled = false;
  /** Serialized progress not yet sent with a heartbeat. */
  pendingProgress: string | undefined = undefined;
  /** What the handler returned, for the `job:completed` event. */
  result: unknown = undefined;
  durationMs = 0;
  finish: JobFinish | null = null;
  /** Position in `RunningExecutions`; -1 when not running there. */
  slot = -1;
  /** How long the job waited in this worker between its claim and its handler (claimed ahead), ms; 0 otherwise. */
  startDelayMs = 0;
  /** A rate-limited claim's start deadline (see `StartBy`); null when none. */
  startBy: StartBy | null = null;
  /**
   * The write moving this job's rate-limit claim to its late start (`Store.jobRateLateStart`),
   * while it may be under way: the job's finish waits for it, since the move only applies to a
   * job still running.
   */
  lateStartWrite: Promise<void> | null = null;

  constructor(job: JobRecord, token: string, definition: AnyJobDefinition | undefined, startedAtMs: number) {
    this.job = job;
    this.token = token;
    this.definition = definition;
    this.startedAtMs = startedAtMs;
  }

  get signal(): AbortSignal {
    // Created on first use: most handlers never look at it, and the hot path stays allocation-light.
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

/** What the executor needs from the worker around it. */
export interface ExecutorHost {
  readonly workerId: string;
  readonly logger: Logger;
  readonly events: NightshiftEvents;
  readonly clock: Clock;
  readonly random: () => number;
  /**
   * The client behind `ctx.enqueue` / `ctx.enqueueMany`: on the worker's own store, and sharing its
   * events. Called only when a handler first enqueues, so workers whose handlers never do build none.
   */
  enqueueClient(): Client;
  /** The timeout for a job of `queue` when neither the row nor the job sets one, in ms. */
  queueTimeoutMs(queue: string): number;
  /** Renews the lease of one execution now; false when it is no longer held. */
  heartbeatOne(execution: Execution): Promise<boolean>;
  /** The execution settled; `finish` null means "nothing to write" (the lease is gone). */
  settled(execution: Execution): void;
  /**
   * A rate-limited job's handler returned from its first synchronous run past its
   * `startBy.moveAfter`, by `lateByMs`: it may have started that late, so its claim's rate-limit
   * counts move to now (`Store.jobRateLateStart`).
   */
  rateLateStart(execution: Execution, lateByMs: number): void;
  /** A handler of job `job` threw `RateLimitedError`: hold its rate key, or its queue, for `forMs` (see `Store.queueHold`). */
  holdQueue(job: JobRecord, forMs: number): void;
  /** The jobs job `id` depends on, with their results (see `Store.jobDependencies`). */
  dependencies(id: string): Promise<{ job: JobRecord; settled: boolean }[]>;
}

/** The JobContext a handler receives. Logger and signal are built only when first used. */
class ExecutionContext implements JobContext {
  readonly #execution: Execution;
  readonly #executor: Executor;
  #log: Logger | null = null;

  constructor(execution: Execution, executor: Executor) {
    this.#execution = execution;
    this.#executor = executor;
  }

  get id(): string {
    return this.#execution.job.id;
  }
  get name(): string {
    return this.#execution.job.name;
  }
  get queue(): string {
    return this.#execution.job.queue;
  }
  get attempt(): number {
    return this.#execution.job.attempt;
  }
  get maxAttempts(): number {
    return this.#execution.job.maxAttempts;
  }
  get signal(): AbortSignal {
    return this.#execution.signal;
  }
  get log(): Logger {
    const job = this.#execution.job;
    this.#log ??= this.#executor.host.logger.child({ jobId: job.id, job: job.name, queue: job.queue, attempt: job.attempt });
    return this.#log;
  }
  now(): Date {
    return new Date(this.#executor.host.clock());
  }
  async childResults(): Promise<ChildResult[]> {
    const dependencies = await this.#executor.host.dependencies(this.#execution.job.id);
    return dependencies.map(({ job }) => {
      const parsed = job.result === null ? null : parseStoredJson(job.result);
      return { id: job.id, name: job.name, state: job.state, result: parsed === null ? null : parsed.ok ? parsed.value : undefined };
    });
  }
  async heartbeat(): Promise<void> {
    const execution = this.#execution;
    if (execution.settled) throw execution.abortReason ?? new LeaseLostError('the job already finished');
    const held = await this.#executor.host.heartbeatOne(execution);
    if (!held) {
      this.#executor.abort(execution, 'lease_lost');
      throw execution.abortReason ?? new LeaseLostError();
    }
  }
  progress(value: unknown): void {
    const execution = this.#execution;
    if (execution.settled) return;
    execution.pendingProgress = serializePayload(value, DEFAULT_MAX_PAYLOAD_BYTES);
    const events = this.#executor.host.events;
    if (events.has('job:progress')) events.emit('job:progress', { jobId: execution.job.id, progress: value });
  }
  publish(event: string, data?: unknown): void {
    const events = this.#executor.host.events;
    if (events.has('job:event')) events.emit('job:event', { jobId: this.id, name: this.name, event, data });
  }
  // Getters, so `const { enqueue } = ctx` works too; the client's functions do not use `this`.
  get enqueue(): Client['enqueue'] {
    return this.#executor.host.enqueueClient().enqueue;
  }
  get enqueueMany(): Client['enqueueMany'] {
    return this.#executor.host.enqueueClient().enqueueMany;
  }
}

/**
 * Runs handlers. For each claimed job: look up its definition, parse and validate the stored
 * payload with the job's schema, arm the timeout, call the handler, and turn whatever happens into
 * a `JobFinish` for the completer. Nothing here awaits the store on the way to the handler.
 */
export class Executor {
  readonly host: ExecutorHost;
  readonly #jobs: ReadonlyMap<string, AnyJobDefinition>;
  readonly #observers: RunObservers;
  /** Running executions. */
  readonly running = new RunningExecutions();

  constructor(host: ExecutorHost, jobs: ReadonlyMap<string, AnyJobDefinition>) {
    this.host = host;
    this.#jobs = jobs;
    this.#observers = runObservers(host.events);
  }

  /** Starts a claimed job. Never throws: every problem becomes the job's outcome. */
  /**
   * Starts `job`'s handler. `waitedMs`: how long it waited for a slot after its claim (a job
   * claimed ahead); the attempt's start is then moved by that much, here for the events and in
   * the store with the finish (`JobFinishItem.startDelayMs`).
   */
  run(claimed: JobRecord, waitedMs = 0, startBy: StartBy | null = null): void {
    const host = this.host;
    const definition = this.#jobs.get(claimed.name);
    const delay = waitedMs > 0 ? clampDelayMs(waitedMs) : 0;
    // The claimed record is this worker's own (fresh from its claim): moved in place, not copied.
    if (delay > 0 && claimed.attemptedAt) claimed.attemptedAt = new Date(claimed.attemptedAt.getTime() + delay);
    const job = claimed;
    const execution = new Execution(job, job.lease?.token ?? '', definition, host.clock());
    execution.startDelayMs = delay;
    execution.startBy = startBy;
    this.running.add(execution);
    if (this.#tooLate(execution)) return;
    this.#observers.started(job, host.workerId);
    if (host.events.has('job:started')) host.events.emit('job:started', { job, workerId: host.workerId });

    if (!definition) {
      const known = [...this.#jobs.keys()].join(', ') || '(none)';
      const error = new ValidationError('UNKNOWN_JOB', `no job named "${job.name}" is registered on worker ${host.workerId} (known: ${known})`);
      this.#settle(execution, { outcome: 'dead', error: toErrorRecord(error, 'unknown_job') });
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(job.payload);
    } catch (error) {
      const reason = new ValidationError('INVALID_PAYLOAD', `stored payload of job ${job.id} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
      this.#settle(execution, { outcome: 'dead', error: toErrorRecord(reason, 'corrupt') });
      return;
    }
    let validated;
    try {
      validated = definition.schema['~standard'].validate(payload);
    } catch (error) {
      this.#invalidPayload(execution, error);
      return;
    }
    if (validated instanceof Promise) {
      validated.then(
        (result) => this.#invoke(execution, definition, result),
        (error: unknown) => this.#invalidPayload(execution, error),
      );
    } else {
      this.#invoke(execution, definition, validated);
    }
  }

  /** Tells a running handler to stop and settles its attempt now (see `AbortCause`). */
  abort(execution: Execution, cause: AbortCause): void {
    if (execution.settled) return;
    if (cause === 'timeout') {
      const timeoutMs = this.#timeoutMs(execution);
      const error = new JobTimeoutError(timeoutMs);
      execution.abort(error);
      this.#settle(execution, decideFailure(execution.job, execution.definition, error, this.host.random));
    } else if (cause === 'shutdown') {
      execution.abort(new ShutdownError());
      this.#settle(execution, { outcome: 'released' });
    } else {
      execution.abort(new LeaseLostError());
      // The store already moved the job on (cancelled or rescued); a write would be refused.
      this.#settle(execution, null);
    }
  }

  /**
   * After a rate-limited handler's first synchronous run: past `moveAfter` now, its first line
   * may have run past it too (a late claim answer, a slow validation, a pause of the process),
   * where a later claim could put it in one window with more than the limit. Its claim moves to now.
   */
  #lateStart(execution: Execution): void {
    const startBy = execution.startBy;
    if (startBy === null) return;
    const lateByMs = performance.now() - startBy.moveAfter;
    if (lateByMs > 0) this.host.rateLateStart(execution, lateByMs);
  }

  /** Past its `startBy`: given back unstarted (released: neither its attempt nor its rate-limit claim counts), and true. */
  #tooLate(execution: Execution): boolean {
    const startBy = execution.startBy;
    if (startBy === null || performance.now() <= startBy.at) return false;
    this.#settle(execution, { outcome: 'released', rateRefund: startBy.rateRefund });
    return true;
  }

  #invalidPayload(execution: Execution, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const reason = new ValidationError('INVALID_PAYLOAD', `stored payload of job ${execution.job.id} failed validation: ${message}`);
    this.#settle(execution, { outcome: 'dead', error: toErrorRecord(reason, 'invalid_payload') });
  }

  #timeoutMs(execution: Execution): number {
    return execution.job.timeoutMs ?? execution.definition?.timeoutMs ?? this.host.queueTimeoutMs(execution.job.queue);
  }

  #invoke(
    execution: Execution,
    definition: AnyJobDefinition,
    result: { readonly value?: unknown; readonly issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined }> | undefined },
  ): void {
    if (execution.settled) return;
    if (result.issues) {
      const listed = result.issues
        .map((issue) => `${(issue.path ?? []).map((part) => String(typeof part === 'object' ? part.key : part)).join('.') || '(payload)'}: ${issue.message}`)
        .join('; ');
      this.#invalidPayload(execution, new Error(listed));
      return;
    }
    // Checked again just before the handler: validating the payload (a schema's first use
    // compiles it), the started event's listeners or a slow machine may have used the time.
    if (this.#tooLate(execution)) return;
    const timeoutMs = this.#timeoutMs(execution);
    if (timeoutMs < MAX_TIMER_MS) execution.timer = setTimeout(() => this.abort(execution, 'timeout'), timeoutMs);
    let returned: unknown;
    try {
      returned = definition.handler(result.value, new ExecutionContext(execution, this));
    } catch (error) {
      this.#lateStart(execution);
      this.#failed(execution, error);
      return;
    }
    this.#lateStart(execution);
    if (returned !== null && typeof returned === 'object' && typeof (returned as PromiseLike<unknown>).then === 'function') {
      (returned as PromiseLike<unknown>).then(
        (value) => this.#succeeded(execution, value),
        (error: unknown) => this.#failed(execution, error),
      );
    } else {
      this.#succeeded(execution, returned);
    }
  }

  #succeeded(execution: Execution, value: unknown): void {
    if (execution.settled) return; // late result after a timeout/abort: ignored on purpose
    if (isHandlerOutcome(value)) {
      this.#settle(execution, decideOutcome(value));
      return;
    }
    let text: string | null;
    try {
      text = value === undefined ? null : serializePayload(value, DEFAULT_MAX_PAYLOAD_BYTES);
    } catch (error) {
      this.#failed(execution, error);
      return;
    }
    execution.result = value;
    this.#settle(execution, { outcome: 'completed', result: text });
  }

  #failed(execution: Execution, error: unknown): void {
    if (execution.settled) return;
    if (error instanceof RateLimitedError) this.host.holdQueue(execution.job, clampDelayMs(error.retryAfterMs));
    this.#settle(execution, decideFailure(execution.job, execution.definition, error, this.host.random));
  }

  #settle(execution: Execution, finish: JobFinish | null): void {
    execution.settled = true;
    if (execution.timer) {
      clearTimeout(execution.timer);
      execution.timer = null;
    }
    execution.finish = finish;
    execution.durationMs = this.host.clock() - execution.startedAtMs;
    this.running.delete(execution);
    this.host.settled(execution);
  }
}
