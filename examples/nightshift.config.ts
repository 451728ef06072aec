/**
 * The example app's Nightshift configuration. Run it with `npm start` (after `npm run build`):
 * the daemon works on ./data/nightshift.db and fires the schedules in scheduler.yaml.
 *
 *   node dist/cli/main.js --config examples/nightshift.config.ts list
 *   node dist/cli/main.js --config examples/nightshift.config.ts run analysis.nightly
 *   node dist/cli/main.js --config examples/nightshift.config.ts enqueue state.snapshot --data '{"label":"manual"}'
 */
import { defineConfig } from 'nightshift';
import { nightlyAnalysis, analyzeUser } from './jobs/analysis.js';
import { cleanup } from './jobs/cleanup.js';
import { skillDecay } from './jobs/skill-decay.js';
import { stateSnapshot } from './jobs/snapshot.js';
import { weeklySummary } from './jobs/weekly-summary.js';

export default defineConfig({
  jobs: [nightlyAnalysis, analyzeUser, skillDecay, stateSnapshot, weeklySummary, cleanup],
  queues: {
    // Slow, expensive work (model calls): few at a time, generous time limit.
    cognition: { concurrency: 2, timeoutMs: 5 * 60_000 },
    // Quick bookkeeping: many at a time, short limit.
    sensory: { concurrency: 10, timeoutMs: 30_000 },
    default: { concurrency: 5, timeoutMs: 60_000 },
  },
  schedules: './scheduler.yaml',
  shutdownTimeoutMs: 20_000,
});
