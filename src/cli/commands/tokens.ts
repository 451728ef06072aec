import type { Command } from 'commander';
import { UsageError } from '../cli-errors.js';
import { commandAction } from '../command-action.js';
import { formatDate, renderTable } from '../table.js';

const SCOPES = ['read', 'enqueue', 'admin'] as const;

/**
 * `tokens create|list|revoke`: API tokens kept in the store (only their SHA-256 digests). The
 * secret is printed once, by `create`, and nowhere else; every API server of the store accepts
 * a new token and refuses a revoked one within seconds.
 */
export function registerTokenCommands(program: Command): void {
  const tokens = program.command('tokens').description('API tokens of the HTTP API (kept in the store as digests)');

  tokens
    .command('create')
    .description('create a token and print it once: read (GET), enqueue (+ POST /api/jobs), admin (everything)')
    .requiredOption('--name <name>', 'what the token is for, e.g. ci or python-bot (unique among unrevoked tokens)')
    .requiredOption('--scope <scope>', `one of ${SCOPES.join(', ')}`)
    .action(
      commandAction(async (context, options: { name: string; scope: string }) => {
        if (!(SCOPES as readonly string[]).includes(options.scope)) throw new UsageError(`--scope must be one of ${SCOPES.join(', ')}, got ${JSON.stringify(options.scope)}`);
        const { store } = await context.store({ required: false });
        const { createApiToken } = await import('../../client/api-tokens.js');
        const { token, view } = await createApiToken(store, { name: options.name, scope: options.scope as (typeof SCOPES)[number] });
        context.print({ token, name: view.name, scope: view.scope, fingerprint: view.fingerprint, createdAt: view.createdAt.toISOString() }, () =>
          [
            `created token "${view.name}" (scope ${view.scope}, fingerprint ${view.fingerprint}):`,
            '',
            `  ${token}`,
            '',
            'It is shown this once; the store keeps only its digest. Send it as: Authorization: Bearer <token>',
          ].join('\n'),
        );
      }),
    );

  tokens
    .command('list')
    .description('list tokens (never their secrets): name, scope, fingerprint, created, revoked')
    .action(
      commandAction(async (context) => {
        const { store } = await context.store({ required: false });
        const { listApiTokens } = await import('../../client/api-tokens.js');
        const list = await listApiTokens(store);
        context.print(
          list.map((t) => ({ name: t.name, scope: t.scope, fingerprint: t.fingerprint, createdAt: t.createdAt.toISOString(), revokedAt: t.revokedAt?.toISOString() ?? null })),
          () =>
            list.length === 0
              ? 'no tokens (nightshift tokens create --name <name> --scope read|enqueue|admin)'
              : renderTable(
                  ['name', 'scope', 'fingerprint', 'created', 'revoked'].map((header) => ({ header })),
                  list.map((t) => [t.name, t.scope, t.fingerprint, formatDate(t.createdAt), t.revokedAt ? formatDate(t.revokedAt) : '']),
                ),
        );
      }),
    );

  tokens
    .command('revoke <name>')
    .description('revoke the unrevoked token with this name; API servers refuse it within seconds')
    .action(
      commandAction(async (context, name: string) => {
        const { store } = await context.store({ required: false });
        const { revokeApiToken } = await import('../../client/api-tokens.js');
        const view = await revokeApiToken(store, name);
        context.print({ name: view.name, scope: view.scope, fingerprint: view.fingerprint, revokedAt: view.revokedAt?.toISOString() ?? null }, () => `revoked token "${view.name}" (${view.fingerprint})`);
      }),
    );
}
