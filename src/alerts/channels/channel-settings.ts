/**
 * Checks of what channels are configured with — service URLs, email addresses, header names,
 * timeouts — shared by the channel factories (errors name the option) and `channelsFromEnv`
 * (errors name the variable). A problem never quotes the value: a URL or token may be a secret.
 */
import { ConfigError } from '../../errors.js';

/** A problem with one setting, or the parsed value. */
export type Checked<T> = { value: T } | { problem: string };

/** `text` as an http(s) URL. The problem names at most the URL's scheme, never the rest. */
export function checkHttpUrl(text: string | undefined): Checked<URL> {
  if (text === undefined || text.trim() === '') return { problem: 'is required' };
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { problem: 'must be an http:// or https:// URL (it does not parse as a URL)' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `must be an http:// or https:// URL, got a URL with scheme "${url.protocol.slice(0, -1)}"` };
  // fetch refuses such a URL at every delivery: said once, at load.
  if (url.username !== '' || url.password !== '') return { problem: 'must not carry credentials (user:password@); send them in a header (the webhook channel\'s `headers`)' };
  return { value: url };
}

/** A required piece of text (a token, a channel): present, without spaces or line breaks at its ends. */
export function checkToken(text: string | undefined): Checked<string> {
  const value = text?.trim();
  if (value === undefined || value === '') return { problem: 'is required' };
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return { problem: 'must not contain spaces or control characters' };
  return { value };
}

/** An email address with an optional display name. */
export interface EmailAddress {
  address: string;
  name: string | null;
}

/** `ops@example.com` or `Nightshift <ops@example.com>`: one address, nothing that could add a header or recipient. */
export function checkEmailAddress(text: string | undefined): Checked<EmailAddress> {
  const value = text?.trim();
  if (value === undefined || value === '') return { problem: 'is required' };
  const named = /^"?([^"<>\r\n]*?)"?\s*<([^<>\s]+)>$/.exec(value);
  const address = named ? named[2]! : value;
  const name = named ? named[1]!.trim() || null : null;
  if (!/^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+\.[^\s@<>,;:"()[\]\\]+$/.test(address)) {
    return { problem: 'must be an email address such as ops@example.com or "Nightshift <ops@example.com>"' };
  }
  return { value: { address, name } };
}

/** A non-empty list of addresses (`ALERT_EMAIL_TO` is comma-separated). */
export function checkEmailList(list: readonly string[] | undefined): Checked<EmailAddress[]> {
  const items = (list ?? []).map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0) return { problem: 'needs at least one address' };
  const addresses: EmailAddress[] = [];
  for (const [index, item] of items.entries()) {
    const checked = checkEmailAddress(item);
    if ('problem' in checked) return { problem: `address ${index + 1} ${checked.problem}` };
    addresses.push(checked.value);
  }
  return { value: addresses };
}

/** The value of a check, or a `ConfigError` naming the channel and the option. */
export function required<T>(checked: Checked<T>, channel: string, option: string): T {
  if ('problem' in checked) throw new ConfigError(`${channel} channel: ${option} ${checked.problem}`, { issues: [{ path: option, message: checked.problem }] });
  return checked.value;
}

/** An optional display setting (username, channel, emoji): trimmed, one line; undefined when empty. */
export function optionalText(text: string | undefined, channel: string, option: string): string | undefined {
  const value = text?.trim();
  if (value === undefined || value === '') return undefined;
  if (/[\u0000-\u001f\u007f]/.test(value)) return required<string>({ problem: 'must not contain control characters' }, channel, option);
  return value;
}

/** The channel's `name` option: the name rules pick it by. */
export function channelName(name: string | undefined, fallback: string): string {
  const value = name?.trim();
  if (value === undefined || value === '') return fallback;
  return required(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(value) ? { value } : { problem: 'must be 1 to 100 letters, digits, ".", "_", ":" or "-"' }, fallback, 'name');
}
