import { ConfigError } from '../errors.js';
import type { AnyJobDefinition } from './define-job.js';

/** Jobs as the runtime accepts them: a list of definitions, or an object of them (keys ignored). */
export type JobList = readonly AnyJobDefinition[] | Readonly<Record<string, AnyJobDefinition>>;

/** Indexes job definitions by name; two definitions with one name are a configuration error. */
export function createJobRegistry(jobs: JobList | undefined): Map<string, AnyJobDefinition> {
  const registry = new Map<string, AnyJobDefinition>();
  if (!jobs) return registry;
  const list: readonly AnyJobDefinition[] = Array.isArray(jobs) ? jobs : Object.values(jobs as Record<string, AnyJobDefinition>);
  for (const job of list) {
    if (!job || typeof job !== 'object' || typeof job.name !== 'string' || typeof job.handler !== 'function') {
      throw new ConfigError('jobs must contain job definitions created with defineJob()');
    }
    const existing = registry.get(job.name);
    if (existing && existing !== job) throw new ConfigError(`two different jobs are named "${job.name}"; job names must be unique`);
    registry.set(job.name, job);
  }
  return registry;
}
