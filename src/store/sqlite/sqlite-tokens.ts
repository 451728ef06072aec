/**
 * API tokens in the SQLite store: digests only. The partial unique index on unrevoked names
 * decides a race between two creations of the same name: the second insert fails and is
 * answered with null.
 */
import type Database from 'better-sqlite3';
import type { ApiTokenInsert, ApiTokenRecord } from '../types.js';
import { sqliteErrorCode } from './sqlite-errors.js';

interface TokenRow {
  name: string;
  scope: string;
  sha256: string;
  created_at: number;
  revoked_at: number | null;
}

const COLUMNS = 'name, scope, sha256, created_at, revoked_at';

function toRecord(row: TokenRow): ApiTokenRecord {
  return { name: row.name, scope: row.scope, sha256: row.sha256, createdAt: new Date(row.created_at), revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at) };
}

export function insertToken(db: Database.Database, token: ApiTokenInsert, now: number): ApiTokenRecord | null {
  try {
    const row = db
      .prepare(`INSERT INTO nightshift_api_tokens (name, scope, sha256, created_at) VALUES (?, ?, ?, ?) RETURNING ${COLUMNS}`)
      .get(token.name, token.scope, token.sha256, now) as TokenRow;
    return toRecord(row);
  } catch (error) {
    if (sqliteErrorCode(error) === 'SQLITE_CONSTRAINT_UNIQUE') return null;
    throw error;
  }
}

export function listTokens(db: Database.Database): ApiTokenRecord[] {
  return (db.prepare(`SELECT ${COLUMNS} FROM nightshift_api_tokens ORDER BY id`).all() as TokenRow[]).map(toRecord);
}

export function revokeToken(db: Database.Database, name: string, now: number): ApiTokenRecord | null {
  const row = db.prepare(`UPDATE nightshift_api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL RETURNING ${COLUMNS}`).get(now, name) as TokenRow | undefined;
  return row === undefined ? null : toRecord(row);
}
