/**
 * One JSON shape for every error the API answers with — `{ error: { code, message, details } }` —
 * and one table from the library's stable codes to HTTP statuses.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { NightshiftError, type NightshiftErrorCode } from '../errors.js';

/** HTTP status of each library error code. */
const STATUS: Record<NightshiftErrorCode, number> = {
  UNKNOWN_JOB: 404,
  INVALID_PAYLOAD: 400,
  PAYLOAD_TOO_LARGE: 413,
  PAYLOAD_NOT_SERIALIZABLE: 400,
  INVALID_OPTION: 400,
  INVALID_NAME: 400,
  INVALID_CONFIG: 400,
  INVALID_CRON: 400,
  INVALID_TIMEZONE: 400,
  DUPLICATE_SCHEDULE: 409,
  UNKNOWN_SCHEDULE: 404,
  UNKNOWN_CHANNEL: 404,
  UNKNOWN_RULE: 404,
  UNKNOWN_SILENCE: 404,
  UNKNOWN_DEPENDENCY: 400,
  JOB_NOT_FOUND: 404,
  INVALID_STATE: 409,
  STORE_UNAVAILABLE: 503,
  STORE_ERROR: 500,
  LEASE_LOST: 409,
  JOB_TIMEOUT: 500,
  SHUTDOWN: 503,
};

/** An error the HTTP layer raises itself (auth, limits, origin checks). */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, options: { details?: unknown; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** One problem with a request: where (a dotted path in the part, '' for the whole) and what. */
export interface RequestIssue {
  path: string;
  message: string;
}

/**
 * The 400 of a malformed request (schema validation, and the query rules of request-rules.ts):
 * INVALID_REQUEST, a message that lists every issue, and the issues in `details`.
 */
export function invalidRequest(where: string, issues: readonly RequestIssue[]): HttpError {
  const listed = issues.map((issue) => `${issue.path || '(value)'}: ${issue.message}`).join('; ');
  return new HttpError(400, 'INVALID_REQUEST', `invalid ${where}: ${listed}`, { details: { issues } });
}

/** The 415 of a body that is not JSON (request-rules.ts): it names the content type it got and the one the API takes. */
export function unsupportedMediaType(contentType: string | undefined): HttpError {
  const got = contentType === undefined || contentType.trim() === '' ? 'a body without content-type' : `content-type ${contentType}`;
  return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `send the body as JSON with content-type: application/json (got ${got})`);
}

/** What the error reply may say about the request it answers. */
export interface ErrorContext {
  /** The body limit of the route, bytes: named in a 413. */
  bodyLimit?: number | undefined;
  /** The request's content-type: named in a 415. */
  contentType?: string | undefined;
}

/** Turns anything a route threw into a status and the one error body. */
export function toErrorReply(error: unknown, context: ErrorContext = {}): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (error instanceof HttpError) {
    return { status: error.status, body: body(error.code, error.message, error.details), headers: error.headers };
  }
  if (error instanceof NightshiftError) {
    const details = error.issues.length > 0 ? { issues: error.issues } : undefined;
    return { status: STATUS[error.code] ?? 500, body: body(error.code, error.message, details), headers: {} };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issues = error.validation.map((issue) => ({
      path: issue.instancePath.replace(/^\//, '').replaceAll('/', '.'),
      message: issue.message ?? 'invalid',
    }));
    return toErrorReply(invalidRequest(error.validationContext ?? 'request', issues));
  }
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    // The limit is said, so that a client can split its request rather than guess (bulk and flows take more than the rest).
    const limit = context.bodyLimit;
    const message = limit === undefined ? 'request body is larger than the limit of this route' : `request body is larger than the limit of this route, ${limit} bytes (${readableBytes(limit)})`;
    return { status: 413, body: body('PAYLOAD_TOO_LARGE', message, limit === undefined ? undefined : { limitBytes: limit }), headers: {} };
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return toErrorReply(unsupportedMediaType(context.contentType));
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, body: body('INVALID_REQUEST', fastifyError.message ?? 'invalid request'), headers: {} };
  }
  return { status: 500, body: body('INTERNAL', 'internal error; see the server log'), headers: {} };
}

/** A byte count for people: `4 KiB`, `1.06 MiB`, `32 MiB`. */
function readableBytes(bytes: number): string {
  const [value, unit] = bytes >= 1024 * 1024 ? [bytes / 1024 / 1024, 'MiB'] : [bytes / 1024, 'KiB'];
  return `${Number(value.toFixed(2))} ${unit}`;
}

function body(code: string, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/** The fastify error handler: logs server faults, answers every error in the one shape. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body: payload, headers } = toErrorReply(error, { bodyLimit: request.routeOptions?.bodyLimit, contentType: request.headers['content-type'] });
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  void reply.code(status).headers(headers).type('application/json').send(payload);
}
