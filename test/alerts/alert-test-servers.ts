/**
 * Real servers on 127.0.0.1 standing in for the services alerts go to: an HTTP server that
 * records every request (Slack, Discord, SendGrid, webhooks) and answers as each test says, an
 * SMTP server (smtp-server) that records every message, and a TCP server that accepts and never
 * says a word. Each `close()` ends every connection still open.
 */
import { EventEmitter, once } from 'node:events';
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { inspect } from 'node:util';
import { afterAll, expect } from 'vitest';
import { AlertDeliveryError, type AlertMessage } from '../../src/alerts/channels/index.js';

/** One request as the server received it. */
export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as received. */
  body: string;
}

/** How the server answers a request; `hang` never answers. */
export type Responder = (request: RecordedRequest, response: ServerResponse) => void | 'hang';

export interface RecordingServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** Emits `request` with each recorded request. */
  readonly events: EventEmitter;
  /** Changes how the following requests are answered. */
  respondWith(responder: Responder): void;
  close(): Promise<void>;
}

export const answer =
  (status: number, body = '', headers: Record<string, string> = {}): Responder =>
  (_request, response) => {
    response.writeHead(status, headers);
    response.end(body);
  };

export async function startRecordingServer(initial: Responder = answer(200, 'ok')): Promise<RecordingServer> {
  let responder = initial;
  const requests: RecordedRequest[] = [];
  const events = new EventEmitter();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const recorded: RecordedRequest = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      const outcome = responder(recorded, response);
      events.emit('request', recorded, outcome);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    events,
    respondWith(next) {
      responder = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The next request the server records. */
export function nextRequest(server: RecordingServer): Promise<RecordedRequest> {
  return once(server.events, 'request').then(([request]) => request as RecordedRequest);
}

/** A port on 127.0.0.1 where nothing listens (it was open a moment ago). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never sends anything (an SMTP server that hangs). */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One message the SMTP server accepted. */
export interface ReceivedMail {
  from: string;
  to: string[];
  /** The user that logged in, or null. */
  user: string | null;
  raw: string;
}

export interface RecordingSmtpServer {
  readonly port: number;
  readonly mails: ReceivedMail[];
  close(): Promise<void>;
}

/**
 * A real SMTP server without TLS (STARTTLS is switched off, so plain AUTH is allowed) that
 * accepts the login `user` / `password`, refuses recipients whose local part is `refused`
 * (550) or `later` (450), and records every message.
 */
export async function startSmtpServer(login: { user: string; password: string }, extra: Partial<SMTPServerOptions> = {}): Promise<RecordingSmtpServer> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: false,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === login.user && auth.password === login.password) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const local = address.address.split('@')[0];
      if (local === 'refused') callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
      else if (local === 'later') callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 450 }));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          user: typeof session.user === 'string' ? session.user : null,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
    ...extra,
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A parsed MIME part: lower-cased headers (unfolded) and the decoded body. */
export interface MimePart {
  headers: Record<string, string>;
  body: string;
  parts: MimePart[];
}

/** Enough of MIME to read what nodemailer writes: headers, multipart bodies, quoted-printable and base64. */
export function parseMime(raw: string): MimePart {
  const split = raw.indexOf('\r\n\r\n');
  const head = split === -1 ? raw : raw.slice(0, split);
  const rest = split === -1 ? '' : raw.slice(split + 4);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.toLowerCase().startsWith('multipart/') && boundary) {
    const sections = rest.split(`--${boundary}`).slice(1);
    const parts = sections.filter((section) => !section.startsWith('--')).map((section) => parseMime(section.replace(/^\r\n/, '').replace(/\r\n$/, '')));
    return { headers, body: '', parts };
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  let body = rest;
  if (encoding === 'quoted-printable') {
    const bytes = rest.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_match, hex: string) => `%${hex}`);
    body = decodeURIComponent(bytes.replace(/%(?![0-9A-F]{2})/gi, '%25'));
  } else if (encoding === 'base64') {
    body = Buffer.from(rest.replace(/\s+/g, ''), 'base64').toString('utf8');
  }
  return { headers, body: body.replace(/\r\n/g, '\n'), parts: [] };
}

/** Every text part of a parsed message, by content type (`text/plain`, `text/html`). */
export function textParts(part: MimePart, found: Record<string, string> = {}): Record<string, string> {
  if (part.parts.length === 0) found[(part.headers['content-type'] ?? 'text/plain').split(';')[0]!.trim().toLowerCase()] = part.body;
  for (const child of part.parts) textParts(child, found);
  return found;
}

/** Text that tries every trick: Slack and Discord mentions, markdown, HTML, a masked link. */
export const HOSTILE = '<!channel> @here @everyone <@U1> <@123456789> <@&987> *bold* <script>alert(1)</script> [x](http://evil)';

/** An alert whose error message (and job name) is hostile. */
export function hostileAlert(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return {
    id: 'alert-0001',
    rule: 'job-failures',
    severity: 'critical',
    title: 'Job send-email failing',
    subject: { kind: 'job', name: 'send-email @here' },
    measured: '3 consecutive failures',
    threshold: '≥ 3',
    lastError: { name: 'TypeError', message: HOSTILE },
    link: 'https://nightshift.example.com/jobs/send-email?x=1&y=2',
    at: new Date('2026-11-30T09:00:00.000Z'),
    resolved: false,
    ...overrides,
  };
}

/** `fn`'s rejection, for assertions on its fields. */
export async function failureOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a failure, but the delivery succeeded');
}

/**
 * The delivery failures of a test file, collected as they are asserted, and checked once the file
 * is done: at least `minimum` of them, and none showing any of `secrets` in its message, stack,
 * inspection or JSON. `failure` awaits, records and returns one delivery failure; `record` adds
 * another error (a configuration error) to the check.
 */
export function secretCheckedFailures(secrets: readonly string[], minimum: number): { failure(promise: Promise<unknown>): Promise<AlertDeliveryError>; record(error: Error): void } {
  const failures: Error[] = [];
  afterAll(() => {
    expect(failures.length).toBeGreaterThan(minimum);
    for (const error of failures) {
      const shown = `${error.message}\n${error.stack}\n${inspect(error, { depth: 5 })}\n${JSON.stringify(error)}`;
      for (const secret of secrets) expect(shown, `${error.message} leaks a secret`).not.toContain(secret);
    }
  });
  return {
    async failure(promise) {
      const error = await failureOf(promise);
      failures.push(error);
      expect(error).toBeInstanceOf(AlertDeliveryError);
      return error as unknown as AlertDeliveryError;
    },
    record: (error) => void failures.push(error),
  };
}
