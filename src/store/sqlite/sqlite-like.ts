/** LIKE patterns built from user text: the text is a bound parameter and its wildcards are escaped. */

/**
 * A `LIKE … ESCAPE '\'` pattern matching any value that contains `text` literally: `%`, `_` and
 * the escape character in `text` are escaped so they match themselves.
 */
export function likeContainsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}
