import pg from 'pg';
import type { Logger } from 'pino';
import type { SchemaNames } from './schema-name.js';
import { toStoreError } from './pg-errors.js';
import { inTransaction } from './transaction.js';
import { enqueueFunctionSql } from './sql-enqueue-function.js';
import { MAX_PAYLOAD_DEPTH, MAX_PRIORITY, MIN_PRIORITY } from '../../job/input-bounds.js';
import { EVENTS_PER_BATCH } from '../event-batches.js';

/**
 * Versioned schema migrations of the PostgreSQL store.
 *
 * Concurrency: every step runs in its own transaction that first takes
 * `pg_advisory_xact_lock(<key derived from the schema name>)`. When five processes start at once,
 * one holds the lock and applies the step; the others wait on the lock, then see the step recorded
 * in `migrations` and move on. The lock is transaction-scoped, so a process that dies releases it
 * with its connection; there is no lock row to clean up by hand.
 *
 * Resumability: a step's DDL and its `migrations` row commit together (PostgreSQL DDL is
 * transactional). A process killed mid-step leaves nothing of that step behind, and the next
 * `migrate()` applies it again from the start.
 *
 * Steps are append-only: a released step is never edited; changes come as new steps.
 */

export interface MigrationStep {
  version: number;
  name: string;
  /** SQL of the step for the given schema. May contain several statements. */
  sql(names: SchemaNames): string;
}

const KEY_BLOCKING = `('scheduled', 'available', 'running', 'retryable', 'waiting')`;

export const MIGRATIONS: readonly MigrationStep[] = [
  {
    version: 1,
    name: 'jobs, attempts and paused queues',
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.jobs (
        id               bigserial PRIMARY KEY,
        name             text NOT NULL,
        queue            text NOT NULL,
        payload          text NOT NULL,
        state            text NOT NULL CHECK (state IN ('scheduled', 'available', 'running', 'retryable', 'completed', 'dead', 'cancelled', 'waiting')),
        priority         integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 1000000),
        attempt          integer NOT NULL DEFAULT 0,
        max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
        run_at           timestamptz NOT NULL,
        created_at       timestamptz NOT NULL,
        attempted_at     timestamptz,
        finished_at      timestamptz,
        key              text,
        timeout_ms       bigint,
        lease_owner      text,
        lease_token      text,
        lease_expires_at timestamptz,
        last_error       jsonb,
        result           text,
        progress         text,
        schedule_id      text,
        meta             text
      );
      -- The claim query reads only this partial index, so its size tracks the pending backlog, not
      -- the history of finished jobs.
      CREATE INDEX jobs_fetch_idx ON ${s}.jobs (queue, priority DESC, run_at, id)
        WHERE state IN ('available', 'scheduled', 'retryable');
      -- De-duplication keys are unique among jobs of the same name that are still pending or running.
      CREATE UNIQUE INDEX jobs_key_idx ON ${s}.jobs (name, key)
        WHERE key IS NOT NULL AND state IN ${KEY_BLOCKING};
      CREATE INDEX jobs_lease_idx ON ${s}.jobs (lease_expires_at) WHERE state = 'running';
      CREATE INDEX jobs_finished_idx ON ${s}.jobs (finished_at) WHERE state IN ('completed', 'dead', 'cancelled');
      CREATE INDEX jobs_schedule_idx ON ${s}.jobs (schedule_id) WHERE schedule_id IS NOT NULL;
      -- Every claim and finish rewrites a row; vacuum the hot table sooner than the default 20 %.
      ALTER TABLE ${s}.jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

      CREATE TABLE ${s}.job_attempts (
        id          bigserial PRIMARY KEY,
        job_id      bigint NOT NULL REFERENCES ${s}.jobs (id) ON DELETE CASCADE,
        attempt     integer NOT NULL,
        worker_id   text NOT NULL,
        started_at  timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        outcome     text NOT NULL,
        error       jsonb,
        result      text
      );
      CREATE INDEX job_attempts_job_idx ON ${s}.job_attempts (job_id, id);

      CREATE TABLE ${s}.paused_queues (
        queue     text PRIMARY KEY,
        paused_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'schedules and ticks',
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.schedules (
        id          text PRIMARY KEY,
        job_name    text NOT NULL,
        cron        text NOT NULL,
        timezone    text NOT NULL,
        enabled     boolean NOT NULL,
        description text,
        input       text NOT NULL,
        catch_up    integer NOT NULL DEFAULT 0,
        overlap     text NOT NULL,
        source      text NOT NULL,
        job_options text,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL,
        next_run_at timestamptz,
        last_run_at timestamptz,
        last_job_id bigint
      );
      -- One row per claimed cron tick: the primary key is what makes a tick fire once, whatever
      -- the number of schedulers. Ticks outlive a deleted schedule so that re-creating it cannot
      -- fire an already claimed tick again.
      CREATE TABLE ${s}.schedule_ticks (
        schedule_id text NOT NULL,
        fire_at     timestamptz NOT NULL,
        claimed_at  timestamptz NOT NULL,
        job_id      bigint,
        status      text NOT NULL,
        PRIMARY KEY (schedule_id, fire_at)
      );
    `,
  },
  {
    version: 3,
    name: 'wake-up notifications and the enqueue() SQL function',
    sql: ({ quoted: s, channel }) => `
      -- One NOTIFY per INSERT statement, listing the queues that got available jobs. Inside a
      -- caller's transaction PostgreSQL delivers it at COMMIT, and never after a ROLLBACK.
      CREATE FUNCTION ${s}.jobs_notify_available() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE
        queues text;
      BEGIN
        SELECT string_agg(DISTINCT queue, ',') INTO queues FROM new_jobs WHERE state = 'available';
        IF queues IS NOT NULL THEN
          -- NOTIFY payloads are limited to 8000 bytes; an empty payload means "any queue".
          IF octet_length(queues) > 7000 THEN
            queues := '';
          END IF;
          PERFORM pg_notify(TG_ARGV[0], queues);
        END IF;
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER jobs_notify_available AFTER INSERT ON ${s}.jobs
        REFERENCING NEW TABLE AS new_jobs
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.jobs_notify_available(${pg.escapeLiteral(channel)});

      -- Same rule as the core's NAME_PATTERN / NAME_MAX_LENGTH (src/job/names.ts).
      CREATE FUNCTION ${s}.assert_valid_name(kind text, value text) RETURNS void LANGUAGE plpgsql IMMUTABLE AS $fn$
      BEGIN
        IF value IS NULL OR value = '' THEN
          RAISE EXCEPTION '% must not be empty', kind USING ERRCODE = '22023';
        END IF;
        IF length(value) > 128 THEN
          RAISE EXCEPTION '% is % characters long; the limit is 128', kind, length(value) USING ERRCODE = '22023';
        END IF;
        IF value !~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$' THEN
          RAISE EXCEPTION '% "%" has characters outside A-Z a-z 0-9 _ - . : / (or does not start with a letter or digit)', kind, value
            USING ERRCODE = '22023';
        END IF;
      END
      $fn$;

      -- Reads an optional integer option, checking its JSON type and range.
      CREATE FUNCTION ${s}.integer_option(options jsonb, field text, low bigint, high bigint, fallback integer)
      RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $fn$
      DECLARE
        value numeric;
      BEGIN
        IF NOT options ? field OR options -> field = 'null'::jsonb THEN
          RETURN fallback;
        END IF;
        IF jsonb_typeof(options -> field) <> 'number' THEN
          RAISE EXCEPTION 'option % must be a number, got %', field, options -> field USING ERRCODE = '22023';
        END IF;
        value := (options ->> field)::numeric;
        IF value <> trunc(value) OR value < low OR value > high THEN
          RAISE EXCEPTION 'option % must be an integer from % to %, got %', field, low, high, value USING ERRCODE = '22023';
        END IF;
        RETURN value::integer;
      END
      $fn$;

      CREATE FUNCTION ${s}.enqueue(job_name text, payload jsonb, options jsonb DEFAULT '{}'::jsonb)
      RETURNS bigint LANGUAGE plpgsql AS $fn$
      DECLARE
        opts jsonb := coalesce(options, '{}'::jsonb);
        unknown text;
        job_queue text;
        job_priority integer;
        job_max_attempts integer;
        job_run_at timestamptz := now();
        job_key text;
        job_id bigint;
      BEGIN
        IF jsonb_typeof(opts) <> 'object' THEN
          RAISE EXCEPTION 'options must be a JSON object, got %', opts USING ERRCODE = '22023';
        END IF;
        SELECT k INTO unknown FROM jsonb_object_keys(opts) AS k
          WHERE k NOT IN ('queue', 'priority', 'run_at', 'delay_ms', 'max_attempts', 'key') LIMIT 1;
        IF unknown IS NOT NULL THEN
          RAISE EXCEPTION 'unknown option "%"; accepted: queue, priority, run_at, delay_ms, max_attempts, key', unknown
            USING ERRCODE = '22023';
        END IF;
        PERFORM ${s}.assert_valid_name('job name', job_name);
        job_queue := coalesce(opts ->> 'queue', 'default');
        PERFORM ${s}.assert_valid_name('queue name', job_queue);
        job_priority := ${s}.integer_option(opts, 'priority', 0, 1000000, 0);
        job_max_attempts := ${s}.integer_option(opts, 'max_attempts', 1, 2147483647, 3);
        IF opts ? 'run_at' AND opts ? 'delay_ms' THEN
          RAISE EXCEPTION 'give either run_at or delay_ms, not both' USING ERRCODE = '22023';
        END IF;
        IF opts ? 'run_at' THEN
          job_run_at := (opts ->> 'run_at')::timestamptz;
        ELSIF opts ? 'delay_ms' THEN
          job_run_at := now() + ${s}.integer_option(opts, 'delay_ms', 0, 2147483647, 0) * interval '1 millisecond';
        END IF;
        IF opts ? 'key' AND opts -> 'key' <> 'null'::jsonb THEN
          IF jsonb_typeof(opts -> 'key') <> 'string' OR opts ->> 'key' = '' THEN
            RAISE EXCEPTION 'option key must be a non-empty string, got %', opts -> 'key' USING ERRCODE = '22023';
          END IF;
          job_key := opts ->> 'key';
        END IF;

        INSERT INTO ${s}.jobs (name, queue, payload, state, priority, max_attempts, run_at, created_at, key)
        VALUES (job_name, job_queue, coalesce(payload, 'null'::jsonb)::text,
                CASE WHEN job_run_at > now() THEN 'scheduled' ELSE 'available' END,
                job_priority, job_max_attempts, job_run_at, now(), job_key)
        ON CONFLICT (name, key) WHERE key IS NOT NULL AND state IN ${KEY_BLOCKING} DO NOTHING
        RETURNING id INTO job_id;
        IF job_id IS NULL THEN
          -- Same key already pending or running: return that job, like the core's enqueue does.
          SELECT id INTO job_id FROM ${s}.jobs
            WHERE name = job_name AND key = job_key AND state IN ${KEY_BLOCKING};
        END IF;
        RETURN job_id;
      END
      $fn$;
      COMMENT ON FUNCTION ${s}.enqueue(text, jsonb, jsonb) IS
        'Enqueues a Nightshift job and returns its id. options: queue, priority, run_at, delay_ms, max_attempts, key.';
    `,
  },
  {
    version: 4,
    name: 'tick retention: claim-time index and per-schedule prune marks',
    sql: ({ quoted: s }) => `
      -- The tick pruner walks ticks oldest claim first and stops after its batch.
      CREATE INDEX schedule_ticks_claimed_idx ON ${s}.schedule_ticks (claimed_at);
      -- The newest fire time pruned per schedule id. A claim at or before it is refused, since the
      -- primary-key row that would have stopped a second claim may be gone. Kept when a schedule is
      -- deleted, for the same reason its ticks are.
      CREATE TABLE ${s}.schedule_tick_floors (
        schedule_id    text PRIMARY KEY,
        pruned_through timestamptz NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'completed attempts kept in the job row; job_attempt_history view',
    sql: ({ quoted: s }) => `
      -- From this version on, finishing a job as completed writes no job_attempts row: the job row
      -- holds that attempt already (attempt, lease_owner, attempted_at, finished_at, result), and
      -- retrying a completed job appends it to job_attempts before the row is reused. Rows written
      -- by earlier versions for a job's current completed attempt would now appear twice; they go.
      DELETE FROM ${s}.job_attempts AS a
      USING ${s}.jobs AS j
      WHERE a.job_id = j.id AND j.state = 'completed' AND a.outcome = 'completed' AND a.attempt = j.attempt;

      -- Every attempt of every job, as the store's jobAttempts reports them (except the running
      -- one): the recorded attempts, then the completed attempt of completed jobs. seq orders a
      -- job's attempts; it is NULL for the derived row, which is always the last one.
      CREATE VIEW ${s}.job_attempt_history AS
        SELECT a.id AS seq, a.job_id, a.attempt, a.worker_id, a.started_at, a.finished_at, a.outcome, a.error, a.result
        FROM ${s}.job_attempts AS a
        UNION ALL
        SELECT NULL::bigint, j.id, j.attempt, coalesce(j.lease_owner, ''), coalesce(j.attempted_at, j.finished_at),
               j.finished_at, 'completed', NULL::jsonb, j.result
        FROM ${s}.jobs AS j
        WHERE j.state = 'completed' AND j.finished_at IS NOT NULL;
      COMMENT ON VIEW ${s}.job_attempt_history IS
        'Every finished attempt of every Nightshift job (job_attempts plus the completed attempt kept in the job row); order by seq NULLS LAST.';
    `,
  },
  {
    version: 6,
    name: 'lease index keyed on lease_expires_at only',
    sql: ({ quoted: s }) => `
      -- The lease index was partial on state = 'running'. Finishes and heartbeats look rows up by
      -- id AND state = 'running', and the planner, matching that predicate, read this index
      -- instead of the primary key: every entry left by a job that was once running (until vacuum
      -- removes it), so each finish got slower as a drain went on. A running job is exactly a job
      -- with a lease expiry (claims set it; finish, rescue, cancel and retry clear it), and the
      -- rescuer's lease_expires_at <= now implies IS NOT NULL, so it still uses this index; the
      -- id lookups now only match the primary key.
      DROP INDEX ${s}.jobs_lease_idx;
      CREATE INDEX jobs_lease_idx ON ${s}.jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
    `,
  },
  {
    version: 7,
    name: 'job_attempt_history ignores a completed attempt also recorded in job_attempts',
    sql: ({ quoted: s }) => `
      -- While processes of a version before 5 still run next to this one (a rolling upgrade),
      -- they record completed attempts in job_attempts; the job row must not add it a second time.
      CREATE OR REPLACE VIEW ${s}.job_attempt_history AS
        SELECT a.id AS seq, a.job_id, a.attempt, a.worker_id, a.started_at, a.finished_at, a.outcome, a.error, a.result
        FROM ${s}.job_attempts AS a
        UNION ALL
        SELECT NULL::bigint, j.id, j.attempt, coalesce(j.lease_owner, ''), coalesce(j.attempted_at, j.finished_at),
               j.finished_at, 'completed', NULL::jsonb, j.result
        FROM ${s}.jobs AS j
        WHERE j.state = 'completed' AND j.finished_at IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM ${s}.job_attempts AS r
            WHERE r.job_id = j.id AND r.attempt = j.attempt AND r.outcome = 'completed'
          );
    `,
  },
  {
    version: 8,
    name: 'enqueue() SQL function: the core\'s bounds on delay_ms, run_at and key',
    // Bounds as released in version 8; version 15 widened them in a new step.
    sql: (names) => enqueueFunctionSql(names, { minPriority: 0 }),
  },
  {
    version: 9,
    name: 'process registry: one row per live process, its description and last heartbeat',
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.processes (
        id            text PRIMARY KEY,
        info          text NOT NULL,
        first_seen_at timestamptz NOT NULL,
        last_seen_at  timestamptz NOT NULL
      );
    `,
  },
  {
    version: 10,
    name: 'event feed: lifecycle events under an increasing id (the cursor), and how far they were pruned',
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.events (
        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at       timestamptz NOT NULL,
        type     text NOT NULL,
        queue    text,
        job_name text,
        job_id   text,
        data     text NOT NULL
      );
      CREATE INDEX events_at_idx ON ${s}.events (at);
      CREATE TABLE ${s}.event_floor (
        singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        pruned_through bigint NOT NULL
      );
    `,
  },
  {
    version: 11,
    name: 'API tokens: name, scope and SHA-256 digest (never the token); one unrevoked token per name',
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.api_tokens (
        id         bigserial PRIMARY KEY,
        name       text NOT NULL,
        scope      text NOT NULL,
        sha256     text NOT NULL,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz
      );
      CREATE UNIQUE INDEX api_tokens_active_name ON ${s}.api_tokens (name) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 12,
    name: 'activity statistics: per-minute counters and histograms per queue and job name, added to by every process',
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.stats (
        minute bigint NOT NULL,
        queue  text NOT NULL,
        name   text NOT NULL,
        enqueued bigint NOT NULL DEFAULT 0, completed bigint NOT NULL DEFAULT 0, failed bigint NOT NULL DEFAULT 0,
        dead bigint NOT NULL DEFAULT 0, cancelled bigint NOT NULL DEFAULT 0,
        duration_sum_ms float8 NOT NULL DEFAULT 0, wait_sum_ms float8 NOT NULL DEFAULT 0,
        -- Histogram buckets of attempt durations (d) and of waits from due to start (w).
        d0 bigint NOT NULL DEFAULT 0, d1 bigint NOT NULL DEFAULT 0, d2 bigint NOT NULL DEFAULT 0, d3 bigint NOT NULL DEFAULT 0, d4 bigint NOT NULL DEFAULT 0, d5 bigint NOT NULL DEFAULT 0, d6 bigint NOT NULL DEFAULT 0, d7 bigint NOT NULL DEFAULT 0, d8 bigint NOT NULL DEFAULT 0,
        d9 bigint NOT NULL DEFAULT 0, d10 bigint NOT NULL DEFAULT 0, d11 bigint NOT NULL DEFAULT 0, d12 bigint NOT NULL DEFAULT 0, d13 bigint NOT NULL DEFAULT 0, d14 bigint NOT NULL DEFAULT 0, d15 bigint NOT NULL DEFAULT 0, d16 bigint NOT NULL DEFAULT 0,
        w0 bigint NOT NULL DEFAULT 0, w1 bigint NOT NULL DEFAULT 0, w2 bigint NOT NULL DEFAULT 0, w3 bigint NOT NULL DEFAULT 0, w4 bigint NOT NULL DEFAULT 0, w5 bigint NOT NULL DEFAULT 0, w6 bigint NOT NULL DEFAULT 0, w7 bigint NOT NULL DEFAULT 0, w8 bigint NOT NULL DEFAULT 0,
        w9 bigint NOT NULL DEFAULT 0, w10 bigint NOT NULL DEFAULT 0, w11 bigint NOT NULL DEFAULT 0, w12 bigint NOT NULL DEFAULT 0, w13 bigint NOT NULL DEFAULT 0, w14 bigint NOT NULL DEFAULT 0, w15 bigint NOT NULL DEFAULT 0, w16 bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (minute, queue, name)
      );
    `,
  },
  {
    version: 13,
    name: 'job counts per queue and state, kept by statement triggers, so reading them never scans the jobs table',
    // One trigger call per statement (not per row) folds the statement's transition rows into a
    // few upserts. Rows are spread over 64 shards by backend so concurrent writers rarely wait on
    // the same counter row; a read sums the shards. A table rebuild of jobs must re-create these.
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.queue_counts (
        queue text NOT NULL,
        state text NOT NULL,
        shard int NOT NULL,
        n     bigint NOT NULL,
        PRIMARY KEY (queue, state, shard)
      ) WITH (fillfactor = 50);
      LOCK TABLE ${s}.jobs IN SHARE MODE;
      INSERT INTO ${s}.queue_counts (queue, state, shard, n)
        SELECT queue, state, 0, count(*) FROM ${s}.jobs GROUP BY queue, state;
      CREATE FUNCTION ${s}.count_jobs() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO ${s}.queue_counts AS c (queue, state, shard, n)
            SELECT queue, state, pg_backend_pid() % 64, count(*) FROM new_rows GROUP BY queue, state ORDER BY queue, state
            ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO ${s}.queue_counts AS c (queue, state, shard, n)
            SELECT queue, state, pg_backend_pid() % 64, -count(*) FROM old_rows GROUP BY queue, state ORDER BY queue, state
            ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;
        ELSE
          INSERT INTO ${s}.queue_counts AS c (queue, state, shard, n)
            SELECT queue, state, pg_backend_pid() % 64, sum(d) FROM (
              SELECT queue, state, -1 AS d FROM old_rows
              UNION ALL
              SELECT queue, state, 1 AS d FROM new_rows
            ) AS moved GROUP BY queue, state HAVING sum(d) <> 0 ORDER BY queue, state
            ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;
        END IF;
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER jobs_count_insert AFTER INSERT ON ${s}.jobs
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_jobs();
      CREATE TRIGGER jobs_count_update AFTER UPDATE ON ${s}.jobs
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_jobs();
      CREATE TRIGGER jobs_count_delete AFTER DELETE ON ${s}.jobs
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_jobs();
    `,
  },
  {
    version: 14,
    name: 'alerting: episodes (one open per key) and silences',
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.alert_episodes (
        id               bigserial PRIMARY KEY,
        key              text NOT NULL,
        rule             text NOT NULL,
        severity         text NOT NULL,
        subject_kind     text NOT NULL,
        subject          text NOT NULL,
        opened_at        timestamptz NOT NULL,
        last_seen_at     timestamptz NOT NULL,
        resolved_at      timestamptz,
        suppressed       text,
        info             text NOT NULL,
        delivery_job_ids text[] NOT NULL DEFAULT '{}'
      );
      CREATE UNIQUE INDEX alert_episodes_open ON ${s}.alert_episodes (key) WHERE resolved_at IS NULL;
      CREATE INDEX alert_episodes_subject ON ${s}.alert_episodes (subject_kind, subject, id);
      CREATE INDEX alert_episodes_resolved ON ${s}.alert_episodes (resolved_at) WHERE resolved_at IS NOT NULL;
      CREATE TABLE ${s}.alert_silences (
        id         bigserial PRIMARY KEY,
        rule       text NOT NULL,
        subject    text,
        until      timestamptz NOT NULL,
        reason     text,
        created_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 15,
    name: 'negative priorities: jobs.priority and enqueue() accept -1000000 … 1000000 (named priority low = -100)',
    // The old check (0 … 1 000 000, named jobs_priority_check by PostgreSQL) is replaced, not
    // edited. The new one is added NOT VALID: every existing row passed the narrower old check, so
    // scanning the table to validate it would prove nothing while holding the table's lock; new
    // and updated rows are checked all the same. jobs_fetch_idx (queue, priority DESC, run_at, id)
    // orders negative values like any other integers, so nothing else changes.
    sql: (names) => `
      ALTER TABLE ${names.quoted}.jobs DROP CONSTRAINT jobs_priority_check;
      ALTER TABLE ${names.quoted}.jobs ADD CONSTRAINT jobs_priority_range
        CHECK (priority BETWEEN ${MIN_PRIORITY} AND ${MAX_PRIORITY}) NOT VALID;
      ${enqueueFunctionSql(names, { minPriority: MIN_PRIORITY })}
    `,
  },
  {
    version: 16,
    name: 'activity statistics: attempts that ran past their timeout',
    sql: ({ quoted: s }) => `ALTER TABLE ${s}.stats ADD COLUMN timeouts bigint NOT NULL DEFAULT 0;`,
  },
  {
    version: 17,
    name: 'event feed: one row per append (a batch of events), not one per event',
    // See store/event-batches.ts. The feed's events are kept an hour and only for reading along;
    // the old rows are dropped, not converted. New ids start above every id the old table handed
    // out (its sequence, its rows and the pruned-through mark), so an old cursor still means
    // "after everything I saw". The schema name is validated (schema-name.ts), so it is safe
    // inside the literal that names the sequence.
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.event_batches (
        id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at     timestamptz NOT NULL,
        n      integer NOT NULL,
        events text NOT NULL
      );
      CREATE INDEX event_batches_at_idx ON ${s}.event_batches (at);
      SELECT setval(
        pg_get_serial_sequence('${s}.event_batches', 'id'),
        greatest(
          coalesce(pg_sequence_last_value(pg_get_serial_sequence('${s}.events', 'id')), 0),
          coalesce((SELECT max(id) FROM ${s}.events), 0),
          coalesce((SELECT pruned_through FROM ${s}.event_floor WHERE singleton), 0)
        ) / ${EVENTS_PER_BATCH} + 1,
        false);
      DROP TABLE ${s}.events;
    `,
  },
  {
    version: 18,
    name: 'per-key concurrency: a key and its limit on each job, and an index of running jobs by key',
    sql: ({ quoted: s }) => `
      ALTER TABLE ${s}.jobs ADD COLUMN concurrency_key text;
      ALTER TABLE ${s}.jobs ADD COLUMN concurrency_limit integer;
      CREATE INDEX jobs_running_key_idx ON ${s}.jobs (queue, concurrency_key)
        WHERE state = 'running' AND concurrency_key IS NOT NULL;
    `,
  },
  {
    version: 19,
    name: 'rate limits: what each rate-limited claim took and when, and queues held by a handler',
    sql: ({ quoted: s }) => `
      CREATE TABLE ${s}.rate_log (
        queue text        NOT NULL,
        at    timestamptz NOT NULL,
        n     integer     NOT NULL
      );
      CREATE INDEX rate_log_idx ON ${s}.rate_log (queue, at);
      CREATE TABLE ${s}.queue_holds (
        queue text PRIMARY KEY,
        until timestamptz NOT NULL
      );
    `,
  },
  {
    version: 20,
    name: 'job dependencies: the edges a job waits on, its count of unsettled ones, and what a dependency\'s end does',
    // See store/job-dependencies.ts for the rules. The edges go with their jobs (ON DELETE
    // CASCADE), so pruning and deleting keep the graph consistent without more statements.
    // settle_dependents applies the end of some dependencies to the jobs waiting on them,
    // cascading cancellations; it is idempotent (an edge settles once), so running it again for
    // a dependency that already ended changes nothing.
    sql: ({ quoted: s }) => `
      ALTER TABLE ${s}.jobs ADD COLUMN deps_pending integer NOT NULL DEFAULT 0;
      ALTER TABLE ${s}.jobs ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;
      ALTER TABLE ${s}.jobs ADD COLUMN on_dep_failure text;
      CREATE TABLE ${s}.job_deps (
        job_id     bigint NOT NULL REFERENCES ${s}.jobs (id) ON DELETE CASCADE,
        depends_on bigint NOT NULL REFERENCES ${s}.jobs (id) ON DELETE CASCADE,
        resolved   boolean NOT NULL DEFAULT false,
        PRIMARY KEY (job_id, depends_on)
      );
      CREATE INDEX job_deps_on_idx ON ${s}.job_deps (depends_on, job_id);
      CREATE FUNCTION ${s}.settle_dependents(deps bigint[], hows text[], at timestamptz) RETURNS SETOF text
      LANGUAGE plpgsql AS $fn$
      DECLARE
        frontier_ids bigint[] := deps;
        frontier_hows text[] := hows;
        next_ids bigint[];
        next_hows text[];
        waiting record;
        released record;
        i integer;
      BEGIN
        WHILE coalesce(array_length(frontier_ids, 1), 0) > 0 LOOP
          next_ids := '{}';
          next_hows := '{}';
          FOR i IN 1 .. array_length(frontier_ids, 1) LOOP
            FOR waiting IN
              SELECT d.job_id, coalesce(j.on_dep_failure, 'cancel') AS policy
              FROM ${s}.job_deps d JOIN ${s}.jobs j ON j.id = d.job_id
              WHERE d.depends_on = frontier_ids[i] AND NOT d.resolved AND j.state = 'waiting'
              ORDER BY d.job_id
              FOR UPDATE OF d, j
            LOOP
              CONTINUE WHEN frontier_hows[i] <> 'completed' AND waiting.policy = 'wait';
              UPDATE ${s}.job_deps SET resolved = true WHERE job_id = waiting.job_id AND depends_on = frontier_ids[i];
              IF frontier_hows[i] = 'completed' OR waiting.policy = 'run' THEN
                UPDATE ${s}.jobs
                SET deps_pending = deps_pending - 1,
                    state = CASE WHEN deps_pending - 1 > 0 THEN state WHEN run_at > at THEN 'scheduled' ELSE 'available' END
                WHERE id = waiting.job_id AND state = 'waiting'
                RETURNING state, queue INTO released;
                IF FOUND AND released.state = 'available' THEN RETURN NEXT released.queue; END IF;
              ELSE
                UPDATE ${s}.jobs
                SET state = 'cancelled', finished_at = at,
                    last_error = jsonb_build_object('name', 'DependencyFailed', 'message',
                      format('dependency %s ended %s', frontier_ids[i], frontier_hows[i]), 'stack', NULL, 'kind', 'dependency_failed')
                WHERE id = waiting.job_id AND state = 'waiting';
                IF FOUND THEN
                  next_ids := next_ids || waiting.job_id;
                  next_hows := next_hows || 'cancelled'::text;
                END IF;
              END IF;
            END LOOP;
          END LOOP;
          frontier_ids := next_ids;
          frontier_hows := next_hows;
        END LOOP;
      END
      $fn$;
    `,
  },
  {
    version: 21,
    name: 'throttle and debounce by key: the keys, a debounced job\'s deadline, and indexes to find them',
    sql: ({ quoted: s }) => `
      ALTER TABLE ${s}.jobs ADD COLUMN throttle_key text;
      ALTER TABLE ${s}.jobs ADD COLUMN debounce_key text;
      ALTER TABLE ${s}.jobs ADD COLUMN debounce_deadline timestamptz;
      CREATE INDEX jobs_throttle_idx ON ${s}.jobs (name, throttle_key, created_at) WHERE throttle_key IS NOT NULL;
      CREATE INDEX jobs_debounce_idx ON ${s}.jobs (name, debounce_key) WHERE debounce_key IS NOT NULL;
    `,
  },
  {
    version: 22,
    name: 'rate limits per key: the key and its limit on each job, and per-key claims in the rate log',
    sql: ({ quoted: s }) => `
      ALTER TABLE ${s}.jobs ADD COLUMN rate_key text;
      ALTER TABLE ${s}.jobs ADD COLUMN rate_max integer;
      ALTER TABLE ${s}.jobs ADD COLUMN rate_per_ms integer;
      ALTER TABLE ${s}.rate_log ADD COLUMN key text;
      ALTER TABLE ${s}.rate_log ADD COLUMN window_ms integer;
      CREATE INDEX rate_log_key_idx ON ${s}.rate_log (queue, key, at) WHERE key IS NOT NULL;
    `,
  },
  {
    version: 23,
    name: 'stranded dependents: an index of waiting jobs, and a settle that tells what it changed',
    // The rescuer looks for waiting jobs that nothing would release any more (Store.jobSettleStranded:
    // a dependency ended but its settle never ran, or it was deleted while they waited): the
    // partial index keeps that search to the waiting jobs, however many finished ones the table
    // holds. settle_dependents_changes is version 20's settle_dependents returning each job it
    // moved out of waiting, with its new state; settle_dependents becomes a view of it (same
    // signature, so processes of the previous version keep working), and the rules stay in one body.
    sql: ({ quoted: s }) => `
      CREATE INDEX jobs_waiting_idx ON ${s}.jobs (id) WHERE state = 'waiting';
      CREATE FUNCTION ${s}.settle_dependents_changes(deps bigint[], hows text[], at timestamptz)
        RETURNS TABLE (changed_id bigint, changed_state text, changed_queue text)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        frontier_ids bigint[] := deps;
        frontier_hows text[] := hows;
        next_ids bigint[];
        next_hows text[];
        waiting record;
        released record;
        i integer;
      BEGIN
        WHILE coalesce(array_length(frontier_ids, 1), 0) > 0 LOOP
          next_ids := '{}';
          next_hows := '{}';
          FOR i IN 1 .. array_length(frontier_ids, 1) LOOP
            FOR waiting IN
              SELECT d.job_id, coalesce(j.on_dep_failure, 'cancel') AS policy
              FROM ${s}.job_deps d JOIN ${s}.jobs j ON j.id = d.job_id
              WHERE d.depends_on = frontier_ids[i] AND NOT d.resolved AND j.state = 'waiting'
              ORDER BY d.job_id
              FOR UPDATE OF d, j
            LOOP
              -- The rule of store/job-dependencies.ts (dependencyEndEffect), as in version 20.
              CONTINUE WHEN frontier_hows[i] <> 'completed' AND waiting.policy = 'wait';
              UPDATE ${s}.job_deps SET resolved = true WHERE job_id = waiting.job_id AND depends_on = frontier_ids[i];
              IF frontier_hows[i] = 'completed' OR waiting.policy = 'run' THEN
                UPDATE ${s}.jobs
                SET deps_pending = deps_pending - 1,
                    state = CASE WHEN deps_pending - 1 > 0 THEN state WHEN run_at > at THEN 'scheduled' ELSE 'available' END
                WHERE id = waiting.job_id AND state = 'waiting'
                RETURNING state, queue INTO released;
                IF FOUND AND released.state <> 'waiting' THEN
                  changed_id := waiting.job_id;
                  changed_state := released.state;
                  changed_queue := released.queue;
                  RETURN NEXT;
                END IF;
              ELSE
                UPDATE ${s}.jobs
                SET state = 'cancelled', finished_at = at,
                    last_error = jsonb_build_object('name', 'DependencyFailed', 'message',
                      format('dependency %s ended %s', frontier_ids[i], frontier_hows[i]), 'stack', NULL, 'kind', 'dependency_failed')
                WHERE id = waiting.job_id AND state = 'waiting'
                RETURNING state, queue INTO released;
                IF FOUND THEN
                  next_ids := next_ids || waiting.job_id;
                  next_hows := next_hows || 'cancelled'::text;
                  changed_id := waiting.job_id;
                  changed_state := released.state;
                  changed_queue := released.queue;
                  RETURN NEXT;
                END IF;
              END IF;
            END LOOP;
          END LOOP;
          frontier_ids := next_ids;
          frontier_hows := next_hows;
        END LOOP;
      END
      $fn$;
      CREATE OR REPLACE FUNCTION ${s}.settle_dependents(deps bigint[], hows text[], at timestamptz) RETURNS SETOF text
      LANGUAGE sql AS $fn$
        SELECT changed_queue FROM ${s}.settle_dependents_changes(deps, hows, at) WHERE changed_state = 'available'
      $fn$;
    `,
  },
  {
    version: 24,
    name: 'finished jobs by name, newest first: for consecutive-failure alerts without walking the jobs table',
    sql: ({ quoted: s }) => `
      CREATE INDEX jobs_name_finished_idx ON ${s}.jobs (name, finished_at DESC, id DESC) WHERE state IN ('completed', 'dead');
    `,
  },
  {
    version: 25,
    name: 'event feed batches as bytes (format 3): a bytea column beside the text of earlier batches',
    // See store/event-batches.ts. A row holds either `events` (formats 1 and 2, text) or `packed`
    // (format 3). The bytes are already compact; compressing them again would cost the server
    // CPU for little, so they are stored out of line as they are (EXTERNAL).
    sql: ({ quoted: s }) => `
      ALTER TABLE ${s}.event_batches ALTER COLUMN events DROP NOT NULL;
      ALTER TABLE ${s}.event_batches ADD COLUMN packed bytea;
      ALTER TABLE ${s}.event_batches ALTER COLUMN packed SET STORAGE EXTERNAL;
      ALTER TABLE ${s}.event_batches ADD CONSTRAINT event_batches_one_form CHECK ((events IS NULL) <> (packed IS NULL));
    `,
  },
  {
    version: 26,
    name: 'enqueue(): payloads nested more than 256 levels deep are refused, as the core refuses them',
    sql: (names) => enqueueFunctionSql(names, { minPriority: MIN_PRIORITY, maxDepth: MAX_PAYLOAD_DEPTH }),
  },
];

/** The newest schema version this code knows. */
export const LATEST_VERSION = MIGRATIONS.reduce((max, step) => Math.max(max, step.version), 0);

type Queryable = Pick<pg.Pool, 'query' | 'connect'>;


async function appliedVersions(pool: Queryable, names: SchemaNames): Promise<Set<number> | null> {
  try {
    const { rows } = await pool.query<{ version: number }>(`SELECT version FROM ${names.quoted}.migrations`);
    return new Set(rows.map((row) => row.version));
  } catch (error) {
    // 42P01 undefined_table / 3F000 invalid_schema_name: a fresh database, nothing applied yet.
    const code = (error as { code?: string }).code;
    if (code === '42P01' || code === '3F000') return null;
    throw error;
  }
}

/**
 * Applies the missing steps up to `upTo` (default: all), each in its own transaction under the
 * schema's advisory lock. Returns the versions this call applied (others may have been applied
 * by concurrent processes).
 */
export async function runMigrations(
  pool: Queryable,
  names: SchemaNames,
  options: { logger?: Logger; upTo?: number } = {},
): Promise<number[]> {
  const upTo = options.upTo ?? LATEST_VERSION;
  const wanted = MIGRATIONS.filter((step) => step.version <= upTo);
  const applied: number[] = [];
  try {
    // Fast path without a lock: a started service usually finds everything applied.
    const done = await appliedVersions(pool, names);
    if (done && wanted.every((step) => done.has(step.version))) return applied;

    for (const step of wanted) {
      if (done?.has(step.version)) continue;
      const appliedNow = await inTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [names.migrationLockKey]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${names.quoted}`);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${names.quoted}.migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
           )`,
        );
        const { rowCount } = await client.query(`SELECT 1 FROM ${names.quoted}.migrations WHERE version = $1`, [step.version]);
        if (rowCount !== 0) return false; // another process applied it while we waited for the lock
        await client.query(step.sql(names));
        await client.query(`INSERT INTO ${names.quoted}.migrations (version, name) VALUES ($1, $2)`, [step.version, step.name]);
        return true;
      });
      if (appliedNow) {
        applied.push(step.version);
        options.logger?.info({ schema: names.schema, version: step.version, step: step.name }, 'applied migration');
      }
    }
    return applied;
  } catch (error) {
    throw toStoreError(error, `migrate schema ${names.schema}`);
  }
}
