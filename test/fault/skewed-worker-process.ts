// A worker and scheduler process on the PostgreSQL store whose own clock is off: the test runs
// it under libfaketime (FAKETIME=+2h or -2h). Run with `node --import jiti/register`.
// Environment: NS_PG_URL, NS_SCHEMA (required). Prints JSON lines: {"type":"ready","now":…},
// {"type":"ran","name":…,"id":…,"attempt":…}, {"type":"failed"|"snoozed","id":…},
// {"type":"fired","scheduleId":…,"fireAt":…}.
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { snooze } from '../../src/job/outcomes.js';
import { createNightshift } from '../../src/nightshift.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SKEW_JOBS_SPEC } from './skew-jobs.js';

const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const jobs = SKEW_JOBS_SPEC.map((spec) =>
  defineJob({
    name: spec.name,
    schema: z.object({}).passthrough(),
    retry: { attempts: 3, backoff: { type: 'fixed', delayMs: spec.delayMs, jitter: 0 } },
    handler: (_payload, ctx) => {
      say({ type: 'ran', name: ctx.name, id: ctx.id, attempt: ctx.attempt });
      if (spec.name === 'skew.tick') return 'tick';
      // The first run fails or snoozes; the next one (a retry, or the snoozed run) completes.
      if (runs.has(ctx.id)) return 'done';
      runs.add(ctx.id);
      if (spec.name === 'skew.sleepy') return snooze(spec.delayMs);
      throw new Error('first attempt fails');
    },
  }),
);
const runs = new Set<string>();

const store = createPostgresStore({ connectionString: process.env.NS_PG_URL!, schema: process.env.NS_SCHEMA!, poolSize: 3 });
const nightshift = createNightshift({ store, jobs, workerId: `skewed-${process.pid}`, pollIntervalMs: 100, prune: false, leaseMs: 10_000 });
nightshift.events.on('job:failed', ({ job }) => say({ type: 'failed', id: job.id }));
nightshift.events.on('job:snoozed', ({ job }) => say({ type: 'snoozed', id: job.id }));
const scheduler = createScheduler({ store, jobs, events: nightshift.events, pollIntervalMs: 200 });
nightshift.events.on('schedule:fired', ({ scheduleId, fireAt, jobId }) => say({ type: 'fired', scheduleId, fireAt: fireAt.toISOString(), jobId }));
await nightshift.addService(scheduler);
nightshift.handleSignals();
await nightshift.start();
say({ type: 'ready', now: Date.now() });
