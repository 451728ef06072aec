/**
 * Per-key concurrency, job side: which key a job runs under and how many of that key may run at
 * once. A job definition names the key (`concurrencyKey`: a payload field, or a function of the
 * payload) and the limit (`perKey`, default 1); an enqueue may give the key itself
 * (`concurrencyKey` option). The store keeps both on the job and the claim enforces them
 * (`JobFetchParams.perKeyConcurrency`); workers ask for that on queues that have such jobs.
 */
import { ValidationError } from '../errors.js';
import { assertStorableText, MAX_INT32, MAX_KEY_LENGTH } from './input-bounds.js';

/** How a job definition derives the key: a top-level payload field, or a function of the payload. */
export type ConcurrencyKeyRule<Payload = unknown> = string | ((payload: Payload) => string | number);

/** A definition's per-key rule after `defineJob` checked it. */
export interface PerKeyConcurrency {
  readonly key: ConcurrencyKeyRule;
  /** Jobs of one key running at once across every worker, ≥ 1. */
  readonly perKey: number;
}

/** Checks `defineJob`'s `concurrencyKey` / `perKey`; returns the rule, or null when neither is set. */
export function checkPerKeyOptions(jobName: string, key: unknown, perKey: unknown): PerKeyConcurrency | null {
  const where = `job "${jobName}"`;
  if (key === undefined) {
    if (perKey !== undefined) throw new ValidationError('INVALID_OPTION', `${where}: perKey needs a concurrencyKey (the payload field or function that names the key)`);
    return null;
  }
  if (typeof key === 'string') {
    if (key.length === 0 || key.length > 128) throw new ValidationError('INVALID_OPTION', `${where}: concurrencyKey must name a payload field (1 to 128 characters) or be a function`);
  } else if (typeof key !== 'function') {
    throw new ValidationError('INVALID_OPTION', `${where}: concurrencyKey must be a payload field name or a function of the payload, got ${typeof key}`);
  }
  const limit = perKey ?? 1;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_INT32) {
    throw new ValidationError('INVALID_OPTION', `${where}: perKey must be an integer from 1 to ${MAX_INT32}, got ${String(perKey)}`);
  }
  return { key: key as ConcurrencyKeyRule, perKey: limit };
}

/** A key value as stored: a string of 1 … MAX_KEY_LENGTH storable characters (a finite number becomes its decimal text). */
function keyText(where: string, value: unknown, source: string): string {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_KEY_LENGTH) {
    const got = value === undefined ? (source.startsWith('payload field') ? 'nothing (the field is missing)' : 'undefined') : typeof value === 'string' ? `${value.length} characters` : typeof value;
    throw new ValidationError('INVALID_PAYLOAD', `${where}: the concurrency key (${source}) must be a string of 1 to ${MAX_KEY_LENGTH} characters or a number, got ${got}`);
  }
  try {
    assertStorableText(text, `${where}: the concurrency key (${source})`);
  } catch (error) {
    throw new ValidationError('INVALID_PAYLOAD', (error as Error).message);
  }
  return text;
}

/**
 * The key and limit of one job: from the enqueue's `concurrencyKey` when given, else from the
 * definition's rule applied to the payload; nulls when the definition has no rule. An enqueue
 * that gives a key to a job without a rule is refused: no worker would enforce it.
 */
export function resolveConcurrencyKey(
  where: string,
  rule: PerKeyConcurrency | null | undefined,
  payload: unknown,
  given: unknown,
): { concurrencyKey: string | null; concurrencyLimit: number | null } {
  if (!rule) {
    if (given !== undefined) throw new ValidationError('INVALID_OPTION', `${where}: concurrencyKey is only for jobs defined with a concurrencyKey rule (defineJob({ concurrencyKey, perKey }))`);
    return { concurrencyKey: null, concurrencyLimit: null };
  }
  if (given !== undefined) return { concurrencyKey: keyText(where, given, 'the concurrencyKey option'), concurrencyLimit: rule.perKey };
  if (typeof rule.key === 'function') {
    let value: unknown;
    try {
      value = rule.key(payload);
    } catch (error) {
      throw new ValidationError('INVALID_PAYLOAD', `${where}: the concurrencyKey function threw: ${error instanceof Error ? error.message : String(error)}`);
    }
    return { concurrencyKey: keyText(where, value, 'the concurrencyKey function'), concurrencyLimit: rule.perKey };
  }
  const field = rule.key;
  const value = payload !== null && typeof payload === 'object' && !Array.isArray(payload) && Object.hasOwn(payload, field) ? (payload as Record<string, unknown>)[field] : undefined;
  return { concurrencyKey: keyText(where, value, `payload field "${field}"`), concurrencyLimit: rule.perKey };
}
