/**
 * Who may call what. Bearer tokens carry one scope:
 * - `read`: every GET (jobs, queues, definitions, metrics);
 * - `enqueue`: read, plus `POST /api/jobs` and `/api/jobs/bulk`;
 * - `admin`: everything.
 * Tokens are compared by their SHA-256 digests in constant time, so neither the token nor its
 * length leaks through timing. Without any token configured the API is open, and the server then
 * only listens on loopback (see `assertSafeBind`). `/health` and `/ready` never need a token.
 *
 * Failed authentication is slowed down per client address: after `failureLimit` (default
 * `FAILURES_BEFORE_LOCKOUT`) requests with a wrong or revoked token in a minute, that address gets
 * 429 (with Retry-After) until the minute is over. A request without any token is refused (401)
 * but not counted: it guesses nothing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { ConfigError } from '../errors.js';
import { HttpError } from './http-errors.js';

export type TokenScope = 'read' | 'enqueue' | 'admin';
const SCOPE_RANK: Record<TokenScope, number> = { read: 0, enqueue: 1, admin: 2 };

/** A token the server accepts. */
export interface ApiToken {
  /** Names the token in logs. */
  name: string;
  /** The secret as the client sends it (`Authorization: Bearer <token>`), or its SHA-256 hex digest. */
  token?: string;
  sha256?: string;
  scope: TokenScope;
}

/** Failed attempts from one address within a minute before it is refused with 429. */
export const FAILURES_BEFORE_LOCKOUT = 10;
const WINDOW_MS = 60_000;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Tokens read from the store: the unrevoked ones, and whether the store has any token at all
 * (revoked ones included). Once a store has had tokens, revoking the last one leaves the API
 * closed instead of opening it.
 */
export interface StoredTokens {
  tokens: readonly ApiToken[];
  required: boolean;
}

/** How long the tokens read from the store are reused before they are read again, ms. */
export const TOKEN_REFRESH_MS = 5000;

type CheckedToken = { name: string; digest: Buffer; scope: TokenScope };

function toChecked(token: ApiToken): CheckedToken {
  if (!['read', 'enqueue', 'admin'].includes(token.scope)) throw new Error(`token "${token.name}": scope must be read, enqueue or admin`);
  if (token.sha256 !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(token.sha256)) throw new Error(`token "${token.name}": sha256 must be 64 lowercase hex characters`);
    return { name: token.name, digest: Buffer.from(token.sha256, 'hex'), scope: token.scope };
  }
  if (typeof token.token !== 'string' || token.token.length < 16) throw new Error(`token "${token.name}": a token must be at least 16 characters`);
  return { name: token.name, digest: digest(token.token), scope: token.scope };
}

export class Authenticator {
  readonly #static: CheckedToken[];
  readonly #source: (() => Promise<StoredTokens>) | null;
  #stored: CheckedToken[] = [];
  /** The store has (or had) tokens: the API stays closed even when every one is revoked. */
  #storeRequiresTokens = false;
  #storedAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | null = null;
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #failureLimit: number;

  /**
   * `tokens` are fixed for the server's life; `source` (the store's unrevoked tokens) is read
   * again every TOKEN_REFRESH_MS, so creating or revoking a token takes effect within seconds.
   */
  /** Host names (lowercase, without port) an open API answers besides loopback ones; see `checkOpenHost`. */
  readonly #allowedHosts: ReadonlySet<string>;
  /** Set by `listenApiServer` for `insecure`: an open API listening beyond loopback answers any Host. */
  anyHost = false;

  constructor(tokens: readonly ApiToken[], options: { failureLimit?: number; source?: () => Promise<StoredTokens>; allowedHosts?: readonly string[] } = {}) {
    this.#failureLimit = options.failureLimit ?? FAILURES_BEFORE_LOCKOUT;
    this.#static = tokens.map(toChecked);
    this.#source = options.source ?? null;
    this.#allowedHosts = new Set((options.allowedHosts ?? []).map((host) => host.toLowerCase()));
  }

  /** Whether any token is known (otherwise the API is open, on loopback only). Read after `refresh()`. */
  get enabled(): boolean {
    return this.#static.length > 0 || this.#storeRequiresTokens;
  }

  /** Reads the store's tokens now if they are older than TOKEN_REFRESH_MS (or `force`). */
  async refresh(force = false): Promise<void> {
    if (!this.#source || (!force && Date.now() - this.#storedAt < TOKEN_REFRESH_MS)) return;
    this.#refreshing ??= this.#source()
      .then(({ tokens, required }) => {
        this.#stored = tokens.map(toChecked);
        this.#storeRequiresTokens = required || tokens.length > 0;
        this.#storedAt = Date.now();
      })
      .finally(() => {
        this.#refreshing = null;
      });
    await this.#refreshing;
  }

  /** Throws 401/403/429 unless the request carries a token with at least `needed`. */
  async check(request: FastifyRequest, needed: TokenScope): Promise<void> {
    // A store that does not answer leaves the last tokens read in force rather than opening the
    // API; one that has not answered yet (an app that mounts the API reads them at its first
    // request) leaves nothing to go by, and an API that may be closed is not answered as open.
    try {
      await this.refresh();
    } catch (error) {
      if (this.#storedAt === Number.NEGATIVE_INFINITY) {
        throw new HttpError(503, 'STORE_UNAVAILABLE', `cannot read the API tokens kept in the store: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (!this.enabled) {
      this.#checkOpenHost(request);
      return;
    }
    const address = request.ip;
    const now = Date.now();
    const failures = this.#failures.get(address);
    if (failures && now - failures.since < WINDOW_MS && failures.count >= this.#failureLimit) {
      const retryAfter = Math.ceil((failures.since + WINDOW_MS - now) / 1000);
      throw new HttpError(429, 'TOO_MANY_FAILED_LOGINS', `too many failed authentications from ${address}; try again in ${retryAfter} s`, {
        headers: { 'retry-after': String(retryAfter) },
      });
    }
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/i.exec(header.trim()) : null;
    if (!match) {
      throw new HttpError(401, 'UNAUTHENTICATED', 'send an API token: Authorization: Bearer <token>', { headers: { 'www-authenticate': 'Bearer' } });
    }
    const presented = digest(match[1] as string);
    let found: { name: string; scope: TokenScope } | null = null;
    // Compare against every token, always: the time taken does not depend on which one matched.
    for (const token of [...this.#static, ...this.#stored]) if (timingSafeEqual(token.digest, presented) && found === null) found = token;
    if (found === null) {
      this.#fail(address, now);
      throw new HttpError(401, 'UNAUTHENTICATED', 'the API token is not valid (unknown or revoked)', { headers: { 'www-authenticate': 'Bearer' } });
    }
    if (SCOPE_RANK[found.scope] < SCOPE_RANK[needed]) {
      throw new HttpError(403, 'FORBIDDEN', `token "${found.name}" has scope ${found.scope}; this request needs ${needed}`);
    }
  }

  /**
   * Without a token the API is open to whatever can reach it, which `assertSafeBind` limits to
   * this machine. A browser is on this machine too: a page of another site whose name it makes
   * resolve to 127.0.0.1 (DNS rebinding) is, to the browser, the same origin as the API, so
   * neither CORS nor the origin check stops its requests — but they still name that site in
   * `Host`. So an open API answers only requests addressed to a loopback name or address (or a
   * host listed in `allowedHosts`), unless it was told to listen beyond loopback (`insecure`).
   */
  #checkOpenHost(request: FastifyRequest): void {
    if (this.anyHost) return;
    const header = request.headers.host;
    const host = typeof header === 'string' ? hostName(header) : '';
    if (host !== '' && (isLoopbackHost(host) || host.endsWith('.localhost') || this.#allowedHosts.has(host))) return;
    throw new HttpError(
      403,
      'HOST_NOT_ALLOWED',
      `the API has no token, so it answers only requests addressed to this machine (localhost, 127.0.0.1, [::1]), not to ${JSON.stringify(header ?? '')}: ` +
        'this keeps pages of other sites from reaching it through DNS rebinding. Configure an API token, or list the name in allowedHosts (http.allowedHosts in the config).',
    );
  }

  #fail(address: string, now: number): void {
    const entry = this.#failures.get(address);
    if (!entry || now - entry.since >= WINDOW_MS) this.#failures.set(address, { count: 1, since: now });
    else entry.count++;
    if (this.#failures.size > 10_000) this.#failures.clear(); // bounded memory under a spray of addresses
  }
}

/** The host name of a `Host` header (`name:port`, `[v6]:port`), lowercase, without the port. */
function hostName(header: string): string {
  const text = header.trim().toLowerCase();
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    return end < 0 ? '' : text.slice(0, end + 1);
  }
  const colon = text.indexOf(':');
  return colon < 0 ? text : text.slice(0, colon);
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1';
  return false;
}

/**
 * Refuses to listen beyond loopback without tokens: an open job API on a network would let anyone
 * there enqueue and cancel. `insecure` (for trusted networks) allows it, with a warning per start.
 */
export function assertSafeBind(host: string, auth: Authenticator, insecure: boolean): 'ok' | 'insecure' {
  if (auth.enabled || isLoopbackHost(host)) return 'ok';
  if (insecure) return 'insecure';
  // A configuration problem, said with its code like the others (the CLI prints `error [INVALID_CONFIG]`).
  throw new ConfigError(
    `refusing to listen on ${host} without an API token: anyone who can reach it could enqueue and cancel jobs. ` +
      'Set NIGHTSHIFT_API_TOKEN (an admin token of 16+ characters, e.g. `openssl rand -hex 32`) or configure tokens, ' +
      'bind 127.0.0.1, or pass --insecure (http.insecure in the config) on a network you trust.',
  );
}

/**
 * Browser safety: a state-changing request from another site (a page the operator has open
 * elsewhere) is refused. `Sec-Fetch-Site: cross-site`, or an `Origin` whose host is not the
 * request's own and not in `allowedOrigins`.
 */
export function assertSameOrigin(request: FastifyRequest, allowedOrigins: readonly string[]): void {
  const method = request.method;
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return;
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== 'null' && allowedOrigins.includes(origin)) return;
  if (request.headers['sec-fetch-site'] === 'cross-site') {
    throw new HttpError(403, 'CROSS_SITE_REQUEST', 'cross-site requests may not change anything; use the API from the same origin, or list the page\'s origin in allowedOrigins (http.allowedOrigins in the config)');
  }
  if (typeof origin === 'string') {
    let host: string | null = null;
    try {
      host = origin === 'null' ? null : new URL(origin).host;
    } catch {
      host = null;
    }
    if (host === null || host !== request.headers.host) {
      throw new HttpError(403, 'CROSS_SITE_REQUEST', `requests from origin ${origin} may not change anything; list it in allowedOrigins (http.allowedOrigins in the config) to permit it`);
    }
  }
}
