/**
 * How errors appear in log lines: what an operator needs and nothing else. pino's default error
 * serializer copies every enumerable property, which for a lost PostgreSQL connection included
 * the whole driver client (kilobytes of state and SQL text per line), and shows a recorded error
 * (an `ErrorRecord`, a plain object) as `"type":"Object"`.
 */

/** An error as logged: class, stable code, message, whether a retry can help, and the cause's summary. */
export interface LoggedError {
  type: string;
  message: string;
  code?: string;
  kind?: string;
  retryable?: boolean;
  /** Only when the logger is at `debug` or `trace`. */
  stack?: string;
  cause?: LoggedError;
}

/** Longest message kept in a log line, in characters. */
const MAX_LOGGED_MESSAGE = 2000;

/**
 * Summarizes `value` (an Error, a recorded `ErrorRecord`, or anything thrown) for a log line.
 * `withStack` adds stacks (the logger is at debug level); causes are followed two levels deep.
 */
export function serializeLoggedError(value: unknown, withStack: boolean, depth = 0): LoggedError {
  if (value === null || typeof value !== 'object') return { type: typeof value, message: clip(String(value)) };
  const record = value as Record<string, unknown>;
  const type = value instanceof Error ? value.name || value.constructor?.name || 'Error' : typeof record.name === 'string' ? record.name : 'Error';
  const logged: LoggedError = { type, message: clip(typeof record.message === 'string' ? record.message : safeString(value)) };
  const code = record.code;
  if (typeof code === 'string' || typeof code === 'number') logged.code = String(code);
  if (typeof record.kind === 'string') logged.kind = record.kind;
  if (typeof record.retryable === 'boolean') logged.retryable = record.retryable;
  if (withStack && typeof record.stack === 'string') logged.stack = record.stack;
  const cause = value instanceof Error ? value.cause : undefined;
  if (cause !== undefined && depth < 2) logged.cause = serializeLoggedError(cause, withStack, depth + 1);
  return logged;
}

function clip(text: string): string {
  return text.length > MAX_LOGGED_MESSAGE ? `${text.slice(0, MAX_LOGGED_MESSAGE)}… [cut]` : text;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '(unprintable)';
  }
}
