import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { NightshiftEvents } from '../observe/events.js';
import { EVENT_RETENTION_MS } from '../observe/event-feed.js';
import { createSilentLogger } from '../observe/logger.js';
import type { JobState, PruneScope, Store } from '../store/types.js';
import { createIntervalService, type IntervalService } from '../service.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** How long finished jobs (per final state) and claimed cron ticks are kept, in ms. */
export interface Retention {
  /** Default 1 day. */
  completedMs?: number;
  /** Default 7 days. */
  cancelledMs?: number;
  /** Default 7 days. */
  deadMs?: number;
  /**
   * How long a claimed cron tick (one row per schedule and fire time, what schedule history shows)
   * is kept after its claim, in ms; default 7 days, at least 1 hour. Each schedule's newest tick is
   * kept whatever its age. A fire time at or before a pruned tick can never be claimed again, so
   * keep this well above the scheduler's `graceMs` (default 60 s) and the downtime its `catchUp`
   * should cover.
   */
  ticksOlderThanMs?: number;
  /**
   * How long events of the cluster-wide event feed are kept, in ms; default 1 hour. A reader
   * (`GET /api/events` with `Last-Event-ID`) can resume without loss within this window.
   */
  eventsMs?: number;
  /**
   * How long the per-minute activity stats (`/api/stats`, the time series, the queues' per-minute
   * figures) are kept, in ms; default 8 days (the longest time series window is 7 days).
   */
  statsMs?: number;
  /** How long resolved alert episodes and ended silences are kept, in ms; default 30 days. */
  alertsMs?: number;
  /**
   * How long a completed job keeps its result, in ms (the job itself stays for `completedMs`);
   * default: as long as the job. Per job and queue: `keepResult`.
   */
  resultMs?: number;
}

/** Retention of one job name or queue (`defineJob({ keep, keepResult })`, `queues.x.keep`), ms. */
export interface JobRetention {
  completedMs?: number;
  cancelledMs?: number;
  deadMs?: number;
  resultMs?: number;
}

/**
 * How the per-minute stats are rolled up as they age: minutes older than 2 hours become quarter
 * hours, quarter hours older than 25 hours become hours. Each pass folds the span just past the
 * age (rows already folded stay as they are). So a 1-hour window always has minutes, a 24-hour
 * window quarter hours, and the 7-day window hours — the finest bucket each window accepts.
 */
export const STATS_ROLLUPS = [
  { olderThanMs: 2 * 3_600_000, spanMs: DAY_MS + 3_600_000, resolutionMs: 15 * 60_000 },
  { olderThanMs: DAY_MS + 3_600_000, spanMs: 7 * DAY_MS, resolutionMs: 3_600_000 },
] as const;

export const DEFAULT_RETENTION: Required<Retention> = {
  completedMs: DAY_MS,
  cancelledMs: 7 * DAY_MS,
  deadMs: 7 * DAY_MS,
  ticksOlderThanMs: 7 * DAY_MS,
  eventsMs: EVENT_RETENTION_MS,
  statsMs: 8 * DAY_MS,
  alertsMs: 30 * DAY_MS,
  // No result time to live unless one is set: a result goes with its job.
  resultMs: Number.POSITIVE_INFINITY,
};
/**
 * Shortest accepted tick retention, ms (1 hour). A tick is pruned only well after any scheduler
 * could still be claiming fire times around it: on-time claims reach back `graceMs`, and a cron
 * tick may be claimed just after a manual run with a later fire time.
 */
export const MIN_TICK_RETENTION_MS = 3600_000;
/** Default time between prune passes, in ms (1 minute). */
export const DEFAULT_PRUNE_INTERVAL_MS = 60_000;
/** Default rows deleted per store call. */
export const DEFAULT_PRUNE_BATCH = 1000;
/** Store calls per state per pass at most; the rest waits for the next pass. */
const MAX_BATCHES_PER_PASS = 50;

export interface PrunerOptions {
  store: Store;
  retention?: Retention;
  /** Time between passes, in ms; default 60 000. */
  intervalMs?: number;
  /** Rows deleted per store call; default 1000. Small batches keep each transaction short. */
  batchSize?: number;
  events?: NightshiftEvents;
  logger?: Logger;
  /** Called after each pass with the number of jobs deleted. */
  onPruned?(deleted: number): void;
  /** Called after each pass with the number of cron ticks deleted. */
  onTicksPruned?(deleted: number): void;
  /** Called after each pass with the number of feed events deleted. */
  onEventsPruned?(deleted: number): void;
  /**
   * Retention of some job names and queues instead of `retention`: a job's own wins over its
   * queue's, which wins over `retention`. Each passes its own prune, and the general one leaves
   * their jobs alone.
   */
  overrides?: { names?: Record<string, JobRetention>; queues?: Record<string, JobRetention> };
}

/** Which retention (`state`, or the result) a rule is about, and its field in JobRetention. */
const RULES = [
  { what: 'completed', field: 'completedMs' },
  { what: 'cancelled', field: 'cancelledMs' },
  { what: 'dead', field: 'deadMs' },
  { what: 'result', field: 'resultMs' },
] as const;

/**
 * Deletes finished jobs (and their attempts) once they are older than the retention of their
 * state, claimed cron ticks once older than `ticksOlderThanMs`, and event feed events once older
 * than `eventsMs`, in batches, so no table grows forever. Safe to run in several processes: deletes of the same rows simply find nothing.
 */
export function createPruner(options: PrunerOptions): IntervalService {
  const logger = options.logger ?? createSilentLogger();
  const retention: Required<Retention> = { ...DEFAULT_RETENTION };
  for (const [name, value] of Object.entries(options.retention ?? {})) {
    if (value !== undefined) retention[name as keyof Retention] = value;
  }
  for (const [name, value] of Object.entries(retention)) {
    // resultMs may stay infinite: no time to live unless one is set.
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!Number.isFinite(value) && name !== 'resultMs')) {
      throw new ConfigError(`retention.${name} must be a number of ms ≥ 0, got ${String(value)}`);
    }
  }
  if (retention.ticksOlderThanMs < MIN_TICK_RETENTION_MS) {
    throw new ConfigError(`retention.ticksOlderThanMs must be at least ${MIN_TICK_RETENTION_MS} ms (1 hour), got ${retention.ticksOlderThanMs}`);
  }
  const batchSize = options.batchSize ?? DEFAULT_PRUNE_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`pruner batchSize must be a positive integer, got ${batchSize}`);
  const names = Object.entries(options.overrides?.names ?? {});
  const queues = Object.entries(options.overrides?.queues ?? {});
  for (const [kind, entries] of [['job', names], ['queue', queues]] as const) {
    for (const [name, keep] of entries) {
      for (const [field, value] of Object.entries(keep)) {
        if (value !== undefined && (typeof value !== 'number' || !(value >= 0))) throw new ConfigError(`retention of ${kind} "${name}": ${field} must be a number of ms ≥ 0, got ${String(value)}`);
      }
    }
  }
  /** Every prune one pass makes: a rule, a cutoff age and a scope (per job, per queue, then the rest). */
  const plan: { what: (typeof RULES)[number]['what']; keepMs: number; scope: PruneScope }[] = [];
  for (const rule of RULES) {
    const ownNames = names.filter(([, keep]) => keep[rule.field] !== undefined).map(([name]) => name);
    const ownQueues = queues.filter(([, keep]) => keep[rule.field] !== undefined).map(([queue]) => queue);
    for (const [name, keep] of names) if (keep[rule.field] !== undefined) plan.push({ what: rule.what, keepMs: keep[rule.field]!, scope: { names: [name] } });
    for (const [queue, keep] of queues) {
      if (keep[rule.field] !== undefined) plan.push({ what: rule.what, keepMs: keep[rule.field]!, scope: { queues: [queue], ...(ownNames.length > 0 ? { exceptNames: ownNames } : {}) } });
    }
    const rest: PruneScope = { ...(ownNames.length > 0 ? { exceptNames: ownNames } : {}), ...(ownQueues.length > 0 ? { exceptQueues: ownQueues } : {}) };
    plan.push({ what: rule.what, keepMs: retention[rule.field], scope: rest });
  }

  const service = createIntervalService({
    name: 'pruner',
    intervalMs: options.intervalMs ?? DEFAULT_PRUNE_INTERVAL_MS,
    run: async () => {
      const now = (await options.store.timeNow()).getTime();
      let total = 0;
      let results = 0;
      for (const step of plan) {
        if (!Number.isFinite(step.keepMs)) continue;
        const finishedBefore = new Date(now - step.keepMs);
        for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
          let done: number;
          if (step.what === 'result') {
            done = (await options.store.jobResultPrune({ finishedBefore, limit: batchSize, scope: step.scope })).cleared;
            results += done;
          } else {
            done = (await options.store.jobPrune({ finishedBefore, states: [step.what as JobState], limit: batchSize, scope: step.scope })).deleted;
            total += done;
          }
          if (done < batchSize) break;
        }
      }
      if (total > 0) logger.info({ deleted: total }, 'pruned finished jobs past their retention');
      if (results > 0) logger.info({ cleared: results }, 'cleared results past their time to live');
      // Ticks after jobs, with the same batch bound: a seconds-level schedule adds 86 400 a day.
      const claimedBefore = new Date(now - retention.ticksOlderThanMs);
      let ticks = 0;
      for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
        const { deleted } = await options.store.scheduleTickPrune({ claimedBefore, limit: batchSize });
        ticks += deleted;
        if (deleted < batchSize) break;
      }
      if (ticks > 0) logger.info({ deleted: ticks }, 'pruned cron ticks past their retention');
      // Feed events: every job's life leaves several, so they get the same batch bound.
      const eventsBefore = new Date(now - retention.eventsMs);
      let feed = 0;
      for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
        const { deleted } = await options.store.eventPrune({ before: eventsBefore, limit: batchSize });
        feed += deleted;
        // Whole appends go, so a call may take fewer than batchSize while more are left.
        if (deleted === 0) break;
      }
      if (feed > 0) logger.debug({ deleted: feed }, 'pruned feed events past their retention');
      // Stats: a few rows per queue and job name per minute; one statement. Older minutes are
      // rolled up so a day or a week is read from a few hundred rows per pair (see STATS_ROLLUPS).
      await options.store.statsPrune({ before: new Date(now - retention.statsMs) });
      for (const rollup of STATS_ROLLUPS) {
        const floor = (ms: number) => Math.floor(ms / rollup.resolutionMs) * rollup.resolutionMs;
        await options.store.statsRollup({ from: new Date(floor(now - rollup.olderThanMs - rollup.spanMs)), to: new Date(floor(now - rollup.olderThanMs)), resolutionMs: rollup.resolutionMs });
      }
      await options.store.alertPrune({ before: new Date(now - retention.alertsMs) });
      options.onPruned?.(total);
      options.onTicksPruned?.(ticks);
      options.onEventsPruned?.(feed);
    },
    onError(error) {
      logger.error({ err: error }, 'prune pass failed; trying again next interval');
      options.events?.emit('worker:error', { error, during: 'prune' });
    },
  });
  return service;
}
