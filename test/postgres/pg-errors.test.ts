import { describe, expect, it } from 'vitest';
import { StoreError, ValidationError } from '../../src/errors.js';
import { classifyPgError, toStoreError } from '../../src/store/postgres/pg-errors.js';

function pgError(code: string, message = 'boom'): Error {
  return Object.assign(new Error(message), { code });
}

describe('postgres error mapping', () => {
  it.each([
    ['08006', 'connection failure'],
    ['08001', 'cannot establish connection'],
    ['57P01', 'admin shutdown'],
    ['57P03', 'cannot connect now'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
    ['53300', 'too many connections'],
    ['55P03', 'lock not available'],
    ['ECONNREFUSED', 'refused'],
    ['ECONNRESET', 'reset'],
  ])('%s (%s) is retryable', (code) => {
    expect(classifyPgError(pgError(code)).retryable).toBe(true);
    const mapped = toStoreError(pgError(code), 'enqueue');
    expect(mapped).toBeInstanceOf(StoreError);
    expect(mapped).toMatchObject({ retryable: true, code: 'STORE_UNAVAILABLE' });
    expect(mapped.message).toContain('enqueue failed');
  });

  it.each([
    ['23505', 'unique violation'],
    ['42P01', 'undefined table'],
    ['22P02', 'invalid text representation'],
    ['42501', 'insufficient privilege'],
  ])('%s (%s) is not retryable', (code) => {
    expect(toStoreError(pgError(code), 'fetch')).toMatchObject({ name: 'StoreError', retryable: false, code: 'STORE_ERROR' });
  });

  it('recognises driver errors that carry no code', () => {
    expect(classifyPgError(new Error('Connection terminated unexpectedly')).retryable).toBe(true);
    expect(classifyPgError(new Error('timeout exceeded when trying to connect')).retryable).toBe(true);
    expect(classifyPgError(new AggregateError([pgError('ECONNREFUSED')], 'all addresses failed')).retryable).toBe(true);
    expect(classifyPgError(new Error('something else')).retryable).toBe(false);
  });

  it('passes Nightshift errors through unchanged and keeps the driver error as cause', () => {
    const validation = new ValidationError('INVALID_OPTION', 'bad');
    expect(toStoreError(validation, 'x')).toBe(validation);
    const cause = pgError('57P01');
    expect(toStoreError(cause, 'x').cause).toBe(cause);
  });
});
