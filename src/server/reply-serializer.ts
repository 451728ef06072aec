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
    if (schema === null) return (data) => JSON.stringify(data);
    return (data) => {
      const encoded = safeEncode(schema, data);
      if (!encoded.success) throw new ReplyMismatchError(method, url, encoded.error.message);
      const text = JSON.stringify(data);
      const described = JSON.stringify(encoded.data);
      // Compared as JSON values: the schema's key order need not be the serializer's.
      if (text !== described && !isDeepStrictEqual(JSON.parse(text), JSON.parse(described))) throw new ReplyMismatchError(method, url, `it writes ${text.slice(0, 300)} where the schema gives ${described.slice(0, 300)}`);
      return text;
    };
  };
}
