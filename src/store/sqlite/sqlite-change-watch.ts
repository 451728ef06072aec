/**
 * Wake-ups for jobs committed by other processes. SQLite has no notifications, but
 * `PRAGMA data_version` tells, for almost nothing (a fraction of a microsecond), whether another
 * connection committed since the last look. While someone listens, the store looks every
 * `intervalMs`; after a foreign commit it reads which queues have pending jobs (a few index
 * seeks) and wakes the listeners for them. Workers still poll as the safety net.
 *
 * States: `stopped` → start() → `watching` → stop() → `stopped`. Both transitions are idempotent.
 */

export interface ChangeWatchOptions {
  /** How often to look, ms; 0 disables the watch. */
  intervalMs: number;
  /** Reads the connection's data_version. */
  dataVersion(): number;
  /** Reads the queues that have pending jobs. */
  pendingQueues(): string[];
  /** Called with the pending queues after another connection committed. */
  onChange(queues: string[]): void;
  /** Called when a look fails (e.g. the file is locked for longer than busy_timeout). */
  onError(error: unknown): void;
}

export class ChangeWatch {
  private timer: NodeJS.Timeout | null = null;
  private lastVersion = 0;

  constructor(private readonly options: ChangeWatchOptions) {}

  start(): void {
    if (this.timer !== null || this.options.intervalMs <= 0) return;
    try {
      this.lastVersion = this.options.dataVersion();
    } catch (error) {
      this.options.onError(error);
    }
    this.timer = setInterval(() => this.look(), this.options.intervalMs);
    // Listening must never keep a process alive on its own.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private look(): void {
    try {
      const version = this.options.dataVersion();
      if (version === this.lastVersion) return;
      this.lastVersion = version;
      const queues = this.options.pendingQueues();
      if (queues.length > 0) this.options.onChange(queues);
    } catch (error) {
      this.options.onError(error);
    }
  }
}
