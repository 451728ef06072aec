import { createRequire } from 'node:module';
import type Pino from 'pino';
import type { DestinationStream, Logger, LevelWithSilent } from 'pino';
import type PinoPretty from 'pino-pretty';
import { serializeLoggedError, type LoggedError } from './log-errors.js';

export type { Logger } from 'pino';

/** Log levels accepted by `LOG_LEVEL` and the `logLevel` option. */
export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * How log lines look: `json` (one JSON object per line, for log collectors) or `pretty` (one
 * readable, coloured line per entry, for a person at a terminal).
 */
export type LogFormat = 'pretty' | 'json';
/** Formats accepted by `LOG_FORMAT` and `--log-format`. */
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json'];

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** A pino level; default `info`. An unknown level is taken as `info`. */
  level?: string;
  /** Default: `pretty` when stderr is a terminal, else `json`. */
  format?: LogFormat;
  /** The logger's `name` field; default `nightshift`. */
  name?: string;
}

/**
 * Creates the root logger, on stderr (stdout stays free for CLI output and `--json`). JSON lines by
 * default; `pretty` (the default on a terminal) renders each entry as a readable line. Errors under
 * `err` are logged as class, code, message, `retryable` and cause (see log-errors.ts), with stacks
 * only at `debug` and `trace`, in both formats. The level and format come from the caller: the
 * environment (`LOG_LEVEL`, `LOG_FORMAT`) is parsed by config/env.ts, not here.
 */
/**
 * pino, required on first use rather than imported: a CLI command that never logs (`list`,
 * `jobs`, `enqueue`) does not pay for loading it and its dependencies (about 40 ms of a call).
 */
let pinoModule: typeof Pino | undefined;
function pino(): typeof Pino {
  pinoModule ??= createRequire(import.meta.url)('pino') as typeof Pino;
  return pinoModule;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const requested = options.level ?? 'info';
  const level = (LOG_LEVELS as readonly string[]).includes(requested) ? requested : 'info';
  const withStack = level === 'debug' || level === 'trace';
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  return pino()(
    { name: options.name ?? 'nightshift', level, serializers: { err: (value: unknown) => serializeLoggedError(value, withStack) } },
    format === 'pretty' ? prettyDestination() : pino().destination({ fd: 2, sync: false }),
  );
}

/**
 * A destination that turns each JSON line into a pretty one, in this thread and synchronously
 * (pino-pretty's `prettyFactory`): no worker thread to start, and no line still in flight when
 * the process exits. A terminal shows a person's pace of logs, so the formatting cost is
 * irrelevant there; JSON stays the default wherever stderr is not a terminal.
 *
 * pino-pretty is loaded only here, so a process logging JSON never loads it.
 */
function prettyDestination(): DestinationStream {
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  const prettify = prettyFactory({
    colorize: process.stderr.isTTY === true && process.env.NO_COLOR === undefined,
    translateTime: 'SYS:HH:MM:ss.l',
    // Context on the entry's own line; an error still spreads over several.
    singleLine: true,
    // The name is always "nightshift"; pid and host are in the daemon's "ready" line.
    ignore: 'pid,hostname,name',
    customPrettifiers: { err: (value: unknown) => prettyError(value as LoggedError) },
  });
  const out = pino().destination({ fd: 2, sync: true });
  return {
    write(line: string) {
      out.write(prettify(line));
    },
  };
}

/**
 * An error as log-errors.ts serialized it, as a person reads it:
 * `StoreError STORE_UNAVAILABLE (retryable): claim failed`, then `caused by …` lines, with stacks
 * only when the level logged them. Control characters from messages are escaped, so an error
 * text cannot drive the terminal.
 */
function prettyError(error: LoggedError, depth = 0): string {
  if (typeof error !== 'object' || error === null || typeof error.message !== 'string') return visible(JSON.stringify(error));
  const indent = '  '.repeat(depth);
  const tags = [error.code, error.kind].filter((tag): tag is string => typeof tag === 'string').join(' ');
  let text = `${depth === 0 ? '' : `${indent}caused by `}${visible(error.type)}${tags ? ` ${visible(tags)}` : ''}${error.retryable ? ' (retryable)' : ''}: ${visible(error.message)}`;
  if (typeof error.stack === 'string') {
    // The stack's first line repeats the class and message shown above.
    const frames = error.stack.split('\n').filter((line) => /^\s+at /.test(line));
    for (const frame of frames) text += `\n${indent}    ${visible(frame.trim())}`;
  }
  if (error.cause) text += `\n${prettyError(error.cause, depth + 1)}`;
  return text;
}

/** `text` with control characters (escape sequences, carriage returns) written as `\xNN`. */
function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A logger that discards everything (the default for library use without a logger). */
export function createSilentLogger(): Logger {
  return pino()({ level: 'silent' });
}

/**
 * A logger that is built by `make` on its first use, for a caller that may never log (the store
 * of a short CLI command): until then nothing is loaded. `child` before that use gives another
 * deferred logger, built from the parent's when it is first used.
 */
export function deferredLogger(make: () => Logger): Logger {
  let real: Logger | undefined;
  const get = (): Logger => (real ??= make());
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy({} as Logger, {
    get(_target, key) {
      if (key === 'child' && real === undefined) {
        return (bindings: Record<string, unknown>, options?: Record<string, unknown>) =>
          deferredLogger(() => (get().child as unknown as (b: Record<string, unknown>, o?: Record<string, unknown>) => Logger)(bindings, options));
      }
      const target = get();
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      let fn = bound.get(key);
      if (fn === undefined) bound.set(key, (fn = (value as (...a: unknown[]) => unknown).bind(target)));
      return fn;
    },
    set(_target, key, value) {
      bound.delete(key);
      return Reflect.set(get(), key, value);
    },
    has(_target, key) {
      return key in get();
    },
  });
}
