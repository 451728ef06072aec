import { parseStoredJson } from '../job/payload.js';
import type { ScheduleHistoryEntry, ScheduleView } from '../scheduler/schedule-manager.js';
import type { ErrorRecord } from '../store/types.js';
import type { DeclarationState, ListedSchedule } from './declared-schedules.js';
import { formatDate, formatDuration, formatZonedDate, renderTable } from './table.js';

/*
 * How schedules and their execution history look in CLI output. Times in tables are shown in
 * UTC and, where the schedule's own zone matters (the next run an operator plans around), also
 * on that zone's wall clock.
 */

/** A schedule as printed by `--json`. */
export function scheduleToJson(schedule: ScheduleView): Record<string, unknown> {
  const input = parseStoredJson(schedule.input);
  return {
    id: schedule.id,
    jobName: schedule.jobName,
    cron: schedule.cron,
    timezone: schedule.timezone,
    enabled: schedule.enabled,
    description: schedule.description,
    input: input.ok ? input.value : { corrupt: schedule.input },
    catchUp: schedule.catchUp,
    overlap: schedule.overlap,
    source: schedule.source,
    nextRunAt: schedule.nextRunAt?.toISOString() ?? null,
    lastRunAt: schedule.lastRunAt?.toISOString() ?? null,
    lastJobId: schedule.lastJobId,
    lastOutcome: schedule.lastOutcome,
  };
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
  if (pending > 0) notes.push(`${pending} declared in ${declaredIn} but not stored as declared: the next daemon start (or \`nightshift schedules sync\`) stores them; next runs shown from the declaration`);
  if (count('not-declared') > 0) {
    notes.push(`${count('not-declared')} stored but not declared in ${declaredIn}: kept by a sync (another schedule file may declare them); \`nightshift schedules sync --delete-undeclared\` deletes them`);
  }
  if (count('id-taken') > 0) notes.push(`${count('id-taken')} declared under an id a schedule created through the API holds: the sync refuses the file until one is renamed`);
  return notes.length === 0 ? table : `${table}\n\n${notes.join('\n')}`;
}

/**
 * How long a run took: its job's last attempt, from start to finish, in ms. Null while it has not
 * finished (or never started, or its job was pruned).
 */
export function runDurationMs(entry: ScheduleHistoryEntry): number | null {
  const job = entry.job;
  if (!job || job.attemptedAt === null || job.finishedAt === null) return null;
  return Math.max(0, job.finishedAt.getTime() - job.attemptedAt.getTime());
}

function errorText(error: ErrorRecord | null | undefined): string {
  return error ? `${error.name}: ${error.message}` : '';
}

/** A history entry as printed by `--json`; `job` keeps the job's own fields for scripts that want more. */
export function historyEntryToJson(entry: ScheduleHistoryEntry): Record<string, unknown> {
  const job = entry.job;
  return {
    fireAt: entry.fireAt.toISOString(),
    claimedAt: entry.claimedAt.toISOString(),
    status: entry.status,
    jobId: entry.jobId,
    jobState: job?.state ?? null,
    durationMs: runDurationMs(entry),
    error: job?.lastError ?? null,
    job: job
      ? {
          ...job,
          createdAt: job.createdAt.toISOString(),
          attemptedAt: job.attemptedAt?.toISOString() ?? null,
          finishedAt: job.finishedAt?.toISOString() ?? null,
        }
      : null,
  };
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
