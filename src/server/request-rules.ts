/**
 * The rules every route of the API applies to the form of a request, kept here in one place
 * rather than repeated (or forgotten) route by route:
 *
 * - **Query strings are strict.** A parameter the route does not take is a 400 naming it, on every
 *   route but `/health` and `/ready` (`config.anyQuery`: a probe may add a cache buster, and a 400
 *   there would read as the process being down) — a typo (`?limt=5`) must not silently give the default. A route without query
 *   parameters gets an empty strict schema (`withRouteDefaults`), so `/api/stats?bogus=1` is
 *   refused like `/api/jobs?bogus=1`. Nothing that calls the API adds parameters of its own: an
 *   EventSource sends only the URL it was given, and Prometheus scrapes `/metrics` as configured.
 * - **A parameter is given once**, unless it is a list (`repeatableParam` in api-schemas.ts):
 *   `?limit=2&limit=3` is a 400 "limit: give it once" instead of the NaN that the array the
 *   querystring parser makes of it would give.
 * - **Bodies are JSON.** A body with any other content type (or none) is a 415 naming
 *   `application/json`; `text/plain` too, which fastify would otherwise hand to the schema as a
 *   string ("expected object, received string").
 * - **An empty body is no body**, whatever its content type (`curl -X POST`, `fetch` with
 *   `body: ''`, a client that always sends `content-type: application/json`): a route whose body
 *   fields are all optional accepts it (its schema is nullish); a route that needs a body says so.
 * - **A body an app's middleware already read is used as it is.** Mounted in Express behind
 *   `express.json()` (or another body parser), the request's stream has been read to its end and
 *   will never give fastify a byte: the parsed `req.body` is handed on instead (`preParsedBody`),
 *   as if it had been sent; a stream read by a middleware that kept no `req.body` is a 500 saying so.
 * - **The responses every route can give are documented**: 400 (every route validates its query),
 *   413 and 415 (every route that reads a body: POST, PUT, PATCH, DELETE), 429 (every route behind
 *   a token, i.e. that documents 401).
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyBodyParser, FastifyInstance, FastifyRequest, FastifySchema, FastifySchemaCompiler, RouteOptions } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorReplySchema, isRepeatableParam } from './api-schemas.js';
import { HttpError, invalidRequest, unsupportedMediaType, type RequestIssue } from './http-errors.js';

/** The query schema of a route that takes no query parameters. */
const NO_QUERY = z.strictObject({});

/** Methods of the API's routes whose requests fastify reads a body for (GET and HEAD never have one). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The properties of an object schema; null for any other schema. */
function shapeOf(schema: unknown): Record<string, z.ZodType> | null {
  return schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : null;
}

/** Zod's issues as the API lists them: a dotted path and a message. */
function issuesOf(error: z.ZodError): RequestIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/**
 * The validator compiler of the API: fastify-type-provider-zod's, with the query rules (unknown
 * and repeated parameters) checked first on every query string, and a clear message for a body
 * a route needs but did not get.
 */
export const apiValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const validate = validatorCompiler(route);
  if (route.httpPart === 'body') {
    return (data: unknown) => {
      const result = validate(data);
      if (data !== null && data !== undefined) return result;
      if (typeof result === 'object' && result !== null && 'error' in result && result.error !== undefined) {
        return { error: invalidRequest('body', [{ path: '', message: 'this route needs a JSON body, sent with content-type: application/json' }]) };
      }
      return result;
    };
  }
  if (route.httpPart !== 'querystring') return validate;
  const shape = shapeOf(route.schema);
  if (shape === null) return validate;
  const known = Object.keys(shape);
  const repeatable = new Set(known.filter((key) => isRepeatableParam(shape[key]!)));
  const takes = known.length === 0 ? 'this route takes no query parameters' : `this route takes ${known.join(', ')}`;
  return (data: Record<string, unknown> | null) => {
    const refused: RequestIssue[] = [];
    const rest: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data ?? {})) {
      if (!Object.hasOwn(shape, key)) refused.push({ path: key, message: `unknown query parameter; ${takes}` });
      else if (Array.isArray(value) && !repeatable.has(key)) refused.push({ path: key, message: `give it once (it was sent ${value.length} times)` });
      else rest[key] = value;
    }
    if (refused.length === 0) return validate(data);
    // The other parameters are still checked, so that one answer lists every mistake.
    const others = route.schema.safeParse(rest);
    const issues = others.success ? refused : [...refused, ...issuesOf(others.error).filter((issue) => !refused.some((one) => one.path === issue.path.split('.')[0]))];
    return { error: invalidRequest('querystring', issues) };
  };
};

/**
 * The body parsers of the API (see the module comment): JSON, where an empty body is no body; and
 * for every other content type, no body when it is empty, else 415. `text/plain`, which fastify
 * parses by default, is removed so that it falls to the 415 as well.
 */
export function installBodyParsers(app: FastifyInstance): void {
  const config = app.initialConfig;
  const parseJson = app.getDefaultJsonParser(config.onProtoPoisoning ?? 'error', config.onConstructorPoisoning ?? 'error');
  const json: FastifyBodyParser<string> = (request, body, done) => {
    if (body.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, body, done);
  };
  for (const type of ['application/json', 'text/plain']) if (app.hasContentTypeParser(type)) app.removeContentTypeParser(type);
  // A parser of our own carries no body limit unless given one: routes without their own limit use
  // this one, the server's (fastify gives its default parsers the same).
  app.addContentTypeParser('application/json', { parseAs: 'string', ...(config.bodyLimit === undefined ? {} : { bodyLimit: config.bodyLimit }) }, json);
  app.addContentTypeParser('*', (request, _payload, done) => {
    // Refused without reading it: the connection is closed after the answer (fastify does so for any parser error).
    if (request.headers['content-length'] === '0') done(null, undefined);
    else done(unsupportedMediaType(request.headers['content-type']), undefined);
  });
}

/**
 * A preParsing hook (see the module comment): when a middleware of the app read the request's
 * body before the API saw it, the body it parsed (`req.body`: an object or array as JSON, a string
 * or a Buffer as they are) becomes the payload fastify reads. The content type stays the
 * request's, so the rules above apply as to any body. `receivedEncodedLength` is the length the
 * client sent, which fastify checks against `content-length` (the text re-encoded from a parsed
 * object need not have the same length).
 */
export async function preParsedBody(request: FastifyRequest, _reply: unknown, payload: Readable): Promise<Readable> {
  const raw = request.raw as IncomingMessage & { body?: unknown };
  if (!raw.readableEnded) return payload;
  const declared = request.headers['content-length'];
  const sent = declared === undefined ? Number.NaN : Number(declared);
  let bytes: Buffer;
  if (sent === 0) {
    // Sent empty: no body, whatever a parser made of it (express.json() makes it `{}`).
    bytes = Buffer.alloc(0);
  } else if (raw.body === undefined) {
    if (declared === undefined && request.headers['transfer-encoding'] === undefined) {
      bytes = Buffer.alloc(0);
    } else {
      throw new HttpError(
        500,
        'BODY_ALREADY_READ',
        'the request body was read by a middleware before the Nightshift API and not kept in req.body: mount the API before body parsers, or leave the parsed body in req.body',
      );
    }
  } else if (Buffer.isBuffer(raw.body)) {
    bytes = raw.body;
  } else if (typeof raw.body === 'string') {
    bytes = Buffer.from(raw.body, 'utf8');
  } else {
    bytes = Buffer.from(JSON.stringify(raw.body), 'utf8');
  }
  const stream = Readable.from(bytes.length === 0 ? [] : [bytes]) as Readable & { receivedEncodedLength?: number };
  stream.receivedEncodedLength = Number.isNaN(sent) ? bytes.length : sent;
  return stream;
}

/** The descriptions of the common error responses in the OpenAPI document. */
const COMMON = {
  400: errorReplySchema.describe('the request is malformed: an unknown or repeated query parameter, a field of the wrong form or out of range (INVALID_REQUEST; details.issues lists each)'),
  413: errorReplySchema.describe('the body is larger than the limit of this route (PAYLOAD_TOO_LARGE; the message names the limit in bytes)'),
  415: errorReplySchema.describe('the body is not JSON: send it with content-type: application/json (UNSUPPORTED_MEDIA_TYPE)'),
  429: errorReplySchema.describe('too many requests with a wrong token from this address in the last minute (TOO_MANY_FAILED_LOGINS; see Retry-After)'),
};

/**
 * The documented responses of a route with the common ones (see the module comment) added. A route
 * that documents one of those codes with a schema of its own keeps it; the plain error schema is
 * replaced by the described one.
 */
function withCommonResponses(route: RouteOptions, documented: Record<string, unknown>): Record<string, unknown> {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const codes: (keyof typeof COMMON)[] = [400];
  if (methods.some((method) => BODY_METHODS.has(method))) codes.push(413, 415);
  if ('401' in documented) codes.push(429);
  const responses = { ...documented };
  for (const code of codes) if (responses[code] === undefined || responses[code] === errorReplySchema) responses[code] = COMMON[code];
  return responses;
}

/**
 * An onRoute hook that gives every route the defaults of the module comment: an empty strict
 * query schema when it has none, and the common responses it does not document itself. Added
 * before the routes (and before @fastify/swagger, which reads the schemas when the document is
 * built) in the context that registers them.
 */
export function withRouteDefaults(route: RouteOptions): void {
  const schema: FastifySchema = route.schema ?? {};
  const response = schema.response as Record<string, unknown> | undefined;
  // Health and readiness take whatever query a probe or load balancer adds (a cache buster):
  // refusing it would read as the process being down.
  const anyQuery = (route.config as { anyQuery?: boolean } | undefined)?.anyQuery === true;
  route.schema = {
    ...schema,
    ...(anyQuery ? {} : { querystring: schema.querystring ?? NO_QUERY }),
    ...(response ? { response: withCommonResponses(route, response) } : {}),
  };
}
