/**
 * Keeps channel secrets out of error messages and logs. A webhook URL is itself a credential
 * (whoever has it can post), and so are bot tokens, API keys and SMTP passwords. Messages name a
 * service by scheme and host only; any text that comes from elsewhere (an answer's body, a
 * driver's error message) is scrubbed of every secret the channel holds before it is shown.
 */

/** `https://hooks.slack.com/services/T0/B0/xyz?x=1` → `https://hooks.slack.com`: no user info, path or query. */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** Shortest secret fragment that is scrubbed; shorter ones (`/api`, `v3`) would scrub ordinary words. */
const MIN_SECRET_LENGTH = 6;

/** Replaces every occurrence of a channel's secrets in a text with `[redacted]`. */
export class SecretScrubber {
  readonly #secrets: string[];

  /** `secrets`: whole values (tokens, keys, passwords); `urls`: credentials by their path, query and user info. */
  constructor(secrets: readonly (string | null | undefined)[], urls: readonly URL[] = []) {
    const found = new Set<string>();
    const add = (value: string | null | undefined): void => {
      if (value === null || value === undefined || value.length < MIN_SECRET_LENGTH) return;
      found.add(value);
      // The same secret may come back percent-encoded, or decoded (an echoed URL).
      for (const variant of [encodeURIComponent(value), safeDecode(value)]) {
        if (variant.length >= MIN_SECRET_LENGTH) found.add(variant);
      }
    };
    for (const secret of secrets) add(secret);
    for (const url of urls) {
      add(url.href);
      add(`${url.pathname}${url.search}`);
      add(url.search.slice(1));
      add(url.password);
      add(url.username);
      // Token-like segments only (ids, keys): not words such as `services` or `webhooks`.
      for (const segment of url.pathname.split('/')) if (/\d/.test(segment) || segment.length >= 20) add(segment);
    }
    // Longest first, so a whole URL is replaced before one of its parts.
    this.#secrets = [...found].sort((a, b) => b.length - a.length);
  }

  /** `text` with every secret replaced. */
  scrub(text: string): string {
    let result = text;
    for (const secret of this.#secrets) result = result.split(secret).join('[redacted]');
    return result;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
