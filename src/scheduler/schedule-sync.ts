/**
 * Reconciles the store with declared schedules (a YAML file, or a list in the code config) at
 * daemon start: entries added are created, changed ones updated — only among schedules of the
 * same source. Schedules created at run time through the HTTP API or the schedule manager in
 * code (source `api`; the CLI cannot create schedules) are never touched, and an id already
 * taken by one of them is an error. Running the same sync twice changes nothing the second time.
 *
 * Stored schedules of the same source that the declaration does not list are kept and reported
 * (`undeclared`), unless the caller asks to delete them (`deleteUndeclared`). The store does not
 * record which file declared a schedule, and two deployments may share a store, each with its own
 * schedule file: a schedule missing from this file may be another file's, so deleting it is the
 * operator's explicit decision (`nightshift schedules sync --delete-undeclared`), never a side
 * effect of starting a daemon with the other file.
 */
import { ValidationError } from '../errors.js';
import type { ScheduleInput, ScheduleRecord, ScheduleSource, Store } from '../store/types.js';
import { scheduleNextRun } from './next-fire.js';

/** What a sync did, by schedule id. */
export interface ScheduleSyncResult {
  created: string[];
  updated: string[];
  /** Undeclared schedules deleted (only with `deleteUndeclared`). */
  deleted: string[];
  unchanged: string[];
  /**
   * Stored schedules of the same source that the declaration does not list, kept: declared by
   * another file (or code config) on the same store, or removed from this one. Empty with
   * `deleteUndeclared` (they are in `deleted`).
   */
  undeclared: string[];
}

/** Options of `syncSchedules`. */
export interface SyncSchedulesOptions {
  store: Store;
  /** The declared schedules, validated (`resolveScheduleDefinition`), all of source `source`. */
  schedules: readonly ScheduleInput[];
  /** `file` or `code`: the source the declared schedules are stored with. */
  source: Exclude<ScheduleSource, 'api'>;
  /**
   * Delete stored schedules of `source` that `schedules` does not list; default false: they are
   * kept and listed in `undeclared` (see the module comment).
   */
  deleteUndeclared?: boolean;
}

const DEFINITION_FIELDS = ['jobName', 'cron', 'timezone', 'enabled', 'description', 'input', 'catchUp', 'overlap', 'source', 'jobOptions'] as const;

/** Whether a stored schedule's settings differ from a declaration of it (a sync would update it). */
export function scheduleDefinitionDiffers(stored: ScheduleRecord, declared: ScheduleInput): boolean {
  return DEFINITION_FIELDS.some((field) => stored[field] !== declared[field]);
}

/** Whether a change moves the fire times (then `nextRunAt` is recomputed from now). */
function timingChanged(stored: ScheduleRecord, declared: ScheduleInput): boolean {
  return stored.cron !== declared.cron || stored.timezone !== declared.timezone || stored.enabled !== declared.enabled || stored.nextRunAt === null;
}

/** Throws `DUPLICATE_SCHEDULE` when two declared schedules share an id. */
export function assertUniqueScheduleIds(schedules: readonly { id: string }[], describe: (index: number) => string = (index) => `schedules[${index}]`): void {
  const seen = new Map<string, number>();
  schedules.forEach((schedule, index) => {
    const first = seen.get(schedule.id);
    if (first !== undefined) {
      throw new ValidationError('DUPLICATE_SCHEDULE', `${describe(index)}: schedule id "${schedule.id}" is already used by ${describe(first)}; give one of them another id`, {
        issues: [{ path: `${describe(index)}.id`, message: `duplicate schedule id "${schedule.id}"` }],
      });
    }
    seen.set(schedule.id, index);
  });
}

/**
 * Makes the store's schedules of `source` match `schedules`. Everything is checked before the
 * first write; the writes are one upsert transaction, one delete and the next-run updates.
 */
export async function syncSchedules(options: SyncSchedulesOptions): Promise<ScheduleSyncResult> {
  const { store, schedules, source } = options;
  for (const schedule of schedules) {
    if (schedule.source !== source) {
      throw new ValidationError('INVALID_OPTION', `schedule "${schedule.id}" has source "${schedule.source}" but is synced as "${source}"`);
    }
  }
  assertUniqueScheduleIds(schedules);
  const existing = new Map((await store.scheduleList({})).map((record) => [record.id, record] as const));
  for (const [index, schedule] of schedules.entries()) {
    const stored = existing.get(schedule.id);
    if (stored !== undefined && stored.source === 'api') {
      // Only code can create `api` schedules (the HTTP API, the schedule manager); the CLI cannot.
      const path = `schedules[${index}].id`;
      throw new ValidationError(
        'DUPLICATE_SCHEDULE',
        `${path}: schedule id "${schedule.id}" is already used by a schedule created at run time (source "api": POST /api/schedules or the schedule manager in code), which a sync never changes; give this entry another id, or delete that schedule first (DELETE /api/schedules/${encodeURIComponent(schedule.id)})`,
        { issues: [{ path, message: `schedule id "${schedule.id}" is taken by a schedule of source "api"` }] },
      );
    }
  }

  const result: ScheduleSyncResult = { created: [], updated: [], deleted: [], unchanged: [], undeclared: [] };
  const toWrite: ScheduleInput[] = [];
  const retime: ScheduleInput[] = [];
  for (const schedule of schedules) {
    const stored = existing.get(schedule.id);
    if (stored === undefined) {
      result.created.push(schedule.id);
      toWrite.push(schedule);
      retime.push(schedule);
    } else if (scheduleDefinitionDiffers(stored, schedule)) {
      result.updated.push(schedule.id);
      toWrite.push(schedule);
      if (timingChanged(stored, schedule)) retime.push(schedule);
    } else {
      result.unchanged.push(schedule.id);
      if (stored.enabled && stored.nextRunAt === null) retime.push(schedule);
    }
  }
  const declared = new Set(schedules.map((schedule) => schedule.id));
  // A schedule moved between the file and the code config changes source instead of being deleted.
  const undeclared = [...existing.values()].filter((record) => record.source === source && !declared.has(record.id)).map((record) => record.id);
  if (options.deleteUndeclared === true) result.deleted = undeclared;
  else result.undeclared = undeclared;

  if (toWrite.length > 0) await store.scheduleUpsertMany({ schedules: toWrite });
  if (result.deleted.length > 0) await store.scheduleDelete({ ids: result.deleted });
  if (retime.length > 0) {
    const now = (await store.timeNow()).getTime();
    for (const schedule of retime) {
      await store.scheduleUpdateNext({ id: schedule.id, nextRunAt: scheduleNextRun(schedule, now) });
    }
  }
  return result;
}
