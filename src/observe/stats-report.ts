/**
 * Activity statistics, the reading side: the summaries behind `GET /api/stats` (runs, success
 * rate, run time and wait percentiles over the last hour and day, in total, per queue and per job)
 * and the series behind `GET /api/stats/timeseries` (enqueued, completed, failed per bucket per
 * queue). Everything comes from the per-minute stats rows; nothing reads the jobs table.
 */
import { ValidationError } from '../errors.js';
import type { StatsDelta, StatsRow, Store } from '../store/types.js';
import { addDelta, emptyDelta, STATS_BOUNDS_MS } from './stats-recorder.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Percentiles and mean of a histogram, in ms (null without samples). */
export interface Distribution {
  count: number;
  avg: number | null;
  p50: number | null;
  p95: number | null;
}

/** What happened in a window. */
export interface ActivitySummary {
  enqueued: number;
  /** Attempts that ended (completed + failed). */
  runs: number;
  completed: number;
  /** Attempts that failed: retried + dead. */
  failed: number;
  retried: number;
  dead: number;
  cancelled: number;
  /** Failed attempts that ran past their timeout. */
  timeouts: number;
  /** completed / runs; null without runs. */
  successRate: number | null;
  /** Run times of ended attempts. */
  durationMs: Distribution;
  /** From due to started. */
  waitMs: Distribution;
}

export interface ActivityWindows {
  lastHour: ActivitySummary;
  lastDay: ActivitySummary;
}

export interface StatsReport {
  generatedAt: string;
  totals: ActivityWindows;
  queues: ({ queue: string } & ActivityWindows)[];
  jobs: ({ name: string } & ActivityWindows)[];
}

/**
 * Estimates the `q` quantile of a histogram over `STATS_BOUNDS_MS`: the bucket that holds it,
 * then linear interpolation inside it (the last, open bucket answers its lower bound). Null
 * without samples.
 */
export function percentile(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((sum, count) => sum + count, 0);
  if (total <= 0) return null;
  const target = q * total;
  let before = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i] ?? 0;
    if (count > 0 && before + count >= target) {
      const lower = i === 0 ? 0 : (STATS_BOUNDS_MS[i - 1] as number);
      const upper = STATS_BOUNDS_MS[i];
      if (upper === undefined) return lower;
      return round(lower + ((upper - lower) * (target - before)) / count);
    }
    before += count;
  }
  return null;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function distribution(buckets: readonly number[], sumMs: number): Distribution {
  const count = buckets.reduce((sum, value) => sum + value, 0);
  return { count, avg: count > 0 ? round(sumMs / count) : null, p50: percentile(buckets, 0.5), p95: percentile(buckets, 0.95) };
}

/** A delta as the API shows it. */
export function summarize(delta: StatsDelta): ActivitySummary {
  const failed = delta.failed + delta.dead;
  const runs = delta.completed + failed;
  return {
    enqueued: delta.enqueued,
    runs,
    completed: delta.completed,
    failed,
    retried: delta.failed,
    dead: delta.dead,
    cancelled: delta.cancelled,
    timeouts: delta.timeouts,
    successRate: runs > 0 ? Math.round((delta.completed / runs) * 10_000) / 10_000 : null,
    durationMs: distribution(delta.durationBuckets, delta.durationSumMs),
    waitMs: distribution(delta.waitBuckets, delta.waitSumMs),
  };
}

/** Sums rows into one delta per key (`keyOf` null: skipped). */
function group(rows: readonly StatsRow[], keyOf: (row: StatsRow) => string | null): Map<string, StatsDelta> {
  const out = new Map<string, StatsDelta>();
  for (const row of rows) {
    const key = keyOf(row);
    if (key === null) continue;
    let into = out.get(key);
    if (!into) {
      into = emptyDelta(row.queue, row.name);
      out.set(key, into);
    }
    addDelta(into, row);
  }
  return out;
}

function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step;
}

/** The whole window as one bucket per (queue, name): minutes from `now - windowMs` (floored) on. */
function windowRows(store: Store, nowMs: number, windowMs: number): Promise<StatsRow[]> {
  return store.statsList({ since: new Date(floorTo(nowMs - windowMs, MINUTE_MS)), bucketMs: Number.MAX_SAFE_INTEGER });
}

/** The last hour and the last day, in total, per queue and per job name. */
export async function readStatsReport(store: Store): Promise<StatsReport> {
  const now = (await store.timeNow()).getTime();
  const [hour, day] = await Promise.all([windowRows(store, now, HOUR_MS), windowRows(store, now, DAY_MS)]);
  const windows = (keyOf: (row: StatsRow) => string) => {
    const h = group(hour, keyOf);
    const d = group(day, keyOf);
    const keys = [...new Set([...d.keys(), ...h.keys()])].sort();
    return keys.map((key) => ({ key, lastHour: summarize(h.get(key) ?? emptyDelta('', '')), lastDay: summarize(d.get(key) ?? emptyDelta('', '')) }));
  };
  const [totals] = windows(() => '');
  const empty = summarize(emptyDelta('', ''));
  return {
    generatedAt: new Date(now).toISOString(),
    totals: totals ? { lastHour: totals.lastHour, lastDay: totals.lastDay } : { lastHour: empty, lastDay: empty },
    queues: windows((row) => row.queue).map(({ key, ...rest }) => ({ queue: key, ...rest })),
    jobs: windows((row) => row.name).map(({ key, ...rest }) => ({ name: key, ...rest })),
  };
}

/** The time series windows and bucket sizes the API accepts. */
export const TIMESERIES_WINDOWS = { '1h': HOUR_MS, '24h': DAY_MS, '7d': 7 * DAY_MS } as const;
export const TIMESERIES_BUCKETS = { '1m': MINUTE_MS, '5m': 5 * MINUTE_MS, '15m': 15 * MINUTE_MS, '1h': HOUR_MS, '6h': 6 * HOUR_MS, '1d': DAY_MS } as const;
export type TimeseriesWindow = keyof typeof TIMESERIES_WINDOWS;
export type TimeseriesBucket = keyof typeof TIMESERIES_BUCKETS;
/**
 * The bucket used when none is asked for (60, 96 and 168 points), which is also the finest each
 * window accepts: the stats keep minutes for 2 hours, quarter hours for 25, hours after that.
 */
export const DEFAULT_BUCKET: Record<TimeseriesWindow, TimeseriesBucket> = { '1h': '1m', '24h': '15m', '7d': '1h' };

export interface TimeseriesPoints {
  enqueued: number[];
  completed: number[];
  /** Failed attempts (retried or dead). */
  failed: number[];
  dead: number[];
}

export interface Timeseries {
  window: TimeseriesWindow;
  bucket: TimeseriesBucket;
  bucketMs: number;
  /** Start of each bucket (UTC, aligned to the bucket size), oldest first; the last one is still filling. */
  buckets: string[];
  /** All queues together. */
  total: TimeseriesPoints;
  /** Per queue with activity in the window, by name. */
  queues: ({ queue: string } & TimeseriesPoints)[];
}

function zeros(length: number): TimeseriesPoints {
  return { enqueued: new Array(length).fill(0), completed: new Array(length).fill(0), failed: new Array(length).fill(0), dead: new Array(length).fill(0) };
}

/**
 * Enqueued, completed and failed per bucket per queue over `window`, in buckets of `bucket`
 * aligned to the bucket size (UTC); `queue` restricts it to one queue. A bucket longer than the
 * window is refused by the caller's validation, not here.
 */
export async function readTimeseries(store: Store, params: { window: TimeseriesWindow; bucket?: TimeseriesBucket; queue?: string }): Promise<Timeseries> {
  if (!Object.hasOwn(TIMESERIES_WINDOWS, params.window)) {
    throw new ValidationError('INVALID_OPTION', `timeseries: window must be one of ${Object.keys(TIMESERIES_WINDOWS).join(', ')}, got ${String(params.window)}`);
  }
  const bucket = params.bucket ?? DEFAULT_BUCKET[params.window];
  if (!Object.hasOwn(TIMESERIES_BUCKETS, bucket)) {
    throw new ValidationError('INVALID_OPTION', `timeseries: bucket must be one of ${Object.keys(TIMESERIES_BUCKETS).join(', ')}, got ${String(bucket)}`);
  }
  const bucketMs = TIMESERIES_BUCKETS[bucket];
  const finest = DEFAULT_BUCKET[params.window];
  if (bucketMs < TIMESERIES_BUCKETS[finest]) {
    throw new ValidationError('INVALID_OPTION', `timeseries: a ${params.window} window takes buckets of ${finest} or more (older minutes are kept rolled up), got ${bucket}`);
  }
  if (bucketMs > TIMESERIES_WINDOWS[params.window]) {
    throw new ValidationError('INVALID_OPTION', `timeseries: bucket ${bucket} is longer than the window ${params.window}`);
  }
  const count = Math.max(1, Math.ceil(TIMESERIES_WINDOWS[params.window] / bucketMs));
  const now = (await store.timeNow()).getTime();
  const since = floorTo(now, bucketMs) - (count - 1) * bucketMs;
  const rows = await store.statsList({ since: new Date(since), bucketMs, countersOnly: true });
  const total = zeros(count);
  const queues = new Map<string, TimeseriesPoints>();
  for (const row of rows) {
    if (params.queue !== undefined && row.queue !== params.queue) continue;
    const index = Math.round((row.start.getTime() - since) / bucketMs);
    if (index < 0 || index >= count) continue;
    let points = queues.get(row.queue);
    if (!points) {
      points = zeros(count);
      queues.set(row.queue, points);
    }
    for (const target of [points, total]) {
      (target.enqueued[index] as number) += row.enqueued;
      (target.completed[index] as number) += row.completed;
      (target.failed[index] as number) += row.failed + row.dead;
      (target.dead[index] as number) += row.dead;
    }
  }
  return {
    window: params.window,
    bucket,
    bucketMs,
    buckets: Array.from({ length: count }, (_, i) => new Date(since + i * bucketMs).toISOString()),
    total,
    queues: [...queues.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([queue, points]) => ({ queue, ...points })),
  };
}

/** Per queue, the last minute's and last hour's completed and failed attempts. */
export async function readQueueThroughput(store: Store): Promise<Map<string, { completedLastMinute: number; failedLastMinute: number; completedLastHour: number; failedLastHour: number }>> {
  const now = (await store.timeNow()).getTime();
  // Minute buckets aligned to the window start: the last hour's and the last minute's rows at once.
  const since = floorTo(now - HOUR_MS, MINUTE_MS);
  const lastMinuteStart = now - MINUTE_MS;
  const rows = await store.statsList({ since: new Date(since), bucketMs: MINUTE_MS, countersOnly: true });
  const out = new Map<string, { completedLastMinute: number; failedLastMinute: number; completedLastHour: number; failedLastHour: number }>();
  for (const row of rows) {
    let entry = out.get(row.queue);
    if (!entry) {
      entry = { completedLastMinute: 0, failedLastMinute: 0, completedLastHour: 0, failedLastHour: 0 };
      out.set(row.queue, entry);
    }
    entry.completedLastHour += row.completed;
    entry.failedLastHour += row.failed + row.dead;
    // The minute rows that overlap the last 60 s: the current minute and the one before it.
    if (row.start.getTime() + MINUTE_MS > lastMinuteStart) {
      entry.completedLastMinute += row.completed;
      entry.failedLastMinute += row.failed + row.dead;
    }
  }
  return out;
}

