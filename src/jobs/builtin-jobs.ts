/**
 * Job kinds that ship with Nightshift, usable from YAML schedules without writing code: `http`
 * (http-job.ts) and `command` (command-job.ts). The daemon registers them next to the app's jobs.
 */
import type { AnyJobDefinition } from '../job/define-job.js';
import { commandJob } from './command-job.js';
import { httpJob } from './http-job.js';

/** The built-in jobs: `http` and `command`. */
export const builtinJobs: readonly AnyJobDefinition[] = Object.freeze([httpJob as AnyJobDefinition, commandJob as AnyJobDefinition]);

/**
 * `jobs` plus the built-in ones whose names the app does not use itself: an app job named `http`
 * or `command` wins over the built-in of that name.
 */
export function withBuiltinJobs(jobs: readonly AnyJobDefinition[]): AnyJobDefinition[] {
  const names = new Set(jobs.map((job) => job.name));
  return [...jobs, ...builtinJobs.filter((job) => !names.has(job.name))];
}
