import { ValidationError } from '../errors.js';

/**
 * Job, queue and schedule names: 1–128 characters from `A–Z a–z 0–9 _ - . : /`, starting with a
 * letter or digit. The set is small on purpose: names appear in URLs, metric labels, log fields and
 * file-based configs, and none of those need escaping for these characters.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;
/** Longest accepted name, in characters. */
export const NAME_MAX_LENGTH = 128;

/** What a name is used for; only shapes the error message. */
export type NameKind = 'job name' | 'queue name' | 'schedule id' | 'worker id' | 'token name';

/** Throws a `ValidationError` (code `INVALID_NAME`) unless `value` is a valid name. */
export function assertValidName(kind: NameKind, value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw new ValidationError('INVALID_NAME', `${kind} must be a string, got ${typeof value}`);
  }
  if (value.length === 0) {
    throw new ValidationError('INVALID_NAME', `${kind} must not be empty`);
  }
  if (value.length > NAME_MAX_LENGTH) {
    throw new ValidationError(
      'INVALID_NAME',
      `${kind} is ${value.length} characters long; the limit is ${NAME_MAX_LENGTH}`,
    );
  }
  if (!NAME_PATTERN.test(value)) {
    throw new ValidationError(
      'INVALID_NAME',
      `${kind} ${JSON.stringify(value)} has characters outside A-Z a-z 0-9 _ - . : / (or does not start with a letter or digit)`,
    );
  }
}
