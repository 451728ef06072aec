/**
 * User-controlled text (job, queue and schedule names, error messages) in each service's markup:
 * it must read as text, format nothing, link nowhere and ping nobody. And each service's length
 * limits, met by cutting with an ellipsis — after escaping, never through an escape sequence or a
 * surrogate pair.
 */

/** U+200B ZERO WIDTH SPACE: invisible, and enough to stop `@here` / `<@123>` being a mention. */
export const ZERO_WIDTH_SPACE = '\u200B';

/** Control characters and line/paragraph separators: what may not appear on one line. */
// eslint-disable-next-line no-control-regex
const LINE_BREAKING = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** `text` on one line: control characters (newlines, escape sequences) become one space. */
export function oneLine(text: string): string {
  return text.replace(LINE_BREAKING, ' ').trim();
}

/** `text` without control characters other than newline and tab (an error message keeps its lines). */
export function withoutControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, ' ');
}

/**
 * Slack mrkdwn: `&`, `<`, `>` as entities (Slack's own rule), so `<!here>`, `<!channel>`,
 * `<@U123>` and `<http://x|links>` are shown, not acted on; and `@channel`, `@here`,
 * `@everyone` written as plain words get a zero-width space after the `@`, so no client or
 * `link_names` setting turns them into mentions.
 */
export function escapeSlack(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@(channel|here|everyone)\b/gi, `@${ZERO_WIDTH_SPACE}$1`);
}

/**
 * Slack text for inside a ``` block, where no formatting applies: `escapeSlack`, and a zero-width
 * space after each backtick so the text cannot close the block.
 */
export function escapeSlackCode(text: string): string {
  return escapeSlack(text).replace(/`/g, `\`${ZERO_WIDTH_SPACE}`);
}

/** Discord markdown characters: emphasis, code, spoilers, quotes, headings, lists, masked links, mentions. */
const DISCORD_MARKDOWN = /[\\*_~`|>#\-[\]()<]/g;

/**
 * Discord markdown: each markdown character backslash-escaped (shown as itself), and a zero-width
 * space after an `@` that starts `@everyone`, `@here` or a user/role id. Mentions are also
 * switched off in the request itself (`allowed_mentions: { parse: [] }`): either alone would
 * stop the ping; both keep the text from even looking like one.
 */
export function escapeDiscord(text: string): string {
  return text.replace(DISCORD_MARKDOWN, '\\$&').replace(/@(?=everyone|here|[!&]?\d)/gi, `@${ZERO_WIDTH_SPACE}`);
}

/** HTML text and attribute values: `& < > " '` as entities. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const ELLIPSIS = '…';

/**
 * `escape(text)`, cut to at most `max` characters (UTF-16 units, which never undercounts a
 * service's characters) ending in `…` when cut. The raw text is cut before escaping, so an entity
 * (`&amp;`), a backslash escape or a surrogate pair is never split; the longest prefix that fits
 * is found by bisection (escaping only grows with the prefix).
 */
export function fitEscaped(text: string, max: number, escape: (text: string) => string = (same) => same): string {
  const whole = escape(text);
  if (whole.length <= max) return whole;
  if (max < ELLIPSIS.length) return '';
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (escape(prefix(text, middle)).length + ELLIPSIS.length <= max) low = middle;
    else high = middle - 1;
  }
  return `${escape(prefix(text, low))}${ELLIPSIS}`;
}

/** The first `length` UTF-16 units of `text`, one fewer when that would split a surrogate pair. */
function prefix(text: string, length: number): string {
  const code = text.charCodeAt(length - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}
