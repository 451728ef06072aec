/**
 * API tokens in the PostgreSQL store: digests only. The partial unique index on unrevoked names
 * decides a race between two creations of the same name (ON CONFLICT DO NOTHING: null).
 */
import type pg from 'pg';
import type { ApiTokenInsert, ApiTokenRecord } from '../types.js';
import { run } from './postgres-jobs.js';
import type { SchemaNames } from './schema-name.js';

const NOW = 'coalesce($1::timestamptz, now())';
const COLUMNS = 'name, scope, sha256, created_at, revoked_at';

export function tokenStatements(names: SchemaNames) {
  const s = names.quoted;
  return {
    insert: {
      text: `INSERT INTO ${s}.api_tokens (name, scope, sha256, created_at) VALUES ($2, $3, $4, ${NOW})
             ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING RETURNING ${COLUMNS}`,
    },
    list: { text: `SELECT ${COLUMNS} FROM ${s}.api_tokens ORDER BY id` },
    revoke: { text: `UPDATE ${s}.api_tokens SET revoked_at = ${NOW} WHERE name = $2 AND revoked_at IS NULL RETURNING ${COLUMNS}` },
  };
}

export interface PgTokenContext {
  pool: pg.Pool;
  sql: ReturnType<typeof tokenStatements>;
  now(): Date | null;
}

interface TokenRow {
  name: string;
  scope: string;
  sha256: string;
  created_at: Date;
  revoked_at: Date | null;
}

const toRecord = (row: TokenRow): ApiTokenRecord => ({ name: row.name, scope: row.scope, sha256: row.sha256, createdAt: row.created_at, revokedAt: row.revoked_at });

export async function insertToken(ctx: PgTokenContext, token: ApiTokenInsert): Promise<ApiTokenRecord | null> {
  const { rows } = await run<TokenRow>(ctx.pool, ctx.sql.insert, [ctx.now(), token.name, token.scope, token.sha256]);
  return rows[0] === undefined ? null : toRecord(rows[0]);
}

export async function listTokens(ctx: PgTokenContext): Promise<ApiTokenRecord[]> {
  const { rows } = await run<TokenRow>(ctx.pool, ctx.sql.list, []);
  return rows.map(toRecord);
}

export async function revokeToken(ctx: PgTokenContext, name: string): Promise<ApiTokenRecord | null> {
  const { rows } = await run<TokenRow>(ctx.pool, ctx.sql.revoke, [ctx.now(), name]);
  return rows[0] === undefined ? null : toRecord(rows[0]);
}
