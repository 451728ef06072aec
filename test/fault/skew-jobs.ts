/** The jobs of the clock-skew tests, shared by the test and its skewed child process. */
export const SKEW_JOBS_SPEC = [
  /** Fails its first attempt; retried `delayMs` later. */
  { name: 'skew.flaky', delayMs: 2000 },
  /** Snoozes its first run for `delayMs`. */
  { name: 'skew.sleepy', delayMs: 2000 },
  /** Run by a cron schedule every two seconds. */
  { name: 'skew.tick', delayMs: 1000 },
] as const;
