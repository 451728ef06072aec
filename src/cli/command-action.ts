import type { Command } from 'commander';
import { CommandContext } from './command-context.js';

/**
 * Wraps a command body for commander: builds its CommandContext, sets the process exit code from
 * the body's return value (default 0), and always closes what the body opened. Errors propagate
 * to `main`, which prints them and picks the exit code.
 */
export function commandAction<Args extends unknown[]>(
  body: (context: CommandContext, ...args: Args) => Promise<number | void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    // Commander passes the positional arguments, the options object, then the Command itself.
    const command = args[args.length - 1] as Command;
    const context = new CommandContext(command);
    try {
      const code = await body(context, ...(args.slice(0, -1) as Args));
      process.exitCode = code ?? 0;
    } finally {
      await context.close();
    }
  };
}
