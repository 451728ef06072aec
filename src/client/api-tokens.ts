/**
 * API tokens kept in the store: created with a random secret that is shown once, stored as its
 * SHA-256 digest only, listed and revoked by name. The HTTP API reads the unrevoked ones (see
 * `ApiServerOptions.tokenSource`), so a token created or revoked by any process counts on every
 * server of the store within a few seconds.
 */
import { createHash, randomBytes } from 'node:crypto';
import { StateError, ValidationError } from '../errors.js';
import { assertStorableText } from '../job/input-bounds.js';
import { assertValidName } from '../job/names.js';
import type { ApiTokenRecord, Store } from '../store/types.js';

export type ApiTokenScope = 'read' | 'enqueue' | 'admin';
export const API_TOKEN_SCOPES: readonly ApiTokenScope[] = ['read', 'enqueue', 'admin'];

/** What a new token starts with, so it can be recognised (e.g. by a secret scanner). */
export const API_TOKEN_PREFIX = 'nst_';
/** Longest token name, in characters. */
const MAX_TOKEN_NAME = 100;

/** A stored token as shown to operators: never the secret, only the first characters of its digest. */
export interface ApiTokenView {
  name: string;
  scope: string;
  /** First 12 hex characters of the digest: tells two tokens apart without revealing anything usable. */
  fingerprint: string;
  createdAt: Date;
  revokedAt: Date | null;
}

function view(record: ApiTokenRecord): ApiTokenView {
  return { name: record.name, scope: record.scope, fingerprint: record.sha256.slice(0, 12), createdAt: record.createdAt, revokedAt: record.revokedAt };
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_TOKEN_NAME) {
    throw new ValidationError('INVALID_OPTION', `a token name is 1 to ${MAX_TOKEN_NAME} characters, got ${typeof name === 'string' ? `${name.length}` : typeof name}`);
  }
  assertStorableText(name, 'token name');
}

/** Creates a token; the secret is in the answer and nowhere else (the store keeps its digest). */
export async function createApiToken(store: Store, params: { name: string; scope: ApiTokenScope }): Promise<{ token: string; view: ApiTokenView }> {
  checkName(params.name);
  // A new token's name follows the rule of every other name (it shows in logs, lists and the
  // 403 that names a token's scope); revoking still takes any name an earlier version stored.
  assertValidName('token name', params.name);
  if (!API_TOKEN_SCOPES.includes(params.scope)) {
    throw new ValidationError('INVALID_OPTION', `a token scope is one of ${API_TOKEN_SCOPES.join(', ')}, got ${String(params.scope)}`);
  }
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const sha256 = createHash('sha256').update(token, 'utf8').digest('hex');
  const record = await store.tokenInsert({ token: { name: params.name, scope: params.scope, sha256 } });
  if (record === null) throw new StateError(`a token named "${params.name}" exists already; revoke it first (nightshift tokens revoke ${params.name}) or pick another name`);
  return { token, view: view(record) };
}

export async function listApiTokens(store: Store): Promise<ApiTokenView[]> {
  return (await store.tokenList()).map(view);
}

/** Revokes the token named `name`; StateError when there is no unrevoked one. */
export async function revokeApiToken(store: Store, name: string): Promise<ApiTokenView> {
  checkName(name);
  const record = await store.tokenRevoke({ name });
  if (record === null) throw new StateError(`no unrevoked token is named "${name}" (see nightshift tokens list)`);
  return view(record);
}

/**
 * The unrevoked tokens as the HTTP API checks them (name, scope, digest), and whether the store
 * has any token at all: then the API requires one even when all are revoked.
 */
export async function activeApiTokens(store: Store): Promise<{ tokens: { name: string; scope: ApiTokenScope; sha256: string }[]; required: boolean }> {
  const records = await store.tokenList();
  const tokens = records
    .filter((record) => record.revokedAt === null && (API_TOKEN_SCOPES as readonly string[]).includes(record.scope))
    .map((record) => ({ name: record.name, scope: record.scope as ApiTokenScope, sha256: record.sha256 }));
  return { tokens, required: records.length > 0 };
}
