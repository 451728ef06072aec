import pg from 'pg';
import type { SchemaNames } from './schema-name.js';
import { jobColumns } from './rows.js';
import { rateWindowMarginSql } from '../types.js';

/** A per-key window's margin over the integer column or expression `perMs` (see rateWindowMarginMs). */
const margin = (perMs: string): string => rateWindowMarginSql(perMs, 'greatest');

/**
 * Every SQL statement of the PostgreSQL store's job operations, one named statement each.
 *
 * Conventions:
 * - `$1` is always "now": the injected test clock's time, or NULL for the database's `now()`
 *   (`coalesce($1::timestamptz, now())`). One text serves both, so the prepared plan is shared.
 * - The schema is interpolated only as the identifier quoted by `escapeIdentifier` (see
 *   schema-name.ts); every value is a bound parameter.
 * - Hot statements carry a `name`, which makes node-postgres prepare them once per connection. The
 *   name includes a digest of the schema so two stores sharing a pool never collide.
 */

export interface Statement {
  /** Prepared-statement name; absent for rarely used statements. */
  readonly name?: string;
  readonly text: string;
}

/** States a job can be claimed from (when due). Must match the jobs_fetch_idx predicate. */
const CLAIMABLE = `('available', 'scheduled', 'retryable')`;
const KEY_BLOCKING = `('scheduled', 'available', 'running', 'retryable', 'waiting')`;
const FINAL = `('completed', 'dead', 'cancelled')`;
/** A prune's scope (`PruneScope`, store/types.ts) as four parameters from $`first`: each list, or NULL for no restriction. */
const pruneScope = (first: number): string => {
  const [names, queues, exceptNames, exceptQueues] = [first, first + 1, first + 2, first + 3].map((n) => `$${n}::text[]`);
  return `AND (${names} IS NULL OR name = ANY (${names}))
            AND (${queues} IS NULL OR queue = ANY (${queues}))
            AND (${exceptNames} IS NULL OR name <> ALL (${exceptNames}))
            AND (${exceptQueues} IS NULL OR queue <> ALL (${exceptQueues}))`;
};
const NOW = 'coalesce($1::timestamptz, now())';
/** The clock at the moment a statement runs (rate limits): the injected time, or clock_timestamp(). */
const CLOCK = 'coalesce($1::timestamptz, clock_timestamp())';
/** What a claim writes ($3 owner, $4 lease ms): shared by the queue claim and the claim by ids. */
const CLAIM_SET = `SET state = 'running',
            attempt = j.attempt + 1,
            attempted_at = ${NOW},
            lease_owner = $3,
            lease_token = gen_random_uuid()::text,
            lease_expires_at = ${NOW} + $4::float8 * interval '1 millisecond'`;

export interface JobStatements {
  insert: Statement;
  insertUnkeyed: Statement;
  insertOne: Statement;
  selectByKeys: Statement;
  fetch: Statement;
  fetchLock: Statement;
  fetchLimited: Statement;
  fetchKeyed: Statement;
  fetchRated: Statement;
  keyHolders: Statement;
  depStates: Statement;
  keyLock: Statement;
  throttled: Statement;
  setThrottleKey: Statement;
  debounced: Statement;
  debounceMove: Statement;
  setDebounce: Statement;
  insertDependent: Statement;
  depEdges: Statement;
  depSettle: Statement;
  depSettleChanges: Statement;
  depStrandedEnded: Statement;
  depStrandedOrphans: Statement;
  depOrphanRelease: Statement;
  depOrphanCancel: Statement;
  dependencies: Statement;
  queueHold: Statement;
  queueHoldUntil: Statement;
  rateUsed: Statement;
  rateWindow: Statement;
  rateLog: Statement;
  rateForget: Statement;
  rateKeyLog: Statement;
  rateRefund: Statement;
  rateLateStart: Statement;
  rateKeyForget: Statement;
  rateKeyHold: Statement;
  rateKeyNextFree: Statement;
  jobSetRateKey: Statement;
  jobRateWindow: Statement;
  fetchIds: Statement;
  finish: Statement;
  heartbeat: Statement;
  rescue: Statement;
  get: Statement;
  attempts: Statement;
  cancel: Statement;
  retry: Statement;
  stats: Statement;
  prune: Statement;
  resultPrune: Statement;
  deleteFinal: Statement;
  notify: Statement;
  queuePause: Statement;
  queueResume: Statement;
  queuePausedList: Statement;
  queuePausedSince: Statement;
  timeNow: Statement;
}

export function jobStatements(names: SchemaNames): JobStatements {
  const s = names.quoted;
  const n = (base: string) => `nightshift_${base}_${names.statementSuffix}`;
  const sequence = pg.escapeLiteral(`${s}.jobs_id_seq`);

  return {
    // Bulk enqueue, one statement per batch. Ids are drawn from the sequence up front (the CTE is
    // materialized, so nextval runs once per input row) which lets the final SELECT pair every input
    // row, by position, with the row inserted for it, or with nothing when its key was taken.
    // ON CONFLICT DO NOTHING also skips a duplicate key *within* the batch (first one wins).
    // The ids follow input order (the claim order of equal jobs), but rows go in by (name, key):
    // two batches sharing keys in different orders then wait for each other's keys in the same
    // order instead of deadlocking.
    insert: {
      name: n('job_insert'),
      text: `
        WITH input AS MATERIALIZED (
          SELECT nextval(${sequence}::regclass) AS id, i.*
          FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::timestamptz[],
                      $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::int[])
               WITH ORDINALITY AS i(name, queue, payload, priority, max_attempts, run_at, key, timeout_ms, schedule_id, meta,
                                    concurrency_key, concurrency_limit, ord)
        ),
        inserted AS (
          INSERT INTO ${s}.jobs (id, name, queue, payload, state, priority, max_attempts, run_at, created_at,
                                 key, timeout_ms, schedule_id, meta, concurrency_key, concurrency_limit)
          SELECT input.id, input.name, input.queue, input.payload,
                 CASE WHEN coalesce(input.run_at, ${NOW}) > ${NOW} THEN 'scheduled' ELSE 'available' END,
                 input.priority, input.max_attempts, coalesce(input.run_at, ${NOW}), ${NOW},
                 input.key, input.timeout_ms, input.schedule_id, input.meta, input.concurrency_key, input.concurrency_limit
          FROM input ORDER BY input.name, input.key, input.ord
          ON CONFLICT (name, key) WHERE key IS NOT NULL AND state IN ${KEY_BLOCKING} DO NOTHING
          RETURNING ${jobColumns()}
        )
        SELECT input.ord::int AS ord, inserted.*
        FROM input LEFT JOIN inserted ON inserted.id = input.id::text
        ORDER BY input.ord`,
    },
    // Bulk enqueue of a batch where no job has a key, the common case. Nothing can conflict, so
    // the INSERT goes without ON CONFLICT: with an arbiter index every row would take the
    // speculative-insertion path (a lock and an extra WAL record each). The rows are not read back
    // either: every column but id, state and created_at is the bound value, so the caller builds
    // the records. Ids are drawn in the input CTE, which pairs them with input positions exactly,
    // whatever order the INSERT runs in. One row comes back, not one per job: the ids as a
    // comma-separated list and the states as one letter each ('a'vailable, 's'cheduled), in input
    // order, and created_at, the same for every row (one statement, one now), as text.
    insertUnkeyed: {
      name: n('job_insert_unkeyed'),
      text: `
        WITH input AS MATERIALIZED (
          SELECT nextval(${sequence}::regclass) AS id, i.*,
                 CASE WHEN coalesce(i.run_at, ${NOW}) > ${NOW} THEN 'scheduled' ELSE 'available' END AS state
          FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::timestamptz[],
                      $8::bigint[], $9::text[], $10::text[], $11::text[], $12::int[])
               WITH ORDINALITY AS i(name, queue, payload, priority, max_attempts, run_at, timeout_ms, schedule_id, meta,
                                    concurrency_key, concurrency_limit, ord)
        ),
        inserted AS (
          INSERT INTO ${s}.jobs (id, name, queue, payload, state, priority, max_attempts, run_at, created_at,
                                 timeout_ms, schedule_id, meta, concurrency_key, concurrency_limit)
          SELECT id, name, queue, payload, state, priority, max_attempts, coalesce(run_at, ${NOW}), ${NOW},
                 timeout_ms, schedule_id, meta, concurrency_key, concurrency_limit
          FROM input
        )
        SELECT string_agg(id::text, ',' ORDER BY ord) AS ids,
               string_agg(CASE WHEN state = 'available' THEN 'a' ELSE 's' END, '' ORDER BY ord) AS states,
               ${NOW}::text AS created_at
        FROM input`,
    },
    // One job without a key (enqueue of a single job, the latency path): the same insert as
    // insertUnkeyed with scalar parameters, no arrays to build and unnest and no CTE.
    insertOne: {
      name: n('job_insert_one'),
      text: `
        INSERT INTO ${s}.jobs (name, queue, payload, state, priority, max_attempts, run_at, created_at,
                               timeout_ms, schedule_id, meta, concurrency_key, concurrency_limit)
        VALUES ($2, $3, $4, CASE WHEN coalesce($7::timestamptz, ${NOW}) > ${NOW} THEN 'scheduled' ELSE 'available' END,
                $5, $6, coalesce($7::timestamptz, ${NOW}), ${NOW}, $8, $9, $10, $11, $12)
        RETURNING id::text AS ids, CASE WHEN state = 'available' THEN 'a' ELSE 's' END AS states, created_at::text AS created_at`,
    },
    // Runs only after a key conflict, as its own statement: a fresh snapshot sees the conflicting
    // job even when its transaction committed while our INSERT waited on it.
    selectByKeys: {
      text: `
        SELECT ${jobColumns('j')} FROM ${s}.jobs j
        JOIN unnest($1::text[], $2::text[]) AS k(name, key) ON j.name = k.name AND j.key = k.key
        WHERE j.state IN ${KEY_BLOCKING}`,
    },
    // The claim. Why two fetches never return the same job: the inner SELECT locks each candidate
    // row FOR UPDATE, and SKIP LOCKED makes a concurrent fetch pass over rows another transaction
    // holds instead of waiting for them. A row changed and committed after our snapshot is re-read
    // when locked and re-checked against the WHERE clause (READ COMMITTED re-evaluation), so a job
    // claimed, cancelled or finished meanwhile is not picked. The lock lasts until the UPDATE
    // commits with state = 'running', after which the row no longer matches CLAIMABLE.
    fetch: {
      name: n('job_fetch'),
      text: `
        UPDATE ${s}.jobs AS j
        ${CLAIM_SET}
        WHERE j.id IN (
          SELECT c.id FROM ${s}.jobs c
          WHERE c.queue = $2 AND c.state IN ${CLAIMABLE} AND c.run_at <= ${NOW}
            AND NOT EXISTS (SELECT 1 FROM ${s}.paused_queues p WHERE p.queue = $2)
            AND NOT EXISTS (SELECT 1 FROM ${s}.queue_holds h WHERE h.queue = $2 AND h.until > ${NOW})
          ORDER BY c.priority DESC, c.run_at, c.id
          LIMIT $5
          FOR UPDATE SKIP LOCKED
        )
        RETURNING ${jobColumns('j')}`,
    },
    // The claim under a queue-wide limit (`jobFetch({ globalConcurrency })`), run after
    // `fetchLock` in one transaction. The lock serializes every limited claim of the queue (and
    // is released at commit), and this statement starts after it is granted, so its snapshot
    // (READ COMMITTED) sees every claim committed before: the running count it subtracts from $6
    // cannot be stale by another limited claim. Finishes are not serialized; they only lower the
    // count, so at worst a claim takes fewer than it could. SKIP LOCKED as in \`fetch\`, for
    // claims that are not limited (by id, or by a worker configured without the limit).
    fetchLock: {
      name: n('job_fetch_lock'),
      text: `SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))`,
    },
    fetchLimited: {
      name: n('job_fetch_limited'),
      text: `
        UPDATE ${s}.jobs AS j
        ${CLAIM_SET}
        WHERE j.id IN (
          SELECT c.id FROM ${s}.jobs c
          WHERE c.queue = $2 AND c.state IN ${CLAIMABLE} AND c.run_at <= ${NOW}
            AND NOT EXISTS (SELECT 1 FROM ${s}.paused_queues p WHERE p.queue = $2)
            AND NOT EXISTS (SELECT 1 FROM ${s}.queue_holds h WHERE h.queue = $2 AND h.until > ${NOW})
          ORDER BY c.priority DESC, c.run_at, c.id
          LIMIT greatest(0, least($5::bigint, $6::bigint - (
            SELECT coalesce(sum(q.n), 0) FROM ${s}.queue_counts q WHERE q.queue = $2 AND q.state = 'running')))
          FOR UPDATE SKIP LOCKED
        )
        RETURNING ${jobColumns('j')}`,
    },
    // The claim under a queue's rate limit (no per-key limits), after `fetchLock`, in one round
    // trip: it takes at most the room left in the window ($6 max, $7 window ms; the queue-wide
    // concurrency limit too when $8 is not NULL), records what it took and forgets what left
    // the window. A rate-limited job is given back by the worker when its claim's answer comes
    // too late (see the worker's dispatch), so a short claim matters here.
    fetchRated: {
      name: n('job_fetch_rated'),
      text: `
        WITH claimed AS (
          UPDATE ${s}.jobs AS j
          ${CLAIM_SET}
          WHERE j.id IN (
            SELECT c.id FROM ${s}.jobs c
            WHERE c.queue = $2 AND c.state IN ${CLAIMABLE} AND c.run_at <= ${NOW}
              AND NOT EXISTS (SELECT 1 FROM ${s}.paused_queues p WHERE p.queue = $2)
              AND NOT EXISTS (SELECT 1 FROM ${s}.queue_holds h WHERE h.queue = $2 AND h.until > ${NOW})
            ORDER BY c.priority DESC, c.run_at, c.id
            LIMIT greatest(0, least($5::bigint,
              $6::bigint - (SELECT coalesce(sum(l.n), 0) FROM ${s}.rate_log l
                            WHERE l.queue = $2 AND l.key IS NULL AND l.at > ${CLOCK} - $7::float8 * interval '1 millisecond'),
              coalesce($8::bigint - (SELECT coalesce(sum(q.n), 0) FROM ${s}.queue_counts q WHERE q.queue = $2 AND q.state = 'running'), $5::bigint)))
            FOR UPDATE SKIP LOCKED
          )
          RETURNING ${jobColumns('j')}
        ),
        logged AS (
          INSERT INTO ${s}.rate_log (queue, at, n)
          SELECT $2, ${CLOCK}, count(*) FROM claimed HAVING count(*) > 0
        ),
        forgotten AS (
          DELETE FROM ${s}.rate_log WHERE queue = $2 AND key IS NULL AND at <= ${CLOCK} - $7::float8 * interval '1 millisecond'
        )
        SELECT * FROM claimed`,
    },
    // The claim under per-key limits (`jobFetch({ perKeyConcurrency })`), after `fetchLock` like
    // `fetchLimited`, and with its queue-wide limit when $6 is not NULL. Every due job of the queue
    // is ranked within its key in claim order; a keyed job is a candidate while its rank plus the
    // jobs of its key running now stays within its own limit, so each key offers only what it has
    // room for and the claim order picks among all keys (a key with thousands waiting takes its
    // slots and no more). The lock makes the running counts current for every limited claim; the
    // candidates are then locked SKIP LOCKED as in \`fetch\`, a window function not being allowed
    // under FOR UPDATE. $7 bounds how many due jobs (in claim order) are ranked, NULL for all: a
    // job's rank among a prefix is its rank among all, so the caller ranks a short prefix first
    // and every due job only when that found too few (as on SQLite).
    fetchKeyed: {
      name: n('job_fetch_keyed'),
      text: `
        WITH busy AS (
          SELECT r.concurrency_key AS k, count(*) AS n FROM ${s}.jobs r
          WHERE r.queue = $2 AND r.state = 'running' AND r.concurrency_key IS NOT NULL
          GROUP BY r.concurrency_key
        ),
        due AS (
          SELECT c.id, c.priority, c.run_at, c.concurrency_key AS k, c.concurrency_limit AS lim,
                 row_number() OVER (PARTITION BY c.concurrency_key ORDER BY c.priority DESC, c.run_at, c.id) AS r,
                 c.rate_key AS rk, c.rate_max AS rmax, c.rate_per_ms AS rms,
                 row_number() OVER (PARTITION BY c.rate_key ORDER BY c.priority DESC, c.run_at, c.id) AS rr
          FROM (
            SELECT d.id, d.priority, d.run_at, d.concurrency_key, d.concurrency_limit, d.rate_key, d.rate_max, d.rate_per_ms FROM ${s}.jobs d
            WHERE d.queue = $2 AND d.state IN ${CLAIMABLE} AND d.run_at <= ${NOW}
              AND NOT EXISTS (SELECT 1 FROM ${s}.paused_queues p WHERE p.queue = $2)
              AND NOT EXISTS (SELECT 1 FROM ${s}.queue_holds h WHERE h.queue = $2 AND h.until > ${NOW})
            ORDER BY d.priority DESC, d.run_at, d.id
            LIMIT $7
          ) c
        ),
        candidates AS (
          SELECT due.id, due.priority, due.run_at FROM due LEFT JOIN busy ON busy.k = due.k
          WHERE (due.k IS NULL OR due.r + coalesce(busy.n, 0) <= coalesce(due.lim, 1))
            -- A per-key rate limit: the key's claims still in this job's window, plus its rank.
            AND (due.rk IS NULL OR due.rr + coalesce((
              SELECT sum(l.n) FROM ${s}.rate_log l
              WHERE l.queue = $2 AND l.key = due.rk
                AND l.at > ${CLOCK} - (due.rms + ${margin('due.rms')}) * interval '1 millisecond'), 0) <= due.rmax)
        )
        UPDATE ${s}.jobs AS j
        ${CLAIM_SET}
        WHERE j.id IN (
          SELECT c.id FROM ${s}.jobs c
          WHERE c.id IN (SELECT id FROM candidates) AND c.state IN ${CLAIMABLE}
          ORDER BY c.priority DESC, c.run_at, c.id
          LIMIT greatest(0, least($5::bigint, coalesce($6::bigint - (
            SELECT coalesce(sum(q.n), 0) FROM ${s}.queue_counts q WHERE q.queue = $2 AND q.state = 'running'), $5::bigint)))
          FOR UPDATE SKIP LOCKED
        )
        RETURNING ${jobColumns('j')}`,
    },
    // Rate limits and holds ($1 is the injected clock, as everywhere). The rate statements read
    // the clock when they run (clock_timestamp), not when the transaction began (now()): a claim
    // that waited for the queue's lock must count, and be recorded, at the time it claims.
    // A hold never shortens one already there.
    queueHold: {
      name: n('queue_hold'),
      text: `INSERT INTO ${s}.queue_holds (queue, until) VALUES ($2, ${CLOCK} + $3::float8 * interval '1 millisecond')
             ON CONFLICT (queue) DO UPDATE SET until = greatest(${s}.queue_holds.until, excluded.until)`,
    },
    // One row: the hold's end (NULL: none) and the clock.
    queueHoldUntil: {
      name: n('queue_hold_until'),
      text: `SELECT (SELECT until FROM ${s}.queue_holds WHERE queue = $2 AND until > ${CLOCK}) AS until, ${CLOCK} AS now`,
    },
    // Jobs claimed under a queue's rate limit in the last $3 ms, and the store's now.
    rateUsed: {
      name: n('rate_used'),
      text: `SELECT coalesce(sum(n), 0)::int AS n, ${CLOCK} AS now FROM ${s}.rate_log WHERE queue = $2 AND key IS NULL AND at > ${CLOCK} - $3::float8 * interval '1 millisecond'`,
    },
    rateWindow: {
      name: n('rate_window'),
      text: `SELECT at, n FROM ${s}.rate_log WHERE queue = $2 AND key IS NULL AND at > ${CLOCK} - $3::float8 * interval '1 millisecond' ORDER BY at DESC`,
    },
    rateLog: { name: n('rate_log'), text: `INSERT INTO ${s}.rate_log (queue, at, n) VALUES ($2, ${CLOCK}, $3)` },
    rateForget: { name: n('rate_forget'), text: `DELETE FROM ${s}.rate_log WHERE queue = $2 AND key IS NULL AND at <= ${CLOCK} - $3::float8 * interval '1 millisecond'` },
    // Claims given back unstarted (see JobFinish released rateRefund): $1 job ids, $2 their
    // claims' times (the attempt's start the finish returned, not read again: the job may have
    // been claimed anew since), $3/$4 whether the queue's and the key's count come back. Each
    // refund is a claim of −1 dated no later than the claim it cancels.
    rateRefund: {
      name: n('rate_refund'),
      text: `
        INSERT INTO ${s}.rate_log (queue, key, at, n, window_ms)
        SELECT j.queue, NULL, r.at, -1, NULL
        FROM unnest($1::bigint[], $2::timestamptz[], $3::bool[], $4::bool[]) AS r(id, at, by_queue, by_key) JOIN ${s}.jobs j ON j.id = r.id
        WHERE r.by_queue
        UNION ALL
        SELECT j.queue, j.rate_key, r.at, -1, j.rate_per_ms + ${margin('j.rate_per_ms')}
        FROM unnest($1::bigint[], $2::timestamptz[], $3::bool[], $4::bool[]) AS r(id, at, by_queue, by_key) JOIN ${s}.jobs j ON j.id = r.id
        WHERE r.by_key AND j.rate_key IS NOT NULL`,
    },
    // A late start (see Store.jobRateLateStart) of job $2 running under token $3: its claim's
    // counts, −1 at the attempt's start and +1 now, for the queue ($4) and its rate key ($5).
    rateLateStart: {
      name: n('rate_late_start'),
      text: `
        WITH j AS (
          SELECT queue, rate_key, rate_per_ms, attempted_at FROM ${s}.jobs
          WHERE id = $2::bigint AND lease_token = $3 AND state = 'running' AND attempted_at IS NOT NULL
        ), m(moved, n) AS (VALUES (false, -1), (true, 1))
        INSERT INTO ${s}.rate_log (queue, key, at, n, window_ms)
        SELECT j.queue, NULL, CASE WHEN m.moved THEN ${CLOCK} ELSE j.attempted_at END, m.n, NULL FROM j, m WHERE $4::bool
        UNION ALL
        SELECT j.queue, j.rate_key, CASE WHEN m.moved THEN ${CLOCK} ELSE j.attempted_at END, m.n, j.rate_per_ms + ${margin('j.rate_per_ms')}
        FROM j, m WHERE $5::bool AND j.rate_key IS NOT NULL`,
    },
    // Per-key claims ($2: the ids just claimed), one log row per key with the key's window (ms).
    rateKeyLog: {
      name: n('rate_key_log'),
      text: `
        INSERT INTO ${s}.rate_log (queue, key, at, n, window_ms)
        SELECT queue, rate_key, ${CLOCK}, count(*), max(rate_per_ms + ${margin('rate_per_ms')}) FROM ${s}.jobs
        WHERE id = ANY ($2::bigint[]) AND rate_key IS NOT NULL
        GROUP BY queue, rate_key`,
    },
    // Holds job $2's rate key: a log row that fills the key's window until the hold ends ($3: hold
    // ms), dated so that it leaves the window exactly then (at + window = the hold's end).
    rateKeyHold: {
      name: n('rate_key_hold'),
      text: `INSERT INTO ${s}.rate_log (queue, key, at, n, window_ms)
             SELECT queue, rate_key, ${CLOCK} + ($3::float8 - rate_per_ms - ${margin('rate_per_ms')}) * interval '1 millisecond', 2147483647, rate_per_ms + ${margin('rate_per_ms')}
             FROM ${s}.jobs WHERE id = $2::bigint AND rate_key IS NOT NULL`,
    },
    rateKeyForget: {
      name: n('rate_key_forget'),
      text: `DELETE FROM ${s}.rate_log WHERE queue = $2 AND key IS NOT NULL AND at + window_ms * interval '1 millisecond' <= ${CLOCK}`,
    },
    // When the first per-key claim of the queue leaves its key's window, or NULL (a refund, n < 0, frees nothing by leaving).
    rateKeyNextFree: {
      name: n('rate_key_next_free'),
      text: `SELECT min(at + window_ms * interval '1 millisecond') AS at FROM ${s}.rate_log
             WHERE queue = $2 AND key IS NOT NULL AND n > 0 AND at + window_ms * interval '1 millisecond' > ${CLOCK}`,
    },
    // A job's per-key rate limit, its key's claims still in its window (holds included), and the clock.
    jobRateWindow: {
      name: n('job_rate_window'),
      text: `
        SELECT j.rate_key AS key, j.rate_max AS max, j.rate_per_ms AS per_ms, ${CLOCK} AS now,
               coalesce((SELECT json_agg(json_build_array((extract(epoch FROM l.at) * 1000)::float8, l.n))
                         FROM ${s}.rate_log l
                         WHERE l.queue = j.queue AND l.key = j.rate_key
                           AND l.at > ${CLOCK} - (j.rate_per_ms + ${margin('j.rate_per_ms')}) * interval '1 millisecond'), '[]'::json) AS claims
        FROM ${s}.jobs j WHERE j.id = $2::bigint AND j.rate_key IS NOT NULL`,
    },
    jobSetRateKey: { name: n('job_set_rate_key'), text: `UPDATE ${s}.jobs SET rate_key = $2, rate_max = $3, rate_per_ms = $4 WHERE id = $1::bigint` },
    // Throttle and debounce (store/debounce.ts), each inside a transaction that first takes a
    // transaction-scoped advisory lock on the schema, job name and key ($1 is its text): two
    // enqueues of one key in different processes then look and write one after the other, and
    // the second sees the first's job. The run time of a debounced job is computed here with the
    // same rule as debouncedRunAt: delay from now, but not past the deadline.
    keyLock: { name: n('key_lock'), text: `SELECT pg_advisory_xact_lock(hashtextextended($1::text, 1))` },
    throttled: {
      name: n('throttled'),
      text: `SELECT ${jobColumns()} FROM ${s}.jobs WHERE name = $2 AND throttle_key = $3
             AND created_at > ${NOW} - $4::float8 * interval '1 millisecond' ORDER BY id DESC LIMIT 1`,
    },
    setThrottleKey: { name: n('set_throttle_key'), text: `UPDATE ${s}.jobs SET throttle_key = $2 WHERE id = $1::bigint` },
    debounced: {
      name: n('debounced'),
      text: `SELECT id::text AS id FROM ${s}.jobs WHERE name = $1 AND debounce_key = $2 AND state IN ('scheduled', 'available') ORDER BY id DESC LIMIT 1 FOR UPDATE`,
    },
    debounceMove: {
      name: n('debounce_move'),
      text: `
        WITH moved AS (
          SELECT least(${NOW} + $4::float8 * interval '1 millisecond', greatest(${NOW}, coalesce(debounce_deadline, 'infinity'::timestamptz))) AS run_at
          FROM ${s}.jobs WHERE id = $2::bigint
        )
        UPDATE ${s}.jobs AS j SET payload = $3, run_at = moved.run_at,
               state = CASE WHEN moved.run_at > ${NOW} THEN 'scheduled' ELSE 'available' END
        FROM moved WHERE j.id = $2::bigint
        RETURNING ${jobColumns('j')}`,
    },
    setDebounce: {
      name: n('set_debounce'),
      text: `
        UPDATE ${s}.jobs SET debounce_key = $3,
               debounce_deadline = CASE WHEN $4::float8 IS NULL THEN NULL ELSE ${NOW} + $4::float8 * interval '1 millisecond' END,
               run_at = ${NOW} + $5::float8 * interval '1 millisecond',
               state = CASE WHEN $5::float8 > 0 THEN 'scheduled' ELSE state END
        WHERE id = $2::bigint
        RETURNING ${jobColumns()}`,
    },
    // Dependencies (store/job-dependencies.ts). The states a new job's dependencies are in, each
    // row locked FOR SHARE until the insert commits: a dependency cannot finish in between, so its
    // finish (whose settle runs after it commits) always finds the new edge, or the insert sees it
    // finished (READ COMMITTED re-reads a row once its lock is released).
    depStates: {
      name: n('dep_states'),
      text: `SELECT id::text AS id, state FROM ${s}.jobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR SHARE`,
    },
    // One job that names dependencies, with the state its plan decided ($15: 'waiting' or NULL for
    // its normal state), its count of unsettled edges and its policy. A key conflict inserts
    // nothing (the caller reads the job holding the key, as for any insert).
    insertDependent: {
      name: n('job_insert_dependent'),
      text: `
        INSERT INTO ${s}.jobs (name, queue, payload, state, priority, max_attempts, run_at, created_at,
                               key, timeout_ms, schedule_id, meta, concurrency_key, concurrency_limit, deps_pending, on_dep_failure)
        VALUES ($2, $3, $4, coalesce($15::text, CASE WHEN coalesce($7::timestamptz, ${NOW}) > ${NOW} THEN 'scheduled' ELSE 'available' END),
                $5, $6, coalesce($7::timestamptz, ${NOW}), ${NOW}, $8, $9, $10, $11, $12, $13, $14, $16)
        ON CONFLICT (name, key) WHERE key IS NOT NULL AND state IN ${KEY_BLOCKING} DO NOTHING
        RETURNING ${jobColumns()}`,
    },
    depEdges: {
      name: n('dep_edges'),
      text: `
        WITH edges AS (
          INSERT INTO ${s}.job_deps (job_id, depends_on, resolved)
          SELECT $1::bigint, e.depends_on, e.resolved FROM unnest($2::bigint[], $3::bool[]) AS e(depends_on, resolved)
          ON CONFLICT DO NOTHING
          RETURNING depends_on
        )
        UPDATE ${s}.jobs SET has_dependents = true WHERE id IN (SELECT depends_on FROM edges) AND NOT has_dependents`,
    },
    // Queues that got a job due now, one row each time one did.
    depSettle: {
      name: n('dep_settle'),
      text: `SELECT queue FROM ${s}.settle_dependents($2::bigint[], $3::text[], ${NOW}) AS queue`,
    },
    // The same, one row per job moved out of waiting: its id, new state and queue (migration 23).
    depSettleChanges: {
      text: `SELECT changed_id::text AS id, changed_state AS state, changed_queue AS queue FROM ${s}.settle_dependents_changes($2::bigint[], $3::text[], ${NOW})`,
    },
    // Stranded waiting jobs (Store.jobSettleStranded), run by the rescuer on each pass. Both
    // searches start from the partial index of waiting jobs (migration 23) and reach each one's
    // edges by primary key: their cost follows the waiting jobs, never the size of the jobs or
    // edges tables (edges of finished jobs stay until they are pruned).
    // Ended dependencies with an unsettled edge from a waiting job whose policy settles that end
    // now ($2: the policies that leave a failed dependency's edge open, job-dependencies.ts).
    // OFFSET 0 keeps the edge lookup a per-job subquery: flattened into a join, the planner may
    // prefer hashing a scan of every unsettled edge to looking up a few waiting jobs' edges.
    depStrandedEnded: {
      text: `
        SELECT p.id::text AS id, p.state FROM ${s}.jobs w
        CROSS JOIN LATERAL (SELECT d.depends_on FROM ${s}.job_deps d WHERE d.job_id = w.id AND NOT d.resolved OFFSET 0) AS d
        JOIN ${s}.jobs p ON p.id = d.depends_on
        WHERE w.state = 'waiting'
          AND (p.state = 'completed'
               OR (p.state IN ('dead', 'cancelled') AND coalesce(w.on_dep_failure, 'cancel') <> ALL ($2::text[])))
        GROUP BY p.id
        ORDER BY p.id
        LIMIT $1`,
    },
    // Waiting jobs counting more unsettled edges than they have: the others went with a
    // dependency that was deleted (ON DELETE CASCADE) before they settled.
    depStrandedOrphans: {
      text: `
        SELECT id::text AS id, policy FROM (
          SELECT w.id, w.on_dep_failure AS policy, w.deps_pending,
                 (SELECT count(*) FROM ${s}.job_deps d WHERE d.job_id = w.id AND NOT d.resolved) AS unsettled
          FROM ${s}.jobs w
          WHERE w.state = 'waiting'
        ) AS c
        WHERE deps_pending > unsettled
        ORDER BY c.id
        LIMIT $1`,
    },
    // Under `run`, the edges that went with their dependency count as settled: due once none is
    // left. The count comes from this statement's snapshot; a settle that commits meanwhile only
    // resolves edges, lowering deps_pending with them, and the WHERE clause is re-checked on the
    // job's latest row (READ COMMITTED) against that older count, which is never below the true
    // one: deps_pending never drops below the edges still open, and a job the race left short is
    // found again on the next pass.
    depOrphanRelease: {
      text: `
        UPDATE ${s}.jobs AS j
        SET deps_pending = c.unsettled,
            state = CASE WHEN c.unsettled > 0 THEN j.state WHEN j.run_at > ${NOW} THEN 'scheduled' ELSE 'available' END
        FROM (
          SELECT w.id, (SELECT count(*)::int FROM ${s}.job_deps d WHERE d.job_id = w.id AND NOT d.resolved) AS unsettled
          FROM ${s}.jobs w WHERE w.id = ANY ($2::bigint[])
        ) AS c
        WHERE j.id = c.id AND j.state = 'waiting' AND j.deps_pending > c.unsettled
        RETURNING j.id::text AS id, j.state, j.queue`,
    },
    // Under `cancel` and `wait`: cancelled with the caller's error ($3). Re-checked as above, so a
    // job whose last edge a concurrent settle just resolved is not cancelled for it.
    depOrphanCancel: {
      text: `
        UPDATE ${s}.jobs AS j
        SET state = 'cancelled', finished_at = ${NOW}, last_error = $3::jsonb
        WHERE j.id = ANY ($2::bigint[]) AND j.state = 'waiting'
          AND j.deps_pending > (SELECT count(*) FROM ${s}.job_deps d WHERE d.job_id = j.id AND NOT d.resolved)
        RETURNING j.id::text AS id`,
    },
    dependencies: {
      name: n('job_dependencies'),
      text: `
        SELECT ${jobColumns('j')}, d.resolved AS dep_resolved FROM ${s}.job_deps d
        JOIN ${s}.jobs j ON j.id = d.depends_on
        WHERE d.job_id = $1::bigint
        ORDER BY j.id`,
    },
    // Running jobs holding a concurrency key (the partial running-key index).
    keyHolders: {
      name: n('job_key_holders'),
      text: `
        SELECT ${jobColumns()} FROM ${s}.jobs
        WHERE queue = $1 AND concurrency_key = $2 AND state = 'running'
        ORDER BY attempted_at, id
        LIMIT $3`,
    },
    // The claim of given jobs (`jobFetch({ ids })`, `nightshift run`): only those of the queue in a
    // claimable state, whatever their run_at or a pause of the queue (the caller asks to run them
    // now, so one held back to a later run_at is due from its claim on). FOR UPDATE without SKIP
    // LOCKED: a listed row that a concurrent fetch, cancel or retry holds is waited for, then
    // re-checked against the WHERE clause (READ COMMITTED re-evaluation), so the job is claimed
    // by exactly one of them and a busy row is not mistaken for a gone one. Queue fetches never
    // wait (SKIP LOCKED), so this cannot deadlock with them; a row that fails the re-check is
    // dropped, so fewer than $5 rows may come back.
    fetchIds: {
      name: n('job_fetch_ids'),
      text: `
        UPDATE ${s}.jobs AS j
        ${CLAIM_SET},
            run_at = least(j.run_at, ${NOW})
        WHERE j.id IN (
          SELECT c.id FROM ${s}.jobs c
          WHERE c.id = ANY($6::bigint[]) AND c.queue = $2 AND c.state IN ${CLAIMABLE}
          ORDER BY c.priority DESC, c.run_at, c.id
          LIMIT $5
          FOR UPDATE
        )
        RETURNING ${jobColumns('j')}`,
    },
    // Every outcome of a batch in one statement. The fence is the WHERE clause: a row is written
    // only while it is still running under the token the worker claimed it with; the UPDATE takes
    // the row lock and re-checks that condition on the latest row version, so a concurrent rescue
    // or cancel and this write cannot both apply. Snoozed and released attempts give their attempt
    // back. RETURNING sees the new attempt value, hence the +1 to record the attempt that ran.
    // Retries and snoozes arrive as delays in ms ($7) and are added to this statement's now, so
    // the server's clock (or the injected test clock) decides when they run, not the worker's.
    //
    // A completed attempt gets no job_attempts row: the completed job row already holds all of it
    // (attempt, lease_owner, attempted_at, finished_at, result) and job_attempt_history derives it
    // from there (migrations 5 and 7); jobRetry writes it out before the row is reused. Every other
    // outcome is appended to job_attempts here.
    //
    // Durability: this statement commits with synchronous_commit off (set_config(…, true) lasts
    // until the end of its own implicit transaction). The commit returns before its WAL is flushed;
    // the WAL writer flushes it within a few hundred ms, and any later synchronous commit (the
    // next claim, an enqueue) flushes it first. Only a crash of the PostgreSQL server (not of a
    // worker) inside that window can lose it, and losing a finish is the case at-least-once
    // already covers: the job is still running under the old lease, the rescuer takes it back
    // when the lease expires, records that attempt as lost, and the job runs again. Never lost:
    // enqueues and claims, which keep the server's synchronous commit. The gain is that finishes
    // stop waiting on (and queueing behind) WAL flushes, which claims on other connections need.
    finish: {
      name: n('job_finish'),
      text: `
        WITH input AS (
          SELECT i.* FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit,
                          unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::float8[], $8::float8[])
                            AS i(id, token, outcome, result, error, delay_ms, start_delay_ms)
        ),
        updated AS (
          UPDATE ${s}.jobs AS j
          SET state = CASE i.outcome
                        WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'retryable' WHEN 'dead' THEN 'dead'
                        WHEN 'snoozed' THEN 'scheduled' WHEN 'cancelled' THEN 'cancelled' ELSE 'available' END,
              attempt = CASE WHEN i.outcome IN ('snoozed', 'released') THEN greatest(j.attempt - 1, 0) ELSE j.attempt END,
              run_at = CASE WHEN i.outcome IN ('failed', 'snoozed') THEN ${NOW} + i.delay_ms * interval '1 millisecond' ELSE j.run_at END,
              finished_at = CASE WHEN i.outcome IN ('completed', 'dead', 'cancelled') THEN ${NOW} ELSE NULL END,
              result = CASE WHEN i.outcome = 'completed' THEN i.result ELSE j.result END,
              attempted_at = j.attempted_at + coalesce(i.start_delay_ms, 0) * interval '1 millisecond',
              last_error = CASE WHEN i.outcome IN ('failed', 'dead', 'cancelled') THEN i.error ELSE j.last_error END,
              lease_token = NULL,
              lease_expires_at = NULL
          FROM input AS i
          WHERE j.id = i.id AND j.state = 'running' AND j.lease_token = i.token
          RETURNING j.id, i.token, j.queue, j.lease_owner, j.attempted_at, i.outcome, i.error, i.result, j.has_dependents,
                    CASE WHEN i.outcome IN ('snoozed', 'released') THEN j.attempt + 1 ELSE j.attempt END AS ran_attempt
        ),
        recorded AS (
          INSERT INTO ${s}.job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result)
          SELECT id, ran_attempt, coalesce(lease_owner, ''), coalesce(attempted_at, ${NOW}), ${NOW}, outcome,
                 CASE WHEN outcome IN ('failed', 'dead', 'cancelled') THEN error END,
                 NULL
          FROM updated WHERE outcome <> 'completed'
        )
        SELECT id::text AS id, token, queue, outcome, has_dependents, CASE WHEN outcome = 'released' THEN attempted_at END AS released_claim FROM updated`,
    },
    // Fenced like finish: only rows still running under the caller's token are extended.
    heartbeat: {
      name: n('job_heartbeat'),
      text: `
        UPDATE ${s}.jobs AS j
        SET lease_expires_at = ${NOW} + $2::float8 * interval '1 millisecond',
            progress = CASE WHEN i.set_progress THEN i.progress ELSE j.progress END
        FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bool[]) AS i(id, token, progress, set_progress)
        WHERE j.id = i.id AND j.state = 'running' AND j.lease_token = i.token
        RETURNING j.id::text AS id, i.token`,
    },
    // Expired leases. The CTE locks the expired rows (skipping rows a finishing worker holds right
    // now); a worker's fenced finish that commits first makes the row fail the re-check, and one
    // that comes after finds the token cleared. Either way exactly one of them applies.
    rescue: {
      name: n('job_rescue'),
      text: `
        WITH expired AS (
          SELECT id FROM ${s}.jobs
          WHERE state = 'running' AND lease_expires_at <= ${NOW}
          ORDER BY lease_expires_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED
        ),
        updated AS (
          UPDATE ${s}.jobs AS j
          SET state = CASE WHEN j.attempt < j.max_attempts THEN 'retryable' ELSE 'dead' END,
              run_at = CASE WHEN j.attempt < j.max_attempts THEN ${NOW} ELSE j.run_at END,
              finished_at = CASE WHEN j.attempt < j.max_attempts THEN NULL ELSE ${NOW} END,
              last_error = $3::jsonb,
              lease_token = NULL,
              lease_expires_at = NULL
          FROM expired AS e
          WHERE j.id = e.id
          RETURNING ${jobColumns('j')}
        ),
        recorded AS (
          INSERT INTO ${s}.job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result)
          SELECT id::bigint, attempt, coalesce(lease_owner, ''), coalesce(attempted_at, ${NOW}), ${NOW}, 'lost', $3::jsonb, NULL
          FROM updated
        )
        SELECT * FROM updated`,
    },
    get: { name: n('job_get'), text: `SELECT ${jobColumns()} FROM ${s}.jobs WHERE id = $1::bigint` },
    // Recorded attempts and the completed one kept in the job row (job_attempt_history), oldest
    // first; the derived row has no seq and comes last.
    attempts: {
      text: `
        SELECT job_id::text AS job_id, attempt, worker_id, started_at, finished_at, outcome, error, result
        FROM ${s}.job_attempt_history WHERE job_id = $1::bigint ORDER BY seq NULLS LAST`,
    },
    // Cancels a non-final job; a running one loses its lease (its worker's fenced writes will be
    // refused) and its attempt is recorded as cancelled.
    cancel: {
      text: `
        WITH target AS (
          SELECT id, state, attempt, lease_owner, attempted_at FROM ${s}.jobs
          WHERE id = $2::bigint AND state NOT IN ${FINAL}
          FOR UPDATE
        ),
        updated AS (
          UPDATE ${s}.jobs AS j
          SET state = 'cancelled', finished_at = ${NOW}, last_error = $3::jsonb, lease_token = NULL, lease_expires_at = NULL
          FROM target AS t
          WHERE j.id = t.id
          RETURNING ${jobColumns('j')}, t.state AS previous_state
        ),
        recorded AS (
          INSERT INTO ${s}.job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result)
          SELECT t.id, t.attempt, coalesce(t.lease_owner, ''), coalesce(t.attempted_at, ${NOW}), ${NOW}, 'cancelled', $3::jsonb, NULL
          FROM target AS t JOIN updated AS u ON u.id = t.id::text
          WHERE t.state = 'running'
        )
        SELECT * FROM updated`,
    },
    // Running jobs are left alone (their worker owns them); everything else becomes available now,
    // with one more attempt when all were used. A completed job's last attempt lives only in its
    // row (see finish), so it is appended to job_attempts in the same statement before the row is
    // reused. FOR UPDATE makes a concurrent retry wait and then see this one's result (state
    // available), so the attempt is written once.
    retry: {
      text: `
        WITH target AS (
          SELECT id, state, attempt, lease_owner, attempted_at, finished_at, result FROM ${s}.jobs
          WHERE id = $2::bigint AND state IN ('completed', 'dead', 'cancelled', 'retryable', 'scheduled')
          FOR UPDATE
        ),
        updated AS (
          UPDATE ${s}.jobs AS j
          SET state = 'available', run_at = ${NOW}, finished_at = NULL, lease_token = NULL, lease_expires_at = NULL,
              max_attempts = greatest(j.max_attempts, j.attempt + 1)
          FROM target AS t
          WHERE j.id = t.id
          RETURNING ${jobColumns('j')}
        ),
        recorded AS (
          INSERT INTO ${s}.job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result)
          SELECT t.id, t.attempt, coalesce(t.lease_owner, ''), coalesce(t.attempted_at, t.finished_at), t.finished_at, 'completed', NULL, t.result
          FROM target AS t JOIN updated AS u ON u.id = t.id::text
          WHERE t.state = 'completed'
            -- Not when a process of a version before 5 already recorded it (rolling upgrade).
            AND NOT EXISTS (
              SELECT 1 FROM ${s}.job_attempts AS r WHERE r.job_id = t.id AND r.attempt = t.attempt AND r.outcome = 'completed'
            )
        )
        SELECT * FROM updated`,
    },
    // Kept by statement triggers (migration 13), summed over their shards: a few rows, never a jobs scan.
    stats: { text: `SELECT queue, state, sum(n)::int AS count FROM ${s}.queue_counts GROUP BY queue, state HAVING sum(n) <> 0 ORDER BY queue` },
    // Deletes in id batches; attempts go with their job (ON DELETE CASCADE).
    prune: {
      text: `
        DELETE FROM ${s}.jobs WHERE id IN (
          SELECT id FROM ${s}.jobs
          WHERE state = ANY($1::text[]) AND state IN ${FINAL} AND finished_at < $2
            ${pruneScope(4)}
          ORDER BY finished_at
          LIMIT $3
          FOR UPDATE SKIP LOCKED
        )`,
    },
    // Results past their time to live (keepResult): cleared, the jobs stay.
    resultPrune: {
      text: `
        UPDATE ${s}.jobs SET result = NULL WHERE id IN (
          SELECT id FROM ${s}.jobs
          WHERE state = 'completed' AND finished_at < $1 AND result IS NOT NULL
            ${pruneScope(3)}
          ORDER BY finished_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED
        )`,
    },
    // Attempts go with their job (ON DELETE CASCADE). A row locked by a concurrent retry waits
    // for it, then is re-checked: no longer final, it stays.
    deleteFinal: {
      text: `DELETE FROM ${s}.jobs WHERE id = ANY($1::bigint[]) AND state IN ${FINAL} RETURNING id::text AS id`,
    },
    notify: { text: 'SELECT pg_notify($1, $2)' },
    queuePause: {
      text: `INSERT INTO ${s}.paused_queues (queue, paused_at) VALUES ($2, ${NOW}) ON CONFLICT (queue) DO NOTHING`,
    },
    queueResume: { text: `DELETE FROM ${s}.paused_queues WHERE queue = $1` },
    queuePausedList: { text: `SELECT queue FROM ${s}.paused_queues ORDER BY queue` },
    queuePausedSince: { text: `SELECT queue, paused_at FROM ${s}.paused_queues ORDER BY queue` },
    timeNow: { text: 'SELECT now() AS now' },
  };
}
