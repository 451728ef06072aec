import type { Logger, LevelWithSilent } from 'pino';
import type { AlertRulesInput } from '../alerts/alert-rules.js';
import type { Client } from '../client/client.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import type { BuiltinJobsConfig } from '../jobs/builtin-config.js';
import type { ScheduleDefinition } from '../scheduler/schedule-definition.js';
import type { Store } from '../store/types.js';
import type { Duration } from './setting-rules.js';

export type { Duration } from './setting-rules.js';

/** Per-queue settings. */
export interface QueueConfig {
  /**
   * Jobs of this queue that one worker process runs at the same time. Default: `MAX_CONCURRENT_JOBS`
   * from the environment, else 10. When `MAX_CONCURRENT_JOBS` is set it also caps this value.
   */
  concurrency?: number;
  /**
   * Time limit of one attempt, in ms, for jobs of this queue that set no `timeoutMs` themselves.
   * Default 300 000 (5 minutes). `JOB_TIMEOUT_MS` in the environment replaces it.
   */
  timeoutMs?: number;
  /**
   * Jobs one worker process may claim ahead of its free slots, started the moment a slot frees.
   * Default: the queue's concurrency; 0 turns it off. Only while the queue's handlers average
   * under 50 ms, so a claimed job never waits long (see the worker's `QueueOptions.prefetch`).
   */
  prefetch?: number;
  /**
   * Jobs of this queue running at once across every worker process on the store. No limit by
   * default. Checked in each claim, so workers together never exceed it; claiming ahead is off
   * for such a queue (see the worker's `QueueOptions.globalConcurrency`).
   */
  globalConcurrency?: number;
  /**
   * At most `max` jobs of this queue start in any `perMs` ms, across every worker process on the
   * store (see the worker's `QueueOptions.rateLimit`). No limit by default.
   */
  rateLimit?: { max: number; perMs: number };
  /**
   * How long the queue's finished jobs are kept, by state — `{ completed: '1h', dead: '30d' }` —
   * instead of `prune`'s retention; a job's own `keep` (defineJob) wins. `keepResult`: how long a
   * completed job keeps its result.
   */
  keep?: { completed?: Duration; cancelled?: Duration; dead?: Duration };
  keepResult?: Duration;
}

/**
 * How long finished jobs are kept, and how often the daemon deletes the older ones. Each time is a
 * `Duration`: ms, or a whole number with a unit (`500ms`, `30s`, `30m`, `12h`, `7d`). A job's
 * attempts (with their results and errors) go with it. Coming from BullMQ's
 * `removeOnComplete: { age }` or a `keep_result` setting, `completed` is the one to set.
 *
 * `NIGHTSHIFT_RETAIN_COMPLETED`, `NIGHTSHIFT_RETAIN_CANCELLED` and `NIGHTSHIFT_RETAIN_DEAD` in
 * the environment win over `completed`, `cancelled` and `dead`.
 */
export interface PruneConfig {
  /** Completed jobs, from the moment they finished; 0 … 100 years. Default `1d`. */
  completed?: Duration;
  /** Cancelled jobs; 0 … 100 years. Default `7d`. */
  cancelled?: Duration;
  /** Dead jobs (out of attempts, or unrecoverable); 0 … 100 years. Default `7d`. */
  dead?: Duration;
  /**
   * Claimed cron ticks (what `schedules history` shows), from their claim; at least `1h`, because a
   * fire time at or before a pruned tick can never be claimed again: keep it well above the
   * downtime a schedule's `catchUp` should cover. Default `7d`.
   */
  ticks?: Duration;
  /** Time between prune passes; `1s` … ~24.8 days. Default `1m`. */
  interval?: Duration;
}

/** SQLite store settings. */
export interface SqliteStoreConfig {
  sqlite: {
    /**
     * Database file. Relative paths resolve from the working directory of the process; the
     * directory is created when missing. Default `./data/nightshift.db`.
     */
    path?: string;
    /** How long a write waits for another process's lock before failing, in ms. Default: the store's (5 000). */
    busyTimeoutMs?: number;
  };
}

/** PostgreSQL store settings. */
export interface PostgresStoreConfig {
  postgres: {
    /**
     * `postgres://user:pass@host:5432/db`. Default: `DATABASE_URL`, else the standard `PG*`
     * environment variables of the `pg` driver.
     */
    connectionString?: string;
    /** Schema holding Nightshift's tables. Default `nightshift`. */
    schema?: string;
    /** Connections in the pool. Default: the store's (10). */
    poolSize?: number;
    /** Wake workers with LISTEN/NOTIFY instead of waiting for the next poll. Default true. */
    listen?: boolean;
  };
}

/** Which store to use: SQLite or PostgreSQL settings, or a store you built yourself. */
export type StoreConfig = SqliteStoreConfig | PostgresStoreConfig | Store;

/**
 * An API token of the config's `http.tokens`, by its SHA-256 digest only: a config file is read
 * (and committed) more widely than a secret should be, and the digest is all the server needs.
 */
export interface HttpTokenConfig {
  /** Names the token in logs and in the 403 that names its scope; the rule of job names. */
  name: string;
  /**
   * The token's SHA-256 digest, 64 lowercase hex characters: `printf %s "$TOKEN" | sha256sum`.
   * Make the token itself random and long (`openssl rand -hex 32`): a digest of a guessable token
   * can be reversed by guessing.
   */
  sha256: string;
  /** `read` (every GET), `enqueue` (read, plus enqueues and flows) or `admin` (everything). */
  scope: 'read' | 'enqueue' | 'admin';
}

/**
 * The HTTP API (REST under `/api`, `/health`, `/ready`, `/metrics`) of `nightshift serve`, and of
 * `nightshift daemon`, which serves it whenever this section is present (`daemon --no-http` keeps
 * it off). The same settings as `createNightshift({ http })`, except plain-text tokens.
 *
 * Where it listens is one setting, host and port together: `--http [host:]port` wins, then
 * `NIGHTSHIFT_HTTP`, then `HEALTH_CHECK_PORT` (on 127.0.0.1), then `host`/`port` here. The other
 * fields apply wherever it listens; `--insecure` on the command line also sets `insecure`.
 */
export interface HttpConfig {
  /**
   * Interface to listen on: `127.0.0.1`, `::1`, `0.0.0.0`, a host name. Default 127.0.0.1. Beyond
   * loopback the API needs a token (`nightshift tokens create`, `NIGHTSHIFT_API_TOKEN`, `tokens`) or
   * `insecure`.
   */
  host?: string;
  /** 0 … 65 535; 0 picks a free port (logged with "HTTP API listening"). Default 8080. */
  port?: number;
  /** Listen beyond loopback without a token, on a network you trust; a warning at every start. Default false. */
  insecure?: boolean;
  /**
   * Origins (`https://ops.example.com`: scheme, host and port, as browsers send `Origin`) whose
   * pages may make changing requests (POST, PUT, DELETE). Default none: a changing request from
   * a page of another site is refused (403 `CROSS_SITE_REQUEST`).
   */
  allowedOrigins?: readonly string[];
  /**
   * Host names (without port; an IPv6 address in brackets) an API without any token answers
   * besides this machine's loopback names: a local alias, a name in /etc/hosts. Without a token
   * the API answers only requests addressed to `localhost`, `*.localhost`, `127.x.x.x` or `[::1]`
   * (403 `HOST_NOT_ALLOWED` otherwise), against DNS rebinding. Default none.
   */
  allowedHosts?: readonly string[];
  /** Largest request body, bytes. Default: the payload limit (1 MiB) plus 64 KiB; bulk enqueue and flows allow 32 MiB. */
  bodyLimitBytes?: number;
  /** At stop, how long requests still in flight may take before their connections are cut, ms. Default 5 000. */
  closeGraceMs?: number;
  /** Requests with a wrong token one address may make per minute before it gets 429. Default 10. */
  authFailureLimit?: number;
  /**
   * Tokens accepted besides the store's (`nightshift tokens create`) and `NIGHTSHIFT_API_TOKEN`,
   * by digest (`HttpTokenConfig`); with any, every `/api` request needs one. Default none.
   */
  tokens?: readonly HttpTokenConfig[];
}

/**
 * One cron schedule of the config's `schedules: [...]`: the very shape of an entry of a YAML
 * schedule file (`ScheduleDefinition`, documented field by field there). Unknown keys are
 * rejected, so a typo is reported instead of silently ignored.
 */
export type ScheduleEntry = ScheduleDefinition;

/** What a config's `setup` hook receives. */
export interface ConfigSetupContext {
  /** A client on the running store, knowing every job of the config. (Handlers enqueue with `ctx.enqueue` instead.) */
  client: Client;
  /** The store, migrated and open. Closed by the CLI when the command ends. */
  store: Store;
  /** The CLI's logger (JSON lines on stderr). */
  logger: Logger;
  /** The CLI command being run: `daemon` or `run`. */
  command: 'daemon' | 'run';
}

/** Everything `nightshift.config.ts` can set. Only `jobs` is required. */
export interface NightshiftConfig {
  /** The jobs this app defines (`defineJob(...)`). Workers run them; the CLI enqueues them by name. */
  jobs: readonly AnyJobDefinition[];
  /** Queue settings by queue name. Queues used by jobs but not listed here get the defaults. */
  queues?: Record<string, QueueConfig>;
  /**
   * Where jobs are stored. Default: SQLite at `./data/nightshift.db`. `DATABASE_URL`,
   * `NIGHTSHIFT_DB` and `NIGHTSHIFT_STORE` in the environment win over this setting.
   */
  store?: StoreConfig;
  /**
   * The HTTP API of `nightshift serve` and `nightshift daemon` (`HttpConfig`); its presence makes
   * `daemon` serve it. `--http`, `NIGHTSHIFT_HTTP` and `HEALTH_CHECK_PORT` win over `host`/`port`.
   * Default: none (`serve` listens on 127.0.0.1:8080, `daemon` serves no API).
   */
  http?: HttpConfig;
  /**
   * Cron schedules: a path to a YAML schedule file (relative paths resolve from this config
   * file's directory), or the list inline. Default: none.
   */
  schedules?: string | readonly ScheduleEntry[];
  /**
   * The built-in jobs this app enables: `command` and `http` each with an allow-list, and the
   * `maintenance.retry` / `maintenance.cleanup` jobs with `maintenance: true`:
   * `{ command: { allow: ['/usr/local/bin/backup', 'pg_dump'], env: ['PATH'] }, http: { allow: ['hooks.example.org'] }, maintenance: true }`
   * (every field is documented on `BuiltinJobsConfig`). Default `{}`: none of them exists, so
   * nobody can enqueue or schedule them. A YAML schedule file in use may set `builtins:` instead
   * (not both).
   */
  builtins?: BuiltinJobsConfig;
  /**
   * How long finished jobs and claimed cron ticks are kept (`PruneConfig`); `false` turns pruning
   * off in this process. Pruning runs where a worker runs (not under `daemon --no-worker`).
   * Default: completed jobs 1 day, cancelled and dead jobs 7 days, ticks 7 days, a pass every minute.
   * A YAML schedule file in use may set `prune:` instead (not both).
   */
  prune?: PruneConfig | false;
  /**
   * Base time between a queue's fallback polls, in ms (jittered ±20 %): how soon a worker notices
   * jobs that no wake-up announced. Default 1000. `POLL_INTERVAL_MS` wins. A YAML schedule file in
   * use may set `pollIntervalMs:` instead (not both).
   */
  pollIntervalMs?: number;
  /** How long a claim on a job lasts without a heartbeat, in ms. Default 30 000. */
  leaseMs?: number;
  /**
   * How long `stop()` waits for running handlers before aborting them and releasing their jobs, in
   * ms; 0 aborts them at once. Default 30 000. `SHUTDOWN_TIMEOUT_MS` wins.
   */
  shutdownTimeoutMs?: number;
  /**
   * Alert rules for `nightshift daemon` (and what `nightshift serve` and `nightshift alerts …`
   * show): the `alerts.yaml` shape inline, or a path to such a YAML file (relative paths resolve
   * from this config file's directory). `daemon --alerts <file>` wins. Default: `alerts.yaml` (or
   * `alerts.yml`) beside this config file when one exists, else alerting is off.
   */
  alerts?: string | AlertRulesInput;
  /** `fatal`…`trace` or `silent`. Default `info`. `LOG_LEVEL` wins. */
  logLevel?: LevelWithSilent;
  /** Largest serialized payload accepted by enqueue, in bytes. Default 1 048 576 (1 MiB). */
  maxPayloadBytes?: number;
  /** Name of this worker process in leases, attempts and logs. Default `<hostname>-<pid>-<random>`. */
  workerId?: string;
  /**
   * Called by `nightshift daemon` and `nightshift run` once the store is open and before any
   * handler runs — the place to warm caches, or to hand the client to app code outside handlers
   * (handlers themselves enqueue with `ctx.enqueue` / `ctx.enqueueMany`). A throw stops the
   * command. Default: none.
   */
  setup?: (context: ConfigSetupContext) => void | Promise<void>;
}

/**
 * Declares the configuration in `nightshift.config.ts`. It returns its argument unchanged; its
 * point is the type checking and editor completion:
 *
 * ```ts
 * import { defineConfig } from 'nightshift';
 * export default defineConfig({ jobs: [sendEmail], queues: { email: { concurrency: 5 } } });
 * ```
 *
 * The CLI validates the object when it loads the file and reports every problem with its path.
 */
export function defineConfig<const C extends NightshiftConfig>(config: C): C {
  return config;
}
