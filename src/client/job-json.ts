/**
 * Jobs and attempts as JSON: dates as ISO 8601 strings, `meta` parsed, and the lease without its
 * token (the token fences a worker's finishing writes; nobody else needs it). The HTTP API answers
 * with these shapes.
 */
import { parseStoredJson } from '../job/payload.js';
import type { Attempt, Job, JobDetails } from '../job/job-view.js';

export interface JobJson {
  id: string;
  name: string;
  queue: string;
  state: string;
  priority: number;
  attempt: number;
  maxAttempts: number;
  runAt: string;
  createdAt: string;
  attemptedAt: string | null;
  finishedAt: string | null;
  key: string | null;
  timeoutMs: number | null;
  lease: { owner: string; expiresAt: string } | null;
  lastError: Job['lastError'];
  scheduleId: string | null;
  /** Its per-key concurrency key and the most jobs of that key that run at once, or null. */
  concurrencyKey: string | null;
  concurrencyLimit: number | null;
  meta: unknown;
  payload: unknown;
  result: unknown;
  progress: unknown;
  parseErrors: Job['parseErrors'];
}

export interface AttemptJson {
  jobId: string;
  attempt: number;
  workerId: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  outcome: string;
  error: Attempt['error'];
  result: unknown;
  resultError: string | null;
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export function jobToJson(job: Job): JobJson {
  const meta = job.meta === null ? null : parseStoredJson(job.meta);
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    state: job.state,
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    runAt: job.runAt.toISOString(),
    createdAt: job.createdAt.toISOString(),
    attemptedAt: iso(job.attemptedAt),
    finishedAt: iso(job.finishedAt),
    key: job.key,
    timeoutMs: job.timeoutMs,
    lease: job.lease === null ? null : { owner: job.lease.owner, expiresAt: job.lease.expiresAt.toISOString() },
    lastError: job.lastError,
    scheduleId: job.scheduleId,
    concurrencyKey: job.concurrencyKey,
    concurrencyLimit: job.concurrencyLimit,
    meta: meta === null ? null : meta.ok ? meta.value : job.meta,
    payload: job.payload === undefined ? null : job.payload,
    result: job.result === undefined ? null : job.result,
    progress: job.progress === undefined ? null : job.progress,
    parseErrors: job.parseErrors,
  };
}

export function attemptToJson(attempt: Attempt): AttemptJson {
  return {
    jobId: attempt.jobId,
    attempt: attempt.attempt,
    workerId: attempt.workerId,
    startedAt: attempt.startedAt.toISOString(),
    finishedAt: iso(attempt.finishedAt),
    durationMs: attempt.durationMs,
    outcome: attempt.outcome,
    error: attempt.error,
    result: attempt.result === undefined ? null : attempt.result,
    resultError: attempt.resultError,
  };
}

export function jobDetailsToJson(details: JobDetails): JobJson & { attempts: AttemptJson[] } {
  return { ...jobToJson(details), attempts: details.attempts.map(attemptToJson) };
}
