import pg from 'pg';
import { describe } from 'vitest';
import { runStoreConformance, TestClock } from '../../src/store/conformance/index.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/types.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

const url = postgresUrl();

describe.skipIf(url === null)('postgres store', () => {
  runStoreConformance('postgres', async () => {
    // A fresh schema per test: the suite's "fresh, empty database".
    const { schema, drop } = testSchema(url!, 'conf');
    const clock = new TestClock();
    const open = () => createPostgresStore({ connectionString: url!, schema, clock: clock.fn, poolSize: 3 });
    const stores: Store[] = [open()];
    return {
      store: stores[0]!,
      clock,
      // Another pool and LISTEN connection on the same schema, as another process would open them.
      async openAnother() {
        const other = open();
        await other.migrate();
        stores.push(other);
        return other;
      },
      async cleanup() {
        for (const store of stores) await store.close();
        await drop();
      },
      async endWithoutSettling({ id, state }) {
        const client = new pg.Client({ connectionString: url! });
        await client.connect();
        try {
          await client.query(
            `UPDATE ${pg.escapeIdentifier(schema)}.jobs SET state = $1, finished_at = $2, lease_token = NULL, lease_expires_at = NULL WHERE id = $3::bigint`,
            [state, new Date(clock.now()), id],
          );
        } finally {
          await client.end();
        }
      },
    };
  });
});
