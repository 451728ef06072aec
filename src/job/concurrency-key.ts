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
function keyText(where: string, value: unknown, source: string, label = 'concurrency key'): string {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_KEY_LENGTH) {
    const got = value === undefined ? (source.startsWith('payload field') ? 'nothing (the field is missing)' : 'undefined') : typeof value === 'string' ? `${value.length} characters` : typeof value;
    throw new ValidationError('INVALID_PAYLOAD', `${where}: the ${label} (${source}) must be a string of 1 to ${MAX_KEY_LENGTH} characters or a number, got ${got}`);
  }
  try {
    assertStorableText(text, `${where}: the ${label} (${source})`);
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
  label = 'concurrency key',
): { concurrencyKey: string | null; concurrencyLimit: number | null } {
  if (!rule) {
    if (given !== undefined) throw new ValidationError('INVALID_OPTION', `${where}: concurrencyKey is only for jobs defined with a concurrencyKey rule (defineJob({ concurrencyKey, perKey }))`);
    return { concurrencyKey: null, concurrencyLimit: null };
  }
  const option = label === 'concurrency key' ? 'concurrencyKey' : 'rateKey';
  if (given !== undefined) return { concurrencyKey: keyText(where, given, `the ${option} option`, label), concurrencyLimit: rule.perKey };
  if (typeof rule.key === 'function') {
    let value: unknown;
    try {
      value = rule.key(payload);
    } catch (error) {
      throw new ValidationError('INVALID_PAYLOAD', `${where}: the ${option} function threw: ${error instanceof Error ? error.message : String(error)}`);
    }
    return { concurrencyKey: keyText(where, value, `the ${option} function`, label), concurrencyLimit: rule.perKey };
  }
  const field = rule.key;
  const value = payload !== null && typeof payload === 'object' && !Array.isArray(payload) && Object.hasOwn(payload, field) ? (payload as Record<string, unknown>)[field] : undefined;
  return { concurrencyKey: keyText(where, value, `payload field "${field}"`, label), concurrencyLimit: rule.perKey };
}

/** A definition's per-key rate limit (`rateLimit: { max, perMs, key }`) after `defineJob` checked it. */
export interface PerKeyRate {
  readonly key: ConcurrencyKeyRule;
  /** Jobs of one key started in any `perMs` ms, ≥ 1. */
  readonly max: number;
  readonly perMs: number;
}

/** Checks `defineJob`'s `rateLimit`; null when not set. */
export function checkRateLimitOption(jobName: string, rateLimit: unknown): PerKeyRate | null {
  if (rateLimit === undefined) return null;
  const where = `job "${jobName}": rateLimit`;
  if (rateLimit === null || typeof rateLimit !== 'object' || Array.isArray(rateLimit)) throw new ValidationError('INVALID_OPTION', `${where} must be { max, perMs, key }`);
  const { max, perMs, key } = rateLimit as { max?: unknown; perMs?: unknown; key?: unknown };
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_INT32) throw new ValidationError('INVALID_OPTION', `${where}.max must be an integer from 1 to ${MAX_INT32}, got ${String(max)}`);
  if (typeof perMs !== 'number' || !Number.isInteger(perMs) || perMs < 1 || perMs > MAX_INT32) throw new ValidationError('INVALID_OPTION', `${where}.perMs must be a whole number of ms from 1 to ${MAX_INT32}, got ${String(perMs)}`);
  if (key === undefined) throw new ValidationError('INVALID_OPTION', `${where}.key is required on a job (the payload field or function that names the key); a rate limit for the whole queue goes in the queue's options`);
  if (typeof key === 'string') {
    if (key.length === 0 || key.length > 128) throw new ValidationError('INVALID_OPTION', `${where}.key must name a payload field (1 to 128 characters) or be a function`);
  } else if (typeof key !== 'function') {
    throw new ValidationError('INVALID_OPTION', `${where}.key must be a payload field name or a function of the payload, got ${typeof key}`);
  }
  return { key: key as ConcurrencyKeyRule, max, perMs };
}

/** The per-key rate limit of one job (see `resolveConcurrencyKey`): from `rateKey` at enqueue, else the rule on the payload. */
export function resolveRateKey(where: string, rule: PerKeyRate | null | undefined, payload: unknown, given: unknown): { rateKey?: { key: string; max: number; perMs: number } } {
  if (!rule) {
    if (given !== undefined) throw new ValidationError('INVALID_OPTION', `${where}: rateKey is only for jobs defined with a per-key rateLimit (defineJob({ rateLimit: { max, perMs, key } }))`);
    return {};
  }
  const { concurrencyKey } = resolveConcurrencyKey(where, { key: rule.key, perKey: 1 }, payload, given, 'rate key');
  return { rateKey: { key: concurrencyKey!, max: rule.max, perMs: rule.perMs } };
}
