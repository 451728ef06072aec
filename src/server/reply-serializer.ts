/**
 * How replies become JSON. Every route's reply is built by one serializer per shape (job-json.ts
 * and friends) and described by a zod schema, which the OpenAPI document is generated from.
 *
 * By default a reply is written with `JSON.stringify` as it is: checking it against its schema
 * on every request would cost more than building it (a bulk enqueue's reply is 1,000 jobs).
 * With `checkReplies` (`NIGHTSHIFT_CHECK_REPLIES=1`; the test suite turns it on) every reply is
 * encoded through its schema first, and a reply the schema does not describe exactly (a wrong
 * type, a missing field, or a field the schema does not have, which zod would silently drop)
 * fails the request with a 500 that names the route: the document and the real replies
 * cannot drift apart unnoticed.
 *
 * A reply nested too deeply for JSON.stringify (thousands of levels) fails with a `ReplyTooDeepError`
 * that names the route, not a bare stack overflow. Stored payloads and results cannot cause one:
 * they are read through `parseStoredJson`, which reports a value past MAX_PAYLOAD_DEPTH as a parse
 * error instead of building it; this is the last guard for a value that came some other way.
 */
import { isDeepStrictEqual } from 'node:util';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { $ZodType, safeEncode } from 'zod/v4/core';

/** A reply that does not match its documented schema (only raised with `checkReplies`). */
export class ReplyMismatchError extends Error {
  readonly code = 'REPLY_MISMATCH';
  constructor(method: string, url: string, detail: string) {
    super(`the reply of ${method} ${url} does not match its documented schema: ${detail}`);
    this.name = 'ReplyMismatchError';
  }
}

/** A reply nested too deeply to be written as JSON (JSON.stringify ran out of stack). */
export class ReplyTooDeepError extends Error {
  readonly code = 'REPLY_TOO_DEEP';
  constructor(method: string, url: string, cause: unknown) {
    super(`the reply of ${method} ${url} nests too deeply to be written as JSON`, { cause });
    this.name = 'ReplyTooDeepError';
  }
}

/** JSON.stringify, with a stack overflow turned into a `ReplyTooDeepError` naming the route. */
function stringify(data: unknown, method: string, url: string): string {
  try {
    return JSON.stringify(data);
  } catch (error) {
    if (error instanceof RangeError && /call stack/i.test(error.message)) throw new ReplyTooDeepError(method, url, error);
    throw error;
  }
}

/** The zod schema of a route's reply: the schema itself, or under `properties` as fastify passes some. */
function zodSchemaOf(schema: unknown): $ZodType | null {
  if (schema instanceof $ZodType) return schema;
  const properties = (schema as { properties?: unknown } | null)?.properties;
  return properties instanceof $ZodType ? properties : null;
}

/** The fastify serializer compiler of the API; `check` makes every reply go through its schema. */
export function replySerializerCompiler(check: boolean): FastifySerializerCompiler<unknown> {
  return ({ schema: routeSchema, method, url }) => {
    const schema = check ? zodSchemaOf(routeSchema) : null;
    if (schema === null) return (data) => stringify(data, method, url);
    return (data) => {
      const encoded = safeEncode(schema, data);
      if (!encoded.success) throw new ReplyMismatchError(method, url, encoded.error.message);
      const text = stringify(data, method, url);
      const described = JSON.stringify(encoded.data);
      // Compared as JSON values: the schema's key order need not be the serializer's.
      if (text !== described && !isDeepStrictEqual(JSON.parse(text), JSON.parse(described))) throw new ReplyMismatchError(method, url, `it writes ${text.slice(0, 300)} where the schema gives ${described.slice(0, 300)}`);
      return text;
    };
  };
}
