import { attemptToJson as attemptJson, jobToJson as jobJson, type AttemptJson, type JobJson } from '../client/job-json.js';
import { toAttempt, toJob } from '../job/job-view.js';
import type { AttemptRecord, ErrorRecord, JobRecord } from '../store/types.js';
import { formatDate, formatDuration, renderFields, renderTable } from './table.js';

/*
 * How jobs and attempts look in CLI output. `--json` prints the same shapes as the HTTP API
 * (client/job-json.ts: one serializer): stored JSON text parsed into values, a value that does not
 * parse listed in `parseErrors` (and shown as null) instead of failing the whole listing, and the
 * lease without its token.
 */

/** A job as printed by `--json`: the API's shape. */
export function jobToJson(job: JobRecord): JobJson {
  return jobJson(toJob(job));
}

/** An attempt as printed by `--json`: the API's shape. */
export function attemptToJson(attempt: AttemptRecord): AttemptJson {
  return attemptJson(toAttempt(attempt));
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
export function renderJobDetails(job: JobRecord, attempts: readonly AttemptRecord[], why?: string): string {
  const fields: [string, string][] = [
    ['id', job.id],
    ['name', job.name],
    ['queue', job.queue],
    ['state', job.state],
    ...(why === undefined ? [] : ([['why', why]] as [string, string][])),
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
