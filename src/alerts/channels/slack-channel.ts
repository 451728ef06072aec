/**
 * Slack, two ways: an incoming webhook (a URL that posts to one channel), or a bot token posting
 * with the Web API's `chat.postMessage` to a named channel. Both send the same message: a
 * `text` (what notifications and old clients show) and Block Kit `blocks`.
 *
 * Every piece of user-controlled text is escaped for mrkdwn (text-escaping.ts), link previews
 * are off (`unfurl_links`), and each field stays within Slack's limits: 40 000 characters of
 * `text`, 3 000 per section, 2 000 per field.
 */
import type { AlertChannel, AlertMessage } from './alert-message.js';
import { alertFacts, alertWords, type AlertWords } from './alert-wording.js';
import { channelName, checkHttpUrl, checkToken, optionalText, required } from './channel-settings.js';
import { resolveTimeoutMs } from './delivery-deadline.js';
import { AlertDeliveryError, type AlertDeliveryErrorCode, parseRetryAfter, retryHint } from './delivery-error.js';
import { accepted, failureForAnswer, jsonWebhookChannel, postToService, quoteAnswer, type ServicePost } from './http-delivery.js';
import { redactUrl, SecretScrubber } from './secret-redaction.js';
import { escapeSlack, escapeSlackCode, fitEscaped } from './text-escaping.js';

/** Where and as whom messages appear: the `slack:` settings of alerts.yaml. */
export interface SlackAppearance {
  /** Channel to post to (`#ops` or an id). A webhook posts to its own channel; only legacy webhooks honour this. */
  channel?: string | undefined;
  /** Name shown as the sender (the Web API needs the `chat:write.customize` scope for it). */
  username?: string | undefined;
  /** Emoji shown as the sender's icon, e.g. `:rotating_light:`. */
  iconEmoji?: string | undefined;
}

interface SlackCommonOptions extends SlackAppearance {
  /** The name rules pick this channel by; default `slack`. */
  name?: string;
  /** Time limit of one delivery, ms; default 10 000. */
  timeoutMs?: number;
}

export interface SlackWebhookChannelOptions extends SlackCommonOptions {
  /** The incoming webhook's URL (`https://hooks.slack.com/services/…`): a secret, never printed. */
  webhookUrl: string;
}

export interface SlackApiChannelOptions extends SlackCommonOptions {
  /** Bot token (`xoxb-…`) with the `chat:write` scope: a secret, never printed. */
  token: string;
  /** Required here: the channel (`#ops`, `C0123…`) the bot posts to. */
  channel: string;
  /** Base URL of the Web API; default `https://slack.com/api`. */
  apiBaseUrl?: string;
}

/** Slack's limits, in characters. */
const TEXT_MAX = 40_000;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
/** Bytes of a Web API answer read: it echoes the whole message back, blocks and all. */
const API_ANSWER_MAX_BYTES = 2 * 1024 * 1024;

const SEVERITY_EMOJI = {
  critical: ':rotating_light:',
  high: ':red_circle:',
  medium: ':large_orange_circle:',
  low: ':large_yellow_circle:',
  info: ':information_source:',
} as const;

/** The JSON body both Slack APIs take (the Web API adds nothing but the channel). */
export interface SlackPayload {
  text: string;
  blocks: unknown[];
  channel?: string;
  username?: string;
  icon_emoji?: string;
  unfurl_links: false;
  unfurl_media: false;
}

/** The message as Slack's JSON: `text`, `blocks`, and the appearance fields that are set. */
export function slackPayload(message: AlertMessage, appearance: SlackAppearance = {}): SlackPayload {
  const words = alertWords(message);
  const emoji = message.resolved ? ':white_check_mark:' : SEVERITY_EMOJI[message.severity] ?? ':warning:';
  const head = `${emoji} *${escapeSlack(words.headline)}*`;
  const facts = alertFacts(words).map((fact) => ({ label: fact.label, value: escapeSlack(fact.value) }));
  const link = words.link === null ? null : `<${slackUrl(words.link)}|Open in the dashboard>`;
  const footer = [link, `alert ${fitEscaped(words.id, 200, escapeSlack)}`].filter((part) => part !== null).join(' · ');

  const description = words.description === null ? null : escapeSlack(words.description);
  const textLines = [head, ...(description === null ? [] : [description]), ...facts.map((fact) => `*${fact.label}:* ${fact.value}`)];
  const fixedLength = [...textLines, footer].join('\n').length;
  if (words.error !== null) textLines.push('*Last error:*', errorBlock(words, TEXT_MAX - fixedLength - '\n*Last error:*\n\n'.length));
  textLines.push(footer);

  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: head } },
    ...(description === null ? [] : [{ type: 'section', text: { type: 'mrkdwn', text: fitBlockText(description, SECTION_MAX) } }]),
    { type: 'section', fields: facts.map((fact) => ({ type: 'mrkdwn', text: fitBlockText(`*${fact.label}*\n${fact.value}`, FIELD_MAX) })) },
  ];
  if (words.error !== null) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Last error*\n${errorBlock(words, SECTION_MAX - '*Last error*\n'.length)}` } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: footer }] });

  const payload: SlackPayload = { text: textLines.join('\n'), blocks, unfurl_links: false, unfurl_media: false };
  if (appearance.channel) payload.channel = appearance.channel;
  if (appearance.username) payload.username = appearance.username;
  if (appearance.iconEmoji) payload.icon_emoji = appearance.iconEmoji;
  return payload;
}

/** The error in a ``` block of at most `max` characters, cut inside the block. */
function errorBlock(words: AlertWords, max: number): string {
  return `\`\`\`${fitEscaped(words.error ?? '', Math.max(max - 6, 1), escapeSlackCode)}\`\`\``;
}

/** Already-escaped block text, cut only if a limit is ever reached (the field caps keep it far below). */
function fitBlockText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).replace(/&[a-z]*$/, '')}…`;
}

/** A URL inside `<url|label>`: entities for `& < >`, and `|` encoded so it cannot end the URL. */
function slackUrl(url: string): string {
  return url.replace(/&/g, '&amp;').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/\|/g, '%7C');
}

/** Posts alerts through a Slack incoming webhook. */
export function createSlackWebhookChannel(options: SlackWebhookChannelOptions): AlertChannel {
  const name = channelName(options.name, 'slack');
  const url = required(checkHttpUrl(options.webhookUrl), name, 'webhookUrl');
  const appearance = slackAppearance(options, name);
  const timeoutMs = resolveTimeoutMs(options.timeoutMs, name);
  // A webhook answers 200 "ok"; its errors are 4xx/5xx with a word such as `channel_not_found`.
  return jsonWebhookChannel({ name, service: 'Slack webhook', url, timeoutMs, payload: (message) => slackPayload(message, appearance) });
}

/**
 * Slack Web API errors that are about Slack's state, not the request: trying again later can
 * work. Every other `error` (`invalid_auth`, `channel_not_found`, `not_in_channel`,
 * `missing_scope`, …) needs the configuration fixed.
 */
const RETRYABLE_API_ERRORS: ReadonlyMap<string, AlertDeliveryErrorCode> = new Map([
  ['ratelimited', 'ALERT_RATE_LIMITED'],
  ['rate_limited', 'ALERT_RATE_LIMITED'],
  ['internal_error', 'ALERT_SERVICE_UNAVAILABLE'],
  ['fatal_error', 'ALERT_SERVICE_UNAVAILABLE'],
  ['service_unavailable', 'ALERT_SERVICE_UNAVAILABLE'],
  ['request_timeout', 'ALERT_SERVICE_UNAVAILABLE'],
]);

/** Posts alerts as a bot with the Web API's `chat.postMessage`. */
export function createSlackApiChannel(options: SlackApiChannelOptions): AlertChannel {
  const name = channelName(options.name, 'slack');
  const token = required(checkToken(options.token), name, 'token');
  const channel = required(checkToken(options.channel), name, 'channel');
  const base = required(checkHttpUrl(options.apiBaseUrl ?? 'https://slack.com/api'), name, 'apiBaseUrl');
  const url = new URL('chat.postMessage', base.href.endsWith('/') ? base : `${base.href}/`);
  const appearance = { ...slackAppearance(options, name), channel };
  const timeoutMs = resolveTimeoutMs(options.timeoutMs, name);
  const scrubber = new SecretScrubber([token], [base]);
  const target = `Slack Web API ${redactUrl(url)}`;
  return {
    name,
    async send(message, signal) {
      const post: ServicePost = {
        channel: name,
        target,
        url,
        headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` },
        body: JSON.stringify(slackPayload(message, appearance)),
        timeoutMs,
        signal,
        scrubber,
        maxAnswerBytes: API_ANSWER_MAX_BYTES,
      };
      const answer = await postToService(post);
      if (!accepted(answer)) throw failureForAnswer(post, answer);
      // Failures come back as 200 with { ok: false, error: "…" }.
      let result: { ok?: unknown; error?: unknown } | null = null;
      try {
        result = JSON.parse(answer.body) as { ok?: unknown; error?: unknown };
      } catch {
        result = null;
      }
      if (result !== null && typeof result === 'object' && result.ok === true) return;
      const error = result !== null && typeof result === 'object' && typeof result.error === 'string' ? result.error : null;
      const code = (error !== null ? RETRYABLE_API_ERRORS.get(error) : undefined) ?? 'ALERT_REJECTED';
      const said = error !== null ? `ok: false, error "${quoteAnswer(post, error)}"` : `an answer that is not Slack's ({ ok: true } expected): ${quoteAnswer(post, answer.body)}`;
      const retryAfterMs = code === 'ALERT_REJECTED' ? null : parseRetryAfter(answer.headers.get('retry-after'));
      throw new AlertDeliveryError(code, `${name}: ${target} answered ${answer.status} with ${said} (${retryHint(code, retryAfterMs)})`, {
        channel: name,
        status: answer.status,
        retryAfterMs,
      });
    },
  };
}

function slackAppearance(options: SlackAppearance, name: string): SlackAppearance {
  const appearance: SlackAppearance = {};
  const channel = optionalText(options.channel, name, 'channel');
  const username = optionalText(options.username, name, 'username');
  const iconEmoji = optionalText(options.iconEmoji, name, 'iconEmoji');
  if (channel !== undefined) appearance.channel = channel;
  if (username !== undefined) appearance.username = username;
  if (iconEmoji !== undefined) appearance.iconEmoji = iconEmoji;
  return appearance;
}
