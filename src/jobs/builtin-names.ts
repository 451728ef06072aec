/**
 * Names of the built-in jobs, apart from their code: the scheduler and the config loader name
 * them in errors without loading the jobs themselves.
 */

/** Name of the built-in HTTP job (the `jobId` in YAML). */
export const HTTP_JOB_NAME = 'http';
/** Name of the built-in command job (the `jobId` in YAML). */
export const COMMAND_JOB_NAME = 'command';
/** Name of the built-in job that retries recently dead jobs (the `jobId` in YAML). */
export const MAINTENANCE_RETRY_JOB_NAME = 'maintenance.retry';
/** Name of the built-in job that deletes old finished jobs (the `jobId` in YAML). */
export const MAINTENANCE_CLEANUP_JOB_NAME = 'maintenance.cleanup';

/**
 * For the name of a built-in job that is not enabled, how to enable it (appended to an
 * `UNKNOWN_JOB` message); undefined for any other name.
 */
export function builtinNotEnabledHint(name: string): string | undefined {
  if (name === COMMAND_JOB_NAME) {
    return `the built-in "command" job is off; enable it with builtins: { command: { allow: [programs] } } in the config or the schedule file`;
  }
  if (name === HTTP_JOB_NAME) {
    return `the built-in "http" job is off; enable it with builtins: { http: { allow: [hosts or URL prefixes] } } in the config or the schedule file`;
  }
  if (name === MAINTENANCE_RETRY_JOB_NAME || name === MAINTENANCE_CLEANUP_JOB_NAME) {
    return `the built-in "${name}" job is off; enable it with builtins: { maintenance: true } in the config or the schedule file`;
  }
  return undefined;
}
