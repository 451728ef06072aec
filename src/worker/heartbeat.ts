import type { Store } from '../store/types.js';
import type { Execution, Executor } from './executor.js';
import { createIntervalService, type Service } from '../service.js';

export interface HeartbeatOptions {
  store: Store;
  executor: Executor;
  /** Lease length in ms; leases are renewed every `leaseMs / 3`. */
  leaseMs: number;
  /**
   * Executions that finished but whose finish is still waiting to be written (the completer is
   * retrying after a transient failure): their leases are renewed too, so a write that succeeds
   * late still finds its job held instead of rescued and run again.
   */
  unwritten?(): readonly Execution[];
  /** Called after a beat the store answered (the worker then retries waiting finishes at once). */
  onBeat?(): void;
  onError(error: unknown): void;
}

/** The lease-renewal loop, plus the single-job renewal behind `ctx.heartbeat()`. */
export interface Heartbeat extends Service {
  renewOne(execution: Execution): Promise<boolean>;
}

/**
 * Renews the leases of every running job in one `jobHeartbeat` call every `leaseMs / 3`, so a job
 * survives two missed beats before the rescuer may take it. Progress reported by handlers since
 * the last beat rides along. A job missing from the answer lost its lease (cancelled, or rescued
 * after this process stalled): its handler is aborted with `LeaseLostError`.
 */
export function createHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { store, executor, leaseMs } = options;

  const send = async (executions: Execution[]): Promise<Set<string>> => {
    const items = executions.map((execution) => {
      const progress = execution.pendingProgress;
      execution.pendingProgress = undefined;
      return progress === undefined ? { id: execution.job.id, token: execution.token } : { id: execution.job.id, token: execution.token, progress };
    });
    let held: string[];
    try {
      ({ held } = await store.jobHeartbeat({ items, leaseMs }));
    } catch (error) {
      // Keep unsent progress for the next beat unless the handler reported newer progress meanwhile.
      items.forEach((item, index) => {
        const execution = executions[index]!;
        if ('progress' in item && execution.pendingProgress === undefined) execution.pendingProgress = item.progress;
      });
      throw error;
    }
    const heldSet = new Set(held);
    for (const execution of executions) {
      // Only abort the very execution we asked about: the id may have been re-claimed since.
      if (!heldSet.has(execution.job.id) && executor.running.has(execution)) {
        executor.abort(execution, 'lease_lost');
      }
    }
    return heldSet;
  };

  const loop = createIntervalService({
    name: 'heartbeat',
    intervalMs: Math.max(1, Math.floor(leaseMs / 3)),
    jitter: 0,
    runOnStart: false,
    run: async () => {
      const unwritten = options.unwritten?.() ?? [];
      if (executor.running.size === 0 && unwritten.length === 0) return;
      await send(unwritten.length === 0 ? executor.running.values() : executor.running.values().concat(unwritten));
      options.onBeat?.();
    },
    onError: options.onError,
  });

  return {
    name: 'heartbeat',
    start: () => loop.start(),
    stop: () => loop.stop(),
    async renewOne(execution) {
      const held = await send([execution]);
      return held.has(execution.job.id);
    },
  };
}
