import { ValidationError } from '../errors.js';
import { MAX_PAYLOAD_DEPTH } from './input-bounds.js';

/** Default largest serialized payload, in bytes (1 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Serializes a payload to JSON text, refusing what JSON cannot carry faithfully: functions,
 * symbols, BigInt, `undefined` at the top level, cycles, and non-finite numbers. JSON.stringify
 * alone silently drops functions and turns NaN into null, which would change the job's input.
 * Nesting deeper than MAX_PAYLOAD_DEPTH is refused too (input-bounds.ts says why): the measuring
 * walk below counts it, so the check costs nothing extra on ordinary payloads, and no walk here
 * recurses past the limit, so a 100,000-level value is a ValidationError, never a stack overflow.
 *
 * Size is checked twice. Before any text is built, a walk adds up a lower bound of the JSON's
 * length (every string's characters, every key, a byte per number and bracket, a byte per byte of
 * a Buffer or typed array) and refuses the payload as soon as that passes `maxBytes`, so a 200 MB
 * value is refused without a 200 MB (or 1 GB, escaped) string ever existing. What passes is at
 * most a few times `maxBytes` once serialized; the exact UTF-8 length is checked after.
 */
export function serializePayload(value: unknown, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): string {
  const estimate: Estimate = { budget: maxBytes, depth: 0, opaque: false };
  const safe = measureJsonSafe(value, true, estimate);
  if (safe >= TOO_LARGE) {
    // Name a cycle or an unserializable value if there is one: that is the real problem. A cycle
    // looks to the measuring walk like endless nesting; the full walk tells the two apart, and
    // throws the depth error itself where it passes the limit.
    assertJsonSafe(value, '', new Set(), 0);
    throw safe === TOO_DEEP ? tooDeep('') : tooLarge(`more than ${maxBytes}`, maxBytes);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    // A cycle or a BigInt: the walk names where it is. Anything else (a throwing toJSON) is the caller's error.
    assertJsonSafe(value, '', new Set(), 0);
    // Except a toJSON that returned something too deep for JSON.stringify itself: that is the depth limit.
    if (estimate.opaque && error instanceof RangeError && /call stack/i.test(error.message)) throw tooDeep('');
    throw error;
  }
  // The measuring walk found something JSON cannot carry: the full walk names the offending path
  // (JSON.stringify succeeded, so there is no cycle).
  if (safe !== SAFE) assertJsonSafe(value, '', new Set(), 0);
  // What a toJSON method returned (other than a Date's string) was not walked: its nesting is read
  // back from the text. Rare, and only when the text has enough brackets to be too deep.
  if (estimate.opaque && jsonTooDeep(text as string, () => JSON.parse(text as string))) throw tooDeep('');
  // Byte length, not character length: the limit protects the database row size. A UTF-16 code
  // unit is at most 3 UTF-8 bytes, so short texts need no count.
  const length = (text as string).length;
  if (length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text as string, 'utf8');
    if (bytes > maxBytes) throw tooLarge(String(bytes), maxBytes);
  }
  return text as string;
}

function tooLarge(size: string, maxBytes: number): ValidationError {
  return new ValidationError(
    'PAYLOAD_TOO_LARGE',
    `payload is ${size} bytes when serialized; the limit is ${maxBytes} bytes (raise maxPayloadBytes or store large data elsewhere and pass a reference)`,
  );
}

/**
 * Nesting too deep: where (the dotted path of the first array or object past the limit, '' when
 * only the text showed it), shortened in the message — a path 257 levels long names nothing a
 * reader can use beyond its first steps — and whole in `issues`.
 */
function tooDeep(path: string): ValidationError {
  const steps = path === '' ? [] : path.split('.');
  const shown = steps.length > 6 ? `${steps.slice(0, 5).join('.')}.…` : path;
  const where = path === '' ? '' : ` (at payload.${shown})`;
  return new ValidationError(
    'PAYLOAD_NOT_SERIALIZABLE',
    `payload nests arrays and objects more than ${MAX_PAYLOAD_DEPTH} levels deep${where}, which Nightshift does not store; flatten it, or store the data elsewhere and pass a reference`,
    { issues: [{ path, message: `nested more than ${MAX_PAYLOAD_DEPTH} levels deep` }] },
  );
}

/**
 * `measureJsonSafe` answers: fine so far, "cannot tell / not JSON-safe" (let the full checks
 * decide), too large, or too deep. The last two end the walk at once.
 */
const SAFE = 0;
const UNSURE = 1;
const TOO_LARGE = 2;
const TOO_DEEP = 3;
type Measure = typeof SAFE | typeof UNSURE | typeof TOO_LARGE | typeof TOO_DEEP;

/**
 * The measuring walk's state: the size budget left, how many arrays and objects enclose the
 * current value, and whether it met a toJSON method whose result it could not walk.
 */
interface Estimate {
  budget: number;
  depth: number;
  opaque: boolean;
}

/**
 * Walks `value` as JSON.stringify would, taking a lower bound of each part's serialized length
 * off `estimate.budget`; stops with TOO_LARGE once the budget is spent, and with TOO_DEEP at an
 * array or object nested past MAX_PAYLOAD_DEPTH (a cycle looks like that too), so it recurses at
 * most MAX_PAYLOAD_DEPTH levels. UNSURE when it meets something JSON cannot carry.
 */
function measureJsonSafe(value: unknown, top: boolean, estimate: Estimate): Measure {
  switch (typeof value) {
    case 'string':
      estimate.budget -= value.length + 2;
      return estimate.budget < 0 ? TOO_LARGE : SAFE;
    case 'boolean':
      estimate.budget -= 4;
      return estimate.budget < 0 ? TOO_LARGE : SAFE;
    case 'number':
      estimate.budget -= 1;
      if (!Number.isFinite(value)) return UNSURE;
      return estimate.budget < 0 ? TOO_LARGE : SAFE;
    case 'undefined':
      return top ? UNSURE : SAFE;
    case 'object': {
      if (value === null) {
        estimate.budget -= 4;
        return estimate.budget < 0 ? TOO_LARGE : SAFE;
      }
      if (ArrayBuffer.isView(value)) {
        // A Buffer's toJSON lists every byte; a typed array becomes an object of every element.
        // Nested as it serializes: `{"type":"Buffer","data":[…]}` is two levels, a typed array one.
        if (estimate.depth + viewLevels(value) > MAX_PAYLOAD_DEPTH) return TOO_DEEP;
        estimate.budget -= value.byteLength;
        return estimate.budget < 0 ? TOO_LARGE : SAFE;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        // A Date's own toJSON gives a string; what any other toJSON gives is unknown here.
        if (!isPlainDate(value)) estimate.opaque = true;
        estimate.budget -= 2;
        return estimate.budget < 0 ? TOO_LARGE : SAFE;
      }
      if (estimate.depth >= MAX_PAYLOAD_DEPTH) return TOO_DEEP;
      estimate.depth++;
      let answer: Measure = SAFE;
      estimate.budget -= 2;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length && answer < TOO_LARGE; index++) {
          const item: unknown = value[index];
          estimate.budget -= 1;
          const part = item === undefined ? UNSURE : measureJsonSafe(item, false, estimate);
          if (part !== SAFE) answer = part;
        }
      } else if (value instanceof Map || value instanceof Set) {
        answer = UNSURE;
      } else {
        for (const key in value) {
          // for…in also lists inherited enumerable keys; Object.entries (the full walk) does not.
          if (!Object.hasOwn(value, key)) continue;
          estimate.budget -= key.length + 3;
          const part = measureJsonSafe((value as Record<string, unknown>)[key], false, estimate);
          if (part !== SAFE) answer = part;
          if (answer >= TOO_LARGE) break;
        }
      }
      estimate.depth--;
      return answer !== SAFE ? answer : estimate.budget < 0 ? TOO_LARGE : SAFE;
    }
    default:
      return UNSURE; // function, symbol, bigint
  }
}

function fail(path: string, what: string): never {
  const where = path === '' ? 'payload' : `payload.${path}`;
  throw new ValidationError('PAYLOAD_NOT_SERIALIZABLE', `${where} is ${what}, which JSON cannot store`, {
    issues: [{ path, message: `${what} is not JSON-serializable` }],
  });
}

/** How many levels of JSON an ArrayBuffer view becomes: a Buffer (toJSON) two, a typed array or DataView one. */
function viewLevels(view: ArrayBufferView): number {
  return typeof (view as { toJSON?: unknown }).toJSON === 'function' ? 2 : 1;
}

/** A Date whose toJSON is Date's own (a string or null), not a subclass's or an own override. */
function isPlainDate(value: object): boolean {
  return value instanceof Date && (value as { toJSON: unknown }).toJSON === Date.prototype.toJSON;
}

/**
 * The full walk: names the first thing JSON cannot carry, a cycle, or the first array or object
 * nested past MAX_PAYLOAD_DEPTH (`depth` counts the arrays and objects around `value`). Recurses at
 * most MAX_PAYLOAD_DEPTH levels, so it cannot overflow the stack whatever it is given.
 */
function assertJsonSafe(value: unknown, path: string, seen: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(path, String(value));
      return;
    case 'undefined':
      if (path === '') fail(path, 'undefined');
      return; // dropped inside objects, like JSON.stringify does; harmless
    case 'function':
      fail(path, 'a function');
    case 'symbol':
      fail(path, 'a symbol');
    case 'bigint':
      fail(path, 'a BigInt');
    case 'object': {
      if (value === null) return;
      if (seen.has(value)) fail(path, 'a circular reference');
      // Counted as the measuring walk counts them, so both agree on what is too deep.
      if (ArrayBuffer.isView(value) && depth + viewLevels(value) > MAX_PAYLOAD_DEPTH) throw tooDeep(path);
      // Objects with toJSON (Date, Buffer, …) serialize to what toJSON returns.
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return;
      if (depth >= MAX_PAYLOAD_DEPTH) throw tooDeep(path);
      seen.add(value);
      if (Array.isArray(value)) {
        value.forEach((item, index) => {
          if (typeof item === 'function' || typeof item === 'symbol' || item === undefined) {
            fail(`${path}${path ? '.' : ''}${index}`, item === undefined ? 'undefined' : `a ${typeof item}`);
          }
          assertJsonSafe(item, `${path}${path ? '.' : ''}${index}`, seen, depth + 1);
        });
      } else {
        if (value instanceof Map || value instanceof Set) fail(path, `a ${value.constructor.name}`);
        for (const [key, item] of Object.entries(value)) {
          assertJsonSafe(item, `${path}${path ? '.' : ''}${key}`, seen, depth + 1);
        }
      }
      seen.delete(value);
      return;
    }
  }
}

/**
 * Parses JSON text read back from the store. Returns `{ ok: false }` for a corrupt value instead of
 * throwing — and for one nested deeper than MAX_PAYLOAD_DEPTH. Enqueue refuses those, but a row
 * written around its checks (the SQL `enqueue` function, an older version, a hand edit) can hold
 * one. JSON.parse reads it fine (V8's parser does not recurse), but whoever serializes the value
 * again — the HTTP API's reply, `--json` output, a logger — overflows the stack: a 500 on every
 * page that lists the job. Every reader already shows an unparsable value as an error next to the
 * untouched stored text (`parseErrors` in the API and `--json`; `nightshift job <id>` prints the
 * text), which is what a user can act on, so a too-deep value is reported the same way rather
 * than handed out to crash the next serializer.
 */
export function parseStoredJson(text: string | null): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text === null) return { ok: true, value: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  if (jsonTooDeep(text, () => value)) {
    return {
      ok: false,
      error: `the stored value nests arrays and objects more than ${MAX_PAYLOAD_DEPTH} levels deep (the limit enqueue applies); it is kept unchanged in the store but not shown, so that reading it cannot fail`,
    };
  }
  return { ok: true, value };
}

/**
 * Whether the JSON `text` (whose value `parsed` gives) nests arrays and objects more than
 * MAX_PAYLOAD_DEPTH levels deep. Runs on every stored value read back (each job of a list page,
 * each enqueue's answer), so the common case must cost next to nothing: a level takes an opening
 * and a closing bracket, so a text of at most 2 × MAX_PAYLOAD_DEPTH characters, or with at most
 * MAX_PAYLOAD_DEPTH opening brackets (counted with indexOf, brackets in strings included), cannot
 * be too deep. Only a text with more brackets than that has its value walked, which costs about a
 * tenth of parsing it (a scan of the text's characters cost half).
 */
function jsonTooDeep(text: string, parsed: () => unknown): boolean {
  if (text.length <= 2 * MAX_PAYLOAD_DEPTH) return false;
  const objects = countUpTo(text, '{', MAX_PAYLOAD_DEPTH + 1);
  if (objects + countUpTo(text, '[', MAX_PAYLOAD_DEPTH + 1 - objects) <= MAX_PAYLOAD_DEPTH) return false;
  return nestsDeeperThan(parsed(), MAX_PAYLOAD_DEPTH, 0);
}

/** How many times `char` occurs in `text`, counting no further than `limit`. */
function countUpTo(text: string, char: string, limit: number): number {
  let count = 0;
  for (let at = text.indexOf(char); at !== -1 && count < limit; at = text.indexOf(char, at + 1)) count++;
  return count;
}

/**
 * Whether parsed JSON `value`, inside `depth` arrays and objects, nests more than `max` levels.
 * Recurses only into arrays and objects and stops at `max`, so it cannot overflow the stack.
 */
function nestsDeeperThan(value: unknown, max: number, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= max) return true;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (typeof item === 'object' && item !== null && nestsDeeperThan(item, max, depth + 1)) return true;
    }
  } else {
    for (const key in value) {
      const item: unknown = (value as Record<string, unknown>)[key];
      if (typeof item === 'object' && item !== null && nestsDeeperThan(item, max, depth + 1)) return true;
    }
  }
  return false;
}
