import { ValidationError } from '../errors.js';

/** Default largest serialized payload, in bytes (1 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Serializes a payload to JSON text, refusing what JSON cannot carry faithfully: functions,
 * symbols, BigInt, `undefined` at the top level, cycles, and non-finite numbers. JSON.stringify
 * alone silently drops functions and turns NaN into null, which would change the job's input.
 *
 * Size is checked twice. Before any text is built, a walk adds up a lower bound of the JSON's
 * length (every string's characters, every key, a byte per number and bracket, a byte per byte of
 * a Buffer or typed array) and refuses the payload as soon as that passes `maxBytes`, so a 200 MB
 * value is refused without a 200 MB (or 1 GB, escaped) string ever existing. What passes is at
 * most a few times `maxBytes` once serialized; the exact UTF-8 length is checked after.
 */
export function serializePayload(value: unknown, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): string {
  const estimate = { budget: maxBytes, depth: 0 };
  const safe = measureJsonSafe(value, true, estimate);
  if (safe === TOO_LARGE) {
    // Name a cycle or an unserializable value if there is one: that is the real problem.
    assertJsonSafe(value, '', new Set());
    throw tooLarge(`more than ${maxBytes}`, maxBytes);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    // A cycle or a BigInt: the walk names where it is. Anything else (a throwing toJSON) is the caller's error.
    assertJsonSafe(value, '', new Set());
    throw error;
  }
  // The measuring walk stopped short of deep values, or found something JSON cannot carry: the
  // full walk names the offending path (JSON.stringify succeeded, so there is no cycle).
  if (safe !== SAFE) assertJsonSafe(value, '', new Set());
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

/** `measureJsonSafe` answers: fine so far, too large, or "cannot tell / not JSON-safe" (let the full checks decide). */
const SAFE = 0;
const TOO_LARGE = 1;
const UNSURE = 2;
type Measure = typeof SAFE | typeof TOO_LARGE | typeof UNSURE;

/** Deeper values than this are left to JSON.stringify (which also finds cycles there). */
const MEASURE_MAX_DEPTH = 200;

/**
 * Walks `value` as JSON.stringify would, taking a lower bound of each part's serialized length
 * off `estimate.budget`; stops with TOO_LARGE once the budget is spent. UNSURE when it meets
 * something JSON cannot carry or nesting deeper than MEASURE_MAX_DEPTH (a cycle looks like that).
 */
function measureJsonSafe(value: unknown, top: boolean, estimate: { budget: number; depth: number }): Measure {
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
        estimate.budget -= value.byteLength;
        return estimate.budget < 0 ? TOO_LARGE : SAFE;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        estimate.budget -= 2;
        return estimate.budget < 0 ? TOO_LARGE : SAFE;
      }
      if (estimate.depth >= MEASURE_MAX_DEPTH) return UNSURE;
      estimate.depth++;
      let answer: Measure = SAFE;
      estimate.budget -= 2;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length && answer !== TOO_LARGE; index++) {
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
          if (answer === TOO_LARGE) break;
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

function assertJsonSafe(value: unknown, path: string, seen: Set<object>): void {
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
      // Objects with toJSON (Date, Buffer, …) serialize to what toJSON returns.
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return;
      seen.add(value);
      if (Array.isArray(value)) {
        value.forEach((item, index) => {
          if (typeof item === 'function' || typeof item === 'symbol' || item === undefined) {
            fail(`${path}${path ? '.' : ''}${index}`, item === undefined ? 'undefined' : `a ${typeof item}`);
          }
          assertJsonSafe(item, `${path}${path ? '.' : ''}${index}`, seen);
        });
      } else {
        if (value instanceof Map || value instanceof Set) fail(path, `a ${value.constructor.name}`);
        for (const [key, item] of Object.entries(value)) {
          assertJsonSafe(item, `${path}${path ? '.' : ''}${key}`, seen);
        }
      }
      seen.delete(value);
      return;
    }
  }
}

/** Parses JSON text read back from the store. Returns `{ ok: false }` for a corrupt value instead of throwing. */
export function parseStoredJson(text: string | null): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text === null) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
