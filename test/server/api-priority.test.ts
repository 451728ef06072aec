// Named priorities over real loopback HTTP, on both stores: POST /api/jobs, the bulk enqueue and
// schedules take `priority` as a number or a name and store its number; an unknown name is a 400
// that names what is accepted; the OpenAPI document shows both forms.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { callJson, storedJobs, type Reply } from '../support/http-call.js';

const report = defineJob({ name: 'report.build', handler: async () => undefined });


const ACCEPTED = 'priority: must be an integer from -1000000 to 1000000 or one of critical (1000), high (100), normal (0), low (-100)';

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`named priorities over HTTP on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    let base: string;

    const call = (method: string, path: string, body?: unknown): Promise<Reply> => callJson(base, method, path, body);

    const stored = (): Promise<number> => storedJobs(opened.store);

    beforeEach(async () => {
      opened = await kind.open();
      nightshift = createNightshift({ store: opened.store, jobs: [report], worker: false, http: { port: 0 } });
      await nightshift.start();
      base = nightshift.httpAddress!;
    });
    afterEach(async () => {
      await nightshift.stop();
      await opened.cleanup();
    });

    it('POST /api/jobs with priority "high" stores 100; a negative number and "low" are accepted', async () => {
      const high = await call('POST', '/api/jobs', { name: 'report.build', priority: 'high' });
      expect(high.status, high.text).toBe(201);
      expect(high.body.job.priority).toBe(100);
      expect((await opened.store.jobGet({ id: high.body.job.id }))?.priority).toBe(100);
      const low = await call('POST', '/api/jobs', { name: 'report.build', priority: 'low' });
      expect(low.body.job.priority).toBe(-100);
      const numeric = await call('POST', '/api/jobs', { name: 'report.build', priority: -7 });
      expect(numeric.body.job.priority).toBe(-7);
      const got = await call('GET', `/api/jobs/${low.body.job.id}`);
      expect(got.body.priority).toBe(-100);
    });

    it.each([
      ['an unknown name', 'urgent'],
      ['a name in another case', 'HIGH'],
      ['a numeric string', '5'],
      ['a fraction', 1.5],
      ['a number past the maximum', 2_000_000],
      ['a number past the minimum', -2_000_000],
      ['null', null],
    ])('POST /api/jobs refuses %s with 400 naming the accepted names, and stores nothing', async (_what, priority) => {
      const reply = await call('POST', '/api/jobs', { name: 'report.build', priority });
      expect(reply.status, reply.text).toBe(400);
      expect(typeof reply.body.error.code).toBe('string');
      expect(reply.text).toContain(ACCEPTED);
      expect(await stored()).toBe(0);
    });

    it('POST /api/jobs/bulk takes a name for every item', async () => {
      const reply = await call('POST', '/api/jobs/bulk', { name: 'report.build', items: [{}, {}], priority: 'critical' });
      expect(reply.status, reply.text).toBeLessThan(300);
      const jobs = await opened.store.jobFetch({ queue: 'default', limit: 10, owner: 'w', leaseMs: 60_000 });
      expect(jobs.map((job) => job.priority)).toEqual([1000, 1000]);
      const bad = await call('POST', '/api/jobs/bulk', { name: 'report.build', items: [{}], priority: 'urgent' });
      expect(bad.status).toBe(400);
      expect(bad.text).toContain(ACCEPTED);
    });

    it('a schedule created with priority "low" keeps -100 for the jobs it creates', async () => {
      const created = await call('POST', '/api/schedules', { id: 'nightly', jobId: 'report.build', schedule: '0 3 * * *', priority: 'low' });
      expect(created.status, created.text).toBe(201);
      expect(created.body.jobOptions).toEqual({ priority: -100 });
      const bad = await call('POST', '/api/schedules', { id: 'other', jobId: 'report.build', schedule: '0 3 * * *', priority: 'urgent' });
      expect(bad.status).toBe(400);
      expect(bad.text).toContain(ACCEPTED);
    });

    it('the OpenAPI document shows priority as an integer or one of the names', async () => {
      const doc = (await call('GET', '/api/openapi.json')).body;
      const schema = doc.paths['/api/jobs'].post.requestBody.content['application/json'].schema;
      const priority = schema.properties.priority;
      expect(priority.anyOf).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'integer', minimum: -1_000_000, maximum: 1_000_000 }),
          expect.objectContaining({ type: 'string', enum: ['critical', 'high', 'normal', 'low'] }),
        ]),
      );
      expect(priority.description).toContain('critical = 1000');
    });
  });
}
