/**
 * Which channels the rules send to, and which of those this process has not configured. A rules
 * file may be shared by processes with different environments (a daemon with the Slack variables,
 * an operator's shell without), so a known channel that is off here is not an error when the rules
 * are read: the daemon warns at start, `alerts status` shows it, and an alert none of whose
 * channels is configured is recorded as `undelivered` (alert-service.ts), never as delivered.
 */
import type { AlertRules, ChannelKind } from './alert-rules.js';

/** How each channel kind is turned on (the variables and settings of channels-from-env.ts and alert-runtime.ts). */
const CHANNEL_SETUP: Record<ChannelKind, string> = {
  log: 'always configured',
  slack: 'set NOTIFY_SLACK_ENABLED=true with SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN and SLACK_CHANNEL',
  discord: 'set NOTIFY_DISCORD_ENABLED=true with DISCORD_WEBHOOK_URL',
  email: 'set NOTIFY_EMAIL_ENABLED=true with ALERT_EMAIL_FROM, ALERT_EMAIL_TO and SENDGRID_API_KEY or SMTP_URL',
  webhook: 'set settings.webhook.url in the rules',
};

/** A channel that enabled rules send to and this process does not have. */
export interface UnconfiguredChannel {
  channel: string;
  /** The enabled rules that send to it (their own `channels`, or the settings' default). */
  rules: string[];
  /** How to turn it on, for a channel kind; null for another name (a channel code was to pass). */
  setup: string | null;
}

/** The channels an alert of `rule` goes to: its own, else (absent or empty) the settings'. */
export function channelsOfRule(rule: { channels?: readonly string[] | undefined }, settings: AlertRules['settings']): readonly string[] {
  return rule.channels !== undefined && rule.channels.length > 0 ? rule.channels : settings.channels;
}

/** The channels the enabled rules send to that are not in `configured`, in order of first use. */
export function unconfiguredChannels(rules: AlertRules, configured: Iterable<string>): UnconfiguredChannel[] {
  const have = new Set(configured);
  const missing = new Map<string, string[]>();
  for (const family of ['jobFailures', 'queueHealth', 'performance', 'schedules'] as const) {
    for (const rule of rules[family]) {
      if (!rule.enabled) continue;
      for (const channel of channelsOfRule(rule, rules.settings)) {
        if (have.has(channel)) continue;
        const users = missing.get(channel) ?? [];
        if (!users.includes(rule.name)) users.push(rule.name);
        missing.set(channel, users);
      }
    }
  }
  return [...missing].map(([channel, users]) => ({ channel, rules: users, setup: Object.hasOwn(CHANNEL_SETUP, channel) ? CHANNEL_SETUP[channel as ChannelKind] : null }));
}
