/**
 * The SMTP email channel against a real SMTP server (smtp-server) in this process: the message
 * that arrives (envelope, login, headers, text and escaped HTML), SMTP replies classified
 * (5xx not retryable, 4xx retryable), bad credentials, a server that never greets, a refused
 * connection — and the password in no error.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSmtpEmailChannel } from '../../src/alerts/channels/index.js';
import { ConfigError } from '../../src/errors.js';
import { closedPort, failureOf, secretCheckedFailures, hostileAlert, parseMime, startSilentServer, startSmtpServer, textParts, type RecordingSmtpServer } from './alert-test-servers.js';

const USER = 'alerts';
const PASSWORD = 'Sm7p-P@ss:w/rd%Secret';
const ENCODED_PASSWORD = encodeURIComponent(PASSWORD);

let smtp: RecordingSmtpServer;
beforeEach(async () => {
  smtp = await startSmtpServer({ user: USER, password: PASSWORD });
});
afterEach(async () => {
  await smtp.close();
});

/** Every delivery failure and config error of this file, checked for secrets at the end. */
const { failure, record: recordFailure } = secretCheckedFailures([PASSWORD, ENCODED_PASSWORD], 5);

function channel(options: { to?: string[]; port?: number; password?: string; timeoutMs?: number } = {}) {
  return createSmtpEmailChannel({
    smtpUrl: `smtp://${USER}:${encodeURIComponent(options.password ?? PASSWORD)}@127.0.0.1:${options.port ?? smtp.port}`,
    from: 'Nightshift <alerts@example.com>',
    to: options.to ?? ['ops@example.com', 'oncall@example.com'],
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
}

describe('SMTP email channel', () => {
  it('logs in and delivers one message with a text and an escaped HTML part', async () => {
    await channel().send(hostileAlert());
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail.user).toBe(USER);
    expect(mail.from).toBe('alerts@example.com');
    expect(mail.to).toEqual(['ops@example.com', 'oncall@example.com']);

    const parsed = parseMime(mail.raw);
    expect(parsed.headers.subject).toBe('[CRITICAL] Job send-email failing');
    expect(parsed.headers.from).toBe('Nightshift <alerts@example.com>');
    expect(parsed.headers.to).toBe('ops@example.com, oncall@example.com');
    expect(parsed.headers['x-nightshift-alert-id']).toBe('alert-0001');
    expect(parsed.headers['x-nightshift-severity']).toBe('critical');
    expect(parsed.headers['message-id']).toMatch(/^<alert\.[0-9a-f]{32}@example\.com>$/);

    const parts = textParts(parsed);
    expect(Object.keys(parts).sort()).toEqual(['text/html', 'text/plain']);
    expect(parts['text/plain']).toContain('[CRITICAL] Job send-email failing\n\nSubject:   job send-email @here\nMeasured:  3 consecutive failures\nThreshold: ≥ 3');
    expect(parts['text/plain']).toContain('Last error:\nTypeError: <!channel> @here');
    expect(parts['text/plain']).toContain('Open in the dashboard: https://nightshift.example.com/jobs/send-email?x=1&y=2');
    const html = parts['text/html']!;
    expect(html).toContain('&lt;!channel&gt; @here @everyone &lt;@U1&gt; &lt;@123456789&gt; &lt;@&amp;987&gt; *bold* &lt;script&gt;alert(1)&lt;/script&gt; [x](http://evil)');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<!channel>');
    expect(html).toContain('<a href="https://nightshift.example.com/jobs/send-email?x=1&amp;y=2">Open in the dashboard</a>');
  });

  it('escapes quotes in HTML and never lets a link other than http(s) through', async () => {
    await channel().send(hostileAlert({ title: `"quoted" & 'single'`, link: 'javascript:alert(1)', description: '<b>first</b>\nsecond' }));
    const parts = textParts(parseMime(smtp.mails[0]!.raw));
    expect(parts['text/html']).toContain('<p style="white-space:pre-wrap">&lt;b&gt;first&lt;/b&gt;\nsecond</p>');
    expect(parts['text/plain']).toContain("[CRITICAL] \"quoted\" & 'single'\n\n<b>first</b>\nsecond\n\nSubject:");
    expect(parts['text/html']).toContain('[CRITICAL] &quot;quoted&quot; &amp; &#39;single&#39;');
    expect(parts['text/html']).not.toContain('javascript:');
    expect(parts['text/plain']).not.toContain('javascript:');
  });

  it('the same alert occurrence always gets the same Message-ID', async () => {
    await channel().send(hostileAlert());
    await channel().send(hostileAlert());
    await channel().send(hostileAlert({ id: 'alert-0002' }));
    const ids = smtp.mails.map((mail) => parseMime(mail.raw).headers['message-id']);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('a permanent refusal (550) is not retryable; a transient one (450) is', async () => {
    const refused = await failure(channel({ to: ['refused@example.com'] }).send(hostileAlert()));
    expect(refused).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, status: 550, channel: 'email' });
    expect(refused.message).toContain(`SMTP server smtp://127.0.0.1:${smtp.port}`);

    const later = await failure(channel({ to: ['later@example.com'] }).send(hostileAlert()));
    expect(later).toMatchObject({ code: 'ALERT_SERVICE_UNAVAILABLE', retryable: true, status: 450 });
  });

  it('some recipients refused: the others get the mail, and the refusal is reported, not retried', async () => {
    const error = await failure(channel({ to: ['ops@example.com', 'refused@example.com'] }).send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_REJECTED', retryable: false });
    expect(error.message).toContain('refused 1 of 2 recipients (refused@example.com)');
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]!.to).toEqual(['ops@example.com']);
  });

  it('wrong credentials are not retryable, and the password shows nowhere', async () => {
    const error = await failure(channel({ password: `${PASSWORD}-wrong` }).send(hostileAlert()));
    expect(error).toMatchObject({ code: 'ALERT_REJECTED', retryable: false, status: 535 });
    expect(error.message).not.toContain(`${PASSWORD}-wrong`);
    expect(smtp.mails).toHaveLength(0);
  });

  it('a server that never greets times out; a refused connection is a network error; the caller can abort', async () => {
    const silent = await startSilentServer();
    try {
      const timedOut = await failure(channel({ port: silent.port, timeoutMs: 300 }).send(hostileAlert()));
      expect(timedOut).toMatchObject({ code: 'ALERT_TIMEOUT', retryable: true });

      const controller = new AbortController();
      const sending = channel({ port: silent.port }).send(hostileAlert(), controller.signal);
      controller.abort();
      expect(await failure(sending)).toMatchObject({ code: 'ALERT_ABORTED', retryable: true });
    } finally {
      await silent.close();
    }
    const port = await closedPort();
    expect(await failure(channel({ port }).send(hostileAlert()))).toMatchObject({ code: 'ALERT_NETWORK_ERROR', retryable: true });
  });

  it('refuses an SMTP URL it cannot use, naming no credential', () => {
    for (const smtpUrl of [`http://${USER}:${ENCODED_PASSWORD}@mail.example.com`, `smtp://${USER}:${ENCODED_PASSWORD}@mail.example.com/path?tls=off`, 'smtp://', '']) {
      let thrown: unknown;
      try {
        createSmtpEmailChannel({ smtpUrl, from: 'alerts@example.com', to: ['ops@example.com'] });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, smtpUrl).toBeInstanceOf(ConfigError);
      recordFailure(thrown as Error);
      expect((thrown as Error).message).toMatch(/^email channel: smtpUrl /);
    }
    expect(() => createSmtpEmailChannel({ smtpUrl: 'smtp://mail.example.com', from: 'not an address', to: ['ops@example.com'] })).toThrow(/from must be an email address/);
    expect(() => createSmtpEmailChannel({ smtpUrl: 'smtp://mail.example.com', from: 'a@example.com', to: [] })).toThrow(/to needs at least one address/);
    expect(() => createSmtpEmailChannel({ smtpUrl: 'smtp://mail.example.com', from: 'a@example.com', to: ['x@example.com\r\nBcc: evil@example.com'] })).toThrow(ConfigError);
  });
});
