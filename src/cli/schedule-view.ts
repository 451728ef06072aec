import { runDurationMs, scheduleToJson, type ScheduleJson } from '../scheduler/schedule-json.js';
import type { ScheduleHistoryEntry, ScheduleView } from '../scheduler/schedule-manager.js';
import type { ErrorRecord } from '../store/types.js';
import type { DeclarationState, ListedSchedule } from './declared-schedules.js';
import { formatDate, formatDuration, formatZonedDate, renderTable } from './table.js';

/*
 * How schedules and their execution history look in CLI output. `--json` prints the shapes of the
 * HTTP API (scheduler/schedule-json.ts: one serializer). Times in tables are shown in UTC and,
 * where the schedule's own zone matters (the next run an operator plans around), also on that
 * zone's wall clock.
 */

/** A schedule, and a history entry, as printed by `--json`: the API's shapes. */
export { scheduleToJson, scheduleHistoryEntryToJson as historyEntryToJson } from '../scheduler/schedule-json.js';

/**
 * A row of `schedules --json` when a declaration is in use: the API's shape of the schedule as
 * listed, plus how it stands against the declaration (`declaration`, see `DeclarationState`; null
 * for a schedule the declaration has no say over). A schedule declared but not stored yet
 * (`not-stored`) shows the settings it would be stored with now; one stored with other settings
 * (`changed`) shows the declared settings, with the stored record's times and runs — and, when
 * it was paused (CLI or API), as paused, with no next run: that holds until a sync.
 */
export function listedScheduleToJson(row: ListedSchedule): ScheduleJson & { declaration: DeclarationState | null } {
  return { ...scheduleToJson(row.view), declaration: row.declaration };
}

/** The state of the last run: the job's state, `pruned` when its job is gone, `-` before the first run. */
function lastOutcomeCell(schedule: ScheduleView): string {
  if (schedule.lastOutcome) return schedule.lastOutcome.state;
  return schedule.lastJobId === null ? '-' : 'pruned';
}

/** How a declaration state reads in the table. */
export function declarationText(state: DeclarationState | null): string {
  switch (state) {
    case 'stored':
      return 'stored';
    case 'not-stored':
      return 'not stored yet';
    case 'changed':
      return 'changed, not synced';
    case 'not-declared':
      return 'not declared here';
    case 'id-taken':
      return 'id taken (api)';
    case null:
      return '-';
  }
}

const SCHEDULE_COLUMNS = [
  { header: 'ID', maxWidth: 40 },
  { header: 'JOB', maxWidth: 30 },
  { header: 'CRON' },
  { header: 'TIMEZONE' },
  { header: 'ENABLED' },
  { header: 'NEXT RUN (LOCAL)' },
  { header: 'NEXT RUN (UTC)' },
  { header: 'LAST RUN (UTC)' },
  { header: 'LAST OUTCOME' },
];

function scheduleCells(schedule: ScheduleView): string[] {
  return [
    schedule.id,
    schedule.jobName,
    schedule.cron,
    schedule.timezone,
    schedule.enabled ? 'yes' : 'paused',
    formatZonedDate(schedule.nextRunAt, schedule.timezone),
    formatDate(schedule.nextRunAt),
    formatDate(schedule.lastRunAt),
    lastOutcomeCell(schedule),
  ];
}

/** The `nightshift schedules` table. */
export function renderSchedules(schedules: readonly ScheduleView[]): string {
  if (schedules.length === 0) return 'no schedules (they are stored when the daemon starts, or with `nightshift schedules sync`)';
  return renderTable(SCHEDULE_COLUMNS, schedules.map(scheduleCells));
}

/**
 * The `nightshift schedules` table when a schedule file (or the config) declares schedules: one
 * more column, how each stands against the declaration (declared-schedules.ts), and a line on
 * what a sync would do.
 */
export function renderDeclaredSchedules(rows: readonly ListedSchedule[], declaredIn: string): string {
  if (rows.length === 0) return `no schedules: ${declaredIn} declares none and none are stored`;
  const table = renderTable([...SCHEDULE_COLUMNS, { header: 'DECLARED' }], rows.map((row) => [...scheduleCells(row.view), declarationText(row.declaration)]));
  const count = (state: DeclarationState) => rows.filter((row) => row.declaration === state).length;
  const notes: string[] = [];
  const pending = count('not-stored') + count('changed');
  if (pending > 0) notes.push(`${pending} declared in ${declaredIn} but not stored as declared: the next daemon start (or \`nightshift schedules sync\`) stores them; next runs shown from the declaration (a paused one stays paused until then)`);
  if (count('not-declared') > 0) {
    notes.push(`${count('not-declared')} stored but not declared in ${declaredIn}: kept by a sync (another schedule file may declare them); \`nightshift schedules sync --delete-undeclared\` deletes them`);
  }
  if (count('id-taken') > 0) notes.push(`${count('id-taken')} declared under an id a schedule created through the API holds: the sync refuses the file until one is renamed`);
  return notes.length === 0 ? table : `${table}\n\n${notes.join('\n')}`;
}

function errorText(error: ErrorRecord | null | undefined): string {
  return error ? `${error.name}: ${error.message}` : '';
}

/** A schedule's execution history, newest first. */
export function renderHistory(history: readonly ScheduleHistoryEntry[]): string {
  if (history.length === 0) return 'runs: none yet';
  return renderTable(
    [
      { header: 'FIRE AT (UTC)' },
      { header: 'STATUS' },
      { header: 'JOB', align: 'right' },
      { header: 'STATE' },
      { header: 'DURATION', align: 'right' },
      { header: 'ERROR', maxWidth: 60 },
    ],
    history.map((entry) => [
      formatDate(entry.fireAt),
      entry.status,
      entry.jobId ?? '-',
      // A tick whose job was pruned still shows that it ran.
      entry.job?.state ?? (entry.jobId === null ? '-' : 'pruned'),
      formatDuration(runDurationMs(entry)),
      errorText(entry.job?.lastError),
    ]),
  );
}
