// The dead-letter workflow over real loopback HTTP, on both stores: list and retry dead jobs by
// the kind of their last error, and a malformed kind is a 400.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { errorRecord } from '../../src/store/conformance/conformance-fixtures.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { callJson, type Reply } from '../support/http-call.js';

const call = defineJob({ name: 'remote.call', handler: async () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`dead jobs by error kind over HTTP on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    let base: string;
    const request = (method: string, path: string, body?: unknown): Promise<Reply> => callJson(base, method, path, body);

    beforeEach(async () => {
      opened = await kind.open();
      nightshift = createNightshift({ store: opened.store, jobs: [call], worker: false, http: { port: 0 } });
      await nightshift.start();
      base = nightshift.httpAddress!;
    });
    afterEach(async () => {
      await nightshift.stop();
      await opened.cleanup();
    });

    it('lists and retries dead jobs of one error kind only', async () => {
      const ids: Record<string, string> = {};
      for (const errorKind of ['timeout', 'timeout', 'lease_expired']) {
        const { job } = await nightshift.enqueue(call, {});
        const [claimed] = await opened.store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 60_000, ids: [job.id] });
        await opened.store.jobFinishMany({ items: [{ id: job.id, token: claimed!.lease!.token, finish: { outcome: 'dead', error: errorRecord({ kind: errorKind }) } }] });
        ids[job.id] = errorKind;
      }
      const listed = await request('GET', '/api/jobs?state=dead&errorKind=timeout');
      expect(listed.status).toBe(200);
      expect((listed.body as { jobs: { id: string }[] }).jobs.map((job) => ids[job.id])).toEqual(['timeout', 'timeout']);
      const both = await request('GET', '/api/jobs?errorKind=timeout,lease_expired');
      expect((both.body as { jobs: unknown[] }).jobs).toHaveLength(3);
      const retried = await request('POST', '/api/jobs/retry', { state: ['dead'], errorKind: ['lease_expired'] });
      expect(retried.body).toMatchObject({ changed: 1 });
      const bad = await request('GET', '/api/jobs?errorKind=Time%20Out');
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    });
  });
}
