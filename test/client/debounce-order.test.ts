// Debounced enqueues of one key, made at once from one client, keep the last call's data, on both
// stores: on PostgreSQL they would otherwise go out on several connections and commit in any order.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const sync = defineJob({ name: 'doc.sync', schema: z.object({ i: z.number() }), handler: () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`debounce call order on ${kind.kind}`, () => {
    let opened: OpenedStore | null = null;
    afterEach(async () => {
      await opened?.cleanup();
      opened = null;
    });

    it('ten calls at once: one job, with the last call\'s data, every time', async () => {
      // A pool wide enough for the ten calls to go out at once on PostgreSQL.
      opened = await kind.open({ poolSize: 10 });
      const client = createClient({ store: opened.store, jobs: [sync] });
      for (let round = 0; round < 10; round++) {
        const key = `doc-${round}`;
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => client.enqueue(sync, { i }, { debounce: { key, delayMs: 20_000 } })));
        const ids = new Set(results.map((result) => result.job.id));
        expect(ids.size, `round ${round}`).toBe(1);
        const stored = await client.get([...ids][0]!);
        expect(stored.payload, `round ${round}`).toEqual({ i: 9 });
      }
    });
  });
}
