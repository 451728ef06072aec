import pg from 'pg';
import type { Logger } from 'pino';
import { classifyPgError } from './pg-errors.js';

/**
 * The LISTEN connection: one dedicated client (outside the pool, since a pooled connection may be
 * handed to someone else) subscribed to the schema's wake-up channel.
 *
 * States (one comment, per STYLE §8):
 *   idle ──start()──▶ connecting ──LISTEN ok──▶ listening
 *   connecting/listening ──error/end──▶ waiting (backoff timer) ──timer──▶ connecting
 *   any ──stop()──▶ stopped (terminal; start() after stop() does nothing)
 * Backoff doubles from `minBackoffMs` up to `maxBackoffMs`, with ±20 % jitter so that many workers
 * do not reconnect in lockstep after a server restart; it resets once LISTEN succeeds.
 *
 * "error/end" includes silence: connecting and subscribing must finish within `connectTimeoutMs`,
 * and while listening a `SELECT 1` every `checkIntervalMs` must answer within `checkTimeoutMs`.
 * A LISTEN connection only ever reads, so a network that black-holes packets (or a server or
 * pooler that hangs with its socket open, which TCP keepalive cannot see) would otherwise leave
 * it "listening" to nothing for good.
 */

export type ListenerState = 'idle' | 'connecting' | 'listening' | 'waiting' | 'stopped';

export interface NotificationListenerOptions {
  /** Connection settings (those of the store's pool). */
  connection: pg.ClientConfig;
  channel: string;
  /** Called with the notification payload (comma-separated queue names, or '' for any queue). */
  onNotification(payload: string): void;
  /** Called after (re)subscribing: notifications sent while disconnected were lost. */
  onSubscribed?(reconnected: boolean): void;
  logger: Logger;
  /** First reconnect delay; default 100 ms. */
  minBackoffMs?: number;
  /** Longest reconnect delay; default 5 000 ms. */
  maxBackoffMs?: number;
  /** Longest time from starting to connect until LISTEN took effect; default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Time between liveness checks while listening; default 30 000 ms; 0 never checks. */
  checkIntervalMs?: number;
  /** Longest wait for a liveness check's answer; default 30 000 ms. */
  checkTimeoutMs?: number;
}

/** Longest wait for the server to acknowledge the goodbye on `stop()`, ms. */
const CLOSE_WAIT_MS = 1_000;

/** Closes a client's socket at once: `end()` alone waits for a goodbye a stalled peer never sends. */
function destroySocket(client: pg.Client): void {
  (client as pg.Client & { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** Rejects after `ms` with an error saying what did not answer (the timer never keeps a process alive). */
function deadline(ms: number, what: string): { promise: Promise<never>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`postgres listener: ${what} did not answer within ${ms} ms (timeout expired)`)), ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

export class NotificationListener {
  #state: ListenerState = 'idle';
  #client: pg.Client | null = null;
  #timer: NodeJS.Timeout | null = null;
  #checkTimer: NodeJS.Timeout | null = null;
  #backoffMs: number;
  #subscribedOnce = false;
  readonly #options: NotificationListenerOptions;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #connectTimeoutMs: number;
  readonly #checkIntervalMs: number;
  readonly #checkTimeoutMs: number;

  constructor(options: NotificationListenerOptions) {
    this.#options = options;
    this.#minBackoffMs = options.minBackoffMs ?? 100;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#checkIntervalMs = options.checkIntervalMs ?? 30_000;
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 30_000;
    this.#backoffMs = this.#minBackoffMs;
  }

  get state(): ListenerState {
    return this.#state;
  }

  /** The backend pid of the LISTEN connection while listening (for diagnostics and tests). */
  get backendPid(): number | null {
    const client = this.#client as (pg.Client & { processID?: number }) | null;
    return this.#state === 'listening' && client?.processID ? client.processID : null;
  }

  /** idle → connecting. Idempotent. */
  start(): void {
    if (this.#state !== 'idle') return;
    void this.#connect();
  }

  /** any → stopped. Idempotent; resolves once the connection is closed. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#clearCheck();
    const client = this.#client;
    this.#client = null;
    if (client) {
      // A peer that stopped answering never acknowledges the goodbye: do not wait for it.
      const ended = client.end().catch(() => undefined);
      const limit = deadline(Math.min(this.#checkTimeoutMs, CLOSE_WAIT_MS), 'closing the connection');
      await Promise.race([ended, limit.promise]).catch(() => destroySocket(client));
      limit.cancel();
    }
  }

  /** idle/waiting → connecting → listening, or → waiting on failure. */
  async #connect(): Promise<void> {
    if (this.#state !== 'idle' && this.#state !== 'waiting') return;
    this.#state = 'connecting';
    const client = new pg.Client({ ...this.#options.connection, application_name: 'nightshift-listener' });
    this.#client = client;
    // Without an 'error' handler a dropped connection would crash the process.
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('listener connection ended')));
    client.on('notification', (message) => {
      if (message.channel === this.#options.channel) this.#options.onNotification(message.payload ?? '');
    });
    const limit = deadline(this.#connectTimeoutMs, 'connecting and subscribing');
    try {
      await Promise.race([
        (async () => {
          await client.connect();
          await client.query(`LISTEN ${client.escapeIdentifier(this.#options.channel)}`);
        })(),
        limit.promise,
      ]);
    } catch (error) {
      this.#lost(client, error);
      return;
    } finally {
      limit.cancel();
    }
    if (this.#state !== 'connecting' || this.#client !== client) {
      // stop() ran, or the connection failed, while we were subscribing.
      return;
    }
    this.#state = 'listening';
    const reconnected = this.#subscribedOnce;
    this.#subscribedOnce = true;
    this.#backoffMs = this.#minBackoffMs;
    if (reconnected) this.#options.logger.info({ channel: this.#options.channel }, 'postgres listener reconnected');
    this.#scheduleCheck(client);
    this.#options.onSubscribed?.(reconnected);
  }

  /** listening: arms the next liveness check of `client`. */
  #scheduleCheck(client: pg.Client): void {
    if (this.#checkIntervalMs <= 0) return;
    this.#checkTimer = setTimeout(() => {
      this.#checkTimer = null;
      void this.#check(client);
    }, this.#checkIntervalMs);
    this.#checkTimer.unref();
  }

  /** listening → listening (answered in time) or → waiting (error or silence). */
  async #check(client: pg.Client): Promise<void> {
    if (this.#state !== 'listening' || this.#client !== client) return;
    const limit = deadline(this.#checkTimeoutMs, 'the liveness check (SELECT 1)');
    try {
      await Promise.race([client.query('SELECT 1'), limit.promise]);
    } catch (error) {
      this.#lost(client, error);
      return;
    } finally {
      limit.cancel();
    }
    if (this.#state === 'listening' && this.#client === client) this.#scheduleCheck(client);
  }

  #clearCheck(): void {
    if (this.#checkTimer) clearTimeout(this.#checkTimer);
    this.#checkTimer = null;
  }

  /** connecting/listening → waiting. Ignores events from clients already replaced. */
  #lost(client: pg.Client, error: unknown): void {
    if (this.#client !== client || this.#state === 'stopped' || this.#state === 'waiting') return;
    this.#client = null;
    this.#clearCheck();
    client.removeAllListeners('notification');
    // Keep an error handler attached: the dead client may still emit while closing.
    client.on('error', () => undefined);
    // end() then close the socket: a connection that stopped answering would never complete end().
    void client.end().catch(() => undefined);
    destroySocket(client);
    const delay = Math.round(this.#backoffMs * (0.8 + Math.random() * 0.4));
    this.#backoffMs = Math.min(this.#maxBackoffMs, this.#backoffMs * 2);
    const { retryable } = classifyPgError(error);
    this.#options.logger.warn(
      { err: error, channel: this.#options.channel, retryInMs: delay, retryable },
      'postgres listener connection lost; reconnecting',
    );
    this.#state = 'waiting';
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#connect();
    }, delay);
    // A pending reconnect must not keep a process alive on its own.
    this.#timer.unref();
  }
}
