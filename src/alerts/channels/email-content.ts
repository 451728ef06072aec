/**
 * An alert as an email: a subject line, a plain-text body and a simple HTML body in which every
 * piece of text is HTML-escaped (`& < > " '`), the same for SMTP and SendGrid.
 */
import { createHash } from 'node:crypto';
import type { AlertMessage } from './alert-message.js';
import { alertFacts, alertWords } from './alert-wording.js';
import type { EmailAddress } from './channel-settings.js';
import { escapeHtml, fitEscaped } from './text-escaping.js';

/** Longest error message put in an email, in characters: a stack of a few hundred lines. */
const EMAIL_ERROR_MAX = 20_000;

const SEVERITY_COLOR = { critical: '#b71c1c', high: '#e65100', medium: '#f9a825', low: '#1565c0', info: '#455a64' } as const;

/** What an alert email says. */
export interface EmailContent {
  /** One line: `[CRITICAL] Job send-email failing`. */
  subject: string;
  text: string;
  html: string;
  /** Extra headers: the alert's id and severity, for mail filters. */
  headers: Record<string, string>;
}

export function emailContent(message: AlertMessage): EmailContent {
  const words = alertWords(message);
  const facts = alertFacts(words);
  const error = words.error === null ? null : fitEscaped(words.error, EMAIL_ERROR_MAX);
  const width = Math.max(...facts.map((fact) => fact.label.length)) + 2;

  const text = [
    words.headline,
    '',
    ...(words.description === null ? [] : [words.description, '']),
    ...facts.map((fact) => `${`${fact.label}:`.padEnd(width)}${fact.value}`),
    ...(error === null ? [] : ['', 'Last error:', error]),
    ...(words.link === null ? [] : ['', `Open in the dashboard: ${words.link}`]),
    '',
    `Alert id: ${words.id}`,
    '',
  ].join('\n');

  const color = message.resolved ? '#2e7d32' : SEVERITY_COLOR[message.severity] ?? SEVERITY_COLOR.info;
  const rows = facts
    .map((fact) => `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(fact.label)}</th><td>${escapeHtml(fact.value)}</td></tr>`)
    .join('\n');
  const html = [
    '<!doctype html>',
    '<html><body style="font-family:sans-serif;font-size:14px">',
    `<h2 style="color:${color};margin:0 0 12px">${escapeHtml(words.headline)}</h2>`,
    ...(words.description === null ? [] : [`<p style="white-space:pre-wrap">${escapeHtml(words.description)}</p>`]),
    `<table style="border-collapse:collapse">\n${rows}\n</table>`,
    ...(error === null ? [] : ['<h3 style="margin:16px 0 4px">Last error</h3>', `<pre style="white-space:pre-wrap;background:#f5f5f5;padding:8px">${escapeHtml(error)}</pre>`]),
    ...(words.link === null ? [] : [`<p><a href="${escapeHtml(words.link)}">Open in the dashboard</a></p>`]),
    `<p style="color:#757575;font-size:12px">Alert id: ${escapeHtml(words.id)}</p>`,
    '</body></html>',
    '',
  ].join('\n');

  return {
    subject: words.headline,
    text,
    html,
    headers: { 'X-Nightshift-Alert-Id': words.id, 'X-Nightshift-Severity': words.status.toLowerCase() },
  };
}

/**
 * A Message-ID made from the alert's id: a retried delivery of the same occurrence carries the
 * same Message-ID, which lets mail systems drop the duplicate. The domain is the sender's.
 */
export function alertMessageId(id: string, from: EmailAddress): string {
  const digest = createHash('sha256').update(id).digest('hex').slice(0, 32);
  return `<alert.${digest}@${from.address.split('@')[1] ?? 'nightshift.invalid'}>`;
}
