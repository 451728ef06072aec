/**
 * Job kinds that ship with Nightshift, usable from YAML schedules without writing code: `http`
 * (http-job.ts), `command` (command-job.ts), and `maintenance.retry` / `maintenance.cleanup`
 * (maintenance-retry-job.ts, maintenance-cleanup-job.ts).
 *
 * Anyone who can create a schedule or enqueue a job by name — through the CLI, the API, or the
 * PostgreSQL `enqueue()` function — can use a registered built-in: `command` runs programs as the
 * worker's user and `http` reaches whatever the worker's network reaches. So neither exists unless
 * the config enables it (`builtins:`, see builtin-config.ts), and each then runs only what its
 * allow-list names. The maintenance jobs reach nothing outside the store, but they retry and
 * delete its jobs, so they are enabled the same way (`builtins: { maintenance: true }`) rather
 * than always registered. A process that did not enable one does not know the name: enqueueing it
 * fails with `UNKNOWN_JOB`, and a worker that claims such a job (inserted by SQL) ends it `dead`.
 */
import { ConfigError, type ValidationIssue } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import { builtinJobsConfigSchema, type BuiltinJobsConfig } from './builtin-config.js';
import { createCommandJob } from './command-job.js';
import { createHttpJob } from './http-job.js';
import type { StoreConfig } from '../config/define-config.js';
import type { EnvSettings } from '../config/env.js';
import { createMaintenanceCleanupJob } from './maintenance-cleanup-job.js';
import { createMaintenanceRetryJob } from './maintenance-retry-job.js';
import { configuredStoreOpener, type MaintenanceStore } from './maintenance-store.js';

/** What the built-in jobs need besides their settings. */
export interface BuiltinJobsOptions {
  /**
   * The store `maintenance.retry` / `maintenance.cleanup` act on: a `Store` (normally the one the
   * runtime runs on), or an opener called once per run (see maintenance-store.ts). Required when
   * `maintenance` is enabled, unless `storeConfig` is given.
   */
  store?: MaintenanceStore;
  /** Otherwise: the config's `store` setting and the environment, opened per run like every command opens them. */
  storeConfig?: { config: StoreConfig | undefined; env?: EnvSettings };
}

/** Validates `builtins` (the same rules as the config file's); throws a `ConfigError` listing every problem. */
function validated(config: unknown): BuiltinJobsConfig {
  const result = builtinJobsConfigSchema.safeParse(config ?? {});
  if (result.success) return result.data;
  const issues: ValidationIssue[] = result.error.issues.map((issue) => ({ path: ['builtins', ...issue.path.map(String)].join('.'), message: issue.message }));
  throw new ConfigError(`invalid configuration: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { issues });
}

/**
 * The built-in jobs `config` enables — none for `{}` — each limited to its allow-list. Bare
 * program names are looked up in `PATH` now. Throws `ConfigError` (issues under `builtins.…`) for
 * an invalid setting or a program not found.
 *
 * ```ts
 * const jobs = builtinJobs({ http: { allow: ['https://hooks.example.org/'] } }); // [the http job]
 * const upkeep = builtinJobs({ maintenance: true }, { store }); // [maintenance.retry, maintenance.cleanup]
 * ```
 */
export function builtinJobs(config: BuiltinJobsConfig, options: BuiltinJobsOptions = {}): AnyJobDefinition[] {
  const settings = validated(config);
  const jobs: AnyJobDefinition[] = [];
  if (settings.http !== undefined) jobs.push(createHttpJob(settings.http) as AnyJobDefinition);
  if (settings.command !== undefined) jobs.push(createCommandJob(settings.command) as AnyJobDefinition);
  if (settings.maintenance === true) {
    const store = options.store ?? (options.storeConfig ? configuredStoreOpener(options.storeConfig.config, options.storeConfig.env) : undefined);
    if (store === undefined) throw new TypeError('builtinJobs: builtins.maintenance needs the store the jobs act on; pass { store }');
    jobs.push(createMaintenanceRetryJob(store) as AnyJobDefinition, createMaintenanceCleanupJob(store) as AnyJobDefinition);
  }
  return jobs;
}

/** The `builtins` key that enables the built-in job `name`. */
function builtinKey(name: string): string {
  return name.startsWith('maintenance.') ? 'maintenance' : name;
}

/**
 * `jobs` followed by the built-in jobs `config` enables (see `builtinJobs`). An app job named
 * like an enabled built-in is a `ConfigError`: one name, one job.
 */
export function withBuiltinJobs(jobs: readonly AnyJobDefinition[], config: BuiltinJobsConfig, options: BuiltinJobsOptions = {}): AnyJobDefinition[] {
  const builtins = builtinJobs(config, options);
  const names = new Set(jobs.map((job) => job.name));
  const clashes: ValidationIssue[] = builtins
    .filter((job) => names.has(job.name))
    .map((job) => ({ path: `builtins.${builtinKey(job.name)}`, message: `the app defines its own job named "${job.name}"; rename it, or leave builtins.${builtinKey(job.name)} out` }));
  if (clashes.length > 0) {
    throw new ConfigError(`invalid configuration: ${clashes.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { issues: clashes });
  }
  return [...jobs, ...builtins];
}
