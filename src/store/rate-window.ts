/**
 * Rate limits, the part both stores share: when a queue's window next has room. Each store keeps
 * one row per rate-limited claim (when, how many jobs) and reads the rows still in the window;
 * this decides from them, so the two stores answer alike.
 */
import { rateWindowMarginMs } from './types.js';

/** The length of a rate limit's window, ms: `perMs` plus the margin (see `JobFetchParams.rateLimit`). */
export function rateWindowMs(perMs: number): number {
  return perMs + rateWindowMarginMs(perMs);
}

/**
 * When a claim under `max` per window next has room, in ms: `nowMs` when the window holds fewer
 * than `max`; else the moment enough of its oldest claims leave it. `claims` are the window's
 * rows (any order); a row leaves the window `rateWindowMs(perMs)` after it was written.
 */
export function rateRoomAt(claims: readonly { at: number; n: number }[], max: number, perMs: number, nowMs: number): number {
  let used = 0;
  for (const claim of claims) used += claim.n;
  if (used < max) return nowMs;
  const oldestFirst = [...claims].sort((a, b) => a.at - b.at);
  for (const claim of oldestFirst) {
    used -= claim.n;
    if (used < max) return Math.max(nowMs, claim.at + rateWindowMs(perMs));
  }
  return nowMs;
}
