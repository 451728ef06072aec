/**
 * The id window of one filtered `jobList` page, the same on both stores. A filter that few jobs
 * match (a rare search, an empty created range) would otherwise walk every job below the cursor
 * to fill a page; a page instead looks at the `scanIds` ids below its start at most. When that
 * window holds fewer matches than the page size, the page is short (even empty) and its cursor is
 * the window's floor, so the next page goes on below it; only a null cursor ends the listing.
 * A page without a filter takes the newest jobs below the cursor and needs no window.
 */
import type { JobListParams } from './types.js';

/** Ids below its start that one filtered jobList page looks at, at most (`JobListParams.scanIds`). */
export const JOB_LIST_SCAN_IDS = 100_000;

export interface JobListWindow {
  /** Rows have ids below this. */
  readonly before: number;
  /** …and at or above this (0: no floor). */
  readonly floor: number;
}

/** Whether any filter is set (an unfiltered page needs no window). */
export function isFiltered(params: JobListParams): boolean {
  const filter = params.filter ?? {};
  return Object.values(filter).some((value) => value !== undefined);
}

/**
 * The window of a page: below the cursor (or above the newest id, `newest`), at most `scanIds`
 * ids deep. `cursor` is the parsed cursor or null; `newest` the highest id in the store, or null
 * when it has no job.
 */
export function listWindow(params: JobListParams, cursor: number | null, newest: number | null): JobListWindow {
  const before = cursor ?? (newest ?? 0) + 1;
  const scan = Math.max(1, Math.floor(params.scanIds ?? JOB_LIST_SCAN_IDS));
  return { before, floor: Math.max(0, before - scan) };
}

/**
 * The cursor after a page: the last row's id when the window held more matches than the page
 * (`rows` fetched one past `limit`); else the window's floor while older jobs remain (`oldest`:
 * the lowest id in the store, or null); else null.
 */
export function cursorAfter(rows: readonly { id: string | number }[], limit: number, window: JobListWindow, oldest: number | null): string | null {
  if (rows.length > limit) return String(rows[limit - 1]!.id);
  if (window.floor > 0 && oldest !== null && oldest < window.floor) return String(window.floor);
  return null;
}
