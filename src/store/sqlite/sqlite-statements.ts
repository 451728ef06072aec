/**
 * Every SQL statement of the SQLite store, one named constant each. Parameters are always bound
 * (`@name`); no identifier or value is ever spliced in from input. Lists are bound as one JSON
 * array parameter and expanded with `json_each`, so each statement has a fixed text and is
 * prepared once per store.
 *
 * Timestamps are integer milliseconds since the epoch, taken from the store's clock (`@now`).
 */
import { EVENTS_PER_BATCH } from '../event-batches.js';
import { rateWindowMarginSql } from '../types.js';

/** A per-key window's margin over the integer column or expression `perMs` (see rateWindowMarginMs). */
const margin = (perMs: string): string => rateWindowMarginSql(perMs, 'MAX');

/** States a claim picks jobs from (mirrors the partial claim index). */
const PENDING = `('available','scheduled','retryable')`;
/** States in which a job is finished and never changes on its own. */
const FINAL = `('completed','dead','cancelled')`;

/** What a claim writes: running, one more attempt, a lease owned by @owner until @expiresAt. */
const CLAIM_SET = `state = 'running',
        attempt = attempt + 1,
        attempted_at = @now,
        attempted_by = @owner,
        lease_token = @token || '.' || id,
        lease_expires_at = @expiresAt`;

/**
 * Which jobs a claim takes: due, pending, queue not paused, in claim order, at most @limit.
 *
 * Every `LIMIT` in this module is written `LIMIT CAST(@limit AS INTEGER)`: with a bare `@limit`
 * in an IN (…) subquery, SQLite marks the statement to be re-prepared whenever the parameter is
 * bound again — on every call — which tripled the cost of a claim.
 */
const claimPick = (limit: string): string => `
      SELECT id FROM nightshift_jobs
      WHERE queue = @queue
        AND state IN ${PENDING}
        AND run_at <= @now
        AND NOT EXISTS (SELECT 1 FROM nightshift_paused_queues WHERE queue = @queue)
        AND NOT EXISTS (SELECT 1 FROM nightshift_queue_holds WHERE queue = @queue AND until > @now)
      ORDER BY priority DESC, run_at, id
      LIMIT CAST(${limit} AS INTEGER)`;
const CLAIM_PICK = claimPick('@limit');

/**
 * What a claim returns of each row, in the order of `ClaimedValues` (sqlite-rows.ts), as arrays
 * (better-sqlite3 raw mode): an object per row costs about four times the memory, which the
 * claim's garbage made the worker's largest cost. The columns the claim itself writes (state,
 * attempted_at, attempted_by, lease_token, lease_expires_at) are left out: their values are the
 * claim's own parameters, so the store fills them in, and each returned column costs about
 * 0.2 µs per row on the worker's critical path.
 */
export const CLAIM_VALUE_COLUMNS = `id, name, queue, payload, priority, attempt, max_attempts, run_at, created_at,
      finished_at, key, timeout_ms, last_error, result, progress, schedule_id, meta`;
/**
 * The per-key claim returns the key and its limit too. The other claims do not: two more
 * columns cost every job of a plain queue about 2 % of a no-op drain, and nothing on the
 * worker's path reads them (views read the job again: `jobGet`, `jobList`).
 */
export const KEYED_CLAIM_VALUE_COLUMNS = `${CLAIM_VALUE_COLUMNS}, concurrency_key, concurrency_limit`;

/**
 * The id of the next job: above every id in the table and every id ever pruned (the floor the
 * pruner raises), so an id never names two jobs. Read inside the writing statement or
 * transaction, which holds the write lock, so two writers never compute the same id.
 */
const NEXT_JOB_ID = `MAX(
        COALESCE((SELECT MAX(id) FROM nightshift_jobs), 0),
        COALESCE((SELECT pruned_through FROM nightshift_job_id_floor WHERE only = 1), 0)
      ) + 1`;

/**
 * The names of final jobs, in order, by one seek per name on nightshift_jobs_finished_idx (a skip
 * scan SQLite does not make by itself without ANALYZE statistics): a CTE named `names`.
 */
const FINISHED_NAMES = `names(name) AS (
        SELECT (SELECT name FROM nightshift_jobs INDEXED BY nightshift_jobs_finished_idx WHERE state IN ${FINAL} ORDER BY name LIMIT 1)
        UNION ALL
        SELECT (SELECT n.name FROM nightshift_jobs n INDEXED BY nightshift_jobs_finished_idx WHERE n.state IN ${FINAL} AND n.name > names.name ORDER BY n.name LIMIT 1)
        FROM names WHERE names.name IS NOT NULL
      )`;
/** A prune's scope (`PruneScope`) over the pruned jobs `j`: each list a JSON array, or NULL for no restriction. */
const PRUNE_SCOPE = `AND (@names IS NULL OR j.name IN (SELECT value FROM json_each(@names)))
        AND (@queues IS NULL OR j.queue IN (SELECT value FROM json_each(@queues)))
        AND (@exceptNames IS NULL OR j.name NOT IN (SELECT value FROM json_each(@exceptNames)))
        AND (@exceptQueues IS NULL OR j.queue NOT IN (SELECT value FROM json_each(@exceptQueues)))`;

/** The fenced batch completion (`jobCompleteBatch`), with `extraSet` added to its SET list. */
function completeBatchSql(extraSet: string): string {
  return `
    UPDATE nightshift_jobs
    SET state = 'completed', finished_at = @now, result = i.value ->> 2, ${extraSet}
        lease_token = NULL, lease_expires_at = NULL
    FROM json_each(@items) AS i
    WHERE nightshift_jobs.id = i.value ->> 0
      AND nightshift_jobs.state = 'running'
      AND nightshift_jobs.lease_token = i.value ->> 1
    RETURNING nightshift_jobs.id`;
}

export const SQL = {
  // ---- jobs: insert ------------------------------------------------------------------------
  /**
   * Inserts one job. `ON CONFLICT DO NOTHING` only swallows uniqueness conflicts, i.e. the
   * partial (name, key) index: the caller then reads the existing job. (The id cannot conflict:
   * a writing statement holds the write lock from its start, before it reads the next id.)
   * Positional parameters in column order: binding 12 named ones took ~4 % of an enqueue, positional ~1.5 %.
   */
  jobInsert: `
    INSERT INTO nightshift_jobs
      (id, name, queue, payload, state, priority, max_attempts, run_at, created_at, key, timeout_ms, schedule_id, meta,
       concurrency_key, concurrency_limit)
    VALUES
      (${NEXT_JOB_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING`,
  /** The id the next inserted job gets; read inside a write transaction, before a multi-row insert. */
  jobNextId: `SELECT ${NEXT_JOB_ID} AS id`,
  /** The job that blocks a new job with the same name and key. */
  jobByActiveKey: `
    SELECT * FROM nightshift_jobs
    WHERE name = @name AND key = @key
      AND state IN ('scheduled','available','running','retryable','waiting')`,

  // ---- jobs: claim and finish ----------------------------------------------------------------
  /**
   * The claim: one statement picks due jobs in claim order through the partial claim index and
   * marks them running under a fresh lease. It only runs inside BEGIN IMMEDIATE (see the store).
   * The lease token is the batch token suffixed with the job id, so every claim of every job has
   * its own token (`jobFromClaimValues` rebuilds it the same way). Rows come back as
   * `ClaimedValues` arrays (see `RAW_STATEMENTS`).
   */
  jobClaim: `
    UPDATE nightshift_jobs
    SET ${CLAIM_SET}
    WHERE id IN (${CLAIM_PICK})
    RETURNING ${CLAIM_VALUE_COLUMNS}`,
  /**
   * The claim under a queue-wide limit (`jobFetch({ globalConcurrency })`): as `jobClaim`, taking
   * at most @global minus the jobs of @queue running now, counted in the trigger-kept counts.
   * Safe because it runs inside BEGIN IMMEDIATE like every claim: no other connection can claim
   * or finish between the count and the update.
   */
  jobClaimLimited: `
    UPDATE nightshift_jobs
    SET ${CLAIM_SET}
    WHERE id IN (${claimPick(`MAX(0, MIN(@limit, @global - COALESCE(
        (SELECT n FROM nightshift_queue_counts WHERE queue = @queue AND state = 'running'), 0)))`)})
    RETURNING ${CLAIM_VALUE_COLUMNS}`,
  /**
   * The claim under per-key limits (`jobFetch({ perKeyConcurrency })`), with the queue-wide limit
   * too when @global is not NULL. Every due job of the queue is ranked within its key in claim
   * order; a keyed job is a candidate while its rank plus the jobs of its key running now stays
   * within its own limit, so each key offers only what it has room for and the claim order then
   * picks among all keys: a key with thousands waiting takes its slots and no more. Unkeyed jobs
   * are always candidates. Runs inside BEGIN IMMEDIATE like every claim, so the running counts
   * cannot change under it. @probe bounds how many due jobs (in claim order) are ranked: a job's
   * rank among the first @probe is its rank among all (every earlier job of its key is among
   * them), so the candidates found there are the first candidates overall. The store ranks a
   * short prefix first and only ranks every due job (@probe -1) when that found too few.
   */
  jobClaimKeyed: `
    UPDATE nightshift_jobs
    SET ${CLAIM_SET}
    WHERE id IN (
      WITH busy AS (
        SELECT concurrency_key AS k, COUNT(*) AS n FROM nightshift_jobs
        WHERE queue = @queue AND state = 'running' AND concurrency_key IS NOT NULL
        GROUP BY concurrency_key
      ),
      due AS (
        SELECT id, priority, run_at, concurrency_key AS k, concurrency_limit AS lim,
               CASE WHEN concurrency_key IS NULL THEN 0
                    ELSE ROW_NUMBER() OVER (PARTITION BY concurrency_key ORDER BY priority DESC, run_at, id) END AS r,
               rate_key AS rk, rate_max AS rmax, rate_per_ms AS rms,
               CASE WHEN rate_key IS NULL THEN 0
                    ELSE ROW_NUMBER() OVER (PARTITION BY rate_key ORDER BY priority DESC, run_at, id) END AS rr
        FROM (
          SELECT id, priority, run_at, concurrency_key, concurrency_limit, rate_key, rate_max, rate_per_ms FROM nightshift_jobs
          WHERE queue = @queue
            AND state IN ${PENDING}
            AND run_at <= @now
            AND NOT EXISTS (SELECT 1 FROM nightshift_paused_queues WHERE queue = @queue)
            AND NOT EXISTS (SELECT 1 FROM nightshift_queue_holds WHERE queue = @queue AND until > @now)
          ORDER BY priority DESC, run_at, id
          LIMIT CAST(@probe AS INTEGER))
      )
      SELECT due.id FROM due LEFT JOIN busy ON busy.k = due.k
      WHERE (due.k IS NULL OR due.r + COALESCE(busy.n, 0) <= COALESCE(due.lim, 1))
        -- A per-key rate limit: the key's claims still in this job's window, plus its rank.
        AND (due.rk IS NULL OR due.rr + COALESCE((
          SELECT SUM(l.n) FROM nightshift_rate_log l
          WHERE l.queue = @queue AND l.key = due.rk AND l.at > @now - due.rms - ${margin('due.rms')}), 0) <= due.rmax)
      ORDER BY due.priority DESC, due.run_at, due.id
      LIMIT CAST(MAX(0, MIN(@limit, COALESCE(@global - COALESCE(
        (SELECT n FROM nightshift_queue_counts WHERE queue = @queue AND state = 'running'), 0), @limit))) AS INTEGER))
    RETURNING ${KEYED_CLAIM_VALUE_COLUMNS}`,
  /**
   * The claim of given jobs (`jobFetch({ ids })`): @ids is a JSON array of ids. Only those of
   * @queue in a pending state, in claim order, at most @limit; run_at and a paused queue are not
   * checked (the caller asks to run these jobs now), and a job held back to a later run_at is due
   * from its claim on (its record and its wait then tell when it really ran). Same lock, lease
   * and result shape as `jobClaim`.
   */
  jobClaimIds: `
    UPDATE nightshift_jobs
    SET ${CLAIM_SET},
        run_at = MIN(run_at, @now)
    WHERE id IN (
      SELECT id FROM nightshift_jobs
      WHERE id IN (SELECT value FROM json_each(@ids))
        AND queue = @queue
        AND state IN ${PENDING}
      ORDER BY priority DESC, run_at, id
      LIMIT CAST(@limit AS INTEGER))
    RETURNING ${CLAIM_VALUE_COLUMNS}`,
  /**
   * Fenced finishing writes for a whole batch in one statement. @items is a JSON array of
   * `[id, token, outcome, runAt, error, result, startDelayMs]` (the delay moves the attempt's
   * start to when its handler started: see `JobFinishItem.startDelayMs`); a row is written only while the job is running
   * under that token, so jobs rescued, cancelled or re-claimed meanwhile are left untouched (and
   * are missing from RETURNING). What each outcome does:
   * - completed: final, result stored;  failed: retryable at runAt, error stored;
   * - dead / cancelled: final, error (or the cancel reason) stored;
   * - snoozed: scheduled at runAt, released: available now — both give the attempt back.
   * RETURNING gives what the attempt history needs, so the job is not read again.
   */
  jobFinishBatch: `
    UPDATE nightshift_jobs
    SET state = CASE i.value ->> 2
          WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'retryable' WHEN 'dead' THEN 'dead'
          WHEN 'snoozed' THEN 'scheduled' WHEN 'cancelled' THEN 'cancelled' ELSE 'available' END,
        attempt = CASE WHEN i.value ->> 2 IN ('snoozed','released') THEN attempt - 1 ELSE attempt END,
        run_at = CASE WHEN i.value ->> 2 IN ('failed','snoozed') THEN i.value ->> 3 ELSE run_at END,
        finished_at = CASE WHEN i.value ->> 2 IN ('completed','dead','cancelled') THEN @now ELSE NULL END,
        last_error = COALESCE(i.value ->> 4, last_error),
        result = CASE WHEN i.value ->> 2 = 'completed' THEN i.value ->> 5 ELSE result END,
        attempted_at = attempted_at + COALESCE(i.value ->> 6, 0),
        lease_token = NULL,
        lease_expires_at = NULL
    FROM json_each(@items) AS i
    WHERE nightshift_jobs.id = i.value ->> 0
      AND nightshift_jobs.state = 'running'
      AND nightshift_jobs.lease_token = i.value ->> 1
    RETURNING nightshift_jobs.id AS id, nightshift_jobs.attempt AS attempt, attempted_at, attempted_by, queue, has_dependents`,
  /**
   * The same fenced write for items that all completed, the common case: @items is a JSON array
   * of `[id, token, result]`. Three JSON lookups per row instead of a dozen, and no attempt row —
   * a completed attempt stays in the job row (attempt, attempted_by, attempted_at, finished_at,
   * result), which is where `jobAttempts` reads it from; a retry records it before reusing the row.
   */
  jobCompleteBatch: completeBatchSql(''),
  /**
   * The same for a batch in which some job waited in its worker before it started (claimed
   * ahead): @items are `[id, token, result, startDelayMs]`, and the attempt's start moves by the
   * delay. A separate statement so that the common batch does not pay for the extra column.
   */
  jobCompleteBatchDelayed: completeBatchSql('attempted_at = attempted_at + COALESCE(i.value ->> 3, 0),'),
  /** Whether any job waits on another at all: a finish looks for dependents only then. */
  depsAny: `SELECT EXISTS (SELECT 1 FROM nightshift_job_deps) AS any`,
  /** The jobs among @ids (a JSON array) that others wait on. */
  depsParents: `SELECT id FROM nightshift_jobs WHERE id IN (SELECT value FROM json_each(@ids)) AND has_dependents = 1`,
  /** Appends finished attempts; @rows is a JSON array of `[jobId, attempt, workerId, startedAt, outcome, error, result]`. */
  attemptInsertBatch: `
    INSERT INTO nightshift_job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, @now, value ->> 4, value ->> 5, value ->> 6
    FROM json_each(@rows)`,
  attemptInsert: `
    INSERT INTO nightshift_job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error, result)
    VALUES (@jobId, @attempt, @workerId, @startedAt, @finishedAt, @outcome, @error, @result)`,
  jobHeartbeat: `
    UPDATE nightshift_jobs SET lease_expires_at = @expiresAt
    WHERE id = @id AND state = 'running' AND lease_token = @token
    RETURNING id`,
  jobHeartbeatProgress: `
    UPDATE nightshift_jobs SET lease_expires_at = @expiresAt, progress = @progress
    WHERE id = @id AND state = 'running' AND lease_token = @token
    RETURNING id`,

  // ---- jobs: rescue --------------------------------------------------------------------------
  jobExpiredList: `
    SELECT id, attempt, max_attempts, attempted_at, attempted_by, queue FROM nightshift_jobs
    WHERE state = 'running' AND lease_expires_at < @now
    ORDER BY lease_expires_at
    LIMIT CAST(@limit AS INTEGER)`,
  /** Takes an expired job back; re-checks state and expiry so a job finished meanwhile is left alone. */
  jobRescue: `
    UPDATE nightshift_jobs
    SET state = CASE WHEN attempt < max_attempts THEN 'retryable' ELSE 'dead' END,
        run_at = CASE WHEN attempt < max_attempts THEN @now ELSE run_at END,
        finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE @now END,
        last_error = @error, lease_token = NULL, lease_expires_at = NULL
    WHERE id = @id AND state = 'running' AND lease_expires_at < @now
    RETURNING *`,

  // ---- jobs: inspect and manage ----------------------------------------------------------------
  jobGet: `SELECT * FROM nightshift_jobs WHERE id = @id`,
  attemptList: `SELECT * FROM nightshift_job_attempts WHERE job_id = @id ORDER BY id`,
  /**
   * Whether the completed attempt held in a completed job's row is also in the attempt table:
   * written there by a process of an earlier version, which recorded every attempt as a row.
   */
  attemptCompletedRecorded: `
    SELECT 1 FROM nightshift_job_attempts WHERE job_id = @id AND attempt = @attempt AND outcome = 'completed' LIMIT 1`,
  /**
   * One page of jobs, newest first. Each filter is skipped when its parameter is NULL; list
   * filters arrive as JSON arrays. @before is the cursor (the last id of the previous page; a
   * number above every id for the first page), always bound so the scan starts at it; @floor
   * bounds how deep a filtered page looks (store/job-list-window.ts; 0 for none).
   */
  jobList: `
    SELECT * FROM nightshift_jobs
    WHERE id < @before AND id >= @floor
      AND (@states IS NULL OR state IN (SELECT value FROM json_each(@states)))
      AND (@queues IS NULL OR queue IN (SELECT value FROM json_each(@queues)))
      AND (@names IS NULL OR name IN (SELECT value FROM json_each(@names)))
      AND (@namePattern IS NULL OR name LIKE @namePattern ESCAPE '\\')
      -- search: a part of the name or of the key, or the exact id (@searchId is null unless the
      -- text is one). LIKE folds ASCII letters only, as for namePattern.
      AND (@searchPattern IS NULL OR name LIKE @searchPattern ESCAPE '\\' OR key LIKE @searchPattern ESCAPE '\\' OR id = @searchId)
      AND (@createdAfter IS NULL OR created_at >= @createdAfter)
      AND (@createdBefore IS NULL OR created_at < @createdBefore)
      AND (@scheduleId IS NULL OR schedule_id = @scheduleId)
      AND (@errorKinds IS NULL OR (last_error IS NOT NULL AND json_valid(last_error)
           AND json_extract(last_error, '$.kind') IN (SELECT value FROM json_each(@errorKinds))))
    ORDER BY id DESC
    LIMIT CAST(@limit AS INTEGER)`,
  /** The highest and lowest job ids (two primary-key lookups), for the window of a filtered page. */
  jobIdRange: `SELECT (SELECT MAX(id) FROM nightshift_jobs) AS newest, (SELECT MIN(id) FROM nightshift_jobs) AS oldest`,
  /** Running jobs holding a concurrency key (the partial running-key index). */
  jobKeyHolders: `
    SELECT * FROM nightshift_jobs
    WHERE queue = @queue AND concurrency_key = @key AND state = 'running'
    ORDER BY attempted_at, id
    LIMIT CAST(@limit AS INTEGER)`,
  jobCancel: `
    UPDATE nightshift_jobs
    SET state = 'cancelled', finished_at = @now, last_error = @error, lease_token = NULL, lease_expires_at = NULL
    WHERE id = @id AND state NOT IN ${FINAL}
    RETURNING *`,
  jobRetry: `
    UPDATE nightshift_jobs
    SET state = 'available', run_at = @now, finished_at = NULL, lease_token = NULL, lease_expires_at = NULL,
        max_attempts = MAX(max_attempts, attempt + 1)
    WHERE id = @id AND state IN ('completed', 'dead', 'cancelled', 'retryable', 'scheduled')
    RETURNING *`,
  // Kept by triggers (migration 8): a read of a few rows, whatever the size of the jobs table.
  jobStats: `SELECT queue, state, n AS count FROM nightshift_queue_counts WHERE n > 0`,
  // Both walk nightshift_jobs_finished_idx (name, finished_at) over final jobs (migration 18): the
  // job names, one seek each (the names CTE), then each name's range before the cutoff. The state
  // condition is written as in the index so the planner may use it.
  jobPrune: `
    DELETE FROM nightshift_jobs
    WHERE id IN (
      WITH RECURSIVE ${FINISHED_NAMES}
      SELECT j.id FROM names CROSS JOIN nightshift_jobs j INDEXED BY nightshift_jobs_finished_idx
      WHERE j.name = names.name
        AND j.state IN ${FINAL}
        AND j.state IN (SELECT value FROM json_each(@states))
        AND j.finished_at < @finishedBefore
        ${PRUNE_SCOPE}
      LIMIT CAST(@limit AS INTEGER)
    )
    RETURNING id`,
  /** Clears results past their time to live (keepResult); the jobs stay. */
  jobResultPrune: `
    UPDATE nightshift_jobs SET result = NULL
    WHERE id IN (
      WITH RECURSIVE ${FINISHED_NAMES}
      SELECT j.id FROM names CROSS JOIN nightshift_jobs j INDEXED BY nightshift_jobs_finished_idx
      WHERE j.name = names.name
        AND j.state IN ${FINAL}
        AND j.state = 'completed'
        AND j.finished_at < @finishedBefore
        AND j.result IS NOT NULL
        ${PRUNE_SCOPE}
      LIMIT CAST(@limit AS INTEGER)
    )
    RETURNING id`,
  attemptPrune: `DELETE FROM nightshift_job_attempts WHERE job_id IN (SELECT value FROM json_each(@ids))`,
  /** Deletes the final-state jobs among @ids (a JSON array of integer ids). */
  jobDeleteFinal: `
    DELETE FROM nightshift_jobs
    WHERE id IN (SELECT value FROM json_each(@ids)) AND state IN ${FINAL}
    RETURNING id`,
  // ---- process registry ----------------------------------------------------------------------------
  processUpsert: `
    INSERT INTO nightshift_processes (id, info, first_seen_at, last_seen_at) VALUES (@id, @info, @now, @now)
    ON CONFLICT (id) DO UPDATE SET info = excluded.info, last_seen_at = excluded.last_seen_at`,
  processForget: `DELETE FROM nightshift_processes WHERE last_seen_at < @before`,
  processList: `SELECT id, info, first_seen_at, last_seen_at FROM nightshift_processes WHERE last_seen_at >= @since ORDER BY id`,
  processRemove: `DELETE FROM nightshift_processes WHERE id = @id`,
  // ---- event feed ------------------------------------------------------------------------------
  /**
   * Appends one batch (store/event-batches.ts): @events is its bytes, @n how many events.
   * Ids follow commit order because SQLite has one writer at a time: the insert holds the write
   * lock from before it takes its id until it commits, so a reader that saw id N can never later
   * find a new id ≤ N.
   */
  eventBatchAppend: `INSERT INTO nightshift_event_batches (at, n, events) VALUES (@now, @n, @events)`,
  /** Batches from the cursor's batch on, oldest first. */
  eventBatchList: `
    SELECT id, at, events FROM nightshift_event_batches
    WHERE id >= @from
    ORDER BY id
    LIMIT CAST(@limit AS INTEGER)`,
  eventBounds: `
    SELECT (SELECT id * ${EVENTS_PER_BATCH} + n - 1 FROM nightshift_event_batches ORDER BY id DESC LIMIT 1) AS newest,
           (SELECT pruned_through FROM nightshift_event_floor WHERE only = 1) AS pruned`,
  /** The oldest batches older than @before: what a prune may take (see pickPrunable). */
  eventPrunable: `
    SELECT id, n AS count FROM nightshift_event_batches
    WHERE at < @before
    ORDER BY id
    LIMIT CAST(@limit AS INTEGER)`,
  eventBatchDeleteThrough: `DELETE FROM nightshift_event_batches WHERE id <= @through AND at < @before`,
  eventFloorRaise: `
    INSERT INTO nightshift_event_floor (only, pruned_through) VALUES (1, @id)
    ON CONFLICT (only) DO UPDATE SET pruned_through = MAX(pruned_through, excluded.pruned_through)`,
  /** Remembers the highest pruned id, so that no later job gets it again (see NEXT_JOB_ID). */
  jobIdFloorRaise: `
    INSERT INTO nightshift_job_id_floor (only, pruned_through) VALUES (1, @id)
    ON CONFLICT (only) DO UPDATE SET pruned_through = MAX(pruned_through, excluded.pruned_through)`,

  // ---- cross-process wake-ups -------------------------------------------------------------------
  /** Changes whenever another connection (another process) commits to the file; ours do not change it. */
  dataVersion: `PRAGMA data_version`,
  /**
   * Queues that have pending jobs. A loose index scan (one seek per queue in the claim index), so
   * its cost follows the number of queues, not the backlog. Jobs not yet due are counted too: a
   * spurious wake-up costs the worker one empty claim.
   */
  pendingQueues: `
    WITH RECURSIVE pending(queue) AS (
      SELECT (SELECT MIN(queue) FROM nightshift_jobs WHERE state IN ${PENDING})
      UNION ALL
      SELECT (SELECT MIN(queue) FROM nightshift_jobs WHERE state IN ${PENDING} AND queue > pending.queue)
      FROM pending WHERE pending.queue IS NOT NULL
    )
    SELECT queue FROM pending WHERE queue IS NOT NULL`,

  // ---- queues ------------------------------------------------------------------------------------
  queuePause: `INSERT INTO nightshift_paused_queues (queue, paused_at) VALUES (@queue, @now) ON CONFLICT DO NOTHING`,
  /** A hold never shortens one already there. */
  queueHold: `
    INSERT INTO nightshift_queue_holds (queue, until) VALUES (@queue, @until)
    ON CONFLICT (queue) DO UPDATE SET until = MAX(until, excluded.until)`,
  queueHoldUntil: `SELECT until FROM nightshift_queue_holds WHERE queue = @queue AND until > @now`,
  /** Jobs claimed under a queue's rate limit since @since. */
  rateUsed: `SELECT COALESCE(SUM(n), 0) AS n FROM nightshift_rate_log WHERE queue = @queue AND key IS NULL AND at > @since`,
  /** The window's claims, newest first: when they leave it tells when the next claim has room. */
  rateWindow: `SELECT at, n FROM nightshift_rate_log WHERE queue = @queue AND key IS NULL AND at > @since ORDER BY at DESC`,
  rateLog: `INSERT INTO nightshift_rate_log (queue, at, n) VALUES (@queue, @at, @n)`,
  rateForget: `DELETE FROM nightshift_rate_log WHERE queue = @queue AND key IS NULL AND at <= @before`,
  /**
   * Claims given back unstarted (see `JobFinish` released `rateRefund`): @rows is a JSON array of
   * `[jobId, claimedAt, queueRefund, keyRefund]`; each refund is a claim of −1 dated at the claim.
   */
  rateRefund: `
    INSERT INTO nightshift_rate_log (queue, key, at, n, window_ms)
    SELECT j.queue, NULL, r.value ->> 1, -1, NULL
    FROM json_each(@rows) AS r JOIN nightshift_jobs AS j ON j.id = r.value ->> 0
    WHERE r.value ->> 2 = 1
    UNION ALL
    SELECT j.queue, j.rate_key, r.value ->> 1, -1, j.rate_per_ms + ${margin('j.rate_per_ms')}
    FROM json_each(@rows) AS r JOIN nightshift_jobs AS j ON j.id = r.value ->> 0
    WHERE r.value ->> 3 = 1 AND j.rate_key IS NOT NULL`,
  /**
   * A late start (see \`Store.jobRateLateStart\`) of job @id running under @token: its claim's
   * counts, −1 at the attempt's start and +1 at @now, for the queue (@byQueue) and its key (@byKey).
   */
  rateLateStart: `
    INSERT INTO nightshift_rate_log (queue, key, at, n, window_ms)
    SELECT j.queue, NULL, CASE m.moved WHEN 1 THEN @now ELSE j.attempted_at END, m.n, NULL
    FROM nightshift_jobs AS j, (SELECT 0 AS moved, -1 AS n UNION ALL SELECT 1, 1) AS m
    WHERE j.id = @id AND j.lease_token = @token AND j.state = 'running' AND j.attempted_at IS NOT NULL AND @byQueue = 1
    UNION ALL
    SELECT j.queue, j.rate_key, CASE m.moved WHEN 1 THEN @now ELSE j.attempted_at END, m.n, j.rate_per_ms + ${margin('j.rate_per_ms')}
    FROM nightshift_jobs AS j, (SELECT 0 AS moved, -1 AS n UNION ALL SELECT 1, 1) AS m
    WHERE j.id = @id AND j.lease_token = @token AND j.state = 'running' AND j.attempted_at IS NOT NULL AND @byKey = 1 AND j.rate_key IS NOT NULL`,
  /** Per-key claims (@ids: the jobs just claimed), one log row per key with the key's window. */
  rateKeyLog: `
    INSERT INTO nightshift_rate_log (queue, key, at, n, window_ms)
    SELECT queue, rate_key, @at, COUNT(*), MAX(rate_per_ms + ${margin('rate_per_ms')}) FROM nightshift_jobs
    WHERE id IN (SELECT value FROM json_each(@ids)) AND rate_key IS NOT NULL
    GROUP BY queue, rate_key`,
  /**
   * Holds a rate key: a log row that fills the key's window (n far above any limit) until the
   * hold ends, dated so that it leaves the window exactly then (at + window = hold end).
   */
  rateKeyHold: `
    INSERT INTO nightshift_rate_log (queue, key, at, n, window_ms)
    SELECT queue, rate_key, @until - rate_per_ms - ${margin('rate_per_ms')}, 2147483647, rate_per_ms + ${margin('rate_per_ms')}
    FROM nightshift_jobs WHERE id = @id AND rate_key IS NOT NULL`,
  rateKeyForget: `DELETE FROM nightshift_rate_log WHERE queue = @queue AND key IS NOT NULL AND at + window_ms <= @now`,
  /** When the first per-key claim of the queue leaves its key's window (NULL: none in a window); refunds (n < 0) free nothing by leaving. */
  rateKeyNextFree: `SELECT MIN(at + window_ms) AS at FROM nightshift_rate_log WHERE queue = @queue AND key IS NOT NULL AND n > 0 AND at + window_ms > @now`,
  /** A job's per-key rate limit and its key's claims still in the job's window (holds included). */
  jobRateKey: `SELECT queue, rate_key, rate_max, rate_per_ms FROM nightshift_jobs WHERE id = @id AND rate_key IS NOT NULL`,
  rateKeyWindow: `SELECT at, n FROM nightshift_rate_log WHERE queue = @queue AND key = @key AND at > @since`,
  /** The per-key rate limit of a job, set after its insert (see JobInsert.rateKey). */
  jobSetRateKey: `UPDATE nightshift_jobs SET rate_key = @key, rate_max = @max, rate_per_ms = @perMs WHERE id = @id`,
  queueResume: `DELETE FROM nightshift_paused_queues WHERE queue = @queue`,
  queuePausedList: `SELECT queue FROM nightshift_paused_queues ORDER BY queue`,
  queuePausedSince: `SELECT queue, paused_at FROM nightshift_paused_queues ORDER BY queue`,

  // ---- schedules ---------------------------------------------------------------------------------
  /** Creates or replaces a schedule's definition; run bookkeeping (next/last run, last job) is kept. */
  scheduleUpsert: `
    INSERT INTO nightshift_schedules
      (id, job_name, cron, timezone, enabled, description, input, catch_up, overlap, source, job_options, created_at, updated_at)
    VALUES
      (@id, @jobName, @cron, @timezone, @enabled, @description, @input, @catchUp, @overlap, @source, @jobOptions, @now, @now)
    ON CONFLICT (id) DO UPDATE SET
      job_name = excluded.job_name, cron = excluded.cron, timezone = excluded.timezone,
      enabled = excluded.enabled, description = excluded.description, input = excluded.input,
      catch_up = excluded.catch_up, overlap = excluded.overlap, source = excluded.source,
      job_options = excluded.job_options, updated_at = excluded.updated_at
    RETURNING *`,
  scheduleGet: `SELECT * FROM nightshift_schedules WHERE id = @id`,
  scheduleList: `
    SELECT * FROM nightshift_schedules
    WHERE (@enabled IS NULL OR enabled = @enabled)
      AND (@idPattern IS NULL OR id LIKE @idPattern ESCAPE '\\')
      AND (@cron IS NULL OR cron = @cron)
      AND (@source IS NULL OR source = @source)
      AND (@createdAfter IS NULL OR created_at >= @createdAfter)
      AND (@createdBefore IS NULL OR created_at < @createdBefore)
    ORDER BY id`,
  /** Ticks are kept on purpose: a schedule re-created under the same id can never re-claim a fire time. */
  scheduleDelete: `DELETE FROM nightshift_schedules WHERE id IN (SELECT value FROM json_each(@ids))`,
  scheduleUpdateNext: `
    UPDATE nightshift_schedules
    SET next_run_at = @nextRunAt, enabled = COALESCE(@enabled, enabled), updated_at = @now
    WHERE id = @id`,
  /**
   * Inserts the tick row that claims (schedule, fire time). Inserts nothing when the row exists
   * (claimed already) or when the fire time is at or below the schedule's prune mark (its row may
   * have been pruned). Runs under BEGIN IMMEDIATE, like the prune, so the two never interleave.
   * The WHERE also keeps SQLite from reading ON CONFLICT as a join constraint.
   */
  tickInsert: `
    INSERT INTO nightshift_schedule_ticks (schedule_id, fire_at, claimed_at, job_id, status)
    SELECT @scheduleId, @fireAt, @now, NULL, @status
    WHERE NOT EXISTS (
      SELECT 1 FROM nightshift_schedule_tick_floors WHERE schedule_id = @scheduleId AND pruned_through >= @fireAt
    )
    ON CONFLICT (schedule_id, fire_at) DO NOTHING`,
  tickSetJob: `UPDATE nightshift_schedule_ticks SET job_id = @jobId WHERE schedule_id = @scheduleId AND fire_at = @fireAt`,
  /**
   * Advances the schedule after a claimed tick. A tick older than the last one claimed (a slow
   * scheduler catching up) never moves the bookkeeping backwards.
   */
  scheduleAdvance: `
    UPDATE nightshift_schedules
    SET last_run_at = @fireAt, last_job_id = @jobId, next_run_at = @nextRunAt, updated_at = @now
    WHERE id = @scheduleId AND (last_run_at IS NULL OR last_run_at <= @fireAt)`,
  tickList: `
    SELECT * FROM nightshift_schedule_ticks WHERE schedule_id = @scheduleId ORDER BY fire_at DESC LIMIT CAST(@limit AS INTEGER)`,
  /**
   * Deletes at most @limit ticks claimed and fired before @claimedBefore, oldest claim first
   * (through the claimed_at index), never the newest tick of a schedule id (the MAX is one seek
   * in the unique (schedule_id, fire_at) index). RETURNING feeds `tickFloorRaise`.
   */
  tickPrune: `
    DELETE FROM nightshift_schedule_ticks
    WHERE rowid IN (
      SELECT t.rowid FROM nightshift_schedule_ticks AS t
      WHERE t.claimed_at < @claimedBefore
        AND t.fire_at < @claimedBefore
        AND t.fire_at < (SELECT MAX(n.fire_at) FROM nightshift_schedule_ticks AS n WHERE n.schedule_id = t.schedule_id)
      ORDER BY t.claimed_at
      LIMIT CAST(@limit AS INTEGER)
    )
    RETURNING schedule_id, fire_at`,
  /**
   * Raises each schedule's prune mark to the newest fire time just pruned; @rows is a JSON array
   * of `[scheduleId, fireAt]`. A mark only ever goes up.
   */
  tickFloorRaise: `
    INSERT INTO nightshift_schedule_tick_floors (schedule_id, pruned_through)
    SELECT value ->> 0, MAX(value ->> 1) FROM json_each(@rows) WHERE true GROUP BY value ->> 0
    ON CONFLICT (schedule_id) DO UPDATE SET pruned_through = MAX(pruned_through, excluded.pruned_through)`,
  scheduleHasActiveJob: `
    SELECT EXISTS (
      SELECT 1 FROM nightshift_jobs WHERE schedule_id = @scheduleId AND state NOT IN ${FINAL}
    ) AS active`,
} as const;

/** Largest number of rows in one multi-row job INSERT: 512 rows × 13 parameters stays far below SQLite's 32 766 bound parameters. */
export const JOB_INSERT_MAX_ROWS = 512;

/**
 * A multi-row job INSERT of `rows` rows (1 … JOB_INSERT_MAX_ROWS), positional parameters in the
 * column order of `jobInsert` (id included: the caller numbers the rows from `jobNextId`, inside
 * the same transaction), 13 per row. Used for batches without de-duplication keys, where no
 * row can conflict; one statement per chunk is about twice as fast as one statement per row.
 * The text depends only on `rows`, never on input.
 */
export function jobInsertRowsSql(rows: number): string {
  if (!Number.isInteger(rows) || rows < 1 || rows > JOB_INSERT_MAX_ROWS) {
    throw new RangeError(`jobInsertRowsSql: rows must be an integer in 1…${JOB_INSERT_MAX_ROWS}, got ${rows}`);
  }
  const values = new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  return `INSERT INTO nightshift_jobs
      (id, name, queue, payload, state, priority, max_attempts, run_at, created_at, key, timeout_ms, schedule_id, meta,
       concurrency_key, concurrency_limit)
    VALUES ${values}`;
}

/** Names of the statements above. */
export type StatementName = keyof typeof SQL;

/** Statements prepared in raw mode: each row is an array of the columns in SELECT/RETURNING order. */
export const RAW_STATEMENTS: ReadonlySet<StatementName> = new Set<StatementName>(['jobClaim', 'jobClaimLimited', 'jobClaimKeyed', 'jobClaimIds']);
