/**
 * `channelsFromEnv`: every channel off by default, on only with its flag, and a clear error
 * naming the missing or invalid variable (never a value) when an enabled channel is incomplete.
 * Channels built from the environment are checked by a real delivery to a loopback server.
 * Also the log channel (a real pino logger) and the escaping and cutting rules on their own.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { channelsFromEnv, createLogChannel } from '../../src/alerts/channels/index.js';
import { AlertDeliveryError } from '../../src/alerts/channels/delivery-error.js';
import { escapeDiscord, escapeHtml, escapeSlack, fitEscaped } from '../../src/alerts/channels/text-escaping.js';
import { ConfigError } from '../../src/errors.js';
import { answer, hostileAlert, startRecordingServer, type RecordingServer } from './alert-test-servers.js';

const SECRET_WEBHOOK = 'https://hooks.example.com/services/T0/B0/EnvWebhookSecret123';
const SECRET_TOKEN = 'xoxb-env-bot-token-secret';
const SECRET_KEY = 'SG.env-sendgrid-key-secret';
const SECRET_PASSWORD = 'env-smtp-password-secret';

function configError(env: Record<string, string>): ConfigError {
  try {
    channelsFromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const secret of ['EnvWebhookSecret123', SECRET_TOKEN, SECRET_KEY, SECRET_PASSWORD]) expect(message).not.toContain(secret);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('channelsFromEnv', () => {
  let server: RecordingServer;
  beforeEach(async () => {
    server = await startRecordingServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('no channel by default, nor when the flags are off, whatever else is set', () => {
    expect(channelsFromEnv({})).toEqual([]);
    const everything = {
      SLACK_WEBHOOK_URL: SECRET_WEBHOOK,
      SLACK_BOT_TOKEN: SECRET_TOKEN,
      DISCORD_WEBHOOK_URL: SECRET_WEBHOOK,
      SENDGRID_API_KEY: SECRET_KEY,
      SMTP_URL: `smtp://u:${SECRET_PASSWORD}@mail.example.com`,
      ALERT_EMAIL_FROM: 'alerts@example.com',
      ALERT_EMAIL_TO: 'ops@example.com',
    };
    expect(channelsFromEnv(everything)).toEqual([]);
    for (const off of ['false', '0', 'no', 'NO', '']) {
      expect(channelsFromEnv({ ...everything, NOTIFY_SLACK_ENABLED: off, NOTIFY_DISCORD_ENABLED: off, NOTIFY_EMAIL_ENABLED: off })).toEqual([]);
    }
  });

  it('true, 1 and yes turn channels on; each is named for the rules', () => {
    for (const on of ['true', '1', 'yes', 'TRUE', ' Yes ']) {
      const channels = channelsFromEnv({
        NOTIFY_SLACK_ENABLED: on,
        SLACK_WEBHOOK_URL: SECRET_WEBHOOK,
        NOTIFY_DISCORD_ENABLED: on,
        DISCORD_WEBHOOK_URL: SECRET_WEBHOOK,
        NOTIFY_EMAIL_ENABLED: on,
        SMTP_URL: `smtp://u:${SECRET_PASSWORD}@mail.example.com:587`,
        ALERT_EMAIL_FROM: 'alerts@example.com',
        ALERT_EMAIL_TO: 'ops@example.com, oncall@example.com',
      });
      expect(channels.map((channel) => channel.name)).toEqual(['slack', 'discord', 'email']);
    }
  });

  it('a Slack webhook from the environment posts to it, with the file settings and SLACK_CHANNEL', async () => {
    const [slack] = channelsFromEnv(
      { NOTIFY_SLACK_ENABLED: 'true', SLACK_WEBHOOK_URL: `${server.origin}/services/T0/B0/secret123`, SLACK_CHANNEL: '#env-channel' },
      { settings: { slack: { channel: '#file-channel', username: 'Worker Bot', iconEmoji: ':gear:' } } },
    );
    await slack!.send(hostileAlert());
    expect(server.requests[0]!.url).toBe('/services/T0/B0/secret123');
    expect(JSON.parse(server.requests[0]!.body)).toMatchObject({ channel: '#env-channel', username: 'Worker Bot', icon_emoji: ':gear:' });
  });

  it('without a webhook URL, the bot token and channel use the Web API', async () => {
    server.respondWith(answer(200, '{"ok":true}'));
    const [slack] = channelsFromEnv({ NOTIFY_SLACK_ENABLED: '1', SLACK_BOT_TOKEN: SECRET_TOKEN, SLACK_CHANNEL: 'C0123' }, { slackApiBaseUrl: `${server.origin}/api/` });
    await slack!.send(hostileAlert());
    expect(server.requests[0]!.url).toBe('/api/chat.postMessage');
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${SECRET_TOKEN}`);
    expect(JSON.parse(server.requests[0]!.body).channel).toBe('C0123');
  });

  it('email prefers SendGrid when its key is set; addresses may come from the file', async () => {
    server.respondWith(answer(202));
    const [email] = channelsFromEnv(
      { NOTIFY_EMAIL_ENABLED: 'yes', SENDGRID_API_KEY: SECRET_KEY, SMTP_URL: 'smtp://mail.example.com' },
      { sendGridBaseUrl: server.origin, settings: { email: { from: 'file@example.com', to: ['a@example.com', 'b@example.com'] } } },
    );
    await email!.send(hostileAlert());
    expect(server.requests[0]!.url).toBe('/v3/mail/send');
    const body = JSON.parse(server.requests[0]!.body);
    expect(body.from).toEqual({ email: 'file@example.com' });
    expect(body.personalizations[0].to).toEqual([{ email: 'a@example.com' }, { email: 'b@example.com' }]);
  });

  it('an enabled channel with missing settings names the variable', () => {
    expect(configError({ NOTIFY_SLACK_ENABLED: 'true' }).message).toBe(
      'invalid environment: SLACK_WEBHOOK_URL: is required when NOTIFY_SLACK_ENABLED is on (or SLACK_BOT_TOKEN with SLACK_CHANNEL)',
    );
    expect(configError({ NOTIFY_SLACK_ENABLED: 'true', SLACK_BOT_TOKEN: SECRET_TOKEN }).issues).toEqual([
      { path: 'SLACK_CHANNEL', message: 'is required when SLACK_BOT_TOKEN is set (or settings.slack.channel in alerts.yaml)' },
    ]);
    expect(configError({ NOTIFY_DISCORD_ENABLED: 'true' }).issues).toEqual([{ path: 'DISCORD_WEBHOOK_URL', message: 'is required when NOTIFY_DISCORD_ENABLED is on' }]);
    expect(configError({ NOTIFY_EMAIL_ENABLED: 'true', SENDGRID_API_KEY: SECRET_KEY }).issues.map((issue) => issue.path)).toEqual(['ALERT_EMAIL_FROM', 'ALERT_EMAIL_TO']);
    expect(configError({ NOTIFY_EMAIL_ENABLED: 'true', ALERT_EMAIL_FROM: 'a@example.com', ALERT_EMAIL_TO: 'b@example.com' }).issues).toEqual([
      { path: 'SMTP_URL', message: 'is required when NOTIFY_EMAIL_ENABLED is on (or SENDGRID_API_KEY)' },
    ]);
  });

  it('invalid values name the variable and at most a URL scheme, never the value; every problem is listed at once', () => {
    const error = configError({
      NOTIFY_SLACK_ENABLED: 'maybe',
      NOTIFY_DISCORD_ENABLED: 'true',
      DISCORD_WEBHOOK_URL: 'ftp://user:EnvWebhookSecret123@example.com/x',
      NOTIFY_EMAIL_ENABLED: 'true',
      SMTP_URL: `http://u:${SECRET_PASSWORD}@mail.example.com`,
      ALERT_EMAIL_FROM: 'alerts@example.com',
      ALERT_EMAIL_TO: 'ops@example.com,not-an-address',
    });
    expect(error.issues).toEqual([
      { path: 'NOTIFY_SLACK_ENABLED', message: 'must be true, 1, yes, false, 0 or no, got "maybe"' },
      { path: 'DISCORD_WEBHOOK_URL', message: 'must be an http:// or https:// URL, got a URL with scheme "ftp"' },
      { path: 'ALERT_EMAIL_TO', message: 'address 2 must be an email address such as ops@example.com or "Nightshift <ops@example.com>"' },
      { path: 'SMTP_URL', message: 'must be an smtp:// or smtps:// URL, got a URL with scheme "http"' },
    ]);
    expect(error.message).toMatch(/^invalid environment: NOTIFY_SLACK_ENABLED: .*; DISCORD_WEBHOOK_URL: .*; ALERT_EMAIL_TO: .*; SMTP_URL: /);
    expect(configError({ NOTIFY_SLACK_ENABLED: 'true', SLACK_WEBHOOK_URL: `not a url ${SECRET_TOKEN}` }).issues[0]).toEqual({
      path: 'SLACK_WEBHOOK_URL',
      message: 'must be an http:// or https:// URL (it does not parse as a URL)',
    });
    // Credentials in a URL: fetch would refuse it at every delivery; refused here, at load.
    const withCredentials = configError({ NOTIFY_SLACK_ENABLED: 'true', SLACK_WEBHOOK_URL: `https://user:${SECRET_TOKEN}@hooks.example.com/x` });
    expect(withCredentials.issues).toEqual([{ path: 'SLACK_WEBHOOK_URL', message: expect.stringMatching(/^must not carry credentials \(user:password@\)/) }]);
    expect(withCredentials.message).not.toContain(SECRET_TOKEN);
  });
});

describe('log channel', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')));
        done();
      },
    });
    return { lines, logger: pino({ level: 'info' }, stream) };
  }

  it('writes a critical alert at error, others and resolutions at warn, with the whole alert', async () => {
    const { lines, logger } = capture();
    const channel = createLogChannel({ logger });
    expect(channel.name).toBe('log');
    await channel.send(hostileAlert({ title: 'Job failing\n\u001b[31mred' }));
    await channel.send(hostileAlert({ severity: 'high' }));
    await channel.send(hostileAlert({ resolved: true }));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(lines.map((line) => line.level)).toEqual([50, 40, 40]);
    expect(lines[0]!.msg).toBe('alert [CRITICAL] Job failing [31mred');
    expect(lines[0]!.alert).toMatchObject({ id: 'alert-0001', rule: 'job-failures', severity: 'critical', subject: { kind: 'job', name: 'send-email @here' }, resolved: false });
    expect((lines[0]!.alert as { lastError: { message: string } }).lastError.message).toContain('<!channel>');
    expect(lines[2]!.msg).toBe('alert [RESOLVED] Job send-email failing');
  });

  it('fails, not delivered, when the log level hides the line: an alert nobody can read', async () => {
    const { lines, logger } = capture();
    logger.level = 'error';
    const channel = createLogChannel({ logger });
    const refused = await channel.send(hostileAlert({ severity: 'high' })).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(AlertDeliveryError);
    expect(refused).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, channel: 'log' });
    expect((refused as Error).message).toMatch(/the log level "error" hides warn lines, so the alert was not written; set LOG_LEVEL to warn/);
    // A critical one is written at error: shown.
    await channel.send(hostileAlert());
    logger.level = 'silent';
    await expect(channel.send(hostileAlert())).rejects.toMatchObject({ code: 'ALERT_REJECTED' });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(lines.map((line) => line.level)).toEqual([50]);
  });
});

describe('escaping and cutting', () => {
  it('Slack: entities for & < >, mention words broken', () => {
    expect(escapeSlack('a & b <!here> @channel @Here @everyone x@here.com')).toBe('a &amp; b &lt;!here&gt; @\u200Bchannel @\u200BHere @\u200Beveryone x@\u200Bhere.com');
  });

  it('Discord: markdown characters escaped, mentions broken', () => {
    expect(escapeDiscord('**b** __u__ ~~s~~ `c` ||sp|| > q # h - l [m](u) <@1> <@!2> <@&3> <#4> @everyone \\')).toBe(
      '\\*\\*b\\*\\* \\_\\_u\\_\\_ \\~\\~s\\~\\~ \\`c\\` \\|\\|sp\\|\\| \\> q \\# h \\- l \\[m\\]\\(u\\) \\<@\u200B1\\> \\<@\u200B!2\\> \\<@\u200B&3\\> \\<\\#4\\> @\u200Beveryone \\\\',
    );
  });

  it('HTML: & < > " \'', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('cuts after escaping, never through an escape or a surrogate pair', () => {
    expect(fitEscaped('abc', 3)).toBe('abc');
    expect(fitEscaped('abcd', 3)).toBe('ab…');
    expect(fitEscaped('a<b', 6, escapeSlack)).toBe('a&lt;b');
    expect(fitEscaped('a<bc', 5, escapeSlack)).toBe('a…');
    expect(fitEscaped('a<bc', 6, escapeSlack)).toBe('a&lt;…');
    expect(fitEscaped('😀😀', 4)).toBe('😀😀');
    expect(fitEscaped('😀😀', 3)).toBe('😀…');
    expect(fitEscaped('😀😀', 2)).toBe('…');
    expect(fitEscaped('**', 3, escapeDiscord)).toBe('\\*…');
  });
});
