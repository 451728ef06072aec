import type { Command } from 'commander';
import type { AlertsAdmin } from '../../alerts/alerts-admin.js';
import { ConfigError, NotFoundError } from '../../errors.js';
import type { CliAlerting } from '../alerting-setup.js';
import { UsageError } from '../cli-errors.js';
import { commandAction } from '../command-action.js';
import type { CommandContext } from '../command-context.js';
import { integerOption } from '../option-parsers.js';
import { formatDate, renderFields } from '../table.js';

/** How long a silence may last: 1 second … 90 days (the alerts admin's bounds). */
const SILENCE_BOUNDS = { min: 1000, max: 90 * 86_400_000, unit: 'ms' } as const;

/**
 * `--for 2h`: a duration (`30m`, `2h`, `7d`, or ms) within the silence bounds, in ms. Checked in
 * the action, with the config's duration rules loaded there, not at every CLI start.
 */
async function silenceDuration(value: string): Promise<number> {
  const { parseDuration } = await import('../../config/setting-rules.js');
  const parsed = parseDuration(value, SILENCE_BOUNDS);
  if ('problem' in parsed) throw new UsageError(`--for: a silence ${parsed.problem}, got ${JSON.stringify(value)}`);
  return parsed.ms;
}

interface AlertsCommandOptions {
  /** `--alerts <file>`: the rules file, instead of the config's. */
  alerts?: string;
}

/** The rules and channels as the daemon loads them; null when none are configured. */
async function loadAlerting(context: CommandContext, options: AlertsCommandOptions): Promise<CliAlerting | null> {
  const config = await context.config({ required: false });
  const { loadCliAlerting } = await import('../alerting-setup.js');
  return loadCliAlerting({ config, file: options.alerts, logger: context.logger() });
}

const NO_RULES =
  'alerting is off: no alert rules found. Pass --alerts <file>, set `alerts` in the config, or put alerts.yaml beside the config file';

/** The operators' view of alerting on the store (the one the HTTP API serves). */
async function requireAdmin(context: CommandContext, options: AlertsCommandOptions): Promise<AlertsAdmin> {
  const loaded = await loadAlerting(context, options);
  if (loaded === null) throw new ConfigError(NO_RULES);
  const { store } = await context.store({ required: false });
  return loaded.alerting.admin(store);
}

const views = () => import('../alert-view.js');

/*
 * Each command is defined once and registered twice: under `alerts` (`alerts status`) and at the
 * top level with the names users already type (`alert:status`).
 */
type Definition = (command: Command) => void;

const COMMANDS: readonly { name: string; args?: string; define: Definition }[] = [
  {
    name: 'status',
    define: (command) =>
      command.description('the loaded alert rules, the channels (names only, and any the rules name that are not configured here) and what is firing now').action(
        commandAction(async (context, options: AlertsCommandOptions) => {
          const loaded = await loadAlerting(context, options);
          if (loaded === null) {
            context.print({ alerting: false, from: null, rules: null, channels: [], unconfiguredChannels: [], active: [] }, () => NO_RULES);
            return;
          }
          const { store } = await context.store({ required: false });
          const admin = loaded.alerting.admin(store);
          const active = await admin.active();
          const { rules, channels } = admin.config();
          // Channels the rules send to that this environment lacks: shown, not refused, since a
          // rules file may be shared with daemons whose environment has them.
          const unconfigured = loaded.alerting.unconfigured;
          const { renderActive, renderRules } = await views();
          context.print({ alerting: true, from: loaded.from, rules, channels, unconfiguredChannels: unconfigured, active }, () =>
            [
              renderFields([
                ['rules from', loaded.from],
                ['channels', channels.join(', ')],
                ...unconfigured.map(
                  ({ channel, rules: users, setup }) =>
                    ['not configured', `${channel} (rules ${users.join(', ')}): a daemon with this environment sends nothing to it${setup ? `; ${setup}` : ''}`] as const,
                ),
                ['evaluated every', `${rules.settings.evaluateEvery}s${rules.settings.enabled ? '' : ' (settings.enabled is false: nothing fires)'}`],
              ]),
              renderRules(rules),
              renderActive(active),
            ].join('\n\n'),
          );
        }),
      ),
  },
  {
    name: 'history',
    define: (command) =>
      command
        .description('alert episodes newest first: status (delivered, throttled, silenced, undelivered), resolved time, and each delivery (channel, state, attempts)')
        .option('--limit <n>', 'how many, 1 to 1000', integerOption(1, 1000), 50)
        .option('--severity <severity>', 'only this severity: critical, high, medium, low, info')
        .option('--job <name>', 'only alerts about this job name')
        .option('--rule <name>', 'only alerts of this rule')
        .option('--cursor <id>', 'the next page: the cursor printed with the previous one')
        .action(
          commandAction(async (context, options: AlertsCommandOptions & { limit: number; severity?: string; job?: string; rule?: string; cursor?: string }) => {
            const loaded = await loadAlerting(context, options);
            if (loaded === null) throw new ConfigError(NO_RULES);
            const { store } = await context.store({ required: false });
            const admin = loaded.alerting.admin(store);
            const page = await admin.history({
              limit: options.limit,
              ...(options.severity === undefined ? {} : { severity: options.severity }),
              ...(options.job === undefined ? {} : { job: options.job }),
              ...(options.rule === undefined ? {} : { rule: options.rule }),
              ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
            });
            // A rule neither loaded nor in the history is a typo, said as one (exit 1), not "no
            // alerts". A rule since removed from the file still shows the history it left.
            if (options.rule !== undefined && options.cursor === undefined && page.episodes.length === 0) {
              const { rules } = admin.config();
              const names = [...rules.jobFailures, ...rules.queueHealth, ...rules.performance, ...rules.schedules].map((rule) => rule.name);
              if (!names.includes(options.rule)) {
                throw new NotFoundError('UNKNOWN_RULE', `no alert rule "${options.rule}" in ${loaded.from}, and no alert in the history under that name; rules: ${names.sort().join(', ') || '(none)'}`);
              }
            }
            const { renderHistory } = await views();
            context.print({ alerts: page.episodes, nextCursor: page.nextCursor }, () =>
              page.nextCursor === null ? renderHistory(page.episodes) : `${renderHistory(page.episodes)}\n\nnext page: --cursor ${page.nextCursor}`,
            );
          }),
        ),
  },
  {
    name: 'test',
    define: (command) =>
      command
        .description('send a test message now through one channel (or every configured one); exit code 1 when any failed')
        .option('--channel <name>', 'only this channel (log, slack, discord, email, webhook)')
        .action(
          commandAction(async (context, options: AlertsCommandOptions & { channel?: string }) => {
            const admin = await requireAdmin(context, options);
            const results = await admin.test(options.channel);
            context.print({ results }, () => results.map((result) => `${result.channel}: ${result.ok ? 'ok' : `error: ${result.error ?? 'failed'}`}`).join('\n'));
            return results.every((result) => result.ok) ? 0 : 1;
          }),
        ),
  },
  {
    name: 'silence',
    args: '<rule>',
    define: (command) =>
      command
        .description("silence a rule for a while: its alerts are recorded, not sent")
        .requiredOption('--for <duration>', 'how long: 30m, 2h, 7d (1 second to 90 days)')
        .option('--subject <name>', 'only this subject (job, queue or schedule name); default every subject of the rule')
        .option('--reason <text>', 'why, shown with the silence')
        .action(
          commandAction(async (context, rule: string, options: AlertsCommandOptions & { for: string; subject?: string; reason?: string }) => {
            // Checked before anything is opened: a bad value leaves no trace.
            const forMs = await silenceDuration(options.for);
            const admin = await requireAdmin(context, options);
            const silence = await admin.silence({ rule, subject: options.subject ?? null, forMs, reason: options.reason ?? null });
            const { silenceToJson } = await views();
            context.print(silenceToJson(silence), () => `silence ${silence.id}: rule ${silence.rule} (${silence.subject ?? 'every subject'}) silenced until ${formatDate(silence.until)}`);
          }),
        ),
  },
  {
    name: 'silences',
    define: (command) =>
      command.description('the active silences').action(
        commandAction(async (context, options: AlertsCommandOptions) => {
          const admin = await requireAdmin(context, options);
          const silences = await admin.silences();
          const { renderSilences, silenceToJson } = await views();
          context.print({ silences: silences.map(silenceToJson) }, () => renderSilences(silences));
        }),
      ),
  },
  {
    name: 'unsilence',
    args: '<id>',
    define: (command) =>
      command.description('end a silence now').action(
        commandAction(async (context, id: string, options: AlertsCommandOptions) => {
          const admin = await requireAdmin(context, options);
          await admin.unsilence(id);
          context.print({ id, removed: true }, () => `silence ${id} removed`);
        }),
      ),
  },
];

const ALERTS_OPTION = ['--alerts <file>', "the alert rules file (alerts.yaml shape); default: the config's `alerts`, else alerts.yaml beside the config file"] as const;

/** `alerts [status]|history|test|silence|silences|unsilence`, and the same as `alert:status`, …. */
export function registerAlertCommands(program: Command): void {
  const group = program
    .command('alerts')
    .description('alert rules, what is firing, history, test messages and silences (also as alert:status, alert:history, …)');
  for (const { name, args, define } of COMMANDS) {
    const usage = args === undefined ? name : `${name} ${args}`;
    // `nightshift alerts` alone is `alerts status`, as `schedules` alone lists them.
    define(group.command(usage, { isDefault: name === 'status' }).option(...ALERTS_OPTION));
    // Hidden from the help's list: the same commands as above, under the names users already type.
    define(program.command(`alert:${usage}`, { hidden: true }).option(...ALERTS_OPTION));
  }
}
