/**
 * `nightshift list` orders job names without `localeCompare` (whose first call loads ICU's
 * collation data): the order must be the one `localeCompare` gives in the root/English collation.
 */
import { describe, expect, it } from 'vitest';
import { compareNames } from '../../src/cli/name-order.js';

const collator = new Intl.Collator('en');

/** A deterministic pseudo-random generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('compareNames', () => {
  it('orders names as the English collation does: punctuation, digits, letters without case, lowercase first', () => {
    const names = ['email.welcome', 'email-welcome', 'email_welcome', 'email:welcome', 'email/welcome', 'Email.b', 'email.a', 'email', 'emailx', 'e2', 'E1', 'e', 'E'];
    expect([...names].sort(compareNames)).toEqual([...names].sort(collator.compare));
  });

  it('agrees with the collation on random names of the name alphabet, mixed case and punctuation included', () => {
    const alphabet = 'aAbByYzZ0159_-:./';
    const next = random(42);
    const name = (): string => Array.from({ length: 1 + Math.floor(next() * 6) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    for (let round = 0; round < 20_000; round++) {
      const a = name();
      const b = name();
      expect([a, b, Math.sign(compareNames(a, b))]).toEqual([a, b, Math.sign(collator.compare(a, b))]);
    }
  });

  it('falls back to localeCompare for text outside the name alphabet', () => {
    expect(Math.sign(compareNames('é', 'f'))).toBe(Math.sign('é'.localeCompare('f')));
    expect(Math.sign(compareNames('a b', 'ab'))).toBe(Math.sign('a b'.localeCompare('ab')));
  });
});
