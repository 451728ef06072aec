import pino from 'pino';
import type { Logger, LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** Log levels accepted by `LOG_LEVEL` and the `logLevel` option. */
export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Creates the root logger: JSON lines on stderr (stdout stays free for CLI output and `--json`).
 * `level` defaults to `LOG_LEVEL`, else `info`.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const requested = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const level = (LOG_LEVELS as readonly string[]).includes(requested) ? requested : 'info';
  return pino({ name: options.name ?? 'nightshift', level }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that discards everything (the default for library use without a logger). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
