/**
 * Job inserts, shared by `jobInsertMany` and the cron tick claim (which inserts its job inside
 * the same transaction as the tick row).
 */
import type Database from 'better-sqlite3';
import type { JobInsert, JobInsertResult, JobRecord, JobState } from '../types.js';
import { jobFromRow, type JobRow } from './sqlite-rows.js';

/** The two statements an insert needs; prepared on the store's or on a caller's connection. */
export interface InsertStatements {
  jobInsert: Database.Statement;
  jobByActiveKey: Database.Statement;
}

/**
 * Inserts `jobs` in order on the current transaction (the caller opened it) and returns one
 * result per job. A job whose (name, key) is held by a job in a key-blocking state is not
 * inserted; that job is returned instead. `now` is the store's clock for the whole batch.
 *
 * The record of a new job is built from the input rather than read back: the row holds exactly
 * these values, and skipping the read keeps bulk enqueues cheap.
 */
export function insertJobs(statements: InsertStatements, jobs: readonly JobInsert[], now: number): JobInsertResult[] {
  const results: JobInsertResult[] = new Array<JobInsertResult>(jobs.length);
  const params = {
    name: '',
    queue: '',
    payload: '',
    state: 'available' as JobState,
    priority: 0,
    maxAttempts: 1,
    runAt: 0,
    now,
    key: null as string | null,
    timeoutMs: null as number | null,
    scheduleId: null as string | null,
    meta: null as string | null,
  };
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i] as JobInsert;
    const runAt = job.runAt === null ? now : job.runAt.getTime();
    const state: JobState = runAt > now ? 'scheduled' : 'available';
    params.name = job.name;
    params.queue = job.queue;
    params.payload = job.payload;
    params.state = state;
    params.priority = job.priority;
    params.maxAttempts = job.maxAttempts;
    params.runAt = runAt;
    params.key = job.key;
    params.timeoutMs = job.timeoutMs;
    params.scheduleId = job.scheduleId;
    params.meta = job.meta;
    const info = statements.jobInsert.run(params);
    if (info.changes === 0) {
      // Only the (name, key) unique index can swallow an insert (ON CONFLICT DO NOTHING).
      const existing = statements.jobByActiveKey.get({ name: job.name, key: job.key }) as JobRow | undefined;
      if (existing === undefined) {
        throw new Error(`insert of job "${job.name}" was skipped but no job holds key ${JSON.stringify(job.key)}`);
      }
      results[i] = { job: jobFromRow(existing), inserted: false };
      continue;
    }
    results[i] = { job: newJobRecord(String(info.lastInsertRowid), job, state, runAt, now), inserted: true };
  }
  return results;
}

function newJobRecord(id: string, job: JobInsert, state: JobState, runAt: number, now: number): JobRecord {
  return {
    id,
    name: job.name,
    queue: job.queue,
    payload: job.payload,
    state,
    priority: job.priority,
    attempt: 0,
    maxAttempts: job.maxAttempts,
    runAt: new Date(runAt),
    createdAt: new Date(now),
    attemptedAt: null,
    finishedAt: null,
    key: job.key,
    timeoutMs: job.timeoutMs,
    lease: null,
    lastError: null,
    result: null,
    progress: null,
    scheduleId: job.scheduleId,
    meta: job.meta,
  };
}

/** Queues that got at least one job due now, for wake-up notifications. */
export function queuesMadeAvailable(results: readonly JobInsertResult[]): Set<string> {
  const queues = new Set<string>();
  for (const result of results) {
    if (result.inserted && result.job.state === 'available') queues.add(result.job.queue);
  }
  return queues;
}
