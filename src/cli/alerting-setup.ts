/**
 * Alerting for the commands that use it (`daemon`, `serve`, `alerts …`): the rules of
 * `--alerts <file>` or the configuration, and the channels of this process (`log`, the
 * environment's, the rules' webhook). Imported only by those commands: the rule schema and the
 * channels' modules stay out of every other command's start-up.
 */
import type { Logger } from 'pino';
import { setUpAlerting, type Alerting } from '../alerts/alert-runtime.js';
import type { AlertRules } from '../alerts/alert-rules.js';
import type { AlertChannel } from '../alerts/channels/index.js';
import { readAlertRules } from '../config/alert-rules-source.js';
import type { ResolvedConfig } from '../config/load-config.js';

export interface CliAlerting {
  alerting: Alerting;
  /** Where the rules came from: a file path, or `<config file> (alerts)`. */
  from: string;
  /** For `createNightshift({ alerts })`: the same rules and channels, so the runtime sends through what was checked here. */
  runtimeOptions(evaluate: boolean): { rules: AlertRules; channels: readonly AlertChannel[]; evaluate: boolean };
}

/**
 * Reads the rules and builds the channels; null when no rules are configured (alerting off).
 * Throws `ConfigError` for an unreadable or invalid rules file (file, line, field) or a channel
 * that the environment enables with incomplete settings (naming the variable, never its value).
 */
export async function loadCliAlerting(params: { config: ResolvedConfig; file?: string | undefined; logger: Logger }): Promise<CliAlerting | null> {
  const loaded = await readAlertRules(params.config, { file: params.file });
  if (loaded === null) return null;
  const alerting = setUpAlerting({ rules: loaded.rules }, params.logger);
  return {
    alerting,
    from: loaded.from,
    // The runtime builds its channels from the environment again; passing these (they win by
    // name) keeps one set of channel objects per process.
    runtimeOptions: (evaluate) => ({ rules: alerting.rules, channels: [...alerting.channels.values()], evaluate }),
  };
}

/** Every rule of the rules, with its family, in file order. */
export function rulesByFamily(rules: AlertRules): { family: 'jobFailures' | 'queueHealth' | 'performance' | 'schedules'; rule: AlertRules['jobFailures'][number] | AlertRules['queueHealth'][number] | AlertRules['performance'][number] | AlertRules['schedules'][number] }[] {
  return (['jobFailures', 'queueHealth', 'performance', 'schedules'] as const).flatMap((family) => rules[family].map((rule) => ({ family, rule })));
}

/**
 * The one start-up line of a process that alerts: how many rules, from where, and the channel
 * names (never a URL, token or key).
 */
export function logAlertingSummary(logger: Logger, loaded: CliAlerting, role: 'evaluating' | 'serving'): void {
  const all = rulesByFamily(loaded.alerting.rules);
  const enabled = all.filter(({ rule }) => rule.enabled).length;
  const channels = [...loaded.alerting.channels.keys()].sort();
  const off = loaded.alerting.rules.settings.enabled ? '' : ' (settings.enabled is false: nothing fires)';
  logger.info(
    { alerts: loaded.from, rules: all.length, enabledRules: enabled, channels, evaluate: role === 'evaluating' },
    `alerting ${role === 'evaluating' ? 'on' : 'API only (not evaluating)'}: ${all.length} rule${all.length === 1 ? '' : 's'} (${enabled} enabled) from ${loaded.from}; channels: ${channels.join(', ')}${off}`,
  );
}
