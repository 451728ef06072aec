import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, type Client } from '../../src/client/client.js';
import { NotFoundError, StateError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { openTempStore, TestClock, type TempStore } from '../fixtures/sqlite-runtime.js';

const report = defineJob({ name: 'report.build', queue: 'reports', schema: z.object({ week: z.number() }), handler: async () => undefined });
const ping = defineJob({ name: 'ping', schema: z.object({}), handler: async () => undefined });

let temp: TempStore;
let client: Client;

beforeEach(async () => {
  temp = await openTempStore({ clock: new TestClock() });
  client = createClient({ store: temp.store, jobs: [report, ping] });
});
afterEach(async () => {
  await temp.cleanup();
});

describe('client inspection', () => {
  it('gets a job with parsed payload and its (empty) attempt history', async () => {
    const { job } = await client.enqueue(report, { week: 12 });
    const details = await client.get(job.id);
    expect(details.payload).toEqual({ week: 12 });
    expect(details.parseErrors).toEqual([]);
    expect(details.attempts).toEqual([]);
  });

  it('shows a corrupt stored payload as an error field instead of failing', async () => {
    const { job } = await client.enqueue(report, { week: 1 });
    const db = new Database(temp.file);
    db.prepare('UPDATE nightshift_jobs SET payload = ? WHERE id = ?').run('{"week": 1', Number(job.id));
    db.close();
    const details = await client.get(job.id);
    expect(details.payload).toBeUndefined();
    expect(details.parseErrors).toHaveLength(1);
    expect(details.parseErrors[0]?.field).toBe('payload');
    const page = await client.list();
    expect(page.jobs[0]?.parseErrors[0]?.field).toBe('payload');
  });

  it('throws NotFoundError for unknown and malformed ids', async () => {
    await expect(client.get('999999')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.get('abc')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(client.cancel('424242')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.retry('424242')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists with filters and pages through with the cursor', async () => {
    await client.enqueueMany(report, [{ week: 1 }, { week: 2 }, { week: 3 }]);
    await client.enqueueMany(ping, [{}, {}]);
    const reports = await client.list({ queue: 'reports' });
    expect(reports.jobs).toHaveLength(3);
    expect((await client.list({ job: 'ping' })).jobs).toHaveLength(2);
    expect((await client.list({ nameContains: 'REPORT' })).jobs).toHaveLength(3);
    expect((await client.list({ state: 'completed' })).jobs).toHaveLength(0);
    const first = await client.list({ limit: 2 });
    expect(first.jobs).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const second = await client.list({ limit: 2, cursor: first.nextCursor });
    const third = await client.list({ limit: 2, cursor: second.nextCursor });
    const ids = [...first.jobs, ...second.jobs, ...third.jobs].map((job) => job.id);
    expect(new Set(ids).size).toBe(5);
    await expect(client.list({ state: 'bogus' as never })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(client.list({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('cancels a waiting job, refuses to cancel a finished one, and retries it', async () => {
    const { job } = await client.enqueue(ping, {});
    const cancelled = await client.cancel(job.id, 'no longer needed');
    expect(cancelled.state).toBe('cancelled');
    const retried = await client.retry(job.id);
    expect(retried.state).toBe('available');
    const stats = await client.stats();
    expect(stats.totals.available).toBe(1);
    // A completed job cannot be cancelled.
    const claimed = await temp.store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 1000 });
    await temp.store.jobFinishMany({ items: [{ id: job.id, token: claimed[0]!.lease!.token, finish: { outcome: 'completed', result: null } }] });
    await expect(client.cancel(job.id)).rejects.toBeInstanceOf(StateError);
  });

  it('refuses to retry a running job', async () => {
    const { job } = await client.enqueue(ping, {});
    await temp.store.jobFetch({ queue: 'default', limit: 1, owner: 'w', leaseMs: 1000 });
    await expect(client.retry(job.id)).rejects.toBeInstanceOf(StateError);
  });
});
