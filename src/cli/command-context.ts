import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import type { ResolvedConfig } from '../config/load-config.js';
import type { NightshiftEvents } from '../observe/events.js';
import { createLogger, deferredLogger, type LogFormat } from '../observe/logger.js';
import type { StoreSpec } from '../config/resolve-store.js';
import type { Store } from '../store/types.js';

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  /** `--config <path>`: code config file, or a YAML schedule file. */
  config?: string;
  /** `--json`: machine-readable output on stdout. */
  json?: boolean;
  /** `--log-format pretty|json`: wins over `LOG_FORMAT`; default pretty on a terminal, else JSON. */
  logFormat?: LogFormat;
}

/**
 * What a command needs around it: the global options, the configuration, the store, a logger,
 * and output helpers. Everything is opened lazily and closed once by `close()`, so a command that
 * fails half-way still releases its database handles.
 */
export class CommandContext {
  readonly #command: Command;
  #config: ResolvedConfig | null = null;
  #store: { store: Store; spec: StoreSpec } | null = null;
  #logger: Logger | null = null;
  #quietLogger: Logger | undefined;
  readonly #cleanups: (() => Promise<void>)[] = [];
  /**
   * Log level when neither `LOG_LEVEL` nor the config sets one: `warn` keeps short commands quiet;
   * `daemon` and `run` raise it to `info` so handler logs show. Set it before opening anything.
   */
  defaultLogLevel = 'warn';

  constructor(command: Command) {
    this.#command = command;
  }

  get options(): GlobalOptions {
    return this.#command.optsWithGlobals<GlobalOptions>();
  }

  get json(): boolean {
    return this.options.json === true;
  }

  /**
   * The command's arguments as commander left them: its operands, then, for a command that allows
   * unknown options, the options it did not recognise with their values.
   */
  get args(): readonly string[] {
    return this.#command.args;
  }

  /**
   * The resolved configuration. `required: false` lets store-only commands (`jobs`, `stats`, …)
   * run without a config file, on the environment's or the default store.
   */
  async config(options: { required?: boolean } = {}): Promise<ResolvedConfig> {
    if (!this.#config) {
      const configPath = this.options.config;
      // Imported when first needed, as below: `--help` and `--version` load none of it.
      const { loadConfig } = await import('../config/load-config.js');
      this.#config = await loadConfig({
        ...(configPath === undefined ? {} : { configPath }),
        required: options.required ?? true,
      });
    }
    return this.#config;
  }

  /**
   * The logger, on stderr at the configured level, else `defaultLogLevel`; in the format of
   * `--log-format`, else `LOG_FORMAT`, else pretty on a terminal and JSON lines otherwise.
   */
  logger(): Logger {
    if (!this.#logger) {
      const format = this.options.logFormat ?? this.#config?.env.logFormat;
      this.#logger = createLogger({ level: this.#config?.logLevel ?? this.defaultLogLevel, ...(format === undefined ? {} : { format }) });
    }
    return this.#logger;
  }

  /**
   * `logger()`, built on its first use: for the store and client of a short command, which
   * usually log nothing, so that such a command does not load the logging library at all.
   */
  quietLogger(): Logger {
    this.#quietLogger ??= deferredLogger(() => this.logger());
    return this.#quietLogger;
  }

  /**
   * Opens (once) the store the configuration and environment name, and migrates it: migrating is
   * idempotent and cheap, and a fresh install should answer `nightshift jobs` with "no jobs",
   * not "no such table". `required` is passed to `config()`.
   *
   * A store the environment picked over the config's without naming it (`NIGHTSHIFT_STORE=sqlite`
   * over a PostgreSQL config) is announced with a warning on stderr, naming the file: stdout stays
   * the command's output (`--json`).
   */
  async store(options: { required?: boolean } = {}): Promise<{ store: Store; spec: StoreSpec; description: string }> {
    const { describeStoreSpec, resolveStore, storeOverrideNotice } = await import('../config/resolve-store.js');
    if (!this.#store) {
      const config = await this.config(options);
      const opened = await resolveStore({ config: config.store, env: config.env, logger: this.quietLogger() });
      const notice = storeOverrideNotice(config.store, config.env, opened.spec);
      if (notice !== null) this.quietLogger().warn({ store: describeStoreSpec(opened.spec) }, notice);
      this.onClose(() => opened.store.close());
      await opened.store.migrate();
      this.#store = opened;
    }
    return { ...this.#store, description: describeStoreSpec(this.#store.spec) };
  }

  /**
   * `store()`, unless the store is an SQLite file that does not exist yet: then null, and nothing
   * is created or migrated. For commands that only look (`schedules`), which must leave no
   * database behind where no daemon ran yet. `required` is passed to `config()`.
   */
  async existingStore(options: { required?: boolean } = {}): Promise<{ store: Store; spec: StoreSpec; description: string } | null> {
    if (!this.#store) {
      const config = await this.config(options);
      const { storeSpec } = await import('../config/resolve-store.js');
      const spec = storeSpec(config.store, config.env);
      if (spec.kind === 'sqlite' && !existsSync(spec.path)) return null;
    }
    return this.store(options);
  }

  /**
   * A client on the store, knowing the config's jobs (by name). Its events (jobs enqueued and
   * cancelled, queues paused and resumed) reach the store's event feed.
   */
  async client(options: { required?: boolean } = {}): Promise<Client> {
    const config = await this.config(options);
    const { store } = await this.store(options);
    const [{ createClient }, { NightshiftEvents }] = await Promise.all([import('../client/client.js'), import('../observe/events.js')]);
    const events = new NightshiftEvents();
    await this.feedEvents(events);
    return createClient({
      store,
      jobs: [...config.jobs],
      logger: this.quietLogger(),
      events,
      ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
    });
  }

  /**
   * Copies the events of `events` into the store's event feed (`GET /api/events`) until the
   * command ends, when what waits is written: an operator's change from the command line reaches
   * every stream as a daemon's would. Call it after `store()`: it is written before the store
   * closes.
   */
  async feedEvents(events: NightshiftEvents): Promise<void> {
    const { store } = await this.store();
    const { createEventFeedWriter } = await import('../observe/event-feed.js');
    const feed = createEventFeedWriter({ store, events, logger: this.quietLogger() });
    feed.start();
    this.onClose(() => feed.stop());
  }

  /** Registers something to release when the command ends (last registered, first released). */
  onClose(cleanup: () => Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    while (this.#cleanups.length > 0) {
      const cleanup = this.#cleanups.pop()!;
      await cleanup().catch(() => undefined);
    }
    const logger = this.#logger;
    // The logger writes asynchronously; flush so the last lines are not lost at exit.
    if (logger) await new Promise<void>((resolve) => logger.flush(() => resolve()));
  }

  /** Prints `value` as JSON with `--json`, else the text `render()` makes of it. */
  print<T>(value: T, render: (value: T) => string): void {
    const text = this.json ? JSON.stringify(value, null, 2) : render(value);
    process.stdout.write(`${text}\n`);
  }
}
