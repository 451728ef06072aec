/**
 * The order in which the CLI lists job names: the order `a.localeCompare(b)` gives them in the
 * root (and English) collation, computed without it. The first `localeCompare` of a process loads
 * ICU's collation data, about 10 ms — a twentieth of a short command such as `nightshift list`.
 *
 * A name only holds `A-Z a-z 0-9 _ . : / -` (job/names.ts), for which that collation is plain: the
 * punctuation first, in the order `_ - : . /`, then the digits, then the letters with case ignored;
 * among names equal but for case, the first difference decides, lowercase first. Characters outside
 * that set (not a name) fall back to `localeCompare`, so the order stays the same for any text.
 */

/** Primary weight of each character of the name alphabet: what the collation compares first. */
const PRIMARY = new Map<string, number>();
for (const [index, char] of [..."_-:./"].entries()) PRIMARY.set(char, index);
for (let digit = 0; digit <= 9; digit++) PRIMARY.set(String(digit), 10 + digit);
for (let letter = 0; letter < 26; letter++) {
  PRIMARY.set(String.fromCharCode(97 + letter), 20 + letter);
  PRIMARY.set(String.fromCharCode(65 + letter), 20 + letter);
}

/** Compares two names as `a.localeCompare(b)` does in the root collation: negative, zero or positive. */
export function compareNames(a: string, b: string): number {
  let caseOrder = 0;
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    const charA = a[index] as string;
    const charB = b[index] as string;
    if (charA === charB) continue;
    const weightA = PRIMARY.get(charA);
    const weightB = PRIMARY.get(charB);
    if (weightA === undefined || weightB === undefined) return a.localeCompare(b);
    if (weightA !== weightB) return weightA - weightB;
    // The same letter in another case: decides only when nothing else differs.
    if (caseOrder === 0) caseOrder = charA === charA.toLowerCase() ? -1 : 1;
  }
  for (const char of a.length > b.length ? a.slice(b.length) : b.slice(a.length)) {
    if (!PRIMARY.has(char)) return a.localeCompare(b);
  }
  if (a.length !== b.length) return a.length - b.length;
  return caseOrder;
}
