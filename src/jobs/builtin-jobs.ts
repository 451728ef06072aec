/**
 * Job kinds that ship with Nightshift, usable from YAML schedules without writing code: `http`
 * (http-job.ts) and `command` (command-job.ts).
 *
 * Anyone who can create a schedule or enqueue a job by name — through the CLI, the API, or the
 * PostgreSQL `enqueue()` function — can use a registered built-in: `command` runs programs as the
 * worker's user and `http` reaches whatever the worker's network reaches. So neither exists unless
 * the config enables it (`builtins:`, see builtin-config.ts), and each then runs only what its
 * allow-list names. A process that did not enable one does not know the name: enqueueing it fails
 * with `UNKNOWN_JOB`, and a worker that claims such a job (inserted by SQL) ends it `dead`.
 */
import { ConfigError, type ValidationIssue } from '../errors.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import { builtinJobsConfigSchema, type BuiltinJobsConfig } from './builtin-config.js';
import { createCommandJob } from './command-job.js';
import { createHttpJob } from './http-job.js';

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
 * ```
 */
export function builtinJobs(config: BuiltinJobsConfig): AnyJobDefinition[] {
  const settings = validated(config);
  const jobs: AnyJobDefinition[] = [];
  if (settings.http !== undefined) jobs.push(createHttpJob(settings.http) as AnyJobDefinition);
  if (settings.command !== undefined) jobs.push(createCommandJob(settings.command) as AnyJobDefinition);
  return jobs;
}

/**
 * `jobs` followed by the built-in jobs `config` enables (see `builtinJobs`). An app job named
 * like an enabled built-in is a `ConfigError`: one name, one job.
 */
export function withBuiltinJobs(jobs: readonly AnyJobDefinition[], config: BuiltinJobsConfig): AnyJobDefinition[] {
  const builtins = builtinJobs(config);
  const names = new Set(jobs.map((job) => job.name));
  const clashes: ValidationIssue[] = builtins
    .filter((job) => names.has(job.name))
    .map((job) => ({ path: `builtins.${job.name}`, message: `the app defines its own job named "${job.name}"; rename it, or leave builtins.${job.name} out` }));
  if (clashes.length > 0) {
    throw new ConfigError(`invalid configuration: ${clashes.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { issues: clashes });
  }
  return [...jobs, ...builtins];
}
