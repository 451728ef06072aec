#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { EXIT_FAILURE, exitCodeFor, formatError } from './cli-errors.js';
import { registerControlCommands } from './commands/control.js';
import { registerDaemonCommand } from './commands/daemon.js';
import { registerInspectCommands } from './commands/inspect.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerRunCommand } from './commands/run.js';
import { registerScheduleCommands } from './commands/schedules.js';
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
LOG_LEVEL (debug shows stacks of errors), LOG_FORMAT (pretty|json).`,
    );
  registerDaemonCommand(program);
  registerRunCommand(program);
  registerControlCommands(program);
  registerInspectCommands(program);
  registerScheduleCommands(program);
  registerMigrateCommand(program);
  registerServeCommand(program);
  registerTokenCommands(program);
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

const code = await runCli(process.argv).catch((error: unknown) => {
  process.stderr.write(`${formatError(error)}\n`);
  return EXIT_FAILURE;
});
process.exitCode = code;
// Everything a command opened is closed by now; a handle left behind by user code (a timer in a
// config file, an open socket) must not keep a finished command alive.
setTimeout(() => process.exit(code), 1000).unref();
