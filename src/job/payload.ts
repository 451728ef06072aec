import { ValidationError } from '../errors.js';

/** Default largest serialized payload, in bytes (1 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Serializes a payload to JSON text, refusing what JSON cannot carry faithfully: functions,
 * symbols, BigInt, `undefined` at the top level, cycles, and non-finite numbers. JSON.stringify
 * alone silently drops functions and turns NaN into null, which would change the job's input.
 */
export function serializePayload(value: unknown, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    // A cycle or a BigInt: the walk names where it is. Anything else (a throwing toJSON) is the caller's error.
    assertJsonSafe(value, '', new Set());
    throw error;
  }
  // JSON.stringify succeeded, so what it followed has no cycle and the quick walk terminates. Only
  // when the quick walk finds something does the full walk run, to name the offending path.
  if (!isJsonSafe(value, true)) assertJsonSafe(value, '', new Set());
  // Byte length, not character length: the limit protects the database row size. A UTF-16 code
  // unit is at most 3 UTF-8 bytes, so short texts need no count.
  const length = (text as string).length;
  if (length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text as string, 'utf8');
    if (bytes > maxBytes) {
      throw new ValidationError(
        'PAYLOAD_TOO_LARGE',
        `payload is ${bytes} bytes when serialized; the limit is ${maxBytes} bytes (raise maxPayloadBytes or store large data elsewhere and pass a reference)`,
      );
    }
  }
  return text as string;
}

/**
 * The same checks as `assertJsonSafe`, as a yes/no answer without building paths or tracking
 * visited objects. Only call it on a value JSON.stringify accepted: that rules out cycles among
 * the objects this walk enters (it enters exactly what JSON.stringify does, and stops earlier).
 */
function isJsonSafe(value: unknown, top: boolean): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'undefined':
      return !top;
    case 'object': {
      if (value === null) return true;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return true;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          const item: unknown = value[index];
          if (item === undefined || !isJsonSafe(item, false)) return false;
        }
        return true;
      }
      if (value instanceof Map || value instanceof Set) return false;
      for (const key in value) {
        // for…in also lists inherited enumerable keys; Object.entries (the full walk) does not.
        if (!Object.hasOwn(value, key)) continue;
        if (!isJsonSafe((value as Record<string, unknown>)[key], false)) return false;
      }
      return true;
    }
    default:
      return false; // function, symbol, bigint
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
