/**
 * The HTTP channels — Slack (incoming webhook and Web API), Discord, SendGrid, the generic
 * webhook — against real servers on 127.0.0.1 that record every request: the exact request
 * each sends, hostile text arriving inert, every failure classified (retryable or not, with
 * Retry-After), timeouts and aborts, and no secret in any error.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  alertMessageJson,
  createDiscordWebhookChannel,
  createSendGridEmailChannel,
  createSlackApiChannel,
  createSlackWebhookChannel,
  createWebhookChannel,
} from '../../src/alerts/channels/index.js';
import { ConfigError } from '../../src/errors.js';
import { answer, closedPort, failureOf, secretCheckedFailures, HOSTILE, hostileAlert, nextRequest, startRecordingServer, type RecordingServer, type Responder } from './alert-test-servers.js';

const ZWSP = '\u200B';
const SLACK_PATH = '/services/T01234567/B07654321/abcdEFGHijklMNOPqrstUVWX';
const SLACK_TOKEN = 'xoxb-1111-2222-SecretBotToken';
const DISCORD_PATH = '/api/webhooks/112233445566778899/Disc0rdWebhookTokenSecretValue_abc';
const SENDGRID_KEY = 'SG.sendgrid-secret-api-key.XYZ';
const WEBHOOK_SECRET = 'whsec-signing-secret-0123';
const WEBHOOK_PATH = '/hooks/alerts?token=QueryTokenSecret999';
const WEBHOOK_AUTH = 'Bearer extra-header-secret-777';
const SECRETS = [
  'abcdEFGHijklMNOPqrstUVWX',
  SLACK_TOKEN,
  'Disc0rdWebhookTokenSecretValue_abc',
  SENDGRID_KEY,
  WEBHOOK_SECRET,
  'QueryTokenSecret999',
  'extra-header-secret-777',
];

let server: RecordingServer;
beforeEach(async () => {
  server = await startRecordingServer();
});
afterEach(async () => {
  await server.close();
});

/** Every delivery failure and config error of this file, checked for secrets at the end. */
const { failure, record: recordFailure } = secretCheckedFailures(SECRETS, 20);

/** Answers with `status` and a body that echoes back the request's URL and credentials, as a careless service might. */
const echo =
  (status: number, headers: Record<string, string> = {}): Responder =>
  (request, response) => {
    response.writeHead(status, { 'content-type': 'text/plain', ...headers });
    response.end(`error for ${request.url} auth=${request.headers.authorization ?? ''} ${request.body.slice(0, 50)}`);
  };

/** Every string inside a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

describe('Slack incoming webhook', () => {
  const channel = () => createSlackWebhookChannel({ webhookUrl: `${server.origin}${SLACK_PATH}`, channel: '#ops', username: 'Nightshift', iconEmoji: ':owl:' });

  it('POSTs JSON with text, blocks, and the configured channel, username and icon', async () => {
    await channel().send(hostileAlert({ lastError: { name: 'Error', message: 'connection refused' }, subject: { kind: 'job', name: 'send-email' } }));
    expect(server.requests).toHaveLength(1);
    const request = server.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe(SLACK_PATH);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers.authorization).toBeUndefined();
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({ channel: '#ops', username: 'Nightshift', icon_emoji: ':owl:', unfurl_links: false, unfurl_media: false });
    expect(body.text).toContain(':rotating_light: *[CRITICAL] Job send-email failing*');
    expect(body.text).toContain('*Subject:* job send-email');
    expect(body.text).toContain('*Measured:* 3 consecutive failures');
    expect(body.text).toContain('*Threshold:* ≥ 3');
    expect(body.text).toContain('```Error: connection refused```');
    expect(body.text).toContain('<https://nightshift.example.com/jobs/send-email?x=1&amp;y=2|Open in the dashboard>');
    expect(body.blocks.map((block: { type: string }) => block.type)).toEqual(['section', 'section', 'section', 'context']);
    expect(body.blocks[1].fields.map((field: { text: string }) => field.text)).toEqual([
      '*Subject*\njob send-email',
      '*Measured*\n3 consecutive failures',
      '*Threshold*\n≥ 3',
      '*Rule*\njob-failures',
      '*At*\n2026-11-30T09:00:00.000Z',
    ]);
  });

  it('leaves out channel, username and icon when they are not configured; a resolved alert says so', async () => {
    await createSlackWebhookChannel({ webhookUrl: `${server.origin}${SLACK_PATH}` }).send(hostileAlert({ resolved: true, severity: 'low' }));
    const body = JSON.parse(server.requests[0]!.body);
    expect(Object.keys(body).sort()).toEqual(['blocks', 'text', 'unfurl_links', 'unfurl_media']);
    expect(body.text).toMatch(/^:white_check_mark: \*\[RESOLVED\] Job send-email failing\*/);
  });

  it('escapes hostile text: no mention, link or tag survives', async () => {
    await channel().send(hostileAlert({ description: `watch ${HOSTILE}` }));
    const body = JSON.parse(server.requests[0]!.body);
    expect(body.blocks.map((block: { type: string }) => block.type)).toEqual(['section', 'section', 'section', 'section', 'context']);
    expect(body.blocks[1].text.text).toBe(`watch &lt;!channel&gt; @${ZWSP}here @${ZWSP}everyone &lt;@U1&gt; &lt;@123456789&gt; &lt;@&amp;987&gt; *bold* &lt;script&gt;alert(1)&lt;/script&gt; [x](http://evil)`);
    for (const text of strings(body.blocks).concat(body.text)) {
      expect(text).not.toMatch(/<[!@#]/);
      expect(text).not.toContain('<script>');
      expect(text).not.toMatch(/@(here|channel|everyone)/);
      // The only `<…>` left is our own dashboard link.
      expect(text.replace(/<https:\/\/nightshift\.example\.com\/[^|>]*\|Open in the dashboard>/, '')).not.toMatch(/[<>]/);
    }
    expect(body.text).toContain(
      `&lt;!channel&gt; @${ZWSP}here @${ZWSP}everyone &lt;@U1&gt; &lt;@123456789&gt; &lt;@&amp;987&gt; *bold* &lt;script&gt;alert(1)&lt;/script&gt; [x](http://evil)`,
    );
    expect(body.text).toContain(`*Subject:* job send-email @${ZWSP}here`);
  });

  it('keeps every part within Slack limits, cutting with an ellipsis and never through an entity', async () => {
    const huge = '<&>'.repeat(30_000);
    await channel().send(hostileAlert({ title: 'T'.repeat(5000), lastError: { name: 'E'.repeat(5000), message: huge } }));
    const body = JSON.parse(server.requests[0]!.body);
    expect(body.text.length).toBeLessThanOrEqual(40_000);
    expect(body.text).toContain('…```');
    expect(body.blocks[0].text.text.length).toBeLessThanOrEqual(3000);
    expect(body.blocks[2].text.text.length).toBeLessThanOrEqual(3000);
    for (const field of body.blocks[1].fields) expect(field.text.length).toBeLessThanOrEqual(2000);
    for (const text of strings(body)) expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
  });

  it('5xx is retryable; 429 is retryable after Retry-After; 400 and 404 are not', async () => {
    server.respondWith(echo(500));
    let error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_SERVICE_UNAVAILABLE', retryable: true, retryAfterMs: null, status: 500, channel: 'slack' });
    expect(error.message).toContain(`Slack webhook ${server.origin} answered 500`);

    server.respondWith(answer(429, 'rate_limited', { 'retry-after': '7' }));
    error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_RATE_LIMITED', retryable: true, retryAfterMs: 7000, status: 429 });
    expect(error.message).toContain('retryable after 7 s');

    server.respondWith(echo(400));
    error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, status: 400 });
    expect(error.message).toContain('[redacted]');

    server.respondWith(answer(404, 'channel_not_found'));
    error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, status: 404 });
    expect(error.message).toContain('channel_not_found');
    expect(error.message).toContain('not retryable');
  });

  it('does not follow a redirect', async () => {
    server.respondWith(answer(302, '', { location: '/elsewhere' }));
    const error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, status: 302 });
    expect(server.requests).toHaveLength(1);
  });

  it('a server that never answers times out (retryable); the caller can abort', async () => {
    server.respondWith(() => 'hang');
    const slow = createSlackWebhookChannel({ webhookUrl: `${server.origin}${SLACK_PATH}`, timeoutMs: 200 });
    const started = Date.now();
    const timedOut = await failure(slow.send(hostileAlert()));
    expect(timedOut).toMatchObject({ code: 'ALERT_TIMEOUT', retryable: true, status: null });
    expect(timedOut.message).toContain('within 200 ms');
    expect(Date.now() - started).toBeLessThan(5000);

    const controller = new AbortController();
    const arrived = nextRequest(server);
    const sending = channel().send(hostileAlert(), controller.signal);
    await arrived;
    controller.abort();
    expect(await failure(sending)).toMatchObject({ code: 'ALERT_ABORTED', retryable: true });

    const already = AbortSignal.abort();
    expect(await failure(channel().send(hostileAlert(), already))).toMatchObject({ code: 'ALERT_ABORTED' });
  });

  it('a refused connection is a retryable network error', async () => {
    const port = await closedPort();
    const error = await failure(createSlackWebhookChannel({ webhookUrl: `http://127.0.0.1:${port}${SLACK_PATH}` }).send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_NETWORK_ERROR', retryable: true, status: null });
    expect(error.message).toContain(`could not reach Slack webhook http://127.0.0.1:${port}`);
  });

  it('refuses a URL that is not http(s), without printing it', () => {
    for (const webhookUrl of ['ftp://user:pw@hooks.example.com/services/abcdEFGHijklMNOPqrstUVWX', 'not a url abcdEFGHijklMNOPqrstUVWX', '']) {
      let thrown: unknown;
      try {
        createSlackWebhookChannel({ webhookUrl });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      recordFailure(thrown as Error);
      expect((thrown as Error).message).toMatch(/^slack channel: webhookUrl /);
    }
  });
});

describe('Slack Web API (chat.postMessage)', () => {
  const channel = () => createSlackApiChannel({ token: SLACK_TOKEN, channel: '#ops', iconEmoji: ':owl:', apiBaseUrl: `${server.origin}/api` });

  it('POSTs to chat.postMessage with the bearer token and the channel', async () => {
    server.respondWith(answer(200, JSON.stringify({ ok: true, channel: 'C1', ts: '1.2' }), { 'content-type': 'application/json' }));
    await channel().send(hostileAlert());
    const request = server.requests[0]!;
    expect(request.url).toBe('/api/chat.postMessage');
    expect(request.headers.authorization).toBe(`Bearer ${SLACK_TOKEN}`);
    expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({ channel: '#ops', icon_emoji: ':owl:' });
    expect(body.username).toBeUndefined();
    expect(body.text).toContain(`&lt;!channel&gt; @${ZWSP}here`);
  });

  it('{ ok: false } is a failure: retryable only for Slack-side errors', async () => {
    server.respondWith(answer(200, JSON.stringify({ ok: false, error: 'channel_not_found' })));
    let error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, status: 200 });
    expect(error.message).toContain('error "channel_not_found"');

    server.respondWith(answer(200, JSON.stringify({ ok: false, error: 'internal_error' })));
    error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_SERVICE_UNAVAILABLE', retryable: true });

    server.respondWith(answer(200, JSON.stringify({ ok: false, error: 'ratelimited' }), { 'retry-after': '3' }));
    error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_RATE_LIMITED', retryable: true, retryAfterMs: 3000 });

    server.respondWith(answer(200, '<html>a proxy page</html>'));
    error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_REJECTED', retryable: false });
  });

  it('429 with Retry-After, and 5xx, are retryable; the token never shows', async () => {
    server.respondWith(echo(429, { 'retry-after': '30' }));
    const limited = await failure(channel().send(hostileAlert()));
    expect(limited).toMatchObject({ code: 'ALERT_RATE_LIMITED', retryAfterMs: 30_000 });
    expect(limited.message).toContain('auth=Bearer [redacted]');

    server.respondWith(echo(503));
    expect(await failure(channel().send(hostileAlert()))).toMatchObject({ code: 'ALERT_SERVICE_UNAVAILABLE', retryable: true });

    server.respondWith(echo(401));
    expect(await failure(channel().send(hostileAlert()))).toMatchObject({ code: 'ALERT_REJECTED', retryable: false });
  });
});

describe('Discord webhook', () => {
  const channel = () => createDiscordWebhookChannel({ webhookUrl: `${server.origin}${DISCORD_PATH}`, username: 'Nightshift' });

  it('POSTs content, one embed, the username and allowed_mentions: { parse: [] }', async () => {
    server.respondWith(answer(204));
    await channel().send(hostileAlert({ lastError: { name: 'Error', message: 'timeout' }, subject: { kind: 'queue', name: 'emails' } }));
    const request = server.requests[0]!;
    expect(request.url).toBe(DISCORD_PATH);
    expect(request.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request.body);
    expect(Object.keys(body).sort()).toEqual(['allowed_mentions', 'content', 'embeds', 'username']);
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.username).toBe('Nightshift');
    expect(body.content).toBe('🚨 **\\[CRITICAL\\] Job send\\-email failing** — queue emails: 3 consecutive failures');
    expect(body.embeds).toHaveLength(1);
    expect(body.embeds[0]).toEqual({
      title: '\\[CRITICAL\\] Job send\\-email failing',
      description: [
        '**Subject:** queue emails',
        '**Measured:** 3 consecutive failures',
        '**Threshold:** ≥ 3',
        '**Rule:** job\\-failures',
        '**At:** 2026\\-11\\-30T09:00:00.000Z',
        '',
        '**Last error**',
        'Error: timeout',
      ].join('\n'),
      color: 0xd32f2f,
      footer: { text: 'alert alert\\-0001' },
      url: 'https://nightshift.example.com/jobs/send-email?x=1&y=2',
      timestamp: '2026-11-30T09:00:00.000Z',
    });
  });

  it('escapes markdown and breaks every mention', async () => {
    server.respondWith(answer(204));
    await channel().send(hostileAlert({ description: HOSTILE }));
    const body = JSON.parse(server.requests[0]!.body);
    expect(body.embeds[0].description).toMatch(/^\\<!channel\\> @\u200Bhere .*\n\n\*\*Subject:\*\* /);
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.embeds[0].description).toContain(
      `TypeError: \\<!channel\\> @${ZWSP}here @${ZWSP}everyone \\<@U1\\> \\<@${ZWSP}123456789\\> \\<@${ZWSP}&987\\> \\*bold\\* \\<script\\>alert\\(1\\)\\</script\\> \\[x\\]\\(http://evil\\)`,
    );
    for (const text of strings(body)) {
      expect(text).not.toMatch(/(^|[^\\])<[@#!/]/);
      expect(text).not.toMatch(/@(everyone|here|\d|&)/);
      expect(text).not.toMatch(/(^|[^\\])\[x/);
    }
    expect(body.content).toContain(`job send\\-email @${ZWSP}here`);
  });

  it('keeps content, title and description within Discord limits', async () => {
    server.respondWith(answer(204));
    await channel().send(hostileAlert({ title: '*'.repeat(10_000), subject: { kind: 'job', name: '_'.repeat(10_000) }, lastError: { name: 'E', message: '~'.repeat(50_000) } }));
    const body = JSON.parse(server.requests[0]!.body);
    expect(body.content.length).toBeLessThanOrEqual(2000);
    expect(body.embeds[0].title.length).toBeLessThanOrEqual(256);
    expect(body.embeds[0].description.length).toBeLessThanOrEqual(4096);
    expect(body.embeds[0].description.endsWith('\\~…')).toBe(true);
    const total = body.embeds[0].title.length + body.embeds[0].description.length + body.embeds[0].footer.text.length;
    expect(total).toBeLessThanOrEqual(6000);
  });

  it('429 honours a fractional Retry-After; 404 is not retryable', async () => {
    server.respondWith(answer(429, JSON.stringify({ message: 'You are being rate limited.', retry_after: 1.5, global: false }), { 'retry-after': '1.5' }));
    expect(await failure(channel().send(hostileAlert()))).toMatchObject({ code: 'ALERT_RATE_LIMITED', retryable: true, retryAfterMs: 1500 });

    server.respondWith(echo(404));
    const error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, status: 404 });
    expect(error.message).toContain(`Discord webhook ${server.origin}`);
  });
});

describe('SendGrid', () => {
  const channel = () =>
    createSendGridEmailChannel({ apiKey: SENDGRID_KEY, from: 'Nightshift <alerts@example.com>', to: ['ops@example.com', 'oncall@example.com'], baseUrl: server.origin });

  it('POSTs /v3/mail/send with the bearer key, text and escaped HTML', async () => {
    server.respondWith(answer(202));
    await channel().send(hostileAlert());
    const request = server.requests[0]!;
    expect(request.url).toBe('/v3/mail/send');
    expect(request.headers.authorization).toBe(`Bearer ${SENDGRID_KEY}`);
    expect(request.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request.body);
    expect(body.personalizations).toEqual([{ to: [{ email: 'ops@example.com' }, { email: 'oncall@example.com' }] }]);
    expect(body.from).toEqual({ email: 'alerts@example.com', name: 'Nightshift' });
    expect(body.subject).toBe('[CRITICAL] Job send-email failing');
    expect(body.headers).toEqual({ 'X-Nightshift-Alert-Id': 'alert-0001', 'X-Nightshift-Severity': 'critical' });
    expect(body.content.map((part: { type: string }) => part.type)).toEqual(['text/plain', 'text/html']);
    const [text, html] = body.content.map((part: { value: string }) => part.value);
    expect(text).toContain(`Last error:\nTypeError: ${'<!channel> @here'}`);
    expect(html).toContain('&lt;!channel&gt; @here @everyone &lt;@U1&gt;');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('<a href="https://nightshift.example.com/jobs/send-email?x=1&amp;y=2">');
  });

  it('401 is not retryable; 503 with an HTTP-date Retry-After is', async () => {
    server.respondWith(echo(401));
    expect(await failure(channel().send(hostileAlert()))).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, status: 401 });

    server.respondWith(answer(503, '', { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }));
    const error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_SERVICE_UNAVAILABLE', retryable: true });
    expect(error.retryAfterMs).toBeGreaterThan(50_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
  });
});

describe('generic webhook', () => {
  const channel = (secret: string | null = WEBHOOK_SECRET) =>
    createWebhookChannel({ url: `${server.origin}${WEBHOOK_PATH}`, secret: secret ?? undefined, headers: { Authorization: WEBHOOK_AUTH, 'X-Team': 'ops' } });

  it('POSTs the alert as JSON with a signature that verifies over the raw body', async () => {
    const message = hostileAlert({ description: 'three in a row' });
    const before = Math.floor(Date.now() / 1000);
    await channel().send(message);
    const request = server.requests[0]!;
    expect(request.url).toBe(WEBHOOK_PATH);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['idempotency-key']).toBe('alert-0001');
    expect(request.headers.authorization).toBe(WEBHOOK_AUTH);
    expect(request.headers['x-team']).toBe('ops');
    const timestamp = Number(request.headers['x-nightshift-timestamp']);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));

    const signature = String(request.headers['x-nightshift-signature']);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    const expected = createHmac('sha256', WEBHOOK_SECRET).update(Buffer.from(request.body, 'utf8')).digest();
    expect(timingSafeEqual(Buffer.from(signature.slice('sha256='.length), 'hex'), expected)).toBe(true);
    const wrong = createHmac('sha256', 'another-secret').update(request.body).digest('hex');
    expect(signature).not.toBe(`sha256=${wrong}`);

    expect(JSON.parse(request.body)).toEqual({ ...alertMessageJson(message), at: '2026-11-30T09:00:00.000Z' });
    expect(Object.keys(JSON.parse(request.body))).toEqual(['id', 'rule', 'severity', 'title', 'description', 'subject', 'measured', 'threshold', 'lastError', 'link', 'at', 'resolved']);
    expect(JSON.parse(request.body).description).toBe('three in a row');
    expect(JSON.parse(request.body).lastError.message).toBe(message.lastError!.message);
  });

  it('sends no signature without a secret, and refuses to let extra headers replace its own', async () => {
    await channel(null).send(hostileAlert());
    expect(server.requests[0]!.headers['x-nightshift-signature']).toBeUndefined();
    for (const header of ['X-Nightshift-Signature', 'idempotency-key', 'Content-Type', 'bad header']) {
      expect(() => createWebhookChannel({ url: server.origin, headers: { [header]: 'x' } })).toThrow(ConfigError);
    }
    expect(() => createWebhookChannel({ url: server.origin, headers: { 'X-Ok': 'a\r\nX-Injected: 1' } })).toThrow(ConfigError);
  });

  it('failures carry no URL token, secret or header value', async () => {
    server.respondWith(echo(500));
    const error = await failure(channel().send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_SERVICE_UNAVAILABLE', retryable: true });
    expect(error.message).toContain(`webhook ${server.origin} answered 500`);
    server.respondWith(echo(422));
    expect(await failure(channel().send(hostileAlert()))).toMatchObject({ code: 'ALERT_REJECTED', retryable: false });
  });
});
