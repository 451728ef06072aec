/**
 * Plain-text tables for terminal output. Scripts use `--json` instead, so this only has to be
 * readable: left-aligned text, right-aligned numbers, long cells cut with an ellipsis.
 */
import { wallClockMs, zoneOffsetMs } from '../scheduler/time-zone.js';

export interface Column {
  header: string;
  /** Default `left`; use `right` for numbers. */
  align?: 'left' | 'right';
  /** Longest cell shown, in characters; longer ones are cut. Default 60. */
  maxWidth?: number;
}

function cut(text: string, max: number): string {
  // Newlines would break the row layout; show them as spaces.
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length > max ? `${flat.slice(0, Math.max(1, max - 1))}…` : flat;
}

/** Renders rows under headers, columns separated by two spaces. Returns text without a trailing newline. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => columns.map((column, index) => cut(row[index] ?? '', column.maxWidth ?? 60)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((row) => row[index]!.length)));
  const line = (values: readonly string[]): string =>
    values
      .map((value, index) => (columns[index]!.align === 'right' ? value.padStart(widths[index]!) : value.padEnd(widths[index]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...cells.map(line)].join('\n');
}

/** Renders `label: value` lines with the labels aligned. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width + 1)} ${value}`).join('\n');
}

/** A date for tables: ISO 8601 in UTC without milliseconds, or `-`. */
export function formatDate(date: Date | null | undefined): string {
  if (!date) return '-';
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A date as the wall clock of `timezone` reads it, with the zone's offset at that instant:
 * `2026-03-29T03:00:00+02:00`, or `-`. The offset keeps the text an exact instant, so a time in a
 * DST gap or overlap cannot be misread.
 */
export function formatZonedDate(date: Date | null | undefined, timezone: string): string {
  if (!date) return '-';
  let offsetMs: number;
  let wallMs: number;
  try {
    offsetMs = zoneOffsetMs(timezone, date.getTime());
    wallMs = wallClockMs(timezone, date.getTime());
  } catch {
    // A zone this runtime no longer knows (stored by a newer one): UTC is still correct.
    return formatDate(date);
  }
  const sign = offsetMs < 0 ? '-' : '+';
  const minutes = Math.round(Math.abs(offsetMs) / 60_000);
  const offset = `${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
  return `${new Date(wallMs).toISOString().slice(0, 19)}${offset}`;
}

/** A duration in ms as `850ms`, `12.3s`, `4m05s`, `2h10m`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)}m${String(totalSeconds % 60).padStart(2, '0')}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h${String(totalMinutes % 60).padStart(2, '0')}m`;
}
