/**
 * Managing schedules from code (and from the CLI and HTTP API, which call this): create, inspect,
 * update, pause/resume, delete, trigger now, execution history and statistics.
 *
 * Every change is validated first (same rules as YAML: schedule-definition.ts) and written through
 * the store; a scheduler in any process picks it up on its next pass. Fire times are always
 * computed from the store's clock.
 */
import { NotFoundError, ValidationError } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, parseStoredJson } from '../job/payload.js';
import type { NightshiftEvents } from '../observe/events.js';
import type { ErrorRecord, JobRecord, JobState, ScheduleRecord, ScheduleSource, ScheduleTick, Store } from '../store/types.js';
import { fireTimesBetween, scheduleNextRun } from './next-fire.js';
import { parseCronCached } from './cron-expression.js';
import { createJobRegistry, parseScheduleJobOptions, requireJob, resolveScheduleDefinition, type JobRegistry, type ScheduleDefinition } from './schedule-definition.js';
import { TICK_MANUAL } from './scheduler.js';
import { buildTickJob, checkedScheduleInput } from './tick-job.js';

/** Options of `createScheduleManager`. */
export interface ScheduleManagerOptions {
  store: Store;
  /** Jobs schedules may name (include `builtinJobs` for `http` / `command`). */
  jobs: readonly AnyJobDefinition[] | JobRegistry;
  /** Largest serialized input, bytes; default 1 MiB. */
  maxPayloadBytes?: number;
  /** Called after every change, e.g. `() => scheduler.wake()` so an in-process scheduler reacts at once. */
  onChange?: () => void;
  /**
   * Where a manual run (`trigger`) is told, as the scheduler tells a cron tick: `job:enqueued`
   * with its job, then `schedule:fired` with status `manual` (what the event feed copies into
   * the store). Default: nobody.
   */
  events?: NightshiftEvents;
}

/** How the last run of a schedule went (from the job its last tick created). */
export interface ScheduleLastOutcome {
  jobId: string;
  state: JobState;
  attempt: number;
  finishedAt: Date | null;
  error: ErrorRecord | null;
}

/** A schedule as shown by `get`/`list`: the stored record plus derived fields. */
export interface ScheduleView extends ScheduleRecord {
  /** `!enabled`. */
  paused: boolean;
  /** The last tick's job (null before the first run, or if it was pruned). */
  lastOutcome: ScheduleLastOutcome | null;
}

/** One line of a schedule's execution history: a claimed tick and the job it created. */
export interface ScheduleHistoryEntry {
  fireAt: Date;
  claimedAt: Date;
  /** `enqueued`, `catch_up`, `queued`, `manual`, `skipped_overlap`, `invalid_input`. */
  status: string;
  jobId: string | null;
  /** The job (null when none was created or it was pruned). */
  job: Pick<JobRecord, 'id' | 'state' | 'attempt' | 'maxAttempts' | 'createdAt' | 'attemptedAt' | 'finishedAt' | 'lastError' | 'result'> | null;
}

/** Filters of `list`. All optional; they combine with AND. */
export interface ScheduleListOptions {
  enabled?: boolean;
  /** Same as `enabled: false`. */
  paused?: boolean;
  /** Case-insensitive part of the schedule id. */
  nameContains?: string;
  /** Exact cron expression, as stored (whitespace collapsed). */
  cron?: string;
  source?: ScheduleSource;
  createdAfter?: Date;
  createdBefore?: Date;
}

/** Fields `update` can change (same names and rules as a YAML entry). */
export type ScheduleUpdate = Partial<Omit<ScheduleDefinition, 'id'>>;

/** Counts over all schedules and the jobs they created (jobs still in the store). */
export interface ScheduleStats {
  schedules: { total: number; active: number; paused: number };
  runs: { total: number; pending: number; running: number; completed: number; failed: number; cancelled: number };
  /** completed / (completed + failed) over finished runs, 0…1; null before any finished. */
  successRate: number | null;
}

/**
 * One schedule's recent runs, as `runStats()` reports them. Read without scanning the job table:
 * the schedule's newest ticks (through its unique `(schedule, fire_at)` index) and, by id, the jobs
 * of the newest of them.
 */
export interface ScheduleRunStats {
  id: string;
  jobName: string;
  enabled: boolean;
  /** Fire time of the newest claimed tick (cron, caught-up or manual); null before the first. */
  lastRunAt: Date | null;
  /** The fire time the scheduler will claim next; null while paused or when it never fires again. */
  nextRunAt: Date | null;
  /** The job the newest tick created, as it is now; null before the first run or once pruned. */
  lastOutcome: ScheduleLastOutcome | null;
  /**
   * Ticks whose fire time is in the window (`windowStart` … `now`) that created a job: statuses
   * `enqueued`, `catch_up`, `queued` and `manual`, whatever became of the job.
   */
  runs: number;
  /** Ticks in the window that created no job: `skipped_overlap` (overlap `skip`) and `invalid_input`. */
  skipped: number;
  /**
   * Of the `failuresChecked` newest runs in the window, those whose job is `dead` now (failed on
   * its last attempt, or unrecoverable). A run still being retried is not a failure, nor is one
   * whose job was already pruned.
   */
  failures: number;
  /** How many runs' jobs were looked up for `failures`: `runs`, but at most `RUN_STATS_JOB_LOOKUPS`. */
  failuresChecked: number;
  /**
   * True when `RUN_STATS_TICK_LIMIT` ticks were read and all were in the window: then `runs` and
   * `skipped` count only the newest ones and are lower bounds (a schedule firing more often than
   * every ~90 s).
   */
  capped: boolean;
}

/** What `runStats()` returns: the store's time, the window it counted over, every schedule. */
export interface ScheduleRunStatsReport {
  /** The store's time the window ends at. */
  now: Date;
  /** `now` − `RUN_STATS_WINDOW_MS`. */
  windowStart: Date;
  schedules: ScheduleRunStats[];
}

/** The window `runStats()` counts over: the last 24 hours, in ms. */
export const RUN_STATS_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Most ticks `runStats()` reads per schedule. */
export const RUN_STATS_TICK_LIMIT = 1000;
/** Most jobs `runStats()` looks up (by id) per schedule to count failures. */
export const RUN_STATS_JOB_LOOKUPS = 100;
const TICK_STATUSES_WITHOUT_JOB = new Set(['skipped_overlap', 'invalid_input']);

export interface ScheduleManager {
  /** Creates a schedule (source `api` unless given). `DUPLICATE_SCHEDULE` if the id exists. */
  create(definition: ScheduleDefinition, options?: { source?: ScheduleSource }): Promise<ScheduleView>;
  get(id: string): Promise<ScheduleView | null>;
  list(filter?: ScheduleListOptions): Promise<ScheduleView[]>;
  /** Changes fields; fire times are recomputed from now when the cron, zone or enabled flag changes. */
  update(id: string, patch: ScheduleUpdate): Promise<ScheduleView>;
  /** Stops firing (ticks while paused are never run). */
  pause(id: string): Promise<ScheduleView>;
  /** Fires again from the next tick after now. */
  resume(id: string): Promise<ScheduleView>;
  /** Deletes it; its ticks stay, so a re-created schedule never re-fires a past tick. False if absent. */
  delete(id: string): Promise<boolean>;
  /** Enqueues a run now (whatever the overlap policy or pause), optionally with another input. */
  trigger(id: string, options?: { input?: unknown }): Promise<{ tick: ScheduleTick; job: JobRecord }>;
  /** Ticks and their jobs, newest first; `limit` default 20, max 1000. */
  history(id: string, options?: { limit?: number }): Promise<ScheduleHistoryEntry[]>;
  /** The next `count` fire times after now (default 5, max 100). */
  upcoming(id: string, count?: number): Promise<Date[]>;
  /**
   * Counts over all schedules and every job they created that is still stored: it reads up to
   * 10 000 jobs per schedule. For a cheap per-schedule answer use `runStats()`.
   */
  stats(): Promise<ScheduleStats>;
  /**
   * Per schedule: last and next run, the last run's outcome, and runs, skipped ticks and failures
   * over the last 24 hours (see `ScheduleRunStats` for exactly what each counts). Per schedule one
   * index range read of its ticks and at most `RUN_STATS_JOB_LOOKUPS` + 1 jobs read by id; never a
   * scan of the job table.
   */
  runStats(): Promise<ScheduleRunStatsReport>;
}

/** Most jobs per schedule counted by `stats()`. */
const STATS_JOBS_PER_SCHEDULE = 10_000;

class StoreScheduleManager implements ScheduleManager {
  readonly #store: Store;
  readonly #jobs: JobRegistry;
  readonly #maxPayloadBytes: number;
  readonly #onChange: () => void;
  readonly #events: NightshiftEvents | null;

  constructor(options: ScheduleManagerOptions) {
    this.#store = options.store;
    this.#jobs = createJobRegistry(options.jobs);
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.#onChange = options.onChange ?? (() => undefined);
    this.#events = options.events ?? null;
  }

  async #require(id: string): Promise<ScheduleRecord> {
    const record = await this.#store.scheduleGet({ id });
    if (record === null) throw new NotFoundError('UNKNOWN_SCHEDULE', `no schedule with id "${id}" (see \`nightshift schedules\` for the list)`);
    return record;
  }

  async #view(record: ScheduleRecord): Promise<ScheduleView> {
    let lastOutcome: ScheduleLastOutcome | null = null;
    if (record.lastJobId !== null) {
      const job = await this.#store.jobGet({ id: record.lastJobId });
      if (job !== null) lastOutcome = { jobId: job.id, state: job.state, attempt: job.attempt, finishedAt: job.finishedAt, error: job.lastError };
    }
    return { ...record, paused: !record.enabled, lastOutcome };
  }

  async #retime(id: string, enabled: boolean | undefined, record: { cron: string; timezone: string; enabled: boolean }): Promise<void> {
    const now = (await this.#store.timeNow()).getTime();
    await this.#store.scheduleUpdateNext({ id, nextRunAt: scheduleNextRun(record, now), ...(enabled === undefined ? {} : { enabled }) });
  }

  async create(definition: ScheduleDefinition, options: { source?: ScheduleSource } = {}): Promise<ScheduleView> {
    const input = await resolveScheduleDefinition(definition, {
      jobs: this.#jobs,
      source: options.source ?? 'api',
      maxPayloadBytes: this.#maxPayloadBytes,
    });
    if ((await this.#store.scheduleGet({ id: input.id })) !== null) {
      throw new ValidationError('DUPLICATE_SCHEDULE', `schedule.id: a schedule with id "${input.id}" already exists; choose another id or update it`, {
        issues: [{ path: 'schedule.id', message: `duplicate schedule id "${input.id}"` }],
      });
    }
    await this.#store.scheduleUpsertMany({ schedules: [input] });
    await this.#retime(input.id, undefined, input);
    this.#onChange();
    return this.#view(await this.#require(input.id));
  }

  async get(id: string): Promise<ScheduleView | null> {
    const record = await this.#store.scheduleGet({ id });
    return record === null ? null : this.#view(record);
  }

  async list(filter: ScheduleListOptions = {}): Promise<ScheduleView[]> {
    let enabled = filter.enabled;
    if (filter.paused !== undefined) {
      if (enabled !== undefined && enabled === filter.paused) return [];
      enabled = !filter.paused;
    }
    const records = await this.#store.scheduleList({
      filter: {
        ...(enabled === undefined ? {} : { enabled }),
        ...(filter.nameContains === undefined ? {} : { idContains: filter.nameContains }),
        ...(filter.cron === undefined ? {} : { cron: filter.cron.trim().split(/\s+/).join(' ') }),
        ...(filter.source === undefined ? {} : { source: filter.source }),
        ...(filter.createdAfter === undefined ? {} : { createdAfter: filter.createdAfter }),
        ...(filter.createdBefore === undefined ? {} : { createdBefore: filter.createdBefore }),
      },
    });
    return Promise.all(records.map((record) => this.#view(record)));
  }

  async update(id: string, patch: ScheduleUpdate): Promise<ScheduleView> {
    if (patch === null || typeof patch !== 'object') throw new ValidationError('INVALID_OPTION', 'update: patch must be an object of schedule fields');
    if ('id' in patch) throw new ValidationError('INVALID_OPTION', 'update: a schedule id cannot change; create a new schedule and delete this one');
    const record = await this.#require(id);
    const storedInput = parseStoredJson(record.input);
    const current: ScheduleDefinition = {
      id: record.id,
      jobId: record.jobName,
      schedule: record.cron,
      enabled: record.enabled,
      timezone: record.timezone,
      description: record.description,
      input: storedInput.ok ? storedInput.value : undefined,
      catchUp: record.catchUp,
      overlap: record.overlap,
      ...parseScheduleJobOptions(record.jobOptions),
    };
    const input = await resolveScheduleDefinition({ ...current, ...patch, id }, { jobs: this.#jobs, source: record.source, maxPayloadBytes: this.#maxPayloadBytes });
    await this.#store.scheduleUpsertMany({ schedules: [input] });
    if (input.cron !== record.cron || input.timezone !== record.timezone || input.enabled !== record.enabled) {
      await this.#retime(id, undefined, input);
    }
    this.#onChange();
    return this.#view(await this.#require(id));
  }

  async pause(id: string): Promise<ScheduleView> {
    await this.#require(id);
    await this.#store.scheduleUpdateNext({ id, nextRunAt: null, enabled: false });
    this.#onChange();
    return this.#view(await this.#require(id));
  }

  async resume(id: string): Promise<ScheduleView> {
    const record = await this.#require(id);
    await this.#retime(id, true, { ...record, enabled: true });
    this.#onChange();
    return this.#view(await this.#require(id));
  }

  async delete(id: string): Promise<boolean> {
    const { deleted } = await this.#store.scheduleDelete({ ids: [id] });
    if (deleted > 0) this.#onChange();
    return deleted > 0;
  }

  async trigger(id: string, options: { input?: unknown } = {}): Promise<{ tick: ScheduleTick; job: JobRecord }> {
    const record = await this.#require(id);
    const job = requireJob(this.#jobs, record.jobName, `schedule "${id}" jobId`);
    const payload = await checkedScheduleInput(record, job, this.#maxPayloadBytes, options.input);
    // Manual ticks take the store's time with a non-zero millisecond part: cron ticks are whole
    // seconds, so a manual tick can never take a cron tick's unique (schedule, fire_at) slot.
    let fireAt = (await this.#store.timeNow()).getTime();
    if (fireAt % 1000 === 0) fireAt += 1;
    for (let attempt = 0; attempt < 100; attempt++, fireAt += fireAt % 1000 === 999 ? 2 : 1) {
      const claimed = await this.#store.scheduleTickClaim({
        scheduleId: id,
        fireAt: new Date(fireAt),
        nextRunAt: record.nextRunAt,
        job: buildTickJob(record, job, payload, new Date(fireAt), 'manual'),
        status: TICK_MANUAL,
      });
      if (claimed !== null && claimed.job !== null) {
        this.#onChange();
        const events = this.#events;
        if (events !== null) {
          events.emit('job:enqueued', { job: claimed.job, inserted: true });
          events.emit('schedule:fired', { scheduleId: id, fireAt: claimed.tick.fireAt, jobId: claimed.tick.jobId, status: claimed.tick.status });
        }
        return { tick: claimed.tick, job: claimed.job };
      }
    }
    throw new ValidationError('INVALID_OPTION', `schedule "${id}": could not record the manual run (100 triggers in the same instant?); try again`);
  }

  async history(id: string, options: { limit?: number } = {}): Promise<ScheduleHistoryEntry[]> {
    const limit = options.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError('INVALID_OPTION', `history: limit must be an integer from 1 to 1000, got ${String(limit)}`);
    await this.#require(id);
    const ticks = await this.#store.scheduleTickList({ scheduleId: id, limit });
    return Promise.all(
      ticks.map(async (tick) => {
        const job = tick.jobId === null ? null : await this.#store.jobGet({ id: tick.jobId });
        return {
          fireAt: tick.fireAt,
          claimedAt: tick.claimedAt,
          status: tick.status,
          jobId: tick.jobId,
          job:
            job === null
              ? null
              : {
                  id: job.id,
                  state: job.state,
                  attempt: job.attempt,
                  maxAttempts: job.maxAttempts,
                  createdAt: job.createdAt,
                  attemptedAt: job.attemptedAt,
                  finishedAt: job.finishedAt,
                  lastError: job.lastError,
                  result: job.result,
                },
        };
      }),
    );
  }

  async upcoming(id: string, count = 5): Promise<Date[]> {
    if (!Number.isInteger(count) || count < 1 || count > 100) throw new ValidationError('INVALID_OPTION', `upcoming: count must be an integer from 1 to 100, got ${String(count)}`);
    const record = await this.#require(id);
    if (!record.enabled) return [];
    const now = (await this.#store.timeNow()).getTime();
    return fireTimesBetween(parseCronCached(record.cron), record.timezone, now, Number.MAX_SAFE_INTEGER, count).map((ms) => new Date(ms));
  }

  async stats(): Promise<ScheduleStats> {
    const schedules = await this.#store.scheduleList({});
    const runs = { total: 0, pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const schedule of schedules) {
      let cursor: string | null = null;
      let counted = 0;
      do {
        const page = await this.#store.jobList({ filter: { scheduleId: schedule.id }, limit: 1000, cursor });
        for (const job of page.jobs) {
          runs.total += 1;
          if (job.state === 'completed') runs.completed += 1;
          else if (job.state === 'dead') runs.failed += 1;
          else if (job.state === 'cancelled') runs.cancelled += 1;
          else if (job.state === 'running') runs.running += 1;
          else runs.pending += 1;
        }
        counted += page.jobs.length;
        cursor = page.nextCursor;
      } while (cursor !== null && counted < STATS_JOBS_PER_SCHEDULE);
    }
    const finished = runs.completed + runs.failed;
    const active = schedules.filter((schedule) => schedule.enabled).length;
    return {
      schedules: { total: schedules.length, active, paused: schedules.length - active },
      runs,
      successRate: finished === 0 ? null : runs.completed / finished,
    };
  }

  async runStats(): Promise<ScheduleRunStatsReport> {
    const now = await this.#store.timeNow();
    const windowStart = new Date(now.getTime() - RUN_STATS_WINDOW_MS);
    const records = await this.#store.scheduleList({});
    const schedules = await Promise.all(
      records.map(async (record): Promise<ScheduleRunStats> => {
        const [view, ticks] = await Promise.all([
          this.#view(record),
          // Newest first by fire time, through the unique (schedule, fire_at) index.
          this.#store.scheduleTickList({ scheduleId: record.id, limit: RUN_STATS_TICK_LIMIT }),
        ]);
        const runJobIds: string[] = [];
        let skipped = 0;
        for (const tick of ticks) {
          if (tick.fireAt < windowStart || tick.fireAt > now) continue;
          if (tick.jobId === null || TICK_STATUSES_WITHOUT_JOB.has(tick.status)) skipped += 1;
          else runJobIds.push(tick.jobId);
        }
        // Jobs by primary key: a job list filtered by schedule would scan the job table.
        const checked = runJobIds.slice(0, RUN_STATS_JOB_LOOKUPS);
        const jobs = await Promise.all(checked.map((id) => this.#store.jobGet({ id })));
        const oldestTick = ticks[ticks.length - 1];
        return {
          id: record.id,
          jobName: record.jobName,
          enabled: record.enabled,
          lastRunAt: record.lastRunAt,
          nextRunAt: record.nextRunAt,
          lastOutcome: view.lastOutcome,
          runs: runJobIds.length,
          skipped,
          failures: jobs.filter((job) => job?.state === 'dead').length,
          failuresChecked: checked.length,
          capped: ticks.length === RUN_STATS_TICK_LIMIT && oldestTick !== undefined && oldestTick.fireAt >= windowStart,
        };
      }),
    );
    return { now, windowStart, schedules };
  }
}

/** Creates a schedule manager over `store`. */
export function createScheduleManager(options: ScheduleManagerOptions): ScheduleManager {
  if (!options || typeof options.store !== 'object' || options.store === null) {
    throw new ValidationError('INVALID_OPTION', 'createScheduleManager: store is required');
  }
  return new StoreScheduleManager(options);
}
