/**
 * Job kinds that ship with Nightshift, usable from YAML schedules without writing code: `http`
 * (http-job.ts) and `command` (command-job.ts). The daemon registers them next to the app's jobs.
 *
 * Anyone who can create a schedule or enqueue a job by name can use them: `command` runs programs
 * as the worker's user and `http` reaches whatever the worker's network reaches. Leave one out
 * (`withBuiltinJobs(jobs, { command: false })`) where that is more than the operators should get.
 */
import type { AnyJobDefinition } from '../job/define-job.js';
import { commandJob } from './command-job.js';
import { httpJob } from './http-job.js';

/** The built-in jobs: `http` and `command`. */
export const builtinJobs: readonly AnyJobDefinition[] = Object.freeze([httpJob as AnyJobDefinition, commandJob as AnyJobDefinition]);

/** Which built-in jobs `withBuiltinJobs` adds; each defaults to true. */
export interface BuiltinJobSelection {
  http?: boolean;
  command?: boolean;
}

/**
 * `jobs` plus the built-in ones selected (both by default) whose names the app does not use itself:
 * an app job named `http` or `command` wins over the built-in of that name.
 */
export function withBuiltinJobs(jobs: readonly AnyJobDefinition[], selection: BuiltinJobSelection = {}): AnyJobDefinition[] {
  const names = new Set(jobs.map((job) => job.name));
  const wanted = builtinJobs.filter((job) => (job === (httpJob as AnyJobDefinition) ? selection.http !== false : selection.command !== false));
  return [...jobs, ...wanted.filter((job) => !names.has(job.name))];
}
