/**
 * Schema migrations of the SQLite store, versioned with `PRAGMA user_version`.
 *
 * Each step runs in its own BEGIN IMMEDIATE transaction that first re-reads user_version: when
 * two processes migrate the same file at once, the second one waits for the write lock
 * (busy_timeout), then sees the version the first one committed and skips the step. A step and
 * its version bump commit together, so a crash never leaves a half-applied step behind.
 */
import type Database from 'better-sqlite3';
import { EVENTS_PER_BATCH } from '../event-batches.js';

/** One schema step. `version` numbers are consecutive from 1 and never change once released. */
interface Migration {
  version: number;
  description: string;
  sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'jobs, attempts, paused queues, schedules and ticks',
    sql: `
      -- AUTOINCREMENT: an id is never reused after pruning, so a stale id can never name another job
      -- (version 3 keeps that promise without it).
      CREATE TABLE IF NOT EXISTS nightshift_jobs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        name             TEXT    NOT NULL,
        queue            TEXT    NOT NULL,
        payload          TEXT    NOT NULL,
        state            TEXT    NOT NULL CHECK (state IN ('scheduled','available','running','retryable','completed','dead','cancelled','waiting')),
        priority         INTEGER NOT NULL,
        attempt          INTEGER NOT NULL DEFAULT 0,
        max_attempts     INTEGER NOT NULL,
        run_at           INTEGER NOT NULL,
        created_at       INTEGER NOT NULL,
        attempted_at     INTEGER,
        attempted_by     TEXT,
        finished_at      INTEGER,
        key              TEXT,
        timeout_ms       INTEGER,
        lease_token      TEXT,
        lease_expires_at INTEGER,
        last_error       TEXT,
        result           TEXT,
        progress         TEXT,
        schedule_id      TEXT,
        meta             TEXT
      );
      -- The claim walks this index in claim order and stops after LIMIT rows; only pending rows are in it.
      CREATE INDEX IF NOT EXISTS nightshift_jobs_claim_idx
        ON nightshift_jobs (queue, priority DESC, run_at, id)
        WHERE state IN ('available','scheduled','retryable');
      -- De-duplication keys are enforced by the database, whatever the number of writers.
      CREATE UNIQUE INDEX IF NOT EXISTS nightshift_jobs_key_idx
        ON nightshift_jobs (name, key)
        WHERE key IS NOT NULL AND state IN ('scheduled','available','running','retryable','waiting');
      CREATE INDEX IF NOT EXISTS nightshift_jobs_lease_idx
        ON nightshift_jobs (lease_expires_at)
        WHERE state = 'running';
      CREATE INDEX IF NOT EXISTS nightshift_jobs_finished_idx
        ON nightshift_jobs (finished_at)
        WHERE state IN ('completed','dead','cancelled');
      CREATE INDEX IF NOT EXISTS nightshift_jobs_schedule_idx
        ON nightshift_jobs (schedule_id, state)
        WHERE schedule_id IS NOT NULL;

      -- Finished attempts; the running attempt is derived from the job row, which keeps the claim cheap.
      CREATE TABLE IF NOT EXISTS nightshift_job_attempts (
        id          INTEGER PRIMARY KEY,
        job_id      INTEGER NOT NULL,
        attempt     INTEGER NOT NULL,
        worker_id   TEXT    NOT NULL,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        outcome     TEXT    NOT NULL,
        error       TEXT,
        result      TEXT
      );
      CREATE INDEX IF NOT EXISTS nightshift_job_attempts_job_idx ON nightshift_job_attempts (job_id, id);

      CREATE TABLE IF NOT EXISTS nightshift_paused_queues (
        queue     TEXT PRIMARY KEY,
        paused_at INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE IF NOT EXISTS nightshift_schedules (
        id          TEXT PRIMARY KEY,
        job_name    TEXT    NOT NULL,
        cron        TEXT    NOT NULL,
        timezone    TEXT    NOT NULL,
        enabled     INTEGER NOT NULL,
        description TEXT,
        input       TEXT    NOT NULL,
        catch_up    INTEGER NOT NULL,
        overlap     TEXT    NOT NULL,
        source      TEXT    NOT NULL,
        job_options TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        next_run_at INTEGER,
        last_run_at INTEGER,
        last_job_id INTEGER
      ) WITHOUT ROWID;

      -- One row per claimed cron tick: the unique key is what makes a tick run once across processes.
      CREATE TABLE IF NOT EXISTS nightshift_schedule_ticks (
        schedule_id TEXT    NOT NULL,
        fire_at     INTEGER NOT NULL,
        claimed_at  INTEGER NOT NULL,
        job_id      INTEGER,
        status      TEXT    NOT NULL,
        UNIQUE (schedule_id, fire_at)
      );
    `,
  },
  {
    version: 2,
    description: 'tick retention: claim-time index and per-schedule prune marks',
    sql: `
      -- The tick pruner walks ticks oldest claim first and stops after its batch.
      CREATE INDEX IF NOT EXISTS nightshift_schedule_ticks_claimed_idx
        ON nightshift_schedule_ticks (claimed_at);
      -- The newest fire time pruned per schedule id. A claim at or before it is refused, since the
      -- unique tick row that would have stopped a second claim may be gone. Kept when a schedule is
      -- deleted, for the same reason its ticks are.
      CREATE TABLE IF NOT EXISTS nightshift_schedule_tick_floors (
        schedule_id    TEXT    PRIMARY KEY,
        pruned_through INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: 'job ids without AUTOINCREMENT: the id floor is kept by the pruner',
    sql: `
      -- AUTOINCREMENT rewrote its sqlite_sequence row on every insert: one more page in the WAL per
      -- commit, about a tenth of a single enqueue's cost. Ids still never repeat: an insert takes the
      -- larger of MAX(id) and this floor, plus one, and the pruner raises the floor to the highest id
      -- it deleted. The floor starts at the last id AUTOINCREMENT handed out.
      CREATE TABLE IF NOT EXISTS nightshift_job_id_floor (
        only           INTEGER PRIMARY KEY CHECK (only = 1),
        pruned_through INTEGER NOT NULL
      );
      INSERT OR IGNORE INTO nightshift_job_id_floor (only, pruned_through)
        VALUES (1, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'nightshift_jobs'), 0));

      CREATE TABLE nightshift_jobs_v3 (
        id               INTEGER PRIMARY KEY,
        name             TEXT    NOT NULL,
        queue            TEXT    NOT NULL,
        payload          TEXT    NOT NULL,
        state            TEXT    NOT NULL CHECK (state IN ('scheduled','available','running','retryable','completed','dead','cancelled','waiting')),
        priority         INTEGER NOT NULL,
        attempt          INTEGER NOT NULL DEFAULT 0,
        max_attempts     INTEGER NOT NULL,
        run_at           INTEGER NOT NULL,
        created_at       INTEGER NOT NULL,
        attempted_at     INTEGER,
        attempted_by     TEXT,
        finished_at      INTEGER,
        key              TEXT,
        timeout_ms       INTEGER,
        lease_token      TEXT,
        lease_expires_at INTEGER,
        last_error       TEXT,
        result           TEXT,
        progress         TEXT,
        schedule_id      TEXT,
        meta             TEXT
      );
      INSERT INTO nightshift_jobs_v3
        (id, name, queue, payload, state, priority, attempt, max_attempts, run_at, created_at, attempted_at, attempted_by,
         finished_at, key, timeout_ms, lease_token, lease_expires_at, last_error, result, progress, schedule_id, meta)
      SELECT id, name, queue, payload, state, priority, attempt, max_attempts, run_at, created_at, attempted_at, attempted_by,
         finished_at, key, timeout_ms, lease_token, lease_expires_at, last_error, result, progress, schedule_id, meta
      FROM nightshift_jobs;
      DROP TABLE nightshift_jobs;
      ALTER TABLE nightshift_jobs_v3 RENAME TO nightshift_jobs;
      -- The indexes of version 1, unchanged (they went with the old table).
      CREATE INDEX nightshift_jobs_claim_idx
        ON nightshift_jobs (queue, priority DESC, run_at, id)
        WHERE state IN ('available','scheduled','retryable');
      CREATE UNIQUE INDEX nightshift_jobs_key_idx
        ON nightshift_jobs (name, key)
        WHERE key IS NOT NULL AND state IN ('scheduled','available','running','retryable','waiting');
      CREATE INDEX nightshift_jobs_lease_idx
        ON nightshift_jobs (lease_expires_at)
        WHERE state = 'running';
      CREATE INDEX nightshift_jobs_finished_idx
        ON nightshift_jobs (finished_at)
        WHERE state IN ('completed','dead','cancelled');
      CREATE INDEX nightshift_jobs_schedule_idx
        ON nightshift_jobs (schedule_id, state)
        WHERE schedule_id IS NOT NULL;
    `,
  },
  {
    version: 4,
    description: 'process registry: one row per live process, its description and last heartbeat',
    sql: `
      CREATE TABLE nightshift_processes (
        id            TEXT PRIMARY KEY,
        info          TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL,
        last_seen_at  INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    description: 'event feed: lifecycle events under an increasing id (the cursor), and how far they were pruned',
    sql: `
      -- AUTOINCREMENT: an id is never handed out twice, even after the newest events were pruned.
      CREATE TABLE nightshift_events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        at       INTEGER NOT NULL,
        type     TEXT NOT NULL,
        queue    TEXT,
        job_name TEXT,
        job_id   TEXT,
        data     TEXT NOT NULL
      );
      CREATE INDEX nightshift_events_at_idx ON nightshift_events (at);
      CREATE TABLE nightshift_event_floor (
        only           INTEGER PRIMARY KEY CHECK (only = 1),
        pruned_through INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    description: 'API tokens: name, scope and SHA-256 digest (never the token); one unrevoked token per name',
    sql: `
      CREATE TABLE nightshift_api_tokens (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        scope      TEXT NOT NULL,
        sha256     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE UNIQUE INDEX nightshift_api_tokens_active_name ON nightshift_api_tokens (name) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 7,
    description: 'activity statistics: per-minute counters and histograms per queue and job name, added to by every process',
    sql: `
      CREATE TABLE nightshift_stats (
        minute INTEGER NOT NULL,
        queue  TEXT NOT NULL,
        name   TEXT NOT NULL,
        enqueued INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
        dead INTEGER NOT NULL DEFAULT 0, cancelled INTEGER NOT NULL DEFAULT 0,
        duration_sum_ms REAL NOT NULL DEFAULT 0, wait_sum_ms REAL NOT NULL DEFAULT 0,
        -- Histogram buckets of attempt durations (d) and of waits from due to start (w).
        d0 INTEGER NOT NULL DEFAULT 0, d1 INTEGER NOT NULL DEFAULT 0, d2 INTEGER NOT NULL DEFAULT 0, d3 INTEGER NOT NULL DEFAULT 0, d4 INTEGER NOT NULL DEFAULT 0, d5 INTEGER NOT NULL DEFAULT 0, d6 INTEGER NOT NULL DEFAULT 0, d7 INTEGER NOT NULL DEFAULT 0, d8 INTEGER NOT NULL DEFAULT 0,
        d9 INTEGER NOT NULL DEFAULT 0, d10 INTEGER NOT NULL DEFAULT 0, d11 INTEGER NOT NULL DEFAULT 0, d12 INTEGER NOT NULL DEFAULT 0, d13 INTEGER NOT NULL DEFAULT 0, d14 INTEGER NOT NULL DEFAULT 0, d15 INTEGER NOT NULL DEFAULT 0, d16 INTEGER NOT NULL DEFAULT 0,
        w0 INTEGER NOT NULL DEFAULT 0, w1 INTEGER NOT NULL DEFAULT 0, w2 INTEGER NOT NULL DEFAULT 0, w3 INTEGER NOT NULL DEFAULT 0, w4 INTEGER NOT NULL DEFAULT 0, w5 INTEGER NOT NULL DEFAULT 0, w6 INTEGER NOT NULL DEFAULT 0, w7 INTEGER NOT NULL DEFAULT 0, w8 INTEGER NOT NULL DEFAULT 0,
        w9 INTEGER NOT NULL DEFAULT 0, w10 INTEGER NOT NULL DEFAULT 0, w11 INTEGER NOT NULL DEFAULT 0, w12 INTEGER NOT NULL DEFAULT 0, w13 INTEGER NOT NULL DEFAULT 0, w14 INTEGER NOT NULL DEFAULT 0, w15 INTEGER NOT NULL DEFAULT 0, w16 INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (minute, queue, name)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 8,
    description: 'job counts per queue and state, kept by triggers, so reading them never scans the jobs table',
    // A table rebuild of nightshift_jobs in a later migration must re-create these triggers.
    sql: `
      CREATE TABLE nightshift_queue_counts (
        queue TEXT NOT NULL,
        state TEXT NOT NULL,
        n     INTEGER NOT NULL,
        PRIMARY KEY (queue, state)
      ) WITHOUT ROWID;
      INSERT INTO nightshift_queue_counts (queue, state, n)
        SELECT queue, state, COUNT(*) FROM nightshift_jobs GROUP BY queue, state;
      CREATE TRIGGER nightshift_jobs_count_insert AFTER INSERT ON nightshift_jobs BEGIN
        INSERT INTO nightshift_queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
          ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER nightshift_jobs_count_update AFTER UPDATE OF queue, state ON nightshift_jobs
        WHEN OLD.state IS NOT NEW.state OR OLD.queue IS NOT NEW.queue BEGIN
        UPDATE nightshift_queue_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
        INSERT INTO nightshift_queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
          ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER nightshift_jobs_count_delete AFTER DELETE ON nightshift_jobs BEGIN
        UPDATE nightshift_queue_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
      END;
    `,
  },
  {
    version: 9,
    description: 'alerting: episodes (one open per key) and silences',
    sql: `
      CREATE TABLE nightshift_alert_episodes (
        id               INTEGER PRIMARY KEY,
        key              TEXT NOT NULL,
        rule             TEXT NOT NULL,
        severity         TEXT NOT NULL,
        subject_kind     TEXT NOT NULL,
        subject          TEXT NOT NULL,
        opened_at        INTEGER NOT NULL,
        last_seen_at     INTEGER NOT NULL,
        resolved_at      INTEGER,
        suppressed       TEXT,
        info             TEXT NOT NULL,
        delivery_job_ids TEXT NOT NULL DEFAULT '[]'
      );
      CREATE UNIQUE INDEX nightshift_alert_episodes_open ON nightshift_alert_episodes (key) WHERE resolved_at IS NULL;
      CREATE INDEX nightshift_alert_episodes_subject ON nightshift_alert_episodes (subject_kind, subject, id);
      CREATE INDEX nightshift_alert_episodes_resolved ON nightshift_alert_episodes (resolved_at) WHERE resolved_at IS NOT NULL;
      CREATE TABLE nightshift_alert_silences (
        id         INTEGER PRIMARY KEY,
        rule       TEXT NOT NULL,
        subject    TEXT,
        until      INTEGER NOT NULL,
        reason     TEXT,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 10,
    description: 'activity statistics: attempts that ran past their timeout',
    sql: `ALTER TABLE nightshift_stats ADD COLUMN timeouts INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    version: 11,
    description: 'event feed: one row per append (a batch of events), not one per event',
    // See store/event-batches.ts. The feed's events are kept an hour and only for reading
    // along; the old rows are dropped, not converted. New ids start above every id the old
    // table handed out (its AUTOINCREMENT high-water mark and the pruned-through mark), so a
    // reader's old cursor still means "after everything I saw".
    sql: `
      CREATE TABLE nightshift_event_batches (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     INTEGER NOT NULL,
        n      INTEGER NOT NULL,
        events TEXT NOT NULL
      );
      CREATE INDEX nightshift_event_batches_at_idx ON nightshift_event_batches (at);
      INSERT INTO sqlite_sequence (name, seq)
        SELECT 'nightshift_event_batches', high / ${EVENTS_PER_BATCH}
        FROM (SELECT MAX(
                COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'nightshift_events'), 0),
                COALESCE((SELECT MAX(id) FROM nightshift_events), 0),
                COALESCE((SELECT pruned_through FROM nightshift_event_floor WHERE only = 1), 0)) AS high)
        WHERE high > 0;
      DROP TABLE nightshift_events;
    `,
  },
  {
    version: 12,
    description: 'per-key concurrency: a key and its limit on each job, and an index of running jobs by key',
    sql: `
      ALTER TABLE nightshift_jobs ADD COLUMN concurrency_key TEXT;
      ALTER TABLE nightshift_jobs ADD COLUMN concurrency_limit INTEGER;
      CREATE INDEX nightshift_jobs_running_key_idx ON nightshift_jobs (queue, concurrency_key)
        WHERE state = 'running' AND concurrency_key IS NOT NULL;
    `,
  },
  {
    version: 13,
    description: 'rate limits: what each rate-limited claim took and when, and queues held by a handler',
    sql: `
      CREATE TABLE nightshift_rate_log (
        queue TEXT    NOT NULL,
        at    INTEGER NOT NULL,
        n     INTEGER NOT NULL
      );
      CREATE INDEX nightshift_rate_log_idx ON nightshift_rate_log (queue, at);
      CREATE TABLE nightshift_queue_holds (
        queue TEXT PRIMARY KEY,
        until INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 14,
    description: 'job dependencies: the edges a job waits on, its count of unsettled ones, and a flag on jobs others wait for',
    sql: `
      ALTER TABLE nightshift_jobs ADD COLUMN deps_pending INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE nightshift_jobs ADD COLUMN has_dependents INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE nightshift_jobs ADD COLUMN on_dep_failure TEXT;
      CREATE TABLE nightshift_job_deps (
        job_id     INTEGER NOT NULL,
        depends_on INTEGER NOT NULL,
        resolved   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, depends_on)
      ) WITHOUT ROWID;
      CREATE INDEX nightshift_job_deps_on_idx ON nightshift_job_deps (depends_on, job_id);
    `,
  },
  {
    version: 15,
    description: 'throttle and debounce by key: the keys, a debounced job\'s deadline, and indexes to find them',
    sql: `
      ALTER TABLE nightshift_jobs ADD COLUMN throttle_key TEXT;
      ALTER TABLE nightshift_jobs ADD COLUMN debounce_key TEXT;
      ALTER TABLE nightshift_jobs ADD COLUMN debounce_deadline INTEGER;
      CREATE INDEX nightshift_jobs_throttle_idx ON nightshift_jobs (name, throttle_key, created_at) WHERE throttle_key IS NOT NULL;
      CREATE INDEX nightshift_jobs_debounce_idx ON nightshift_jobs (name, debounce_key) WHERE debounce_key IS NOT NULL;
    `,
  },
  {
    version: 16,
    description: 'rate limits per key: the key and its limit on each job, and per-key claims in the rate log',
    sql: `
      ALTER TABLE nightshift_jobs ADD COLUMN rate_key TEXT;
      ALTER TABLE nightshift_jobs ADD COLUMN rate_max INTEGER;
      ALTER TABLE nightshift_jobs ADD COLUMN rate_per_ms INTEGER;
      ALTER TABLE nightshift_rate_log ADD COLUMN key TEXT;
      ALTER TABLE nightshift_rate_log ADD COLUMN window_ms INTEGER;
      CREATE INDEX nightshift_rate_log_key_idx ON nightshift_rate_log (queue, key, at) WHERE key IS NOT NULL;
    `,
  },
  {
    version: 17,
    description: 'an index of waiting jobs, so the rescuer finds those stranded by a deleted or unsettled dependency without scanning every job',
    sql: `
      CREATE INDEX nightshift_jobs_waiting_idx ON nightshift_jobs (id) WHERE state = 'waiting';
    `,
  },
  {
    version: 18,
    description: 'final jobs indexed by name, then finish time: the newest of a name in one seek (consecutive-failure alerts); pruning walks it name by name',
    // Replaces the index of finish times alone rather than adding one: a finish writes one index
    // entry either way, and that write is on every job's path.
    sql: `
      DROP INDEX nightshift_jobs_finished_idx;
      CREATE INDEX nightshift_jobs_finished_idx ON nightshift_jobs (name, finished_at) WHERE state IN ('completed','dead','cancelled');
    `,
  },
];

/** The schema version this code expects. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Brings the database up to `targetVersion` (default and most: `SQLITE_SCHEMA_VERSION`; tests of
 * upgrades stop earlier). Idempotent; safe when several processes run it at the same time (see
 * the module comment). Refuses a database written by a newer version.
 */
export function migrateSqlite(db: Database.Database, targetVersion: number = SQLITE_SCHEMA_VERSION): void {
  for (const migration of MIGRATIONS) {
    if (migration.version > targetVersion) break;
    const step = db.transaction(() => {
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current > SQLITE_SCHEMA_VERSION) {
        throw new Error(
          `the database schema is version ${current}, newer than this Nightshift (${SQLITE_SCHEMA_VERSION}); upgrade Nightshift`,
        );
      }
      if (current >= migration.version) return;
      db.exec(migration.sql);
      // user_version is not a bound parameter position; the value is our own integer constant.
      db.pragma(`user_version = ${migration.version}`);
    });
    // IMMEDIATE takes the write lock before reading user_version, so two migrators never both
    // decide to apply the same step.
    step.immediate();
  }
}
