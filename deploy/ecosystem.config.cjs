// PM2 processes for an app's Nightshift: one scheduler and two workers. Copy this file to the
// app's folder (next to package.json and nightshift.config.ts), then:
//
//   pm2 start ecosystem.config.cjs
//   pm2 scale nightshift-worker 4        # more or fewer workers
//
// Several processes need a store they share: PostgreSQL (DATABASE_URL). On a single SQLite file,
// run one plain `daemon` instead (args: ['daemon']).

// Handlers get this long to finish on stop before their jobs are released to the queue (ms).
const SHUTDOWN_TIMEOUT_MS = 30_000;

/** Settings every Nightshift process shares. */
const common = {
  // node runs the CLI directly: no npm/npx in between to swallow the stop signal.
  script: 'node_modules/nightshift/dist/cli/main.js',
  interpreter: 'node',
  cwd: __dirname,
  // Fork mode: independent processes. Cluster mode is for HTTP servers sharing a port.
  exec_mode: 'fork',
  autorestart: true,
  // PM2 stops with SIGINT, then SIGKILL after kill_timeout (1.6 s by default — far too short for
  // a graceful stop). The daemon handles SIGINT like SIGTERM.
  kill_timeout: SHUTDOWN_TIMEOUT_MS + 10_000,
  env: {
    NODE_ENV: 'production',
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    // PM2 writes the logs to files: JSON lines, one per entry.
    LOG_FORMAT: 'json',
    // DATABASE_URL: 'postgres://user:password@127.0.0.1:5432/app',
  },
};

module.exports = {
  apps: [
    // Fires the cron schedules; runs no jobs.
    { ...common, name: 'nightshift-scheduler', args: ['daemon', '--no-worker'], instances: 1 },
    // Runs jobs, rescues expired leases, prunes old jobs; fires no schedules.
    { ...common, name: 'nightshift-worker', args: ['daemon', '--no-scheduler'], instances: 2 },
  ],
};
