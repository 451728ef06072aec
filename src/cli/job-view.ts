import { parseStoredJson } from '../job/payload.js';
import type { AttemptRecord, ErrorRecord, JobRecord } from '../store/types.js';
import { formatDate, formatDuration, renderFields, renderTable } from './table.js';

/*
 * How jobs and attempts look in CLI output. JSON output parses the stored JSON text (payload,
 * result, progress, meta) so scripts get values, not strings to parse again; a corrupt value is
 * shown as `{ "corrupt": "<raw text>" }` rather than failing the whole listing.
 */

function jsonValue(text: string | null): unknown {
  const parsed = parseStoredJson(text);
  return parsed.ok ? parsed.value : { corrupt: text };
}

/** A job as printed by `--json`. */
export function jobToJson(job: JobRecord): Record<string, unknown> {
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    state: job.state,
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    payload: jsonValue(job.payload),
    result: jsonValue(job.result),
    progress: jsonValue(job.progress),
    lastError: job.lastError,
    key: job.key,
    timeoutMs: job.timeoutMs,
    runAt: job.runAt.toISOString(),
    createdAt: job.createdAt.toISOString(),
    attemptedAt: job.attemptedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    lease: job.lease ? { owner: job.lease.owner, expiresAt: job.lease.expiresAt.toISOString() } : null,
    scheduleId: job.scheduleId,
    meta: jsonValue(job.meta),
  };
}

/** An attempt as printed by `--json`. */
export function attemptToJson(attempt: AttemptRecord): Record<string, unknown> {
  return {
    attempt: attempt.attempt,
    outcome: attempt.outcome,
    workerId: attempt.workerId,
    startedAt: attempt.startedAt.toISOString(),
    finishedAt: attempt.finishedAt?.toISOString() ?? null,
    durationMs: attempt.durationMs,
    error: attempt.error,
    result: jsonValue(attempt.result),
  };
}

/** Compact JSON text for table cells. */
function compact(text: string | null): string {
  if (text === null) return '-';
  return text;
}

function errorLine(error: ErrorRecord | null): string {
  return error ? `${error.name}: ${error.message}` : '-';
}

/** The `nightshift jobs` table. */
export function renderJobTable(jobs: readonly JobRecord[]): string {
  if (jobs.length === 0) return 'no jobs';
  return renderTable(
    [
      { header: 'ID', align: 'right' },
      { header: 'NAME', maxWidth: 40 },
      { header: 'QUEUE', maxWidth: 20 },
      { header: 'STATE' },
      { header: 'ATTEMPT', align: 'right' },
      { header: 'PRIO', align: 'right' },
      { header: 'RUN AT' },
      { header: 'LAST ERROR', maxWidth: 50 },
    ],
    jobs.map((job) => [
      job.id,
      job.name,
      job.queue,
      job.state,
      `${job.attempt}/${job.maxAttempts}`,
      String(job.priority),
      formatDate(job.runAt),
      job.lastError ? errorLine(job.lastError) : '',
    ]),
  );
}

/** The `nightshift job <id>` details: the job's fields, then every attempt. */
export function renderJobDetails(job: JobRecord, attempts: readonly AttemptRecord[]): string {
  const fields: [string, string][] = [
    ['id', job.id],
    ['name', job.name],
    ['queue', job.queue],
    ['state', job.state],
    ['attempt', `${job.attempt} of ${job.maxAttempts}`],
    ['priority', String(job.priority)],
    ['payload', compact(job.payload)],
    ['created', formatDate(job.createdAt)],
    ['run at', formatDate(job.runAt)],
    ['finished', formatDate(job.finishedAt)],
  ];
  if (job.key !== null) fields.push(['key', job.key]);
  if (job.timeoutMs !== null) fields.push(['timeout', formatDuration(job.timeoutMs)]);
  if (job.scheduleId !== null) fields.push(['schedule', job.scheduleId]);
  if (job.lease) fields.push(['lease', `${job.lease.owner} until ${formatDate(job.lease.expiresAt)}`]);
  if (job.progress !== null) fields.push(['progress', job.progress]);
  if (job.result !== null) fields.push(['result', job.result]);
  if (job.lastError) fields.push(['last error', errorLine(job.lastError)]);
  const sections = [renderFields(fields)];
  if (attempts.length === 0) {
    sections.push('attempts: none yet');
  } else {
    sections.push(
      renderTable(
        [
          { header: '#', align: 'right' },
          { header: 'OUTCOME' },
          { header: 'WORKER', maxWidth: 40 },
          { header: 'STARTED' },
          { header: 'DURATION', align: 'right' },
          { header: 'ERROR / RESULT', maxWidth: 70 },
        ],
        attempts.map((attempt) => [
          String(attempt.attempt),
          attempt.outcome,
          attempt.workerId,
          formatDate(attempt.startedAt),
          formatDuration(attempt.durationMs),
          attempt.error ? errorLine(attempt.error) : compact(attempt.result),
        ]),
      ),
    );
    // The stack of the most recent failure is what an operator opens `job <id>` for.
    const lastFailure = [...attempts].reverse().find((attempt) => attempt.error?.stack);
    if (lastFailure?.error?.stack) sections.push(`stack of attempt ${lastFailure.attempt}:\n${lastFailure.error.stack}`);
  }
  return sections.join('\n\n');
}
