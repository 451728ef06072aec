/**
 * A controllable clock for store tests: time only moves when the test says so, which makes
 * "not due yet", lease expiry and durations exact without sleeping.
 */
import type { Clock } from '../types.js';

/** Default start: a fixed instant, so timestamps in failures are readable and stable. */
export const TEST_CLOCK_START_MS = Date.parse('2026-03-02T09:00:00.000Z');

export class TestClock {
  private current: number;
  /** The clock as a store option (`clock: testClock.fn`); always reads the current test time. */
  readonly fn: Clock;

  /** `startMs`: the initial time in ms since the epoch; default `TEST_CLOCK_START_MS`. */
  constructor(startMs: number = TEST_CLOCK_START_MS) {
    this.current = startMs;
    this.fn = () => this.current;
  }

  /** The current test time in ms since the epoch. */
  now(): number {
    return this.current;
  }

  /** Jumps to `ms` (ms since the epoch); may go backwards, as real clocks sometimes do. */
  set(ms: number): void {
    this.current = ms;
  }

  /** Moves the time forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.current += ms;
  }
}
