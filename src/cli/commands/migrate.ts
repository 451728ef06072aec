import type { Command } from 'commander';
import { commandAction } from '../command-action.js';

/** `migrate`: creates or upgrades the store's tables, then exits. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('create or upgrade the database tables (safe to run repeatedly and from several processes)')
    .action(
      commandAction(async (context) => {
        // `context.store()` migrates on open; this command exists so deployments can do it as a
        // separate step before starting workers.
        const { store, description } = await context.store({ required: false });
        context.print({ migrated: true, store: store.kind, target: description }, () => `migrated ${description}`);
      }),
    );
}
