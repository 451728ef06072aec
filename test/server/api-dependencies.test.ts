// Dependencies over real loopback HTTP, on both stores: POST /api/jobs takes dependsOn and
// onDependencyFailure, the job answers `waiting`, "why" names what it waits for, and an unknown
// dependency is a 400 that stores nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { callJson, storedJobs, type Reply } from '../support/http-call.js';

const step = defineJob({ name: 'pipeline.step', handler: async () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`dependencies over HTTP on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    let base: string;
    const call = (method: string, path: string, body?: unknown): Promise<Reply> => callJson(base, method, path, body);

    beforeEach(async () => {
      opened = await kind.open();
      nightshift = createNightshift({ store: opened.store, jobs: [step], worker: false, http: { port: 0 } });
      await nightshift.start();
      base = nightshift.httpAddress!;
    });
    afterEach(async () => {
      await nightshift.stop();
      await opened.cleanup();
    });

    it('enqueues a job that waits for others, says why, and refuses unknown or malformed dependencies', async () => {
      const first = await call('POST', '/api/jobs', { name: 'pipeline.step', data: { n: 1 } });
      expect(first.status).toBe(201);
      const id = (first.body as { job: { id: string } }).job.id;
      const second = await call('POST', '/api/jobs', { name: 'pipeline.step', data: { n: 2 }, dependsOn: [id], onDependencyFailure: 'run' });
      expect(second.status).toBe(201);
      const waiting = (second.body as { job: { id: string; state: string } }).job;
      expect(waiting.state).toBe('waiting');
      const why = await call('GET', `/api/jobs/${waiting.id}/why`);
      expect(why.body).toMatchObject({ code: 'waiting', waitingOn: [id], message: `waiting for 1 of its 1 dependencies to complete: job ${id}` });

      const before = await storedJobs(opened.store);
      const unknown = await call('POST', '/api/jobs', { name: 'pipeline.step', data: {}, dependsOn: ['987654321'] });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({ error: { code: 'UNKNOWN_DEPENDENCY', message: expect.stringContaining('987654321') } });
      const malformed = await call('POST', '/api/jobs', { name: 'pipeline.step', data: {}, dependsOn: ['12; drop table'] });
      expect(malformed.status).toBe(400);
      expect(malformed.body).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
      const badPolicy = await call('POST', '/api/jobs', { name: 'pipeline.step', data: {}, dependsOn: [id], onDependencyFailure: 'later' });
      expect(badPolicy.status).toBe(400);
      expect(await storedJobs(opened.store)).toBe(before);
    });
  });
}
