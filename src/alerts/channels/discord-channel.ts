/**
 * Discord, through a channel webhook: `content` (what notifications show) and one embed with the
 * facts and the error. User-controlled text is markdown-escaped with mentions broken
 * (text-escaping.ts), and the request itself says `allowed_mentions: { parse: [] }`, so nothing in
 * an alert can ping anyone. Discord's limits: content 2 000 characters, embed title 256,
 * description 4 096, footer 2 048, an embed 6 000 in all.
 */
import type { AlertChannel, AlertMessage } from './alert-message.js';
import { alertFacts, alertWords } from './alert-wording.js';
import { channelName, checkHttpUrl, optionalText, required } from './channel-settings.js';
import { resolveTimeoutMs } from './delivery-deadline.js';
import { jsonWebhookChannel } from './http-delivery.js';
import { escapeDiscord, fitEscaped } from './text-escaping.js';

export interface DiscordWebhookChannelOptions {
  /** The webhook's URL (`https://discord.com/api/webhooks/<id>/<token>`): a secret, never printed. */
  webhookUrl: string;
  /** Name shown as the sender, instead of the webhook's own (at most 80 characters). */
  username?: string | undefined;
  /** The name rules pick this channel by; default `discord`. */
  name?: string;
  /** Time limit of one delivery, ms; default 10 000. */
  timeoutMs?: number;
}

const CONTENT_MAX = 2000;
const TITLE_MAX = 256;
const DESCRIPTION_MAX = 4096;
const FOOTER_MAX = 2048;
const USERNAME_MAX = 80;

/** Embed colours by severity, as Discord takes them (an RGB integer). */
const SEVERITY_COLOR = { critical: 0xd32f2f, high: 0xf57c00, medium: 0xfbc02d, low: 0x1976d2, info: 0x607d8b } as const;
const RESOLVED_COLOR = 0x388e3c;
const SEVERITY_ICON = { critical: '🚨', high: '🔴', medium: '🟠', low: '🟡', info: 'ℹ️' } as const;

/** The JSON body of a Discord webhook execution. */
export interface DiscordPayload {
  content: string;
  embeds: Record<string, unknown>[];
  username?: string;
  allowed_mentions: { parse: [] };
}

/** The message as Discord webhook JSON. */
export function discordPayload(message: AlertMessage, username?: string): DiscordPayload {
  const words = alertWords(message);
  const icon = message.resolved ? '✅' : SEVERITY_ICON[message.severity] ?? '⚠️';
  // Each part is capped (alert-wording.ts) and at most doubled by escaping: far below 2 000 together.
  const content = fitEscaped(`${icon} **${escapeDiscord(words.headline)}** — ${escapeDiscord(words.subject)}: ${escapeDiscord(words.measured)}`, CONTENT_MAX);

  const intro = words.description === null ? '' : `${escapeDiscord(words.description)}\n\n`;
  const facts = intro + alertFacts(words).map((fact) => `**${fact.label}:** ${escapeDiscord(fact.value)}`).join('\n');
  let description = facts;
  if (words.error !== null) {
    const heading = '\n\n**Last error**\n';
    description += `${heading}${fitEscaped(words.error, DESCRIPTION_MAX - facts.length - heading.length, escapeDiscord)}`;
  }
  const embed: Record<string, unknown> = {
    title: fitEscaped(words.headline, TITLE_MAX, escapeDiscord),
    description,
    color: message.resolved ? RESOLVED_COLOR : SEVERITY_COLOR[message.severity] ?? SEVERITY_COLOR.info,
    footer: { text: fitEscaped(`alert ${words.id}`, FOOTER_MAX, escapeDiscord) },
  };
  if (words.link !== null) embed.url = words.link;
  if (words.at !== 'unknown time') embed.timestamp = words.at;

  const payload: DiscordPayload = { content, embeds: [embed], allowed_mentions: { parse: [] } };
  if (username !== undefined) payload.username = username;
  return payload;
}

/** Posts alerts through a Discord webhook. */
export function createDiscordWebhookChannel(options: DiscordWebhookChannelOptions): AlertChannel {
  const name = channelName(options.name, 'discord');
  const url = required(checkHttpUrl(options.webhookUrl), name, 'webhookUrl');
  const username = optionalText(options.username, name, 'username');
  if (username !== undefined && username.length > USERNAME_MAX) required({ problem: `must be at most ${USERNAME_MAX} characters` }, name, 'username');
  const timeoutMs = resolveTimeoutMs(options.timeoutMs, name);
  // Discord answers 204 without `?wait=true`, 200 with it; 429 carries Retry-After (seconds, maybe fractional).
  return jsonWebhookChannel({ name, service: 'Discord webhook', url, timeoutMs, payload: (message) => discordPayload(message, username) });
}
