import { CommanderError } from 'commander';
import { ConfigError, NightshiftError, ValidationError } from '../errors.js';

/** Exit codes of the `nightshift` command. */
export const EXIT_OK = 0;
/** The command ran and failed: a job failed, a record was not found, the store or config is broken. */
export const EXIT_FAILURE = 1;
/** The command line itself is wrong: unknown option, bad argument, unknown job, invalid payload. */
export const EXIT_USAGE = 2;

/** A bad command-line value that commander itself cannot check (JSON text, id format, …). */
export class UsageError extends ValidationError {
  constructor(message: string) {
    super('INVALID_OPTION', message);
  }
}

/** The exit code for an error that ended a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  // ConfigError is a ValidationError-like input problem, but it is about files, not the command line.
  if (error instanceof ConfigError) return EXIT_FAILURE;
  if (error instanceof ValidationError) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/**
 * Writes an error for a human: `error [CODE]: message`, then one line per field issue when the
 * message does not already list them. Stacks only with `LOG_LEVEL=debug` (or trace): operators
 * need the what and the fix, not our call graph.
 */
export function formatError(error: unknown, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const verbose = env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace';
  if (error instanceof NightshiftError) {
    const lines = [`error [${error.code}]: ${error.message}`];
    for (const issue of error.issues) {
      // Most messages already list their issues; repeat only what they leave out.
      const mentioned = error.message.includes(issue.message) || (issue.path !== '' && error.message.includes(issue.path));
      if (!mentioned) lines.push(`  - ${issue.path || '(value)'}: ${issue.message}`);
    }
    if (verbose && error.stack) lines.push(error.stack);
    if (verbose && error.cause instanceof Error && error.cause.stack) lines.push(`caused by: ${error.cause.stack}`);
    return lines.join('\n');
  }
  if (error instanceof Error) {
    // Node's system errors carry a code too (EADDRINUSE, EACCES, ENOENT…): printed the same way.
    const code = (error as { code?: unknown }).code;
    const head = typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? `error [${code}]: ` : 'error: ';
    const hint = listenHint(error, code);
    const text = verbose && error.stack ? error.stack : error.message;
    return `${head}${text}${hint === null ? '' : `\n  ${hint}`}`;
  }
  return `error: ${String(error)}`;
}

/** What to do when the HTTP API could not listen (a port taken, or one below 1024 without privileges). */
function listenHint(error: Error, code: unknown): string | null {
  if ((error as { syscall?: unknown }).syscall !== 'listen') return null;
  if (code === 'EADDRINUSE') return 'another process listens on that address: stop it, or pick another port (--http host:port, NIGHTSHIFT_HTTP)';
  if (code === 'EACCES') return 'this user may not listen on that port (ports below 1024 need privileges): pick a port from 1024 up';
  if (code === 'EADDRNOTAVAIL') return 'no network interface of this machine has that address: listen on 127.0.0.1, or on one of its own addresses';
  return null;
}
