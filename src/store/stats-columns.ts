/**
 * The columns of the per-minute stats table, shared by both stores so their SQL is generated from
 * one list: the counters, the two sums and one column per histogram bucket (`d0…`, `w0…`).
 */
import { STATS_BUCKET_COUNT, type StatsDelta } from './types.js';

export const STATS_COUNTERS = ['enqueued', 'completed', 'failed', 'dead', 'cancelled', 'timeouts'] as const;
export const STATS_SUMS = [
  ['durationSumMs', 'duration_sum_ms'],
  ['waitSumMs', 'wait_sum_ms'],
] as const;
export const DURATION_COLUMNS = Array.from({ length: STATS_BUCKET_COUNT }, (_, i) => `d${i}`);
export const WAIT_COLUMNS = Array.from({ length: STATS_BUCKET_COUNT }, (_, i) => `w${i}`);

/** Every value column (everything but minute, queue, name), in table order. */
export const STATS_VALUE_COLUMNS: readonly string[] = [
  ...STATS_COUNTERS,
  ...STATS_SUMS.map(([, column]) => column),
  ...DURATION_COLUMNS,
  ...WAIT_COLUMNS,
];

/** A delta as one flat row of values, in `STATS_VALUE_COLUMNS` order. */
export function statsValues(delta: StatsDelta): number[] {
  const buckets = (values: number[]) => Array.from({ length: STATS_BUCKET_COUNT }, (_, i) => values[i] ?? 0);
  return [
    ...STATS_COUNTERS.map((counter) => delta[counter]),
    ...STATS_SUMS.map(([field]) => delta[field]),
    ...buckets(delta.durationBuckets),
    ...buckets(delta.waitBuckets),
  ];
}

/** The inverse of `statsValues` for a row read back (numbers in `STATS_VALUE_COLUMNS` order). */
export function statsFromValues(queue: string, name: string, read: (column: string) => number): StatsDelta {
  const delta = { queue, name } as StatsDelta;
  for (const counter of STATS_COUNTERS) delta[counter] = read(counter);
  for (const [field, column] of STATS_SUMS) delta[field] = read(column);
  delta.durationBuckets = DURATION_COLUMNS.map(read);
  delta.waitBuckets = WAIT_COLUMNS.map(read);
  return delta;
}

/** Whether a delta counts anything (an all-zero delta is not written). */
export function statsDeltaIsEmpty(delta: StatsDelta): boolean {
  return statsValues(delta).every((value) => value === 0);
}
