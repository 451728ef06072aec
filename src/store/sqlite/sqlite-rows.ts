/**
 * Row shapes of the SQLite tables and their conversion to the Store's domain records. Times are
 * stored as integer ms and become `Date`s here; error records are stored as JSON text.
 */
import type { AttemptOutcome, AttemptRecord, ErrorRecord, JobRecord, JobState, OverlapPolicy, ScheduleRecord, ScheduleSource, ScheduleTick } from '../types.js';

/** A row of `nightshift_jobs`. */
export interface JobRow {
  id: number;
  name: string;
  queue: string;
  payload: string;
  state: JobState;
  priority: number;
  attempt: number;
  max_attempts: number;
  run_at: number;
  created_at: number;
  attempted_at: number | null;
  attempted_by: string | null;
  finished_at: number | null;
  key: string | null;
  timeout_ms: number | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  last_error: string | null;
  result: string | null;
  progress: string | null;
  schedule_id: string | null;
  meta: string | null;
  concurrency_key: string | null;
  concurrency_limit: number | null;
  has_dependents: number;
  debounce_deadline?: number | null;
}

/** A row of `nightshift_job_attempts`. */
export interface AttemptRow {
  id: number;
  job_id: number;
  attempt: number;
  worker_id: string;
  started_at: number;
  finished_at: number;
  outcome: AttemptOutcome;
  error: string | null;
  result: string | null;
}

/** A row of `nightshift_schedules`. */
export interface ScheduleRow {
  id: string;
  job_name: string;
  cron: string;
  timezone: string;
  enabled: number;
  description: string | null;
  input: string;
  catch_up: number;
  overlap: OverlapPolicy;
  source: ScheduleSource;
  job_options: string | null;
  created_at: number;
  updated_at: number;
  next_run_at: number | null;
  last_run_at: number | null;
  last_job_id: number | null;
}

/** A row of `nightshift_schedule_ticks`. */
export interface TickRow {
  schedule_id: string;
  fire_at: number;
  claimed_at: number;
  job_id: number | null;
  status: string;
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

/**
 * Parses a stored error record. A hand-edited or truncated value must not make a read fail, so
 * anything unreadable is reported as a `corrupt` error record carrying the raw text.
 */
export function parseErrorRecord(text: string | null): ErrorRecord | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<ErrorRecord> | null;
    if (value !== null && typeof value === 'object' && typeof value.message === 'string') {
      return {
        name: typeof value.name === 'string' ? value.name : 'Error',
        message: value.message,
        stack: typeof value.stack === 'string' ? value.stack : null,
        kind: typeof value.kind === 'string' ? value.kind : 'error',
      };
    }
  } catch {
    // Fall through: reported as corrupt below.
  }
  return { name: 'Error', message: text, stack: null, kind: 'corrupt' };
}

/** Serializes an error record for storage. */
export function serializeErrorRecord(error: ErrorRecord): string {
  return JSON.stringify({ name: error.name, message: error.message, stack: error.stack, kind: error.kind });
}

export function jobFromRow(row: JobRow): JobRecord {
  const running = row.state === 'running' && row.lease_token !== null && row.lease_expires_at !== null;
  return {
    id: String(row.id),
    name: row.name,
    queue: row.queue,
    payload: row.payload,
    state: row.state,
    priority: row.priority,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    runAt: new Date(row.run_at),
    createdAt: new Date(row.created_at),
    attemptedAt: toDate(row.attempted_at),
    finishedAt: toDate(row.finished_at),
    key: row.key,
    timeoutMs: row.timeout_ms,
    lease: running
      ? { owner: row.attempted_by ?? '', token: row.lease_token as string, expiresAt: new Date(row.lease_expires_at as number) }
      : null,
    lastError: parseErrorRecord(row.last_error),
    result: row.result,
    progress: row.progress,
    scheduleId: row.schedule_id,
    meta: row.meta,
    concurrencyKey: row.concurrency_key ?? null,
    concurrencyLimit: row.concurrency_limit ?? null,
  };
}

/** A claimed job row as an array, in the order of `CLAIM_VALUE_COLUMNS` (statements in raw mode). */
export type ClaimedValues = [
  id: number,
  name: string,
  queue: string,
  payload: string,
  priority: number,
  attempt: number,
  maxAttempts: number,
  runAt: number,
  createdAt: number,
  finishedAt: number | null,
  key: string | null,
  timeoutMs: number | null,
  lastError: string | null,
  result: string | null,
  progress: string | null,
  scheduleId: string | null,
  meta: string | null,
  // Only the per-key claim returns these two (KEYED_CLAIM_VALUE_COLUMNS).
  concurrencyKey?: string | null,
  concurrencyLimit?: number | null,
];

/** Positions in `ClaimedValues` that claim ordering reads. */
export const CLAIMED_ID = 0;
export const CLAIMED_PRIORITY = 4;
export const CLAIMED_RUN_AT = 7;

/** The values a claim wrote into every row it took (see `CLAIM_SET` in sqlite-statements.ts). */
export interface ClaimWrite {
  owner: string;
  /** The batch token; each row's lease token is `token + '.' + id`. */
  token: string;
  /** attempted_at, ms. */
  now: number;
  /** lease_expires_at, ms. */
  expiresAt: number;
}

/** The JobRecord of a row just claimed: the returned columns plus what the claim wrote. */
export function jobFromClaimValues(values: ClaimedValues, claim: ClaimWrite): JobRecord {
  const id = String(values[0]);
  return {
    id,
    name: values[1],
    queue: values[2],
    payload: values[3],
    state: 'running',
    priority: values[4],
    attempt: values[5],
    maxAttempts: values[6],
    runAt: new Date(values[7]),
    createdAt: new Date(values[8]),
    attemptedAt: new Date(claim.now),
    finishedAt: toDate(values[9]),
    key: values[10],
    timeoutMs: values[11],
    lease: { owner: claim.owner, token: `${claim.token}.${id}`, expiresAt: new Date(claim.expiresAt) },
    lastError: parseErrorRecord(values[12]),
    result: values[13],
    progress: values[14],
    scheduleId: values[15],
    meta: values[16],
    concurrencyKey: values[17] ?? null,
    concurrencyLimit: values[18] ?? null,
  };
}

export function attemptFromRow(row: AttemptRow): AttemptRecord {
  return {
    jobId: String(row.job_id),
    attempt: row.attempt,
    workerId: row.worker_id,
    startedAt: new Date(row.started_at),
    finishedAt: new Date(row.finished_at),
    durationMs: row.finished_at - row.started_at,
    outcome: row.outcome,
    error: parseErrorRecord(row.error),
    result: row.result,
  };
}

/**
 * The completed attempt of a completed job, derived from the job row: a finish that completes a
 * job writes no attempt row (see `jobCompleteBatch`). Null for any other state.
 */
export function completedAttemptFromJob(row: JobRow): AttemptRecord | null {
  if (row.state !== 'completed' || row.finished_at === null) return null;
  const startedAt = row.attempted_at ?? row.finished_at;
  return {
    jobId: String(row.id),
    attempt: row.attempt,
    workerId: row.attempted_by ?? '',
    startedAt: new Date(startedAt),
    finishedAt: new Date(row.finished_at),
    durationMs: row.finished_at - startedAt,
    outcome: 'completed',
    error: null,
    result: row.result,
  };
}

/** The attempt in progress, derived from the job row (running attempts are not stored as rows). */
export function runningAttemptFromJob(row: JobRow): AttemptRecord | null {
  if (row.state !== 'running' || row.attempted_at === null) return null;
  return {
    jobId: String(row.id),
    attempt: row.attempt,
    workerId: row.attempted_by ?? '',
    startedAt: new Date(row.attempted_at),
    finishedAt: null,
    durationMs: null,
    outcome: 'running',
    error: null,
    result: null,
  };
}

export function scheduleFromRow(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    jobName: row.job_name,
    cron: row.cron,
    timezone: row.timezone,
    enabled: row.enabled !== 0,
    description: row.description,
    input: row.input,
    catchUp: row.catch_up,
    overlap: row.overlap,
    source: row.source,
    jobOptions: row.job_options,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    nextRunAt: toDate(row.next_run_at),
    lastRunAt: toDate(row.last_run_at),
    lastJobId: row.last_job_id === null ? null : String(row.last_job_id),
  };
}

export function tickFromRow(row: TickRow): ScheduleTick {
  return {
    scheduleId: row.schedule_id,
    fireAt: new Date(row.fire_at),
    claimedAt: new Date(row.claimed_at),
    jobId: row.job_id === null ? null : String(row.job_id),
    status: row.status,
  };
}
