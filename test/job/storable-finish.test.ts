// What a finish records is made storable in the core: error texts cleaned and cut, delays clamped.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import {
  MAX_DELAY_MS,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_ERROR_STACK_LENGTH,
  REPLACEMENT_CHARACTER,
  isStorableText,
  toStorableText,
} from '../../src/job/input-bounds.js';
import { cancel } from '../../src/job/outcomes.js';
import { retryDelayMs } from '../../src/job/retry-policy.js';
import type { JobRecord } from '../../src/store/types.js';
import { decideFailure, decideOutcome, toErrorRecord } from '../../src/worker/retry-decision.js';

const R = REPLACEMENT_CHARACTER;

describe('toStorableText', () => {
  it('replaces NUL and unpaired surrogates, keeps whole pairs, returns clean text unchanged', () => {
    expect(toStorableText('a\u0000b', 100)).toBe(`a${R}b`);
    expect(toStorableText('cut \uD83D', 100)).toBe(`cut ${R}`);
    expect(toStorableText('\uDE00 low first', 100)).toBe(`${R} low first`);
    expect(toStorableText('\uDE00\uD83D reversed pair', 100)).toBe(`${R}${R} reversed pair`);
    const clean = 'emoji 😀 and ünïcödé';
    expect(toStorableText(clean, 100)).toBe(clean);
    expect(isStorableText(clean)).toBe(true);
    expect(isStorableText('\u0000')).toBe(false);
  });

  it('cuts long text with a mark and never leaves half a pair at the end', () => {
    const text = `${'x'.repeat(9)}😀${'y'.repeat(100)}`;
    for (let max = 12; max < 30; max++) {
      const cut = toStorableText(text, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(cut.endsWith('… [cut]')).toBe(true);
      expect(isStorableText(cut)).toBe(true);
    }
  });
});

describe('toErrorRecord', () => {
  it('cleans and cuts message, stack and name', () => {
    const error = new Error(`bad \u0000 byte, half \uD83D, ${'m'.repeat(MAX_ERROR_MESSAGE_LENGTH)}`);
    error.stack = `Error: x\n${'s'.repeat(MAX_ERROR_STACK_LENGTH * 2)}`;
    error.name = 'Odd\u0000Name';
    const record = toErrorRecord(error, 'error');
    expect(record.message.startsWith(`bad ${R} byte, half ${R}, mmm`)).toBe(true);
    expect(record.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_LENGTH);
    expect(record.stack!.length).toBeLessThanOrEqual(MAX_ERROR_STACK_LENGTH);
    expect(record.name).toBe(`Odd${R}Name`);
  });

  it('survives errors whose text cannot be read', () => {
    const hostile = new Error('x');
    Object.defineProperty(hostile, 'message', {
      get() {
        throw new Error('no');
      },
    });
    expect(toErrorRecord(hostile, 'error').message).toContain('could not be read');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(toErrorRecord(cyclic, 'error').message).toContain('could not be read');
    expect(toErrorRecord('plain \u0000 string', 'error').message).toBe(`plain ${R} string`);
  });
});

describe('delays a finish records', () => {
  const job = { attempt: 1, maxAttempts: 5 } as JobRecord;

  it('clamps what a backoff function returns to 0 … MAX_DELAY_MS', () => {
    expect(retryDelayMs(() => 1e20, 1, null)).toBe(MAX_DELAY_MS);
    expect(retryDelayMs(() => Number.POSITIVE_INFINITY, 1, null)).toBe(MAX_DELAY_MS);
    expect(retryDelayMs(() => Number.NaN, 1, null)).toBe(0);
    expect(retryDelayMs(() => -5, 1, null)).toBe(0);
    expect(retryDelayMs(() => 1.6, 1, null)).toBe(2);
    // Exponential growth past the cap (attempt 2000 would be Infinity without one) stays in range.
    expect(retryDelayMs({ type: 'exponential', delayMs: 1000 }, 2000, null, () => 0.5)).toBe(MAX_DELAY_MS);
  });

  it('a failed attempt carries a delay, not an instant', () => {
    const definition = defineJob({ name: 'x', schema: z.any(), retry: { backoff: () => 1e20 }, handler: () => undefined });
    expect(decideFailure(job, definition, new Error('boom'), () => 0.5)).toMatchObject({ outcome: 'failed', retryDelayMs: MAX_DELAY_MS });
  });

  it('a hand-built snooze outcome is clamped; a cancel reason is cleaned', () => {
    const forged = { [Symbol.for('nightshift.outcome')]: 'snooze', delayMs: 1e20 } as never;
    expect(decideOutcome(forged)).toEqual({ outcome: 'snoozed', delayMs: MAX_DELAY_MS });
    expect(decideOutcome(cancel('gone \u0000 \uDFFF'))).toEqual({ outcome: 'cancelled', reason: `gone ${R} ${R}` });
    expect(decideOutcome(cancel(undefined as never))).toEqual({ outcome: 'cancelled', reason: 'undefined' });
  });
});
