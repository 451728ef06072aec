import type pg from 'pg';

/**
 * Runs `fn` inside BEGIN … COMMIT on a connection checked out of `pool`. On an error the
 * connection is destroyed (the server rolls back); a `Rollback` thrown by `fn` rolls back and
 * keeps the connection.
 *
 * While a client is checked out, pg-pool listens for nothing on it, and a connection killed under
 * it (server restart, pg_terminate_backend) emits 'error' on the client after failing the running
 * query; unhandled, that event would crash the process. The query's own rejection carries the
 * error to the caller, so the listener only has to exist. A connection that failed is destroyed
 * on release instead of going back to the pool.
 */
export async function inTransaction<T>(pool: Pick<pg.Pool, 'connect'>, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const ignore = () => undefined;
  client.on('error', ignore);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (error instanceof Rollback) {
      // A deliberate rollback on a healthy connection: it goes back to the pool.
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
    } else {
      // After an error the connection is destroyed, which ends the transaction on the server.
      // No ROLLBACK first: on a connection that stopped answering it would wait out another
      // query timeout before the caller even hears of the failure.
      broken = true;
    }
    throw error;
  } finally {
    client.off('error', ignore);
    client.release(broken);
  }
}

/** Thrown inside `inTransaction` to roll back without it being an error for the caller. */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

/** Like `inTransaction`, but a returned `Rollback` rolls back and yields its value. */
export async function inTransactionOrRollback<T>(pool: Pick<pg.Pool, 'connect'>, fn: (client: pg.PoolClient) => Promise<T | Rollback<T>>): Promise<T> {
  try {
    return await inTransaction(pool, async (client) => {
      const result = await fn(client);
      if (result instanceof Rollback) throw result;
      return result;
    });
  } catch (error) {
    if (error instanceof Rollback) return error.value as T;
    throw error;
  }
}
