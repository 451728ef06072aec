// Deeply nested payloads over real loopback HTTP, on both stores. POST /api/jobs (and the bulk
// enqueue) answers 400 PAYLOAD_NOT_SERIALIZABLE naming the nesting limit instead of a 500 from a
// stack overflow, and stores nothing. A job whose stored payload or result is deeper than the limit
// — written around the checks: a row written straight into the table (an older version, a hand
// edit; the SQL enqueue() function refuses it like the core), a store finish — still reads through GET /api/jobs/:id and the list: the
// value is null with a `parseErrors` entry that says why, and the rest of the job is intact.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { MAX_PAYLOAD_DEPTH } from '../../src/job/input-bounds.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { callJson, storedJobs, type Reply } from '../support/http-call.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

const deepJob = defineJob({ name: 'deep.job', handler: async () => undefined });

/** The JSON text of `levels` arrays nested in one another. */
const nestedText = (levels: number): string => `${'['.repeat(levels)}0${']'.repeat(levels)}`;

const LIMIT_MESSAGE = `more than ${MAX_PAYLOAD_DEPTH} levels deep`;

/** A store plus a way to write a job's payload without any of the core's checks. */
interface RawStore {
  store: Store;
  /** Stores a job of `name` with `payload` (JSON text) as only the database checks it; returns its id. */
  insertUnchecked(name: string, payload: string): Promise<string>;
  cleanup(): Promise<void>;
}

const url = postgresUrl();

const KINDS: { kind: 'sqlite' | 'postgres'; available: boolean; open(): Promise<RawStore> }[] = [
  {
    kind: 'sqlite',
    available: true,
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-deep-api-'));
      const file = path.join(dir, 'jobs.db');
      const store = createSqliteStore({ path: file });
      await store.migrate();
      return {
        store,
        async insertUnchecked(name, payload) {
          // SQLite has no enqueue function: a job enqueued normally, then its payload rewritten
          // straight in the database file over a second connection, as a hand edit would.
          const [inserted] = await store.jobInsertMany({
            jobs: [{ name, queue: 'default', payload: '{}', priority: 0, maxAttempts: 3, runAt: null, key: null, timeoutMs: null, scheduleId: null, meta: null }],
          });
          const db = new Database(file);
          try {
            db.prepare('UPDATE nightshift_jobs SET payload = ? WHERE id = ?').run(payload, Number(inserted!.job.id));
          } finally {
            db.close();
          }
          return inserted!.job.id;
        },
        async cleanup() {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    kind: 'postgres',
    available: url !== null,
    async open() {
      const { schema, drop } = testSchema(url!, 'deepapi');
      const store = createPostgresStore({ connectionString: url!, schema, poolSize: 3 });
      await store.migrate();
      const admin = new pg.Client({ connectionString: url! });
      admin.on('error', () => undefined);
      await admin.connect();
      return {
        store,
        async insertUnchecked(name, payload) {
          // The SQL function other languages enqueue with refuses it (migration 26), as the core
          // does: written straight into the table, as a row of an older version or a hand edit.
          const s = pg.escapeIdentifier(schema);
          await expect(admin.query(`SELECT ${s}.enqueue($1, $2::jsonb, '{"queue":"default"}')`, [name, payload])).rejects.toThrow(/more than 256 levels deep/);
          const { rows } = await admin.query<{ id: string }>(
            `INSERT INTO ${s}.jobs (name, queue, payload, state, priority, max_attempts, run_at, created_at) VALUES ($1, 'default', $2, 'available', 0, 3, now(), now()) RETURNING id::text AS id`,
            [name, payload],
          );
          return rows[0]!.id;
        },
        async cleanup() {
          await admin.end().catch(() => undefined);
          await store.close();
          await drop();
        },
      };
    },
  },
];

for (const kind of KINDS) {
  describe.skipIf(!kind.available)(`deeply nested payloads over HTTP on ${kind.kind}`, () => {
    let raw: RawStore;
    let nightshift: Nightshift;
    let base: string;

    const call = (method: string, route: string, body?: unknown): Promise<Reply> => callJson(base, method, route, body);

    beforeEach(async () => {
      raw = await kind.open();
      nightshift = createNightshift({ store: raw.store, jobs: [deepJob], worker: false, http: { port: 0 } });
      await nightshift.start();
      base = nightshift.httpAddress!;
    });
    afterEach(async () => {
      await nightshift.stop();
      await raw.cleanup();
    });

    it('POST /api/jobs with 3,000 levels of arrays (a 6 KB body) answers 400 naming the limit, and stores nothing', async () => {
      const body = `{"name":"deep.job","data":{"label":"x","n":${nestedText(3_000)}}}`;
      expect(body.length).toBeGreaterThan(6_000);
      const reply = await call('POST', '/api/jobs', body);
      expect(reply.status, reply.text).toBe(400);
      expect(reply.body.error.code).toBe('PAYLOAD_NOT_SERIALIZABLE');
      expect(reply.body.error.message).toContain(`payload nests arrays and objects ${LIMIT_MESSAGE} (at payload.n.0.0.0.0.…)`);
      // The standard shape: every issue with its whole path.
      expect(reply.body.error.details.issues).toEqual([{ path: ['n', ...Array(MAX_PAYLOAD_DEPTH - 1).fill('0')].join('.'), message: `nested ${LIMIT_MESSAGE}` }]);
      expect(await storedJobs(raw.store)).toBe(0);

      const bulk = await call('POST', '/api/jobs/bulk', `{"name":"deep.job","items":[{"data":{}},{"data":${nestedText(5_000)}}]}`);
      expect(bulk.status, bulk.text).toBe(400);
      expect(bulk.body.error).toMatchObject({ code: 'PAYLOAD_NOT_SERIALIZABLE', message: expect.stringMatching(/^item 1: payload nests arrays and objects more than 256 levels deep/) });
      expect(await storedJobs(raw.store)).toBe(0);
    });

    it('a payload nested exactly to the limit is accepted and reads back unchanged', async () => {
      const data = JSON.parse(`{"label":"x","n":${nestedText(MAX_PAYLOAD_DEPTH - 1)}}`) as unknown;
      const created = await call('POST', '/api/jobs', { name: 'deep.job', data });
      expect(created.status, created.text).toBe(201);
      expect(created.body.job.payload).toEqual(data);
      const read = await call('GET', `/api/jobs/${created.body.job.id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body.payload).toEqual(data);
      expect(read.body.parseErrors).toEqual([]);
      const one = await call('POST', '/api/jobs', { name: 'deep.job', data: { label: 'x', n: [data] } });
      expect(one.status, one.text).toBe(400);
    });

    it('a stored payload deeper than the limit still reads, through GET /api/jobs/:id and the list, as null with a parse error', async () => {
      const normal = await call('POST', '/api/jobs', { name: 'deep.job', data: { label: 'fine' } });
      expect(normal.status, normal.text).toBe(201);
      const id = await raw.insertUnchecked('deep.job', `{"label":"x","n":${nestedText(5_000)}}`);
      // The store keeps it as it was written.
      expect((await raw.store.jobGet({ id }))!.payload.length).toBeGreaterThan(10_000);

      const read = await call('GET', `/api/jobs/${id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body).toMatchObject({ id, name: 'deep.job', state: 'available', payload: null, result: null, attempts: [] });
      expect(read.body.parseErrors).toEqual([{ field: 'payload', message: expect.stringContaining(LIMIT_MESSAGE) }]);

      const list = await call('GET', '/api/jobs');
      expect(list.status, list.text).toBe(200);
      const byId = new Map<string, { payload: unknown; parseErrors: unknown[] }>(list.body.jobs.map((job: { id: string }) => [job.id, job]));
      expect(byId.get(id)).toMatchObject({ payload: null, parseErrors: [{ field: 'payload' }] });
      expect(byId.get(normal.body.job.id)).toMatchObject({ payload: { label: 'fine' }, parseErrors: [] });
      const filtered = await call('GET', '/api/jobs?name=deep.job&state=available');
      expect(filtered.status, filtered.text).toBe(200);
      expect(filtered.body.jobs).toHaveLength(2);
    });

    it('a stored result deeper than the limit (job and attempt) reads as null with the reason', async () => {
      const created = await call('POST', '/api/jobs', { name: 'deep.job', data: { label: 'x' } });
      const id = created.body.job.id as string;
      // A finish written straight through the store, as an older version (or another writer) could.
      const [claimed] = await raw.store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 60_000 });
      expect(claimed?.id).toBe(id);
      const finished = await raw.store.jobFinishMany({ items: [{ id, token: claimed!.lease!.token, finish: { outcome: 'completed', result: `{"tree":${nestedText(5_000)}}` } }] });
      expect(finished.applied).toEqual([id]);

      const read = await call('GET', `/api/jobs/${id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body).toMatchObject({ state: 'completed', payload: { label: 'x' }, result: null });
      expect(read.body.parseErrors).toEqual([{ field: 'result', message: expect.stringContaining(LIMIT_MESSAGE) }]);
      expect(read.body.attempts).toHaveLength(1);
      expect(read.body.attempts[0]).toMatchObject({ outcome: 'completed', result: null, resultError: expect.stringContaining(LIMIT_MESSAGE) });
      const list = await call('GET', '/api/jobs?state=completed');
      expect(list.status, list.text).toBe(200);
      expect(list.body.jobs[0]).toMatchObject({ id, result: null });
    });
  });
}
