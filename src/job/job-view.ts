import { parseStoredJson } from './payload.js';
import type { AttemptRecord, JobRecord } from '../store/types.js';

/**
 * A job as the client shows it: the stored record with payload, result and progress parsed.
 * A value that does not parse (a row edited by hand, a bug) is reported in `parseErrors` and left
 * as `undefined` instead of making the whole read fail — inspecting a broken job must work. So is
 * one nested deeper than MAX_PAYLOAD_DEPTH (written around enqueue's checks, e.g. by the SQL
 * `enqueue` function): parsing it would work, but every caller that serializes the view again
 * (the HTTP API, `--json`) would overflow the stack on it (see `parseStoredJson`).
 */
export interface Job<Payload = unknown> extends Omit<JobRecord, 'payload' | 'result' | 'progress'> {
  payload: Payload;
  result: unknown;
  progress: unknown;
  /** Fields that could not be parsed (or nest too deeply to show), with the reason; empty when all is well. */
  parseErrors: { field: 'payload' | 'result' | 'progress'; message: string }[];
}

/** One attempt with its result parsed. */
export interface Attempt extends Omit<AttemptRecord, 'result'> {
  result: unknown;
  /** Set when the stored result is not valid JSON or nests too deeply to show (see `parseStoredJson`). */
  resultError: string | null;
}

/** A job with its execution history, oldest attempt first. */
export interface JobDetails<Payload = unknown> extends Job<Payload> {
  attempts: Attempt[];
}

/** Parses a stored job record for display and API answers. */
export function toJob<Payload = unknown>(record: JobRecord): Job<Payload> {
  const parseErrors: Job['parseErrors'] = [];
  // Fields copied one by one rather than with a rest spread: this runs for every enqueued job
  // (enqueueMany answers with one view per item), and the spread was most of the client's cost.
  // The order is the record's, then the parsed fields, as before.
  return {
    id: record.id,
    name: record.name,
    queue: record.queue,
    state: record.state,
    priority: record.priority,
    attempt: record.attempt,
    maxAttempts: record.maxAttempts,
    runAt: record.runAt,
    createdAt: record.createdAt,
    attemptedAt: record.attemptedAt,
    finishedAt: record.finishedAt,
    key: record.key,
    timeoutMs: record.timeoutMs,
    lease: record.lease,
    lastError: record.lastError,
    scheduleId: record.scheduleId,
    meta: record.meta,
    concurrencyKey: record.concurrencyKey,
    concurrencyLimit: record.concurrencyLimit,
    payload: parseField('payload', record.payload, parseErrors) as Payload,
    result: parseField('result', record.result, parseErrors),
    progress: parseField('progress', record.progress, parseErrors),
    parseErrors,
  };
}

/** Parses one stored JSON field; a value that does not parse is reported in `errors` and becomes undefined. */
function parseField(field: 'payload' | 'result' | 'progress', text: string | null, errors: Job['parseErrors']): unknown {
  if (text === null) return null;
  const outcome = parseStoredJson(text);
  if (outcome.ok) return outcome.value;
  errors.push({ field, message: outcome.error });
  return undefined;
}

/** Parses a stored attempt record. */
export function toAttempt(record: AttemptRecord): Attempt {
  const { result, ...rest } = record;
  const outcome = parseStoredJson(result);
  return outcome.ok ? { ...rest, result: outcome.value, resultError: null } : { ...rest, result: undefined, resultError: outcome.error };
}
