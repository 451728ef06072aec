/**
 * What the parts of the SQLite store share: the connection, its prepared statements, the clock
 * and the wake-up notifier.
 */
import type Database from 'better-sqlite3';
import type { EventBatch } from '../types.js';
import type { EventRider } from './sqlite-event-rider.js';
import type { JobInserter } from './sqlite-job-insert.js';
import { RAW_STATEMENTS, SQL, type StatementName } from './sqlite-statements.js';

/** Every statement of `SQL`, prepared on one connection. */
export type PreparedStatements = Record<StatementName, Database.Statement>;

/** Prepares every statement once; the tables must exist (call after migrating). */
export function prepareStatements(db: Database.Database): PreparedStatements {
  const prepared = {} as PreparedStatements;
  for (const name of Object.keys(SQL) as StatementName[]) {
    const statement = db.prepare(SQL[name]);
    prepared[name] = RAW_STATEMENTS.has(name) ? statement.raw(true) : statement;
  }
  return prepared;
}

export interface SqliteContext {
  readonly db: Database.Database;
  /** Prepared statements, created on first use after the schema exists. */
  statements(): PreparedStatements;
  /** Job inserts on this connection. */
  readonly inserter: JobInserter;
  /** The store's clock, ms since the epoch. */
  now(): number;
  /** Tells in-process listeners that jobs of these queues may be available. */
  notify(queues: Iterable<string>): void;
  /** Feed appends waiting to be written with the next job finish. */
  readonly eventRider: EventRider<EventBatch>;
}
