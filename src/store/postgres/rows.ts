import type {
  AttemptOutcome,
  AttemptRecord,
  ErrorRecord,
  JobRecord,
  JobState,
  OverlapPolicy,
  ScheduleRecord,
  ScheduleSource,
  ScheduleTick,
} from '../types.js';

/**
 * Row shapes of the PostgreSQL store and their mapping to domain records. Ids travel as text
 * (`id::text`) so bigints never lose precision in JavaScript numbers.
 */

/** Column list every job-returning statement selects, optionally prefixed with a table alias. */
export function jobColumns(alias?: string): string {
  const a = alias ? `${alias}.` : '';
  return [
    `${a}id::text AS id`,
    `${a}name`,
    `${a}queue`,
    `${a}payload`,
    `${a}state`,
    `${a}priority`,
    `${a}attempt`,
    `${a}max_attempts`,
    `${a}run_at`,
    `${a}created_at`,
    `${a}attempted_at`,
    `${a}finished_at`,
    `${a}key`,
    `${a}timeout_ms::float8 AS timeout_ms`,
    `${a}lease_owner`,
    `${a}lease_token`,
    `${a}lease_expires_at`,
    `${a}last_error`,
    `${a}result`,
    `${a}progress`,
    `${a}schedule_id`,
    `${a}meta`,
    `${a}concurrency_key`,
    `${a}concurrency_limit`,
  ].join(', ');
}

export interface JobRow {
  id: string;
  name: string;
  queue: string;
  payload: string;
  state: JobState;
  priority: number;
  attempt: number;
  max_attempts: number;
  run_at: Date;
  created_at: Date;
  attempted_at: Date | null;
  finished_at: Date | null;
  key: string | null;
  timeout_ms: number | null;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: Date | null;
  last_error: unknown;
  result: string | null;
  progress: string | null;
  schedule_id: string | null;
  meta: string | null;
  concurrency_key: string | null;
  concurrency_limit: number | null;
}

/** Reads a stored error defensively: a hand-edited row must not crash a read. */
export function toErrorRecord(value: unknown): ErrorRecord | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return { name: 'Error', message: String(value), stack: null, kind: 'error' };
  const record = value as Record<string, unknown>;
  return {
    name: typeof record.name === 'string' ? record.name : 'Error',
    message: typeof record.message === 'string' ? record.message : '',
    stack: typeof record.stack === 'string' ? record.stack : null,
    kind: typeof record.kind === 'string' ? record.kind : 'error',
  };
}

export function toJobRecord(row: JobRow): JobRecord {
  // The lease columns keep the last owner after a job finishes (for the attempt history), but a
  // job only *has* a lease while it is running under a token.
  const lease =
    row.state === 'running' && row.lease_owner !== null && row.lease_token !== null && row.lease_expires_at !== null
      ? { owner: row.lease_owner, token: row.lease_token, expiresAt: row.lease_expires_at }
      : null;
  return {
    id: row.id,
    name: row.name,
    queue: row.queue,
    payload: row.payload,
    state: row.state,
    priority: row.priority,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    runAt: row.run_at,
    createdAt: row.created_at,
    attemptedAt: row.attempted_at,
    finishedAt: row.finished_at,
    key: row.key,
    timeoutMs: row.timeout_ms,
    lease,
    lastError: toErrorRecord(row.last_error),
    result: row.result,
    progress: row.progress,
    scheduleId: row.schedule_id,
    meta: row.meta,
    concurrencyKey: row.concurrency_key ?? null,
    concurrencyLimit: row.concurrency_limit ?? null,
  };
}

export interface AttemptRow {
  job_id: string;
  attempt: number;
  worker_id: string;
  started_at: Date;
  finished_at: Date;
  outcome: AttemptOutcome;
  error: unknown;
  result: string | null;
}

export function toAttemptRecord(row: AttemptRow): AttemptRecord {
  return {
    jobId: row.job_id,
    attempt: row.attempt,
    workerId: row.worker_id,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.finished_at.getTime() - row.started_at.getTime(),
    outcome: row.outcome,
    error: toErrorRecord(row.error),
    result: row.result,
  };
}

/** The attempt in progress, derived from the job row (running attempts have no history row yet). */
export function runningAttempt(job: JobRecord): AttemptRecord | null {
  if (job.state !== 'running' || !job.lease) return null;
  return {
    jobId: job.id,
    attempt: job.attempt,
    workerId: job.lease.owner,
    startedAt: job.attemptedAt ?? job.runAt,
    finishedAt: null,
    durationMs: null,
    outcome: 'running',
    error: null,
    result: null,
  };
}

export const SCHEDULE_COLUMNS =
  'id, job_name, cron, timezone, enabled, description, input, catch_up, overlap, source, job_options, ' +
  'created_at, updated_at, next_run_at, last_run_at, last_job_id::text AS last_job_id';

export interface ScheduleRow {
  id: string;
  job_name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  description: string | null;
  input: string;
  catch_up: number;
  overlap: OverlapPolicy;
  source: ScheduleSource;
  job_options: string | null;
  created_at: Date;
  updated_at: Date;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_job_id: string | null;
}

export function toScheduleRecord(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    jobName: row.job_name,
    cron: row.cron,
    timezone: row.timezone,
    enabled: row.enabled,
    description: row.description,
    input: row.input,
    catchUp: row.catch_up,
    overlap: row.overlap,
    source: row.source,
    jobOptions: row.job_options,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    lastJobId: row.last_job_id,
  };
}

export const TICK_COLUMNS = 'schedule_id, fire_at, claimed_at, job_id::text AS job_id, status';

export interface TickRow {
  schedule_id: string;
  fire_at: Date;
  claimed_at: Date;
  job_id: string | null;
  status: string;
}

export function toScheduleTick(row: TickRow): ScheduleTick {
  return { scheduleId: row.schedule_id, fireAt: row.fire_at, claimedAt: row.claimed_at, jobId: row.job_id, status: row.status };
}
