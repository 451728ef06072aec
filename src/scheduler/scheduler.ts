/**
 * The scheduler service: turns due cron ticks into jobs, exactly once per tick however many
 * schedulers share a store.
 *
 * One pass:
 * 1. read the store's time (`store.timeNow()`) — never the process clock, so a skewed or jumping
 *    host clock can neither fire a tick early nor twice;
 * 2. read the enabled schedules; a schedule without `nextRunAt` (just created) gets one;
 * 3. for each schedule whose `nextRunAt` ≤ now, plan its due ticks (tick-planner.ts: on-time ticks,
 *    `catchUp` most recent missed ones, the rest skipped) and apply its overlap policy;
 * 4. claim each tick with `store.scheduleTickClaim`, which inserts the unique `(schedule, fire_at)`
 *    row, the job and the advanced `nextRunAt` in one transaction. A null answer means another
 *    scheduler owns the tick; nothing else decides who fires — there is no leader.
 * Then it sleeps until the soonest `nextRunAt` (at most `pollIntervalMs`) or until `wake()`.
 *
 * States (one loop per scheduler):
 *   stopped --start()--> running --stop()--> stopping --(current pass done)--> stopped
 * `start()` while running and `stop()` while stopped/stopping are no-ops (stop waits for the pass).
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { ValidationError } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import { assertValidMs } from '../job/input-bounds.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../job/payload.js';
import { NightshiftEvents } from '../observe/events.js';
import { createSilentLogger } from '../observe/logger.js';
import type { JobInsert, ScheduleRecord, Store } from '../store/types.js';
import { parseCronCached, type CronExpression } from './cron-expression.js';
import { nextFireTime } from './next-fire.js';
import { normalizeTimeZone } from './time-zone.js';
import { createJobRegistry, type JobRegistry } from './schedule-definition.js';
import { buildTickJob, checkedScheduleInput, type TickTrigger } from './tick-job.js';
import { planDueTicks, type PlannedTick } from './tick-planner.js';

/** Default longest sleep between passes, ms. */
export const DEFAULT_SCHEDULER_POLL_INTERVAL_MS = 1000;
/** Default grace: how late a tick may be claimed and still count as on time, ms. */
export const DEFAULT_SCHEDULER_GRACE_MS = 60_000;

/** Tick status recorded when the overlap policy `skip` left a tick without a job. */
export const TICK_SKIPPED_OVERLAP = 'skipped_overlap';
/** Tick status recorded when the schedule's input failed the job's schema at fire time. */
export const TICK_INVALID_INPUT = 'invalid_input';
/** Tick status of a job created by `trigger()` (schedule manager). */
export const TICK_MANUAL = 'manual';
/** Tick status of a tick that waited for the previous run (overlap policy `queue`). */
export const TICK_QUEUED = 'queued';

export interface SchedulerOptions {
  store: Store;
  /** Jobs this process knows; schedules of other jobs are left to schedulers that know them. */
  jobs: readonly AnyJobDefinition[] | JobRegistry;
  /** Where `schedule:fired`, `schedule:missed`, `schedule:error`, `scheduler:error` and `job:enqueued` go; default a private emitter. */
  events?: NightshiftEvents;
  /** Default: silent. */
  logger?: Logger;
  /** Longest sleep between two passes when nothing is due sooner, ms; default 1000. Bounds how soon schedules created by other processes are noticed. */
  pollIntervalMs?: number;
  /**
   * How late a tick may be claimed and still count as on time, ms; default 60 000. Ticks older
   * than this when a scheduler first sees them are *missed*: skipped unless the schedule sets
   * `catchUp`. A restart shorter than the grace loses nothing.
   */
  graceMs?: number;
  /** Largest serialized job input, bytes; default 1 MiB. */
  maxPayloadBytes?: number;
  /** Names this scheduler in logs; default `hostname:pid`. */
  id?: string;
}

/** What one pass did. */
export interface SchedulerPassResult {
  /** The store time the pass decided with. */
  now: Date;
  /** Ticks this pass claimed with a job. */
  enqueued: number;
  /** Ticks this pass claimed without a job (overlap `skip`, input failing the schema). */
  skipped: number;
  /** Missed ticks left out (older than the grace, beyond `catchUp`). */
  missed: number;
  /** Ticks another scheduler had already claimed. */
  lost: number;
  /** Schedules that failed (each also emitted as `schedule:error`). */
  errors: number;
  /** The soonest `nextRunAt` among enabled schedules after the pass, null if none. */
  nextDueAt: Date | null;
}

export type SchedulerState = 'stopped' | 'running' | 'stopping';

/** A cron scheduler: a Service with idempotent `start()` / `stop()`. */
export interface Scheduler {
  /** `scheduler`: the service name in logs (a Scheduler is a runtime `Service`). */
  readonly name: string;
  readonly id: string;
  readonly state: SchedulerState;
  /** Starts the loop (first pass right away). Idempotent. */
  start(): Promise<void>;
  /** Stops the loop and waits for the pass in progress. Idempotent. */
  stop(): Promise<void>;
  /** Runs one pass now, after the one in progress if any. Usable without `start()` (tests, one-shot runs). */
  runOnce(): Promise<SchedulerPassResult>;
  /** Ends the current sleep so the next pass runs now (e.g. after a schedule changed). */
  wake(): void;
}

interface PassTally {
  enqueued: number;
  skipped: number;
  missed: number;
  lost: number;
  errors: number;
}

class CronScheduler implements Scheduler {
  readonly name = 'scheduler';
  readonly id: string;
  readonly #store: Store;
  readonly #jobs: JobRegistry;
  readonly #events: NightshiftEvents;
  readonly #log: Logger;
  readonly #pollIntervalMs: number;
  readonly #graceMs: number;
  readonly #maxPayloadBytes: number;
  /** Schedule versions (`id@updatedAt`) already reported as unusable here, so each is reported once. */
  readonly #reported = new Set<string>();
  #state: SchedulerState = 'stopped';
  #loop: Promise<void> | null = null;
  #pass: Promise<unknown> = Promise.resolve();
  #wakeUp: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: SchedulerOptions) {
    if (!options || typeof options.store !== 'object' || options.store === null) {
      throw new ValidationError('INVALID_OPTION', 'createScheduler: store is required');
    }
    this.#store = options.store;
    this.#jobs = createJobRegistry(options.jobs ?? []);
    this.#events = options.events ?? new NightshiftEvents();
    this.id = options.id ?? `${hostname()}:${process.pid}`;
    this.#log = (options.logger ?? createSilentLogger()).child({ component: 'scheduler', schedulerId: this.id });
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_SCHEDULER_POLL_INTERVAL_MS;
    assertValidMs(this.#pollIntervalMs, 'createScheduler: pollIntervalMs', true);
    this.#graceMs = options.graceMs ?? DEFAULT_SCHEDULER_GRACE_MS;
    assertValidMs(this.#graceMs, 'createScheduler: graceMs');
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    assertValidMs(this.#maxPayloadBytes, 'createScheduler: maxPayloadBytes', true);
  }

  get state(): SchedulerState {
    return this.#state;
  }

  async start(): Promise<void> {
    if (this.#state === 'running') return;
    if (this.#state === 'stopping') await this.stop();
    this.#state = 'running';
    this.#log.info({ pollIntervalMs: this.#pollIntervalMs, graceMs: this.#graceMs }, 'scheduler started');
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.wake();
    await this.#loop;
    await this.#pass.catch(() => undefined);
    this.#loop = null;
    this.#state = 'stopped';
    this.#log.info('scheduler stopped');
  }

  wake(): void {
    const wakeUp = this.#wakeUp;
    this.#wakeUp = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    wakeUp?.();
  }

  runOnce(): Promise<SchedulerPassResult> {
    const pass = this.#pass.catch(() => undefined).then(() => this.#runPass());
    this.#pass = pass;
    return pass;
  }

  async #run(): Promise<void> {
    while (this.#state === 'running') {
      let delayMs = this.#pollIntervalMs;
      try {
        const result = await this.runOnce();
        if (result.nextDueAt !== null) {
          // A few ms late on purpose: timers and the store clock drift apart a little, and an early
          // wake-up only costs an empty pass.
          const untilDue = result.nextDueAt.getTime() - result.now.getTime() + 5;
          delayMs = Math.min(delayMs, Math.max(0, untilDue));
        }
      } catch (error) {
        this.#events.emit('scheduler:error', { error, during: 'pass' });
        this.#log.error({ err: error }, 'scheduler pass failed; retrying on the next pass');
      }
      if (this.#state !== 'running') break;
      await new Promise<void>((resolve) => {
        this.#wakeUp = resolve;
        this.#timer = setTimeout(() => this.wake(), delayMs);
      });
    }
  }

  async #runPass(): Promise<SchedulerPassResult> {
    const now = (await this.#store.timeNow()).getTime();
    const schedules = await this.#store.scheduleList({ filter: { enabled: true } });
    const tally: PassTally = { enqueued: 0, skipped: 0, missed: 0, lost: 0, errors: 0 };
    let nextDueAt: number | null = null;
    for (const schedule of schedules) {
      let next: number | null;
      try {
        next = await this.#processSchedule(schedule, now, tally);
      } catch (error) {
        tally.errors += 1;
        this.#events.emit('schedule:error', { scheduleId: schedule.id, error });
        this.#log.error({ err: error, scheduleId: schedule.id }, 'schedule pass failed; it is retried on the next pass');
        next = now + this.#pollIntervalMs;
      }
      if (next !== null && (nextDueAt === null || next < nextDueAt)) nextDueAt = next;
    }
    return { now: new Date(now), ...tally, nextDueAt: nextDueAt === null ? null : new Date(nextDueAt) };
  }

  /** Reports a schedule this process cannot run, once per version of the schedule. */
  #reportOnce(schedule: ScheduleRecord, error: unknown, tally: PassTally): void {
    const key = `${schedule.id}@${schedule.updatedAt.getTime()}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    tally.errors += 1;
    this.#events.emit('schedule:error', { scheduleId: schedule.id, error });
    this.#log.warn({ err: error, scheduleId: schedule.id }, 'schedule cannot fire from this scheduler');
  }

  /** Handles one enabled schedule; returns its next due time (ms) for the sleep computation. */
  async #processSchedule(schedule: ScheduleRecord, now: number, tally: PassTally): Promise<number | null> {
    let cron: CronExpression;
    try {
      cron = parseCronCached(schedule.cron, `schedule "${schedule.id}" cron`);
      normalizeTimeZone(schedule.timezone, `schedule "${schedule.id}" timezone`);
    } catch (error) {
      this.#reportOnce(schedule, error, tally);
      return null;
    }
    const job = this.#jobs.get(schedule.jobName);
    if (job === undefined) {
      // Reported on the first pass, not only when due, so a misconfiguration shows at start. Another
      // process may know this job and fire the tick; it is left due for that one.
      this.#reportOnce(schedule, new ValidationError('UNKNOWN_JOB', `schedule "${schedule.id}": job "${schedule.jobName}" is not registered in this process`), tally);
      return null;
    }
    if (schedule.nextRunAt === null) {
      // Created without bookkeeping (by another tool, or a store that resets it): start from now.
      const next = nextFireTime(cron, schedule.timezone, now);
      await this.#store.scheduleUpdateNext({ id: schedule.id, nextRunAt: next === null ? null : new Date(next) });
      return next;
    }
    const nextRunAt = schedule.nextRunAt.getTime();
    if (nextRunAt > now) return nextRunAt;

    let plan = planDueTicks({ cron, timezone: schedule.timezone, nextRunAtMs: nextRunAt, nowMs: now, graceMs: this.#graceMs, catchUp: schedule.catchUp });
    let claims: { tick: PlannedTick; status: string; trigger: TickTrigger }[] = plan.claims.map((tick) => ({
      tick,
      status: tick.status,
      trigger: tick.status === 'catch_up' ? 'catch_up' : 'cron',
    }));

    if (schedule.overlap === 'queue') {
      // At most one run waits: while a run is active nothing is claimed (the due tick stays due);
      // when it ends, the first tick that came during it runs, and the others are merged into it.
      if (await this.#store.scheduleHasActiveJob({ scheduleId: schedule.id })) return now + this.#pollIntervalMs;
      const previousEnd = await this.#previousRunEnd(schedule);
      if (previousEnd !== null && previousEnd > nextRunAt) {
        const waited = nextFireTime(cron, schedule.timezone, nextRunAt - 1);
        if (waited !== null && waited < previousEnd && waited <= now) {
          const resumeAt = nextFireTime(cron, schedule.timezone, previousEnd - 1);
          plan = { claims: [], missed: null, nextRunAt: resumeAt };
          claims = [{ tick: { fireAt: waited, status: 'enqueued', nextRunAt: resumeAt }, status: TICK_QUEUED, trigger: 'cron' }];
        }
      }
      // One run at a time: later ticks become due again and wait for this one.
      claims = claims.slice(0, 1);
    }

    if (plan.missed !== null) {
      tally.missed += plan.missed.count;
      this.#events.emit('schedule:missed', {
        scheduleId: schedule.id,
        count: plan.missed.count,
        first: new Date(plan.missed.first),
        last: new Date(plan.missed.last),
      });
      this.#log.warn({ scheduleId: schedule.id, count: plan.missed.count, first: new Date(plan.missed.first), last: new Date(plan.missed.last) }, 'missed ticks skipped');
    }

    let payload: string | null = null;
    let inputError: unknown = null;
    if (claims.length > 0) {
      try {
        payload = await checkedScheduleInput(schedule, job, this.#maxPayloadBytes);
      } catch (error) {
        inputError = error;
      }
    }

    let advancedTo: number | null | undefined;
    let lastLost = false;
    for (const claim of claims) {
      let insert: JobInsert | null = null;
      let status = claim.status;
      if (payload === null) {
        status = TICK_INVALID_INPUT;
      } else if (schedule.overlap === 'skip' && (await this.#store.scheduleHasActiveJob({ scheduleId: schedule.id }))) {
        status = TICK_SKIPPED_OVERLAP;
      } else {
        insert = buildTickJob(schedule, job, payload, new Date(claim.tick.fireAt), claim.trigger);
      }
      const result = await this.#store.scheduleTickClaim({
        scheduleId: schedule.id,
        fireAt: new Date(claim.tick.fireAt),
        nextRunAt: claim.tick.nextRunAt === null ? null : new Date(claim.tick.nextRunAt),
        job: insert,
        status,
      });
      advancedTo = claim.tick.nextRunAt;
      if (result === null) {
        tally.lost += 1;
        lastLost = true;
        continue;
      }
      lastLost = false;
      if (result.job !== null) {
        tally.enqueued += 1;
        this.#events.emit('job:enqueued', { job: result.job, inserted: true });
      } else {
        tally.skipped += 1;
      }
      if (status === TICK_INVALID_INPUT) this.#events.emit('schedule:error', { scheduleId: schedule.id, error: inputError });
      this.#events.emit('schedule:fired', { scheduleId: schedule.id, fireAt: result.tick.fireAt, jobId: result.tick.jobId, status: result.tick.status });
      this.#log.debug({ scheduleId: schedule.id, fireAt: result.tick.fireAt, jobId: result.tick.jobId, status }, 'tick claimed');
    }

    // Claims carry nextRunAt themselves. Store it separately only when no claim of ours did: every
    // tick was missed, or the last claim was lost (the winner advanced it — unless the winner's
    // advance was refused as older than a manual trigger, which would leave the schedule stuck).
    if (claims.length === 0 || lastLost) {
      const target = claims.length === 0 ? plan.nextRunAt : (advancedTo ?? null);
      if (target !== nextRunAt) {
        await this.#store.scheduleUpdateNext({ id: schedule.id, nextRunAt: target === null ? null : new Date(target) });
      }
      return target;
    }
    return advancedTo ?? null;
  }

  /** When the schedule's previous run ended (null if it has none or it is unknown). */
  async #previousRunEnd(schedule: ScheduleRecord): Promise<number | null> {
    if (schedule.lastJobId === null) return null;
    const previous = await this.#store.jobGet({ id: schedule.lastJobId });
    return previous?.finishedAt?.getTime() ?? null;
  }
}

/**
 * Creates a scheduler. Options are checked here (a `ValidationError` names the bad one); the
 * store must be migrated before `start()`.
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  return new CronScheduler(options);
}
