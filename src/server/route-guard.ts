import type { FastifyReply, FastifyRequest } from 'fastify';
import { assertSameOrigin, type Authenticator, type TokenScope } from './auth.js';

/** An onRequest hook (it runs before the body is read or validated) that checks the token's scope and, for changes, the request's origin. */
export type RouteGuard = (scope: TokenScope) => (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export function createRouteGuard(auth: Authenticator, allowedOrigins: readonly string[]): RouteGuard {
  return (scope) => async (request) => {
    assertSameOrigin(request, allowedOrigins);
    await auth.check(request, scope);
  };
}
