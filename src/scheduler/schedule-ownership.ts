/**
 * Who may change a stored schedule by hand. A schedule declared in a YAML schedule file (source
 * `file`) or in the code config's `schedules` list (source `code`) belongs to that declaration:
 * the next sync (daemon start, `nightshift schedules sync`) puts back whatever differs. So the
 * changes a sync would undo — an edit, a delete, and a pause or resume that flips `enabled` — are
 * refused, with a message naming where to make the change so that it lasts; triggering a run is
 * allowed, and so is a pause of a paused schedule (it changes nothing). Schedules created at run
 * time (source `api`) may be changed freely.
 *
 * One rule for every operator surface: the HTTP API answers it with 409, the CLI with exit code 1;
 * both print this message, with the same code. The schedule manager in code applies no rule: the
 * sync itself, and code that owns its schedules, use it.
 */
import type { ScheduleRecord } from '../store/types.js';

/** A change of a stored schedule that its declaration may own. */
export type ScheduleChange = 'edit' | 'delete' | 'pause' | 'resume';

/** The code of a refused change, as the HTTP API answers it (409) and the CLI prints it. */
export const SCHEDULE_MANAGED_BY_FILE = 'SCHEDULE_MANAGED_BY_FILE';

/** A change refused because a schedule file or the code config owns the schedule (see the module comment). */
export class ScheduleManagedByFileError extends Error {
  readonly code = SCHEDULE_MANAGED_BY_FILE;
  /** `{ source, file? }`: the owner, and the schedule file when it is known. */
  readonly details: { source: 'file' | 'code'; file?: string };
  constructor(message: string, details: { source: 'file' | 'code'; file?: string }) {
    super(message);
    this.name = 'ScheduleManagedByFileError';
    this.details = details;
  }
}

const SYNC = 'then run `nightshift schedules sync` (or restart the daemon)';

const WORDING: Record<ScheduleChange, { change: string; fix: string }> = {
  edit: { change: 'an edit', fix: `Edit its entry there, ${SYNC}` },
  delete: { change: 'deleting it', fix: 'Remove its entry there, then run `nightshift schedules sync --delete-undeclared`' },
  pause: { change: 'pausing it', fix: `Set \`enabled: false\` in its entry there, ${SYNC}` },
  resume: { change: 'resuming it', fix: `Set \`enabled: true\` in its entry there, ${SYNC}` },
};

/** Options of `scheduleChangeRefusal`. */
export interface ScheduleChangeOptions {
  /** How the change was asked for, in the message: `through the API`, `from the CLI`. */
  via: string;
  /** The schedule file the deployment syncs, named in the message when known. */
  scheduleFile?: string | undefined;
}

/**
 * The refusal of `change` to `schedule` when its declaration owns it, or null when the change may
 * go ahead (an `api` schedule, a trigger, a pause of a paused schedule, a resume of an enabled one).
 */
export function scheduleChangeRefusal(
  schedule: Pick<ScheduleRecord, 'id' | 'source' | 'enabled'>,
  change: ScheduleChange,
  options: ScheduleChangeOptions,
): ScheduleManagedByFileError | null {
  if (schedule.source === 'api') return null;
  // Nothing to undo: the schedule already is what was asked for.
  if ((change === 'pause' && !schedule.enabled) || (change === 'resume' && schedule.enabled)) return null;
  const { scheduleFile } = options;
  const owner =
    schedule.source === 'file'
      ? `a YAML schedule file (source "file"; ${scheduleFile ? `this deployment's is ${scheduleFile}` : "the file the config's `schedules` names, or the daemon's --config <file.yaml>"})`
      : 'the `schedules` list of the code config (source "code"; nightshift.config.ts)';
  const { change: what, fix } = WORDING[change];
  return new ScheduleManagedByFileError(
    `schedule "${schedule.id}" is declared in ${owner}, which owns it: ${what} ${options.via} would be undone by the next sync. ${fix}.`,
    { source: schedule.source, ...(schedule.source === 'file' && scheduleFile ? { file: scheduleFile } : {}) },
  );
}
