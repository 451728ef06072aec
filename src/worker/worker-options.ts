import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { readEnvInteger } from '../config/env.js';
import { ConfigError } from '../errors.js';
import type { Duration } from '../job/duration.js';
import type { KeepOptions } from '../job/retention.js';

/** Default queue concurrency when neither the queue options nor `MAX_CONCURRENT_JOBS` set one. */
export const DEFAULT_CONCURRENCY = 10;
/** Default per-attempt time limit, in ms (5 minutes). */
export const DEFAULT_JOB_TIMEOUT_MS = 300_000;
/** Default time a claim lasts without a heartbeat, in ms. */
export const DEFAULT_LEASE_MS = 30_000;
/** Default time `stop()` waits for running handlers before aborting them, in ms. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** Default base time between fallback polls, in ms. */
export const DEFAULT_POLL_INTERVAL_MS = 1000;

/** Per-queue options. */
export interface QueueOptions {
  /** Handlers of this queue running at once on one worker; default `MAX_CONCURRENT_JOBS` env or 10. */
  concurrency?: number;
  /** Per-attempt time limit in ms when the job and the row set none; default `JOB_TIMEOUT_MS` env or 300 000. */
  timeoutMs?: number;
  /**
   * Jobs a worker may claim ahead of its free slots, to start the moment a slot frees; default the
   * queue's concurrency, 0 turns it off. Used only while the queue's recent handlers average under
   * 50 ms (`CLAIM_AHEAD_MAX_HANDLER_MS`), so a job never waits long for its slot; one that waits a
   * third of the lease is given back to the queue (recorded as a `released` attempt).
   */
  prefetch?: number;
  /**
   * Handlers of this queue running at once across every worker on the store (an integer ≥ 1; no
   * limit by default). Checked inside each claim, so concurrent workers never exceed it; a slot
   * held by a worker that died comes back when its lease is rescued. Claiming ahead (`prefetch`)
   * is off for such a queue: a job waiting in one worker's memory would hold a slot that
   * another worker could use. Give every worker of the queue the same value: each claim applies
   * the limit of the worker that makes it.
   */
  globalConcurrency?: number;
  /**
   * A rate limit across every worker on the store: at most `max` jobs of this queue start in any
   * `perMs` ms (plus 10 ms, so that jobs claimed together and started a moment later still fall
   * in one window). Checked inside each claim; jobs over the limit stay queued without using an
   * attempt, and a worker sleeps until the window has room instead of polling. Claiming ahead is
   * off for such a queue. Give every worker of the queue the same value. Integers: `max` ≥ 1,
   * `perMs` ≥ 1.
   */
  rateLimit?: { max: number; perMs: number };
  /**
   * How long the queue's finished jobs are kept, by state (`{ completed: '1h', dead: '30d' }`),
   * instead of the runtime's retention; a job's own `keep` wins. Read by the pruner, not the worker.
   */
  keep?: KeepOptions;
  /** How long a completed job of the queue keeps its result. Read by the pruner. */
  keepResult?: Duration;
}

/** The environment variables the worker takes its defaults from. */
export type WorkerEnvVariable = 'MAX_CONCURRENT_JOBS' | 'JOB_TIMEOUT_MS' | 'SHUTDOWN_TIMEOUT_MS';

/**
 * A worker default from the environment, `fallback` when unset. Parsed by config/env.ts — the one
 * parser of environment variables — with the rules the CLI applies (setting-rules.ts): digits only;
 * `MAX_CONCURRENT_JOBS` 1 … 10 000; `JOB_TIMEOUT_MS` ≥ 1 ms; `SHUTDOWN_TIMEOUT_MS` ≥ 0 ms, where 0
 * aborts running handlers at once on stop. A set but invalid value is a `ConfigError` naming the
 * variable rather than silently ignored.
 */
export function envSetting(name: WorkerEnvVariable, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  return readEnvInteger(name, env) ?? fallback;
}


/** Throws a ConfigError unless `value` is undefined or an integer ≥ `min`. */
export function assertIntOption(where: string, value: unknown, min: number): asserts value is number | undefined {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(`${where} must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

/** `hostname-pid-random`: unique per process, readable in logs and the attempt history. */
export function defaultWorkerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.:/-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'worker';
  return `${host.slice(0, 80)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
