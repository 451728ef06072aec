/**
 * Limited claims on SQLite: the per-key claim in two steps, the rate-limited claim, a handler's
 * hold on a queue, and when a queue next has room. Every claim runs under BEGIN IMMEDIATE (see the store), so the count of
 * the window's claims, the claim and the row recording it cannot interleave with another claim.
 */
import { rateRoomAt, rateWindowMs } from '../rate-window.js';
import type { SqliteContext } from './sqlite-context.js';
import type { PreparedStatements } from './sqlite-context.js';
import type { ClaimedValues } from './sqlite-rows.js';

/** What every claim binds (the store's `ClaimParams`): queue, how many, owner, batch token, now, the lease's end. */
export interface RatedClaim {
  queue: string;
  limit: number;
  owner: string;
  token: string;
  now: number;
  expiresAt: number;
}

/**
 * The claim under a rate limit, combined with the queue's other limits: takes at most the room
 * left in the window, records what it took, and forgets rows that left the window. Call inside
 * an IMMEDIATE transaction.
 */
export function claimRated(
  ctx: SqliteContext,
  claim: RatedClaim,
  rate: { max: number; perMs: number },
  limits: { global: number | null; perKey: boolean; perKeyRate: boolean },
): ClaimedValues[] {
  const statements = ctx.statements();
  const since = claim.now - rateWindowMs(rate.perMs);
  const used = (statements.rateUsed.get({ queue: claim.queue, since }) as { n: number }).n;
  const room = Math.min(claim.limit, rate.max - used);
  let rows: ClaimedValues[] = [];
  if (room > 0) {
    const limited = { ...claim, limit: room };
    if (limits.perKey) rows = claimKeyedInTwo(statements, { ...limited, global: limits.global, perKeyRate: limits.perKeyRate });
    else if (limits.global !== null) rows = statements.jobClaimLimited.all({ ...limited, global: limits.global }) as ClaimedValues[];
    else rows = statements.jobClaim.all(limited) as ClaimedValues[];
    if (rows.length > 0) statements.rateLog.run({ queue: claim.queue, at: claim.now, n: rows.length });
  }
  statements.rateForget.run({ queue: claim.queue, before: since });
  return rows;
}

/** Holds the job's rate key when it has one, else the queue (see `Store.queueHold`). */
export function holdQueue(ctx: SqliteContext, queue: string, forMs: number, jobId: number | null): void {
  const until = ctx.now() + forMs;
  const statements = ctx.statements();
  ctx.db
    .transaction(() => {
      const held = jobId !== null && statements.rateKeyHold.run({ id: jobId, until }).changes > 0;
      if (!held) statements.queueHold.run({ queue, until });
    })
    .immediate();
}

/** `Store.jobRateLateStart`: moves the running job's rate-limit counts from its claim to now. */
export function rateLateStart(ctx: SqliteContext, id: number, token: string, byQueue: boolean, byKey: boolean): boolean {
  if (!byQueue && !byKey) return false;
  // Moving a claim later frees nothing: no wake-up to send.
  return ctx.statements().rateLateStart.run({ id, token, now: ctx.now(), byQueue: byQueue ? 1 : 0, byKey: byKey ? 1 : 0 }).changes > 0;
}

export function rateWait(ctx: SqliteContext, queue: string, rate: { max: number; perMs: number } | undefined, perKeyRate = false): number {
  const statements = ctx.statements();
  const now = ctx.now();
  const hold = statements.queueHoldUntil.get({ queue, now }) as { until: number } | undefined;
  let at = now;
  if (rate !== undefined) {
    const claims = statements.rateWindow.all({ queue, since: now - rateWindowMs(rate.perMs) }) as { at: number; n: number }[];
    at = rateRoomAt(claims, rate.max, rate.perMs, now);
  }
  if (perKeyRate && at <= now) {
    // Some key is full: wake when the first per-key claim leaves its window (that key has room).
    const next = (statements.rateKeyNextFree.get({ queue, now }) as { at: number | null }).at;
    if (next !== null) at = next;
  }
  return Math.max(at, hold?.until ?? now) - now;
}

/** Due jobs the per-key claim ranks first (see `claimKeyedInTwo`). */
const KEYED_CLAIM_PROBE = 500;

/**
 * The per-key claim in two steps (see `jobClaimKeyed`): rank a short prefix of the due jobs, and
 * only when that gave fewer than asked rank them all for the rest. Inside the claim's
 * transaction, so the second step sees the first one's jobs running.
 */
export function claimKeyedInTwo(statements: PreparedStatements, params: RatedClaim & { global: number | null; perKeyRate: boolean }): ClaimedValues[] {
  const { perKeyRate, ...bound } = params;
  // What a step took of each rate key goes into the log at once: the next step counts it.
  const logged = (rows: ClaimedValues[]): ClaimedValues[] => {
    if (perKeyRate && rows.length > 0) statements.rateKeyLog.run({ at: params.now, ids: JSON.stringify(rows.map((row) => row[0])) });
    return rows;
  };
  const probe = Math.max(KEYED_CLAIM_PROBE, params.limit * 50);
  let rows = logged(statements.jobClaimKeyed.all({ ...bound, probe }) as ClaimedValues[]);
  if (rows.length < params.limit) rows = rows.concat(logged(statements.jobClaimKeyed.all({ ...bound, limit: params.limit - rows.length, probe: -1 }) as ClaimedValues[]));
  if (perKeyRate) statements.rateKeyForget.run({ queue: params.queue, now: params.now });
  return rows;
}

/** See `Store.jobRateWait`: the job's key, and when its key's window has room for it. */
export function jobRateWait(ctx: SqliteContext, id: number): { key: string; waitMs: number } | null {
  const statements = ctx.statements();
  const job = statements.jobRateKey.get({ id }) as { queue: string; rate_key: string; rate_max: number; rate_per_ms: number } | undefined;
  if (!job) return null;
  const now = ctx.now();
  const claims = statements.rateKeyWindow.all({ queue: job.queue, key: job.rate_key, since: now - rateWindowMs(job.rate_per_ms) }) as { at: number; n: number }[];
  return { key: job.rate_key, waitMs: rateRoomAt(claims, job.rate_max, job.rate_per_ms, now) - now };
}
