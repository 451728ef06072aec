/**
 * Statements a module prepares once per connection, on first use (the tables exist by then):
 * `const statements = preparedOnce(SQL)` then `statements(ctx).name.run(…)`.
 */
import type Database from 'better-sqlite3';
import type { SqliteContext } from './sqlite-context.js';

export function preparedOnce<K extends string>(sql: Readonly<Record<K, string>>): (ctx: SqliteContext) => Record<K, Database.Statement> {
  const byConnection = new WeakMap<Database.Database, Record<K, Database.Statement>>();
  return (ctx) => {
    let found = byConnection.get(ctx.db);
    if (!found) {
      found = Object.fromEntries(Object.entries(sql).map(([name, text]) => [name, ctx.db.prepare(text as string)])) as Record<K, Database.Statement>;
      byConnection.set(ctx.db, found);
    }
    return found;
  };
}
