/**
 * Schedules and their run history as JSON: dates as ISO 8601 strings, the stored input and job
 * overrides parsed. One shape everywhere: the HTTP API answers with these, and the CLI's
 * `schedules … --json` prints them (cli/schedule-view.ts; a listing against a declaration adds
 * one field, `declaration`).
 */
import { parseStoredJson } from '../job/payload.js';
import type { ErrorRecord, JobState, OverlapPolicy, ScheduleSource } from '../store/types.js';
import { parseScheduleJobOptions, type ScheduleJobOptions } from './schedule-definition.js';
import type { ScheduleHistoryEntry, ScheduleLastOutcome, ScheduleRunStats, ScheduleView } from './schedule-manager.js';

export interface ScheduleLastOutcomeJson {
  jobId: string;
  state: JobState;
  attempt: number;
  finishedAt: string | null;
  error: ErrorRecord | null;
}

export interface ScheduleJson {
  id: string;
  jobName: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  /** `!enabled`. */
  paused: boolean;
  description: string | null;
  /** The input each run gets; `{ corrupt: text }` when the stored text is not JSON. */
  input: unknown;
  catchUp: number;
  overlap: OverlapPolicy;
  source: ScheduleSource;
  /** Queue / priority / maxAttempts / timeoutMs overrides of the jobs it creates; `{}` for none. */
  jobOptions: ScheduleJobOptions;
  createdAt: string;
  updatedAt: string;
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastJobId: string | null;
  lastOutcome: ScheduleLastOutcomeJson | null;
}

export interface ScheduleHistoryEntryJson {
  fireAt: string;
  claimedAt: string;
  status: string;
  jobId: string | null;
  /** The job's state now; null without a job, or when it was pruned. */
  jobState: JobState | null;
  /** The last attempt's run time, ms; null until it finished (see `runDurationMs`). */
  durationMs: number | null;
  error: ErrorRecord | null;
  job: {
    id: string;
    state: JobState;
    attempt: number;
    maxAttempts: number;
    createdAt: string;
    attemptedAt: string | null;
    finishedAt: string | null;
    lastError: ErrorRecord | null;
    /** The completed attempt's result, parsed; the stored text when it is not JSON. */
    result: unknown;
  } | null;
}

export interface ScheduleRunStatsJson {
  id: string;
  jobName: string;
  enabled: boolean;
  lastRunAt: string | null;
  nextRunAt: string | null;
  lastOutcome: ScheduleLastOutcomeJson | null;
  runs: number;
  skipped: number;
  failures: number;
  failuresChecked: number;
  capped: boolean;
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

function lastOutcomeToJson(outcome: ScheduleLastOutcome | null): ScheduleLastOutcomeJson | null {
  if (outcome === null) return null;
  return { jobId: outcome.jobId, state: outcome.state, attempt: outcome.attempt, finishedAt: iso(outcome.finishedAt), error: outcome.error };
}

export function scheduleToJson(schedule: ScheduleView): ScheduleJson {
  const input = parseStoredJson(schedule.input);
  return {
    id: schedule.id,
    jobName: schedule.jobName,
    cron: schedule.cron,
    timezone: schedule.timezone,
    enabled: schedule.enabled,
    paused: !schedule.enabled,
    description: schedule.description,
    input: input.ok ? input.value : { corrupt: schedule.input },
    catchUp: schedule.catchUp,
    overlap: schedule.overlap,
    source: schedule.source,
    jobOptions: parseScheduleJobOptions(schedule.jobOptions),
    createdAt: schedule.createdAt.toISOString(),
    updatedAt: schedule.updatedAt.toISOString(),
    nextRunAt: iso(schedule.nextRunAt),
    lastRunAt: iso(schedule.lastRunAt),
    lastJobId: schedule.lastJobId,
    lastOutcome: lastOutcomeToJson(schedule.lastOutcome),
  };
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

export function scheduleHistoryEntryToJson(entry: ScheduleHistoryEntry): ScheduleHistoryEntryJson {
  const job = entry.job;
  let result: unknown = null;
  if (job && job.result !== null) {
    const parsed = parseStoredJson(job.result);
    result = parsed.ok ? parsed.value : job.result;
  }
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
          id: job.id,
          state: job.state,
          attempt: job.attempt,
          maxAttempts: job.maxAttempts,
          createdAt: job.createdAt.toISOString(),
          attemptedAt: iso(job.attemptedAt),
          finishedAt: iso(job.finishedAt),
          lastError: job.lastError,
          result,
        }
      : null,
  };
}

export function scheduleRunStatsToJson(stats: ScheduleRunStats): ScheduleRunStatsJson {
  return {
    id: stats.id,
    jobName: stats.jobName,
    enabled: stats.enabled,
    lastRunAt: iso(stats.lastRunAt),
    nextRunAt: iso(stats.nextRunAt),
    lastOutcome: lastOutcomeToJson(stats.lastOutcome),
    runs: stats.runs,
    skipped: stats.skipped,
    failures: stats.failures,
    failuresChecked: stats.failuresChecked,
    capped: stats.capped,
  };
}
