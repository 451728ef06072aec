import { describe, expect, it } from 'vitest';
import { CLAIM_AHEAD_MAX_HANDLER_MS, ClaimSize, SLOW_HANDLER_MS, SLOW_QUEUE_CLAIM_LIMIT } from '../../src/worker/claim-size.js';

describe('ClaimSize', () => {
  it('takes every free slot before any handler ran and while handlers are quick', () => {
    const size = new ClaimSize();
    expect(size.limit(50)).toBe(50);
    for (let i = 0; i < 100; i++) size.observe(0);
    expect(size.limit(50)).toBe(50);
    expect(size.limit(0)).toBe(0);
  });

  it('claims at most the chunk limit once handlers are slow, and never more than the free slots', () => {
    const size = new ClaimSize();
    for (let i = 0; i < 10; i++) size.observe(5);
    expect(size.averageMs).toBeGreaterThanOrEqual(SLOW_HANDLER_MS);
    expect(size.limit(50)).toBe(SLOW_QUEUE_CLAIM_LIMIT);
    expect(size.limit(3)).toBe(3);
    expect(size.limit(0)).toBe(0);
  });

  it('follows the recent durations: back to whole claims when handlers become quick again', () => {
    const size = new ClaimSize();
    for (let i = 0; i < 10; i++) size.observe(20);
    expect(size.limit(40)).toBe(SLOW_QUEUE_CLAIM_LIMIT);
    for (let i = 0; i < 30; i++) size.observe(0);
    expect(size.limit(40)).toBe(40);
  });

  it('ignores durations that are not finite non-negative numbers', () => {
    const size = new ClaimSize();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -5]) size.observe(bad);
    expect(size.averageMs).toBe(0);
    expect(size.limit(30)).toBe(30);
  });

  it('lets jobs be claimed ahead only once a handler finished, and only while handlers are short', () => {
    const size = new ClaimSize();
    expect(size.ahead(10)).toBe(0);
    size.observe(0);
    expect(size.ahead(10)).toBe(10);
    for (let i = 0; i < 30; i++) size.observe(5);
    expect(size.ahead(10)).toBe(10);
    for (let i = 0; i < 30; i++) size.observe(CLAIM_AHEAD_MAX_HANDLER_MS * 2);
    expect(size.averageMs).toBeGreaterThanOrEqual(CLAIM_AHEAD_MAX_HANDLER_MS);
    expect(size.ahead(10)).toBe(0);
    for (let i = 0; i < 30; i++) size.observe(1);
    expect(size.ahead(10)).toBe(10);
  });

  it('holds off claiming ahead after holdOff() until the next handler finishes', () => {
    const size = new ClaimSize();
    size.observe(2);
    size.holdOff();
    expect(size.ahead(8)).toBe(0);
    size.observe(2);
    expect(size.ahead(8)).toBe(8);
  });
});
