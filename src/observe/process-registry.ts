/**
 * The process registry's core side: every Nightshift process on a store heartbeats its
 * description (`ProcessInfo`) into the store, so any process — the API, the CLI, the dashboard —
 * can answer "who is alive, and who consumes queue X?". A process that stops cleanly removes
 * itself; one that crashes drops out of `listProcesses` once it missed `LIVE_WINDOW_MS` of beats
 * (under a minute) and is deleted from the store after an hour.
 */
import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Store } from '../store/types.js';
import { createIntervalService, type Service } from '../service.js';

/** Time between two beats of a process, ms. */
export const PROCESS_HEARTBEAT_MS = 10_000;
/** A process whose last beat is older than this is not listed (three missed beats), ms. */
export const LIVE_WINDOW_MS = 30_000;
/** Rows of processes silent for this long are deleted by the next beat of any process, ms. */
const FORGET_AFTER_MS = 3_600_000;
/** Most running job ids a process reports. */
const MAX_REPORTED_JOBS = 100;

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** How a process describes itself. */
export interface ProcessInfo {
  id: string;
  host: string;
  pid: number;
  /** Nightshift's version. */
  version: string;
  /** `worker`, `scheduler`, `api`. */
  roles: string[];
  /**
   * Queues its worker consumes: concurrency, handlers running now, and the queue's cluster-wide
   * limit as this process applies it (null: none; absent from processes of older versions).
   */
  queues: { queue: string; concurrency: number; busy: number; globalConcurrency?: number | null; rateLimit?: { max: number; perMs: number } | null }[];
  /** Ids of jobs running in it (at most 100). */
  runningJobIds: string[];
  /** ISO time the process started its runtime. */
  startedAt: string;
}

/** A live process as listed: its description plus the store's first and last sight of it. */
export interface ProcessView extends ProcessInfo {
  firstSeenAt: string;
  lastSeenAt: string;
}

export interface ProcessRegistryOptions {
  store: Store;
  id: string;
  /** What the process is doing now; called at every beat. */
  describe(): Pick<ProcessInfo, 'roles' | 'queues' | 'runningJobIds'>;
  intervalMs?: number;
  logger?: Logger;
}

/** The heartbeat loop of one process (a Service: starts with the runtime, removes itself on stop). */
export function createProcessRegistry(options: ProcessRegistryOptions): Service {
  const startedAt = new Date().toISOString();
  const info = (): string => {
    const now = options.describe();
    const described: ProcessInfo = {
      id: options.id,
      host: hostname(),
      pid: process.pid,
      version: VERSION,
      roles: now.roles,
      queues: now.queues,
      runningJobIds: now.runningJobIds.slice(0, MAX_REPORTED_JOBS),
      startedAt,
    };
    return JSON.stringify(described);
  };
  const loop = createIntervalService({
    name: 'process-registry',
    intervalMs: options.intervalMs ?? PROCESS_HEARTBEAT_MS,
    run: () => options.store.processHeartbeat({ id: options.id, info: info(), forgetAfterMs: FORGET_AFTER_MS }),
    onError: (error) => options.logger?.warn({ err: error }, 'process registry heartbeat failed; trying again next interval'),
  });
  return {
    name: 'process-registry',
    start: () => loop.start(),
    async stop() {
      await loop.stop();
      await options.store.processRemove({ id: options.id }).catch((error: unknown) => {
        options.logger?.warn({ err: error }, 'could not remove this process from the registry; it drops out when its beats stop');
      });
    },
  };
}

/** The live processes on a store, described. A row whose description does not parse is shown with what is known. */
export async function listProcesses(store: Store): Promise<ProcessView[]> {
  const records = await store.processList({ seenWithinMs: LIVE_WINDOW_MS });
  return records.map((record) => {
    let info: Partial<ProcessInfo> = {};
    try {
      const parsed: unknown = JSON.parse(record.info);
      if (parsed && typeof parsed === 'object') info = parsed as Partial<ProcessInfo>;
    } catch {
      info = {};
    }
    return {
      id: record.id,
      host: typeof info.host === 'string' ? info.host : '',
      pid: typeof info.pid === 'number' ? info.pid : 0,
      version: typeof info.version === 'string' ? info.version : '',
      roles: Array.isArray(info.roles) ? info.roles.filter((role): role is string => typeof role === 'string') : [],
      queues: Array.isArray(info.queues) ? info.queues : [],
      runningJobIds: Array.isArray(info.runningJobIds) ? info.runningJobIds : [],
      startedAt: typeof info.startedAt === 'string' ? info.startedAt : record.firstSeenAt.toISOString(),
      firstSeenAt: record.firstSeenAt.toISOString(),
      lastSeenAt: record.lastSeenAt.toISOString(),
    };
  });
}
