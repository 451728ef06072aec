import { parseStoredJson } from '../job/payload.js';
import type { AttemptRecord, JobRecord } from '../store/types.js';

/**
 * A job as the client shows it: the stored record with payload, result and progress parsed.
 * A value that does not parse (a row edited by hand, a bug) is reported in `parseErrors` and left
 * as `undefined` instead of making the whole read fail — inspecting a broken job must work.
 */
export interface Job<Payload = unknown> extends Omit<JobRecord, 'payload' | 'result' | 'progress'> {
  payload: Payload;
  result: unknown;
  progress: unknown;
  /** Fields that could not be parsed, with the parser's message; empty when all is well. */
  parseErrors: { field: 'payload' | 'result' | 'progress'; message: string }[];
}

/** One attempt with its result parsed. */
export interface Attempt extends Omit<AttemptRecord, 'result'> {
  result: unknown;
  /** Set when the stored result is not valid JSON. */
  resultError: string | null;
}

/** A job with its execution history, oldest attempt first. */
export interface JobDetails<Payload = unknown> extends Job<Payload> {
  attempts: Attempt[];
}

/** Parses a stored job record for display and API answers. */
export function toJob<Payload = unknown>(record: JobRecord): Job<Payload> {
  const { payload, result, progress, ...rest } = record;
  const parseErrors: Job['parseErrors'] = [];
  const parsed = (field: 'payload' | 'result' | 'progress', text: string | null): unknown => {
    const outcome = parseStoredJson(text);
    if (outcome.ok) return outcome.value;
    parseErrors.push({ field, message: outcome.error });
    return undefined;
  };
  return {
    ...rest,
    payload: parsed('payload', payload) as Payload,
    result: parsed('result', result),
    progress: parsed('progress', progress),
    parseErrors,
  };
}

/** Parses a stored attempt record. */
export function toAttempt(record: AttemptRecord): Attempt {
  const { result, ...rest } = record;
  const outcome = parseStoredJson(result);
  return outcome.ok ? { ...rest, result: outcome.value, resultError: null } : { ...rest, result: undefined, resultError: outcome.error };
}
