#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { EXIT_FAILURE, exitCodeFor, formatError } from './cli-errors.js';
import { registerAlertCommands } from './commands/alerts.js';
import { registerControlCommands } from './commands/control.js';
import { registerDaemonCommand } from './commands/daemon.js';
import { registerInspectCommands } from './commands/inspect.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerRunCommand } from './commands/run.js';
import { registerScheduleCommands } from './commands/schedules.js';
import { registerQueueCommands } from './commands/queues.js';
import { registerServeCommand } from './commands/serve.js';
import { registerTokenCommands } from './commands/tokens.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Builds the `nightshift` command tree. */
export function buildProgram(): Command {
  const program = new Command('nightshift');
  program
    .description('Durable background jobs, cron schedules and workers.')
    .version(packageVersion())
    .option('--config <path>', 'config file (default: nightshift.config.ts|mts|js|mjs in the working directory); a .yaml/.yml file is a schedule file')
    .option('--json', 'machine-readable JSON output on stdout')
    .addOption(
      new Option('--log-format <format>', 'logs on stderr: pretty lines or JSON (default: LOG_FORMAT, else pretty on a terminal, JSON otherwise)').choices(['pretty', 'json']),
    )
    // Commander must not call process.exit itself: `main` maps its errors to exit code 2 after
    // commands have released their store.
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 success, 1 failure (job failed, not found, config or store error), 2 bad usage or input.
Environment: NIGHTSHIFT_DB, DATABASE_URL, NIGHTSHIFT_STORE, MAX_CONCURRENT_JOBS, JOB_TIMEOUT_MS,
SHUTDOWN_TIMEOUT_MS, POLL_INTERVAL_MS, NIGHTSHIFT_RETAIN_COMPLETED|CANCELLED|DEAD (7d, 12h, 30m or ms),
NIGHTSHIFT_HTTP ([host:]port of the HTTP API), HEALTH_CHECK_PORT, NIGHTSHIFT_API_TOKEN (an admin token),
LOG_LEVEL (debug shows stacks of errors), LOG_FORMAT (pretty|json).`,
    );
  registerDaemonCommand(program);
  registerRunCommand(program);
  registerControlCommands(program);
  registerInspectCommands(program);
  registerScheduleCommands(program);
  registerQueueCommands(program);
  registerMigrateCommand(program);
  registerServeCommand(program);
  registerTokenCommands(program);
  registerAlertCommands(program);
  return program;
}

/** Runs the CLI with `argv` (as in `process.argv`) and resolves with the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    // Commander has already printed its own usage errors.
    if (!(error instanceof CommanderError)) process.stderr.write(`${formatError(error)}\n`);
    return exitCodeFor(error);
  }
}

/**
 * Active resources (`process.getActiveResourcesInfo()`) that are the process's own and end with it:
 * its standard streams, and file closes that the module loader left in flight.
 */
const OWN_RESOURCES = new Set(['PipeWrap', 'TTYWrap', 'CloseReq', 'FileHandleCloseReq']);

/**
 * Ends the process with `code` once a command has finished. Everything a command opened is closed
 * by now. When nothing but the process's own resources is active, the event loop would end right
 * away too — but only after running the garbage-collection tasks V8 queued on it (a scavenge, the
 * end of an incremental marking: ~20 ms of a short command, spent on memory about to be dropped),
 * so the process exits as soon as stdout and stderr have taken what was written to them. Anything
 * else still active — a timer or a socket left by user code (a config file, a job's handler) — gets
 * up to a second to finish, and must not keep a finished command alive any longer.
 */
function exitWhenDone(code: number): void {
  process.exitCode = code;
  const active = typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo() : null;
  if (active !== null && active.every((resource) => OWN_RESOURCES.has(resource))) {
    let unflushed = 2;
    const flushed = (): void => {
      unflushed -= 1;
      if (unflushed === 0) process.exit(code);
    };
    process.stdout.write('', flushed);
    process.stderr.write('', flushed);
  }
  setTimeout(() => process.exit(code), 1000).unref();
}

// A reader that goes away early (`nightshift --json jobs | head`) is not an error of the command:
// stop quietly, as other command-line tools do, instead of dying on an unhandled EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const code = await runCli(process.argv).catch((error: unknown) => {
  process.stderr.write(`${formatError(error)}\n`);
  return EXIT_FAILURE;
});
exitWhenDone(code);
