import pino from 'pino';
import type { Logger, LevelWithSilent } from 'pino';
import { serializeLoggedError } from './log-errors.js';

export type { Logger } from 'pino';

/** Log levels accepted by `LOG_LEVEL` and the `logLevel` option. */
export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Creates the root logger: JSON lines on stderr (stdout stays free for CLI output and `--json`).
 * `level` defaults to `LOG_LEVEL`, else `info`. Errors under `err` are logged as class, code,
 * message, `retryable` and cause (see log-errors.ts), with stacks only at `debug` and `trace`.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const requested = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const level = (LOG_LEVELS as readonly string[]).includes(requested) ? requested : 'info';
  const withStack = level === 'debug' || level === 'trace';
  return pino(
    { name: options.name ?? 'nightshift', level, serializers: { err: (value: unknown) => serializeLoggedError(value, withStack) } },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that discards everything (the default for library use without a logger). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
