/**
 * The alert channels the environment turns on, from the variables users already set. Every
 * channel is off by default: it exists only when its `NOTIFY_*_ENABLED` flag says so, and an
 * enabled channel whose settings are incomplete or invalid is a `ConfigError` naming the variable
 * (never its value: most of them are secrets).
 *
 * | Variable                 | Meaning                                                              |
 * |--------------------------|----------------------------------------------------------------------|
 * | `NOTIFY_SLACK_ENABLED`   | `true`, `1` or `yes` turns Slack on; `false`, `0`, `no` or unset: off |
 * | `SLACK_WEBHOOK_URL`      | incoming webhook (http/https); used when set                          |
 * | `SLACK_BOT_TOKEN`        | bot token for `chat.postMessage`; used when no webhook URL is set     |
 * | `SLACK_CHANNEL`          | channel the bot posts to (required with the token); a legacy webhook's channel override |
 * | `NOTIFY_DISCORD_ENABLED` | turns Discord on                                                      |
 * | `DISCORD_WEBHOOK_URL`    | the Discord webhook (http/https)                                      |
 * | `NOTIFY_EMAIL_ENABLED`   | turns email on                                                        |
 * | `SENDGRID_API_KEY`       | send with SendGrid; used when set                                     |
 * | `SMTP_URL`               | `smtp://user:password@host:port` or `smtps://…`; used when no SendGrid key is set |
 * | `ALERT_EMAIL_FROM`       | sender: `alerts@example.com` or `Nightshift <alerts@example.com>`     |
 * | `ALERT_EMAIL_TO`         | recipients, comma-separated                                           |
 *
 * Non-secret settings may also come from alerts.yaml (`settings.slack`, `settings.discord`,
 * `settings.email`); a variable wins over the file where both set a value. Empty variables count
 * as unset.
 */
import { ConfigError, type ValidationIssue } from '../../errors.js';
import type { AlertChannel } from './alert-message.js';
import { checkEmailAddress, checkEmailList, checkHttpUrl, checkToken, type Checked } from './channel-settings.js';
import { createDiscordWebhookChannel } from './discord-channel.js';
import { checkSmtpUrl, createSendGridEmailChannel, createSmtpEmailChannel } from './email-channel.js';
import { createSlackApiChannel, createSlackWebhookChannel, type SlackAppearance } from './slack-channel.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface ChannelsFromEnvOptions {
  /** The non-secret channel settings of alerts.yaml (its `settings`); the environment wins over them. */
  settings?: {
    slack?: SlackAppearance | undefined;
    discord?: { username?: string | undefined } | undefined;
    email?: { from?: string | undefined; to?: readonly string[] | undefined } | undefined;
  };
  /** Time limit of one delivery on every channel, ms; default 10 000. */
  timeoutMs?: number;
  /** Base URL of Slack's Web API; default `https://slack.com/api`. */
  slackApiBaseUrl?: string;
  /** Base URL of SendGrid's API; default `https://api.sendgrid.com`. */
  sendGridBaseUrl?: string;
}

const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no']);

/**
 * The Slack, Discord and email channels that `env` enables (in that order; none by default).
 * Throws one `ConfigError` listing every enabled channel's missing or invalid variables.
 */
export function channelsFromEnv(env: Env = process.env, options: ChannelsFromEnvOptions = {}): AlertChannel[] {
  const issues: ValidationIssue[] = [];
  const get = (key: string): string | undefined => {
    const value = env[key]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const enabled = (key: string): boolean => {
    const value = get(key);
    if (value === undefined || FALSE_WORDS.has(value.toLowerCase())) return false;
    if (TRUE_WORDS.has(value.toLowerCase())) return true;
    issues.push({ path: key, message: `must be true, 1, yes, false, 0 or no, got ${JSON.stringify(value)}` });
    return false;
  };
  /** The value of a check, or undefined after recording its problem under `key`. */
  const take = <T>(key: string, checked: Checked<T>, hint = ''): T | undefined => {
    if ('problem' in checked) {
      issues.push({ path: key, message: `${checked.problem}${hint}` });
      return undefined;
    }
    return checked.value;
  };
  const settings = options.settings ?? {};
  const common = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  const build: (() => AlertChannel)[] = [];

  if (enabled('NOTIFY_SLACK_ENABLED')) {
    const appearance: SlackAppearance = { ...settings.slack };
    const channel = get('SLACK_CHANNEL') ?? settings.slack?.channel;
    if (channel !== undefined) appearance.channel = channel;
    const webhookUrl = get('SLACK_WEBHOOK_URL');
    const token = get('SLACK_BOT_TOKEN');
    if (webhookUrl !== undefined) {
      const url = take('SLACK_WEBHOOK_URL', checkHttpUrl(webhookUrl));
      if (url) build.push(() => createSlackWebhookChannel({ ...appearance, ...common, webhookUrl: url.href }));
    } else if (token !== undefined) {
      const checkedToken = take('SLACK_BOT_TOKEN', checkToken(token));
      const checkedChannel = take('SLACK_CHANNEL', checkToken(channel), ' when SLACK_BOT_TOKEN is set (or settings.slack.channel in alerts.yaml)');
      if (checkedToken !== undefined && checkedChannel !== undefined) {
        const base = options.slackApiBaseUrl === undefined ? {} : { apiBaseUrl: options.slackApiBaseUrl };
        build.push(() => createSlackApiChannel({ ...appearance, ...common, ...base, token: checkedToken, channel: checkedChannel }));
      }
    } else {
      issues.push({ path: 'SLACK_WEBHOOK_URL', message: 'is required when NOTIFY_SLACK_ENABLED is on (or SLACK_BOT_TOKEN with SLACK_CHANNEL)' });
    }
  }

  if (enabled('NOTIFY_DISCORD_ENABLED')) {
    const url = take('DISCORD_WEBHOOK_URL', checkHttpUrl(get('DISCORD_WEBHOOK_URL')), get('DISCORD_WEBHOOK_URL') === undefined ? ' when NOTIFY_DISCORD_ENABLED is on' : '');
    const username = settings.discord?.username;
    if (url) build.push(() => createDiscordWebhookChannel({ ...common, webhookUrl: url.href, ...(username === undefined ? {} : { username }) }));
  }

  if (enabled('NOTIFY_EMAIL_ENABLED')) {
    const fromText = get('ALERT_EMAIL_FROM') ?? settings.email?.from;
    const toText = get('ALERT_EMAIL_TO');
    const toList = toText !== undefined ? toText.split(',') : settings.email?.to;
    const hint = ' when NOTIFY_EMAIL_ENABLED is on';
    const from = take('ALERT_EMAIL_FROM', checkEmailAddress(fromText), fromText === undefined ? `${hint} (or settings.email.from in alerts.yaml)` : '');
    const to = take('ALERT_EMAIL_TO', checkEmailList(toList), toList === undefined ? `${hint} (or settings.email.to in alerts.yaml)` : '');
    const apiKey = get('SENDGRID_API_KEY');
    const smtpUrl = get('SMTP_URL');
    const addresses = from !== undefined && to !== undefined ? { from: fromText as string, to: toList as readonly string[] } : undefined;
    if (apiKey !== undefined) {
      const key = take('SENDGRID_API_KEY', checkToken(apiKey));
      const base = options.sendGridBaseUrl === undefined ? {} : { baseUrl: options.sendGridBaseUrl };
      if (key !== undefined && addresses) build.push(() => createSendGridEmailChannel({ ...common, ...base, ...addresses, apiKey: key }));
    } else if (smtpUrl !== undefined) {
      const server = take('SMTP_URL', checkSmtpUrl(smtpUrl));
      if (server !== undefined && addresses) build.push(() => createSmtpEmailChannel({ ...common, ...addresses, smtpUrl }));
    } else {
      issues.push({ path: 'SMTP_URL', message: `is required${hint} (or SENDGRID_API_KEY)` });
    }
  }

  if (issues.length > 0) {
    const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    throw new ConfigError(`invalid environment: ${listed}`, { issues });
  }
  return build.map((create) => create());
}
