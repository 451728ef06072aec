/**
 * Retention of one kind of job or one queue: how long its finished jobs are kept, by state, and
 * how long a completed job keeps its result — `defineJob({ keep, keepResult })` and
 * `queues: { q: { keep, keepResult } }`. The pruner applies them (a job's own first, then its
 * queue's, then the runtime's `prune.retention`).
 */
import { ValidationError } from '../errors.js';
import { MAX_DELAY_MS } from './input-bounds.js';
import { parseDuration, type Duration } from './duration.js';

/** How long finished jobs are kept, by state (`'1h'`, `'30d'`, or ms). */
export interface KeepOptions {
  completed?: Duration;
  cancelled?: Duration;
  dead?: Duration;
}

/** The same in ms, with the result's time to live; absent fields fall back to the queue, then the runtime. */
export interface RetentionMs {
  completedMs?: number;
  cancelledMs?: number;
  deadMs?: number;
  resultMs?: number;
}

const BOUNDS = { min: 0, max: MAX_DELAY_MS };

/** Checks `keep` / `keepResult` of `where` (e.g. `job "x"`); null when neither is set. */
export function parseRetention(where: string, keep: unknown, keepResult: unknown): RetentionMs | null {
  if (keep === undefined && keepResult === undefined) return null;
  const retention: RetentionMs = {};
  const ms = (value: unknown, field: string): number => {
    const parsed = parseDuration(value, BOUNDS);
    if ('problem' in parsed) throw new ValidationError('INVALID_OPTION', `${where}: ${field} ${parsed.problem}`);
    return parsed.ms;
  };
  if (keep !== undefined) {
    if (keep === null || typeof keep !== 'object' || Array.isArray(keep)) throw new ValidationError('INVALID_OPTION', `${where}: keep must be { completed?, cancelled?, dead? }`);
    for (const key of Object.keys(keep)) {
      if (key !== 'completed' && key !== 'cancelled' && key !== 'dead') throw new ValidationError('INVALID_OPTION', `${where}: keep.${key} is not a state to keep (completed, cancelled, dead)`);
    }
    const { completed, cancelled, dead } = keep as KeepOptions;
    if (completed !== undefined) retention.completedMs = ms(completed, 'keep.completed');
    if (cancelled !== undefined) retention.cancelledMs = ms(cancelled, 'keep.cancelled');
    if (dead !== undefined) retention.deadMs = ms(dead, 'keep.dead');
  }
  if (keepResult !== undefined) retention.resultMs = ms(keepResult, 'keepResult');
  return retention;
}
