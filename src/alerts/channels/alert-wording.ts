/**
 * The words of an alert, shared by every channel so that Slack, Discord, email and the log say
 * the same thing: the headline, the facts in one order, the error, the link. Everything here is
 * raw text; each channel escapes it for its own markup.
 */
import type { AlertMessage } from './alert-message.js';
import { fitEscaped, oneLine, withoutControls } from './text-escaping.js';

/**
 * Longest text kept of each one-line field, in characters. Names and rule names are bounded
 * where they are defined (≤ 200); titles and figures come from the engine. The error message has
 * no cap here: each channel gives it what its service's limit leaves.
 */
export const FIELD_MAX = { title: 250, description: 1000, name: 200, rule: 200, figure: 300, errorName: 200 } as const;

/** `CRITICAL`, `HIGH`, … or `RESOLVED`. */
export function statusLabel(message: AlertMessage): string {
  return message.resolved ? 'RESOLVED' : message.severity.toUpperCase();
}

/** An alert's text fields on one line each and within `FIELD_MAX`; the error keeps its lines. */
export interface AlertWords {
  /** `[CRITICAL] Job send-email failing` */
  headline: string;
  title: string;
  /** The rule's description (its lines kept), or null. */
  description: string | null;
  status: string;
  rule: string;
  /** `job send-email` */
  subject: string;
  subjectKind: string;
  subjectName: string;
  measured: string;
  threshold: string;
  /** `TypeError: x is not a function`, or null. */
  error: string | null;
  /** The dashboard link when it is an http(s) URL, else null (a `javascript:` link is never shown). */
  link: string | null;
  /** ISO 8601 UTC, or `unknown time`. */
  at: string;
  id: string;
}

export function alertWords(message: AlertMessage): AlertWords {
  const title = fitEscaped(oneLine(message.title), FIELD_MAX.title);
  const status = statusLabel(message);
  const subjectName = fitEscaped(oneLine(message.subject.name), FIELD_MAX.name);
  const error = message.lastError
    ? `${fitEscaped(oneLine(message.lastError.name), FIELD_MAX.errorName) || 'Error'}: ${withoutControls(message.lastError.message).trim()}`
    : null;
  return {
    headline: `[${status}] ${title}`,
    title,
    description: message.description ? fitEscaped(withoutControls(message.description).trim(), FIELD_MAX.description) || null : null,
    status,
    rule: fitEscaped(oneLine(message.rule), FIELD_MAX.rule),
    subject: `${message.subject.kind} ${subjectName}`,
    subjectKind: message.subject.kind,
    subjectName,
    measured: fitEscaped(oneLine(message.measured), FIELD_MAX.figure),
    threshold: fitEscaped(oneLine(message.threshold), FIELD_MAX.figure),
    error,
    link: httpLink(message.link),
    at: message.at instanceof Date && !Number.isNaN(message.at.getTime()) ? message.at.toISOString() : 'unknown time',
    id: oneLine(message.id),
  };
}

/** The facts every channel lists, in this order. */
export function alertFacts(words: AlertWords): { label: string; value: string }[] {
  return [
    { label: 'Subject', value: words.subject },
    { label: 'Measured', value: words.measured },
    { label: 'Threshold', value: words.threshold },
    { label: 'Rule', value: words.rule },
    { label: 'At', value: words.at },
  ];
}

/** `link` when it parses as an http or https URL, normalized; otherwise null. */
export function httpLink(link: string | null | undefined): string | null {
  if (!link) return null;
  try {
    const url = new URL(link);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
