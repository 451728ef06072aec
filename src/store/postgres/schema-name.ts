import { createHash } from 'node:crypto';
import pg from 'pg';
import { ConfigError } from '../../errors.js';

/** Default PostgreSQL schema holding Nightshift's tables. */
export const DEFAULT_SCHEMA = 'nightshift';

/**
 * Accepted schema names: lower-case letter or underscore first, then letters, digits, underscores;
 * at most 48 characters so that the notification channel name (`nightshift:<schema>`) stays under
 * PostgreSQL's 63-byte identifier limit. The name is still always quoted with `escapeIdentifier`;
 * the pattern only keeps names that need no quoting from psql either.
 */
export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,47}$/;

/** Everything derived from the schema name that ends up in SQL text. */
export interface SchemaNames {
  /** The schema name as given. */
  readonly schema: string;
  /** The quoted identifier, e.g. `"nightshift"`; the only form interpolated into SQL. */
  readonly quoted: string;
  /** LISTEN/NOTIFY channel for "jobs may be available" wake-ups. */
  readonly channel: string;
  /** Suffix for prepared-statement names, so two stores on one connection never clash. */
  readonly statementSuffix: string;
  /** Key of the advisory lock that serialises migrations of this schema (pg_advisory_xact_lock). */
  readonly migrationLockKey: string;
}

/** Validates `schema` and derives the names used in SQL. Throws a `ConfigError` when invalid. */
export function schemaNames(schema: string = DEFAULT_SCHEMA): SchemaNames {
  if (typeof schema !== 'string' || !SCHEMA_NAME_PATTERN.test(schema)) {
    throw new ConfigError(
      `postgres store: schema ${JSON.stringify(schema)} is not accepted; use 1–48 characters of a–z 0–9 _ starting with a letter or underscore`,
    );
  }
  const digest = createHash('sha256').update(schema).digest();
  return {
    schema,
    quoted: pg.escapeIdentifier(schema),
    channel: `nightshift:${schema}`,
    statementSuffix: digest.subarray(0, 4).toString('hex'),
    // A signed 64-bit key from the schema name: every process computes the same lock for the same
    // schema, and different schemas migrate independently.
    migrationLockKey: digest.readBigInt64BE(4).toString(),
  };
}
