/**
 * A background loop with a life cycle. Every long-running part of Nightshift — worker, rescuer,
 * pruner, scheduler, heartbeat — is one, so the runtime facade can start and stop them as a list.
 *
 * Both methods are idempotent: starting a started service or stopping a stopped one is a no-op,
 * and calling `stop()` twice (say, from two signals) returns the same shutdown.
 */
export interface Service {
  /** Short name for logs, e.g. `worker`, `rescuer`. */
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void>;
}

/** Options of `createIntervalService`. */
export interface IntervalServiceOptions {
  name: string;
  /** Time between the end of one run and the start of the next, in ms. */
  intervalMs: number;
  /** Spread each interval by ±`jitter` (0–1) so many processes do not run in lockstep; default 0.1. */
  jitter?: number;
  /** Run once right after `start()`; default true. */
  runOnStart?: boolean;
  /** One iteration. Errors go to `onError`; the loop carries on. */
  run(): Promise<void>;
  onError(error: unknown): void;
}

/** A `Service` that runs `run()` every `intervalMs`, never two runs at once. */
export interface IntervalService extends Service {
  /** Runs an iteration now (or joins the current one); also works while stopped. Resolves when it is done. */
  runNow(): Promise<void>;
}

/**
 * States: `stopped` → (start) → `waiting` ⇄ `running` → (stop) → `stopped`.
 * A timer is armed only in `waiting`; `stop()` during `running` waits for that run to end.
 */
export function createIntervalService(options: IntervalServiceOptions): IntervalService {
  let state: 'stopped' | 'waiting' | 'running' = 'stopped';
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> | null = null;
  const jitter = options.jitter ?? 0.1;

  const arm = (): void => {
    if (state !== 'waiting') return;
    const delay = Math.max(1, Math.round(options.intervalMs * (1 - jitter + Math.random() * 2 * jitter)));
    timer = setTimeout(() => {
      timer = null;
      void iterate();
    }, delay);
  };

  /** `once`: a run asked for by `runNow()`, which also works while the service is stopped. */
  const iterate = async (once = false): Promise<void> => {
    if (state === 'stopped' && !once) return;
    if (current) return current;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (state !== 'stopped') state = 'running';
    current = (async () => {
      try {
        await options.run();
      } catch (error) {
        options.onError(error);
      } finally {
        current = null;
        if (state === 'running') {
          state = 'waiting';
          arm();
        }
      }
    })();
    return current;
  };

  return {
    name: options.name,
    start() {
      if (state !== 'stopped') return;
      state = 'waiting';
      if (options.runOnStart ?? true) void iterate();
      else arm();
    },
    async stop() {
      if (state === 'stopped' && !current) return;
      state = 'stopped';
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      if (current) await current;
    },
    runNow: () => iterate(true),
  };
}
