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
    };
  });
});
