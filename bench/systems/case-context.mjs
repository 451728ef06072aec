// What every system harness gets for one benchmark case, and the registry of harnesses.
//
// A harness module exports:
//   name, packageName
//   openProducer(ctx)                         → { enqueueOne(payload), enqueueMany(payloads), close() }
//   openWorker(ctx, { concurrency, handle })  → { start(), stop() }   (open connects and migrates;
//                                               start begins taking jobs, so timing excludes setup)
//   openObserver(ctx, { jobs })               → { countCompleted(), storedSeqs(), close(), destroy?() }
// and, for the systems with flows (W8):
//   openFlowProducer(ctx)                     → { enqueueFlow({ parent, children }), close() }
//                                               (one parent payload waiting on every child payload)
//   openFlowWorker(ctx, { concurrency, child, parent }) → { start(), stop() }
//                                               child(payload) returns the child's result; parent(payload,
//                                               readChildResults) gets a function that reads what the
//                                               system hands the parent, as [{ completed, result }].
// Payloads are `{ seq, t }`: the job's sequence number and the producer's clock (ms, sub-ms
// precision) just before the enqueue call; with `ctx.perKey` also `key`, the job's concurrency key.

import { createWallClock } from '../../scripts/wall-clock.mjs';

/**
 * @typedef {object} CaseContext
 * @property {string} system     Harness name (`nightshift`, `bullmq`, `pg-boss`, `graphile-worker`).
 * @property {'sqlite' | 'postgres' | 'redis'} store  Backend the system runs on.
 * @property {string} namespace  Unique per case: PostgreSQL schema, Redis key prefix.
 * @property {string} queue      Queue name (`bench`).
 * @property {string} pgUrl      Connection string of the bench database.
 * @property {string} redisUrl
 * @property {string} sqlitePath SQLite file (Nightshift on SQLite only).
 * @property {number | null} perKey  Jobs of one key allowed at once (W6), or null. Payloads then also
 *                               carry `key`; the harness uses its system's per-key feature on it.
 * @property {{ max: number, perMs: number } | null} rateLimit  The queue's rate limit (W7), or null.
 */

/** Loads a harness module by system name. */
export async function loadHarness(system) {
  switch (system) {
    case 'nightshift':
      return import('./nightshift.mjs');
    case 'bullmq':
      return import('./bullmq.mjs');
    case 'pg-boss':
      return import('./pg-boss.mjs');
    case 'graphile-worker':
      return import('./graphile-worker.mjs');
    default:
      throw new Error(`unknown system "${system}"`);
  }
}

/** A wall-clock timestamp in ms with sub-ms precision, comparable across processes on one host (see scripts/wall-clock.mjs). */
export const preciseNow = createWallClock();
