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
}

export class NotificationListener {
  #state: ListenerState = 'idle';
  #client: pg.Client | null = null;
  #timer: NodeJS.Timeout | null = null;
  #backoffMs: number;
  #subscribedOnce = false;
  readonly #options: NotificationListenerOptions;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;

  constructor(options: NotificationListenerOptions) {
    this.#options = options;
    this.#minBackoffMs = options.minBackoffMs ?? 100;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5_000;
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
    const client = this.#client;
    this.#client = null;
    if (client) await client.end().catch(() => undefined);
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
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(this.#options.channel)}`);
    } catch (error) {
      this.#lost(client, error);
      return;
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
    this.#options.onSubscribed?.(reconnected);
  }

  /** connecting/listening → waiting. Ignores events from clients already replaced. */
  #lost(client: pg.Client, error: unknown): void {
    if (this.#client !== client || this.#state === 'stopped' || this.#state === 'waiting') return;
    this.#client = null;
    client.removeAllListeners('notification');
    // Keep an error handler attached: the dead client may still emit while closing.
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
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
