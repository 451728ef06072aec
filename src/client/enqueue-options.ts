import { ValidationError } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import { assertInt32, assertValidDelayMs, assertValidMs, assertValidRunAt, checkKey, MAX_DELAY_MS, MAX_INT32, parsePriority } from '../job/input-bounds.js';
import { assertValidName } from '../job/names.js';
import { DEFAULT_ATTEMPTS } from '../job/retry-policy.js';
import type { EnqueueOptions } from '../job/enqueue-types.js';
import { DEPENDENCY_FAILURE_POLICIES, type JobInsert } from '../store/types.js';
import { isJobId } from '../store/job-ids.js';


export type { EnqueueOptions } from '../job/enqueue-types.js';

const KNOWN_OPTIONS = new Set(['delayMs', 'runAt', 'priority', 'queue', 'maxAttempts', 'key', 'timeoutMs', 'concurrencyKey', 'rateKey', 'dependsOn', 'onDependencyFailure', 'throttle', 'debounce', 'tx']);

/** Most dependencies one job may name. */
export const MAX_DEPENDENCIES = 10_000;

/**
 * Checks enqueue options and returns them as the parts of a `JobInsert` they decide. `nowMs` is
 * only read for `delayMs` (and only then fetched from the store by the caller). `where` prefixes
 * messages, e.g. `enqueue "email.send"` or `enqueueMany "x" item 3`.
 */
export function resolveEnqueueOptions(
  where: string,
  job: AnyJobDefinition,
  options: EnqueueOptions | undefined,
  nowMs: number | null,
): Omit<JobInsert, 'name' | 'payload' | 'scheduleId' | 'meta'> {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new ValidationError('INVALID_OPTION', `${where}: options must be an object, got ${typeof options}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new ValidationError('INVALID_OPTION', `${where}: unknown option "${key}" (known: ${[...KNOWN_OPTIONS].join(', ')})`);
    }
  }
  let runAt: Date | null = null;
  if (options.delayMs !== undefined && options.runAt !== undefined) {
    throw new ValidationError('INVALID_OPTION', `${where}: give delayMs or runAt, not both`);
  }
  if (options.delayMs !== undefined) {
    assertValidDelayMs(options.delayMs, `${where}: delayMs`);
    if (options.delayMs > 0) runAt = new Date((nowMs ?? Date.now()) + options.delayMs);
  }
  if (options.runAt !== undefined) {
    assertValidRunAt(options.runAt, `${where}: runAt`);
    runAt = options.runAt;
  }
  const priority = options.priority === undefined ? job.priority : parsePriority(options.priority, where);
  const queue = options.queue ?? job.queue;
  try {
    assertValidName('queue name', queue);
  } catch (error) {
    throw new ValidationError('INVALID_NAME', `${where}: ${(error as Error).message}`);
  }
  const maxAttempts = options.maxAttempts ?? job.retry?.attempts ?? DEFAULT_ATTEMPTS;
  assertInt32(maxAttempts, `${where}: maxAttempts`, 1);
  const key = options.key === undefined ? null : checkKey(where, options.key);
  let timeoutMs: number | null = null;
  if (options.timeoutMs !== undefined) {
    assertValidMs(options.timeoutMs, `${where}: timeoutMs`, true);
    if (!Number.isInteger(options.timeoutMs) || options.timeoutMs > MAX_INT32) {
      throw new ValidationError('INVALID_OPTION', `${where}: timeoutMs must be a whole number of ms up to ${MAX_INT32}, got ${options.timeoutMs}`);
    }
    timeoutMs = options.timeoutMs;
  }
  const dependencies: Pick<JobInsert, 'dependsOn' | 'onDependencyFailure'> = {};
  if (options.dependsOn !== undefined) {
    const ids: unknown = options.dependsOn;
    if (!Array.isArray(ids) || ids.length > MAX_DEPENDENCIES || ids.some((id) => typeof id !== 'string' || !isJobId(id))) {
      throw new ValidationError('INVALID_OPTION', `${where}: dependsOn must be an array of at most ${MAX_DEPENDENCIES} job ids (decimal strings)`);
    }
    if (ids.length > 0) dependencies.dependsOn = ids as string[];
  }
  if (options.onDependencyFailure !== undefined) {
    if (!DEPENDENCY_FAILURE_POLICIES.includes(options.onDependencyFailure)) {
      throw new ValidationError('INVALID_OPTION', `${where}: onDependencyFailure must be one of ${DEPENDENCY_FAILURE_POLICIES.join(', ')}, got ${JSON.stringify(options.onDependencyFailure)}`);
    }
    dependencies.onDependencyFailure = options.onDependencyFailure;
  }
  const spacing = resolveSpacing(where, options, key !== null || dependencies.dependsOn !== undefined);
  return { queue, priority, maxAttempts, runAt, key, timeoutMs, ...dependencies, ...spacing };
}

/** Checks `throttle` / `debounce` (see `EnqueueOptions`); `keyed`: the enqueue also has a `key` or dependencies. */
function resolveSpacing(where: string, options: EnqueueOptions, keyed: boolean): Pick<JobInsert, 'throttle' | 'debounce'> {
  const { throttle, debounce } = options;
  if (throttle === undefined && debounce === undefined) return {};
  if (throttle !== undefined && debounce !== undefined) throw new ValidationError('INVALID_OPTION', `${where}: give throttle or debounce, not both`);
  if (keyed) throw new ValidationError('INVALID_OPTION', `${where}: throttle and debounce do not combine with key or dependsOn`);
  const ms = (value: unknown, what: string, min: number): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_DELAY_MS) {
      throw new ValidationError('INVALID_OPTION', `${where}: ${what} must be a whole number of ms from ${min} to ${MAX_DELAY_MS}, got ${String(value)}`);
    }
    return value;
  };
  if (throttle !== undefined) {
    if (typeof throttle !== 'object' || throttle === null) throw new ValidationError('INVALID_OPTION', `${where}: throttle must be { key, perMs }`);
    return { throttle: { key: checkKey(`${where}: throttle`, throttle.key), perMs: ms(throttle.perMs, 'throttle.perMs', 1) } };
  }
  if (typeof debounce !== 'object' || debounce === null) throw new ValidationError('INVALID_OPTION', `${where}: debounce must be { key, delayMs, maxDelayMs? }`);
  if (options.delayMs !== undefined || options.runAt !== undefined) throw new ValidationError('INVALID_OPTION', `${where}: debounce sets the run time; do not give delayMs or runAt with it`);
  const delayMs = ms(debounce.delayMs, 'debounce.delayMs', 0);
  const maxDelayMs = debounce.maxDelayMs === undefined ? null : ms(debounce.maxDelayMs, 'debounce.maxDelayMs', 0);
  if (maxDelayMs !== null && maxDelayMs < delayMs) throw new ValidationError('INVALID_OPTION', `${where}: debounce.maxDelayMs (${maxDelayMs}) must be at least delayMs (${delayMs})`);
  return { debounce: { key: checkKey(`${where}: debounce`, debounce.key), delayMs, maxDelayMs } };
}
