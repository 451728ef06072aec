// Errors in log lines: class, code, message, retryable, cause — never a driver's whole client.
import { describe, expect, it } from 'vitest';
import { StoreError, ValidationError } from '../../src/errors.js';
import { serializeLoggedError } from '../../src/observe/log-errors.js';

describe('serializeLoggedError', () => {
  it('logs class, code, message and retryable, and the cause, without other properties', () => {
    const driverError = Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET', client: { huge: 'x'.repeat(10_000) } });
    const error = new StoreError('postgres store: claim failed', { retryable: true, cause: driverError });
    const logged = serializeLoggedError(error, false);
    expect(logged).toEqual({
      type: 'StoreError',
      message: 'postgres store: claim failed',
      code: 'STORE_UNAVAILABLE',
      retryable: true,
      cause: { type: 'Error', message: 'Connection terminated unexpectedly', code: 'ECONNRESET' },
    });
    expect(JSON.stringify(logged).length).toBeLessThan(400);
  });

  it('logs a recorded error (a plain ErrorRecord) by its class name, not as Object', () => {
    expect(serializeLoggedError({ name: 'TypeError', message: 'x is undefined', stack: 'TypeError: …', kind: 'error' }, false)).toEqual({
      type: 'TypeError',
      message: 'x is undefined',
      kind: 'error',
    });
  });

  it('adds stacks only when asked (debug level), and clips huge messages', () => {
    const error = new ValidationError('INVALID_OPTION', 'm'.repeat(5000));
    expect(serializeLoggedError(error, false).stack).toBeUndefined();
    expect(serializeLoggedError(error, true).stack).toContain('ValidationError');
    expect(serializeLoggedError(error, false).message.length).toBeLessThan(2100);
    expect(serializeLoggedError('a string', false)).toEqual({ type: 'string', message: 'a string' });
  });
});
