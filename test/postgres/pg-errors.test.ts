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
    ['25006', 'read-only transaction (standby, or after a failover)'],
    ['25P03', 'idle in transaction session timeout'],
    ['57P05', 'idle session timeout'],
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

  it('says clearly that a read-only server (SQLSTATE 25006) refused a write, and that it can be retried', () => {
    const mapped = toStoreError(pgError('25006', 'cannot execute UPDATE in a read-only transaction'), 'record finished jobs');
    expect(mapped).toMatchObject({ retryable: true, code: 'STORE_UNAVAILABLE' });
    expect(mapped.message).toMatch(/record finished jobs failed \(the server is read-only: .*failover.*, code 25006\): cannot execute UPDATE in a read-only transaction/);
  });

  it('names the timeouts: a statement or a connection that got no answer in time', () => {
    expect(classifyPgError(new Error('Query read timeout'))).toEqual({ retryable: true, reason: expect.stringMatching(/no answer within the query timeout/) });
    const connect = new Error('Connection terminated due to connection timeout', { cause: new Error('timeout expired') });
    expect(classifyPgError(connect)).toEqual({ retryable: true, reason: expect.stringMatching(/no connection within the connect timeout/) });
    expect(classifyPgError(new Error('timeout expired')).retryable).toBe(true);
    expect(classifyPgError(new Error('timeout exceeded when trying to connect')).reason).toMatch(/no free connection/);
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
