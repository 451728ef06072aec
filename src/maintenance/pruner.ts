import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { NightshiftEvents } from '../observe/events.js';
import { createSilentLogger } from '../observe/logger.js';
import type { JobState, Store } from '../store/types.js';
import { createIntervalService, type IntervalService } from '../worker/service.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** How long finished jobs are kept, in ms, per final state. */
export interface Retention {
  /** Default 1 day. */
  completedMs?: number;
  /** Default 7 days. */
  cancelledMs?: number;
  /** Default 7 days. */
  deadMs?: number;
}

export const DEFAULT_RETENTION: Required<Retention> = { completedMs: DAY_MS, cancelledMs: 7 * DAY_MS, deadMs: 7 * DAY_MS };
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
}

/**
 * Deletes finished jobs (and their attempts) once they are older than the retention of their
 * state, in batches, so the hot table stays small. Safe to run in several processes: deletes of
 * the same rows simply find nothing.
 */
export function createPruner(options: PrunerOptions): IntervalService {
  const logger = options.logger ?? createSilentLogger();
  const retention: Required<Retention> = { ...DEFAULT_RETENTION };
  for (const [name, value] of Object.entries(options.retention ?? {})) {
    if (value !== undefined) retention[name as keyof Retention] = value;
  }
  for (const [name, value] of Object.entries(retention)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new ConfigError(`retention.${name} must be a number of ms ≥ 0, got ${String(value)}`);
    }
  }
  const batchSize = options.batchSize ?? DEFAULT_PRUNE_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`pruner batchSize must be a positive integer, got ${batchSize}`);
  const rules: { state: JobState; keepMs: number }[] = [
    { state: 'completed', keepMs: retention.completedMs },
    { state: 'cancelled', keepMs: retention.cancelledMs },
    { state: 'dead', keepMs: retention.deadMs },
  ];

  const service = createIntervalService({
    name: 'pruner',
    intervalMs: options.intervalMs ?? DEFAULT_PRUNE_INTERVAL_MS,
    run: async () => {
      const now = (await options.store.timeNow()).getTime();
      let total = 0;
      for (const rule of rules) {
        const finishedBefore = new Date(now - rule.keepMs);
        for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
          const { deleted } = await options.store.jobPrune({ finishedBefore, states: [rule.state], limit: batchSize });
          total += deleted;
          if (deleted < batchSize) break;
        }
      }
      if (total > 0) logger.info({ deleted: total }, 'pruned finished jobs past their retention');
      options.onPruned?.(total);
    },
    onError(error) {
      logger.error({ err: error }, 'prune pass failed; trying again next interval');
      options.events?.emit('worker:error', { error, during: 'prune' });
    },
  });
  return service;
}
