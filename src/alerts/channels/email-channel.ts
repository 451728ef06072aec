/**
 * Email, two ways: an SMTP server (nodemailer; a connection per message, no pool to keep open
 * between alerts) or SendGrid's HTTP API (`POST /v3/mail/send`). Same content either way
 * (email-content.ts). nodemailer is loaded on the first SMTP delivery only.
 */
import type { AlertChannel } from './alert-message.js';
import { channelName, checkEmailAddress, checkEmailList, checkHttpUrl, checkToken, required, type Checked, type EmailAddress } from './channel-settings.js';
import { DeliveryDeadline, resolveTimeoutMs } from './delivery-deadline.js';
import { AlertDeliveryError, type AlertDeliveryErrorCode, retryHint } from './delivery-error.js';
import { alertMessageId, emailContent } from './email-content.js';
import { accepted, failureForAnswer, postToService, quoteAnswer, type ServicePost } from './http-delivery.js';
import { redactUrl, SecretScrubber } from './secret-redaction.js';

interface EmailCommonOptions {
  /** Sender: `alerts@example.com` or `Nightshift <alerts@example.com>`. */
  from: string;
  /** Recipients; at least one. */
  to: readonly string[];
  /** The name rules pick this channel by; default `email`. */
  name?: string;
  /** Time limit of one delivery, ms (for SMTP: connecting, the greeting, each reply); default 10 000. */
  timeoutMs?: number;
}

export interface SmtpEmailChannelOptions extends EmailCommonOptions {
  /**
   * `smtp://user:password@host:port` (STARTTLS when the server offers it) or `smtps://…` (TLS
   * from the start, port 465 by default); user and password percent-encoded. A secret, never
   * printed. Port defaults to 587 for `smtp://`.
   */
  smtpUrl: string;
}

export interface SendGridEmailChannelOptions extends EmailCommonOptions {
  /** SendGrid API key with the Mail Send permission: a secret, never printed. */
  apiKey: string;
  /** Base URL of the API; default `https://api.sendgrid.com`. */
  baseUrl?: string;
}

/** An SMTP server as an SMTP URL names it. */
export interface SmtpServer {
  host: string;
  port: number | undefined;
  /** `smtps://`: TLS from the first byte. */
  secure: boolean;
  user: string | undefined;
  password: string | undefined;
  /** `smtp://host:port`: what messages show. */
  display: string;
}

/** Parses an SMTP URL; a problem names the scheme at most, never user, password or host. */
export function checkSmtpUrl(text: string | undefined): Checked<SmtpServer> {
  if (text === undefined || text.trim() === '') return { problem: 'is required' };
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { problem: 'must be an smtp:// or smtps:// URL such as smtp://user:password@host:587 (it does not parse as a URL)' };
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return { problem: `must be an smtp:// or smtps:// URL, got a URL with scheme "${url.protocol.slice(0, -1)}"` };
  if (url.hostname === '') return { problem: 'must name a host: smtp://user:password@host:587' };
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    return { problem: 'must be scheme, user, password, host and port only (no path or query options)' };
  }
  const decode = (part: string): string | undefined => {
    if (part === '') return undefined;
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  return {
    value: {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? undefined : Number(url.port),
      secure: url.protocol === 'smtps:',
      user: decode(url.username),
      password: decode(url.password),
      display: `${url.protocol}//${url.host}`,
    },
  };
}

function checkedAddresses(options: EmailCommonOptions, name: string): { from: EmailAddress; to: EmailAddress[] } {
  return { from: required(checkEmailAddress(options.from), name, 'from'), to: required(checkEmailList(options.to), name, 'to') };
}

type SmtpTransport = Awaited<ReturnType<typeof openTransport>>;

async function openTransport(server: SmtpServer, timeoutMs: number) {
  const { default: nodemailer } = await import('nodemailer');
  return nodemailer.createTransport({
    host: server.host,
    ...(server.port === undefined ? {} : { port: server.port }),
    secure: server.secure,
    ...(server.user === undefined ? {} : { auth: { user: server.user, pass: server.password ?? '' } }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // No logging of the SMTP dialogue (it would include the AUTH exchange), no file or URL contents.
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
}

/** nodemailer's error fields that say what failed. */
interface SmtpErrorFields {
  code?: string;
  responseCode?: number;
  permanent?: boolean;
  message?: string;
}

/**
 * nodemailer error codes (without an SMTP reply) whose cause is our configuration or message:
 * credentials, envelope, TLS policy. A connection that failed or closed (`ECONNECTION`,
 * `ESOCKET`, `EDNS`, `EPROTOCOL`) may work later.
 */
const SMTP_REJECTIONS = new Set(['EAUTH', 'ENOAUTH', 'EENVELOPE', 'EMESSAGE', 'ECONFIG', 'ETLS', 'EREQUIRETLS', 'EMAXRECIPIENTS']);

function smtpFailureCode(error: SmtpErrorFields): AlertDeliveryErrorCode {
  if (typeof error.responseCode === 'number') {
    // RFC 5321: 5yz is permanent, 4yz transient; nodemailer counts 503 (bad sequence) as transient.
    const permanent = typeof error.permanent === 'boolean' ? error.permanent : error.responseCode >= 500 && error.responseCode !== 503;
    return permanent ? 'ALERT_REJECTED' : 'ALERT_SERVICE_UNAVAILABLE';
  }
  if (error.code === 'ETIMEDOUT') return 'ALERT_TIMEOUT';
  if (error.code !== undefined && SMTP_REJECTIONS.has(error.code)) return 'ALERT_REJECTED';
  return 'ALERT_NETWORK_ERROR';
}

/** An address as nodemailer takes it: the bare address, or name and address (which it quotes and encodes). */
function mailbox(address: EmailAddress): string | { name: string; address: string } {
  return address.name === null ? address.address : { name: address.name, address: address.address };
}

/** Sends alerts through an SMTP server. */
export function createSmtpEmailChannel(options: SmtpEmailChannelOptions): AlertChannel {
  const name = channelName(options.name, 'email');
  const server = required(checkSmtpUrl(options.smtpUrl), name, 'smtpUrl');
  const { from, to } = checkedAddresses(options, name);
  const timeoutMs = resolveTimeoutMs(options.timeoutMs, name);
  const scrubber = new SecretScrubber([server.password, server.user && server.password ? `${server.user}:${server.password}` : undefined]);
  const target = `SMTP server ${server.display}`;
  let transport: Promise<SmtpTransport> | null = null;
  return {
    name,
    async send(message, signal) {
      const content = emailContent(message);
      const deadline = new DeliveryDeadline(timeoutMs, signal);
      try {
        transport ??= openTransport(server, timeoutMs);
        const info = await (await transport).sendMail({
          from: mailbox(from),
          to: to.map(mailbox),
          subject: content.subject,
          text: content.text,
          html: content.html,
          headers: content.headers,
          messageId: alertMessageId(message.id, from),
          signal: deadline.signal,
        });
        if (info.rejected.length > 0) {
          // Part of the recipients got it: a retry would send them a second copy, so the refused addresses are reported for fixing.
          throw new AlertDeliveryError('ALERT_REJECTED', `${name}: ${target} refused ${info.rejected.length} of ${to.length} recipients (${info.rejected.join(', ')}); the others got the alert (not retryable)`, {
            channel: name,
          });
        }
      } catch (error) {
        if (error instanceof AlertDeliveryError) throw error;
        const stopped = deadline.failure(name, target);
        if (stopped) throw stopped;
        const fields = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SmtpErrorFields;
        const code = smtpFailureCode(fields);
        const detail = quoteAnswer({ scrubber }, `${fields.code ? `${fields.code}: ` : ''}${fields.message ?? 'unknown error'}`);
        throw new AlertDeliveryError(code, `${name}: ${target} did not take the message: ${detail} (${retryHint(code, null)})`, {
          channel: name,
          status: typeof fields.responseCode === 'number' ? fields.responseCode : null,
        });
      } finally {
        deadline.dispose();
      }
    },
  };
}

/** Sends alerts through SendGrid's v3 Mail Send API. */
export function createSendGridEmailChannel(options: SendGridEmailChannelOptions): AlertChannel {
  const name = channelName(options.name, 'email');
  const apiKey = required(checkToken(options.apiKey), name, 'apiKey');
  const { from, to } = checkedAddresses(options, name);
  const base = required(checkHttpUrl(options.baseUrl ?? 'https://api.sendgrid.com'), name, 'baseUrl');
  const url = new URL('v3/mail/send', base.href.endsWith('/') ? base : `${base.href}/`);
  const timeoutMs = resolveTimeoutMs(options.timeoutMs, name);
  const scrubber = new SecretScrubber([apiKey], [base]);
  const target = `SendGrid ${redactUrl(url)}`;
  const person = (address: EmailAddress) => (address.name === null ? { email: address.address } : { email: address.address, name: address.name });
  return {
    name,
    async send(message, signal) {
      const content = emailContent(message);
      const body = {
        personalizations: [{ to: to.map(person) }],
        from: person(from),
        subject: content.subject,
        content: [
          { type: 'text/plain', value: content.text },
          { type: 'text/html', value: content.html },
        ],
        headers: content.headers,
        // Click tracking would rewrite the dashboard link through SendGrid's redirector.
        tracking_settings: { click_tracking: { enable: false, enable_text: false } },
      };
      const post: ServicePost = {
        channel: name,
        target,
        url,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify(body),
        timeoutMs,
        signal,
        scrubber,
      };
      const answer = await postToService(post);
      // 202 Accepted; errors are 4xx/5xx with { errors: [{ message, field }] }.
      if (!accepted(answer)) throw failureForAnswer(post, answer);
    },
  };
}
