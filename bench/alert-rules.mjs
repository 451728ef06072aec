// Ten alert rules, in the alerts.yaml shape, for the bench: what a worker and a store carry when an
// operator turns alerting on.

/**
 * The rules of W3A and of the HTTP-1M table's evaluation rows: the reference alerts.yaml's six, and
 * four more of the other kinds. Delivered to the log channel (the runtime's logger is silent in the
 * bench), so a rule that fires costs its delivery job on the worker but nothing outside the process.
 */
export const ALERT_RULES = {
  settings: { enabled: true, channels: ['log'], throttle: { minInterval: 300, maxAlertsPerJobPerHour: 10 } },
  jobFailures: [
    { name: 'repeated-failures', conditions: { consecutiveFailures: 3 }, severity: 'high' },
    { name: 'critical-job-failure', conditions: { jobPattern: '^(questmaster|sprintplanner|github-sync)', failureCount: 1 }, severity: 'critical' },
    { name: 'failure-burst', conditions: { failuresPerHour: 10 }, severity: 'high' },
  ],
  queueHealth: [
    { name: 'dlq-jobs', conditions: { dlqSize: 1 }, severity: 'high' },
    { name: 'queue-backlog', conditions: { pendingJobs: 50 }, severity: 'medium' },
    { name: 'stale-queue', conditions: { oldestDueSeconds: 600 }, severity: 'medium' },
    { name: 'no-consumer', conditions: { noWorker: true }, severity: 'high' },
  ],
  performance: [
    { name: 'low-success-rate', conditions: { jobPattern: '.*', successRate: 0.8, timeWindow: 3600, minRuns: 5 }, severity: 'medium' },
    { name: 'duration-spike', conditions: { jobPattern: '.*', durationIncrease: 2.0, timeWindow: 3600, minRuns: 3 }, severity: 'low' },
  ],
  schedules: [{ name: 'late-tick', conditions: { lateBySeconds: 120 }, severity: 'medium' }],
};
