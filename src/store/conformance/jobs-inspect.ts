/** Conformance: listing and inspecting jobs, cancel, retry, stats and pruning. */
import { describe, expect, it } from 'vitest';
import { StateError } from '../../errors.js';
import { JOB_STATES, type JobListPage, type JobRecord, type JobState } from '../types.js';
import { errorRecord, fetchJobs, insertAndClaim, insertJob, jobInput, LEASE_MS, LOST_ERROR, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

function zeroCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
}

export function describeJobInspect(factory: StoreFactory): void {
  describe('job list and management', () => {
    const t = useStoreFixture(factory);

    it('errorKinds: jobs whose last error is of one of the kinds; none without an error; empty list matches nothing', async () => {
      const timeout = await insertAndClaim(t.store);
      const lost = await insertAndClaim(t.store);
      const plain = await insertAndClaim(t.store);
      const ok = await insertAndClaim(t.store);
      await t.store.jobFinishMany({
        items: [
          { id: timeout.id, token: timeout.lease.token, finish: { outcome: 'dead', error: errorRecord({ kind: 'timeout' }) } },
          { id: lost.id, token: lost.lease.token, finish: { outcome: 'dead', error: errorRecord({ kind: 'lease_expired' }) } },
          { id: plain.id, token: plain.lease.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 1000 } },
          { id: ok.id, token: ok.lease.token, finish: { outcome: 'completed', result: null } },
        ],
      });
      const ids = async (errorKinds: string[], states?: ('dead' | 'retryable')[]) =>
        (await t.store.jobList({ filter: { errorKinds, ...(states ? { states } : {}) }, limit: 100 })).jobs.map((job) => job.id).sort();
      expect(await ids(['timeout'])).toEqual([timeout.id]);
      expect(await ids(['timeout', 'lease_expired'])).toEqual([timeout.id, lost.id].sort());
      expect(await ids(['error'])).toEqual([plain.id]);
      expect(await ids(['error'], ['dead'])).toEqual([]);
      expect(await ids(['nothing_like_it'])).toEqual([]);
      expect(await ids([])).toEqual([]);
    });

    it('lists newest first and pages with a cursor until the end', async () => {
      const results = await t.store.jobInsertMany({ jobs: Array.from({ length: 12 }, (_, i) => jobInput({ payload: String(i) })) });
      const expected = results.map((r) => r.job.id).reverse();
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const result = await t.store.jobList({ limit: 5, cursor });
        seen.push(...result.jobs.map((j) => j.id));
        cursor = result.nextCursor;
        if (cursor === null) break;
        expect(result.jobs).toHaveLength(5);
      }
      expect(seen).toEqual(expected);
      expect(cursor).toBeNull();
    });

    it('the last full page has no next cursor when nothing follows', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 4 }, () => jobInput()) });
      const first = await t.store.jobList({ limit: 4 });
      expect(first.jobs).toHaveLength(4);
      expect(first.nextCursor).toBeNull();
      expect((await t.store.jobList({})).jobs).toHaveLength(4);
    });

    it('defaults to 50 jobs a page and never returns more than 1000', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 1005 }, () => jobInput()) });
      const first = await t.store.jobList({});
      expect(first.jobs).toHaveLength(50);
      expect(first.nextCursor).not.toBeNull();
      const big = await t.store.jobList({ limit: 5000 });
      expect(big.jobs).toHaveLength(1000);
      const rest = await t.store.jobList({ limit: 5000, cursor: big.nextCursor });
      expect(rest.jobs).toHaveLength(5);
      expect(rest.nextCursor).toBeNull();
    });

    it('pages through a filtered list without skipping or repeating', async () => {
      const results = await t.store.jobInsertMany({
        jobs: Array.from({ length: 30 }, (_, i) => jobInput({ queue: i % 3 === 0 ? 'wanted' : 'other' })),
      });
      const expected = results.filter((r) => r.job.queue === 'wanted').map((r) => r.job.id).reverse();
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 20; page++) {
        const result = await t.store.jobList({ filter: { queues: ['wanted'] }, limit: 3, cursor });
        seen.push(...result.jobs.map((j) => j.id));
        cursor = result.nextCursor;
        if (cursor === null) break;
      }
      expect(seen).toEqual(expected);
    });

    it('a filtered page looks at scanIds ids at most: short or empty pages carry a cursor until the end', async () => {
      const results = await t.store.jobInsertMany({ jobs: Array.from({ length: 30 }, (_, i) => jobInput({ name: i === 1 || i === 24 ? 'needle' : 'hay' })) });
      const ids = results.map((r) => Number(r.job.id));
      const needles = [ids[24]!, ids[1]!].map(String);
      const pages: { jobs: string[]; cursor: string | null }[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const result = await t.store.jobList({ filter: { names: ['needle'] }, limit: 10, cursor, scanIds: 10 });
        pages.push({ jobs: result.jobs.map((j) => j.id), cursor: result.nextCursor });
        cursor = result.nextCursor;
        if (cursor === null) break;
      }
      expect(pages.flatMap((page) => page.jobs)).toEqual(needles);
      expect(pages.at(-1)!.cursor).toBeNull();
      // The ten ids between the two needles fill a page's window with nothing: an empty page that goes on.
      expect(pages.some((page) => page.jobs.length === 0 && page.cursor !== null)).toBe(true);
      // Each page's jobs lie within ten ids below where it started.
      let start = Math.max(...ids) + 1;
      for (const page of pages) {
        for (const id of page.jobs) expect(Number(id)).toBeGreaterThanOrEqual(start - 10);
        if (page.cursor !== null) start = Number(page.cursor);
      }
      // Without a filter a page is always full while jobs remain, whatever scanIds says.
      expect((await t.store.jobList({ limit: 25, scanIds: 10 })).jobs).toHaveLength(25);
      // By default a page looks far enough for this table: both needles in one page, no cursor.
      expect(await t.store.jobList({ filter: { names: ['needle'] } })).toEqual({ jobs: expect.any(Array), nextCursor: null });
      expect((await t.store.jobList({ filter: { names: ['needle'] } })).jobs.map((j) => j.id)).toEqual(needles);
    });

    it('filters by states, queues, names and schedule', async () => {
      const a = await insertJob(t.store, { name: 'report.build', queue: 'reports' });
      const b = await insertJob(t.store, { name: 'mail.send', queue: 'mail', scheduleId: 'nightly' });
      const c = await insertJob(t.store, { name: 'mail.send', queue: 'mail', runAt: new Date(t.clock.now() + 60_000) });
      const ids = async (filter: Parameters<typeof t.store.jobList>[0]['filter']) => (await t.store.jobList({ filter })).jobs.map((j) => j.id);
      expect(await ids({ states: ['scheduled'] })).toEqual([c.id]);
      expect(await ids({ states: ['available', 'scheduled'] })).toEqual([c.id, b.id, a.id]);
      expect(await ids({ queues: ['reports'] })).toEqual([a.id]);
      expect(await ids({ names: ['mail.send'] })).toEqual([c.id, b.id]);
      expect(await ids({ names: ['mail.send'], states: ['available'] })).toEqual([b.id]);
      expect(await ids({ scheduleId: 'nightly' })).toEqual([b.id]);
      expect(await ids({ states: ['dead'] })).toEqual([]);
      expect(await ids({ queues: [] })).toEqual([]);
    });

    it('filters by a case-insensitive name substring, taking % and _ literally', async () => {
      const upper = await insertJob(t.store, { name: 'Reports.Weekly' });
      const pct = await insertJob(t.store, { name: 'odd%name' });
      const under = await insertJob(t.store, { name: 'snake_case.job' });
      await insertJob(t.store, { name: 'snakeXcase.job' });
      const ids = async (nameContains: string) => (await t.store.jobList({ filter: { nameContains } })).jobs.map((j) => j.id);
      expect(await ids('weekly')).toEqual([upper.id]);
      expect(await ids('REPORTS.')).toEqual([upper.id]);
      expect(await ids('%')).toEqual([pct.id]);
      expect(await ids('e_c')).toEqual([under.id]);
      expect(await ids('no-such')).toEqual([]);
    });

    describe('search: name part, key part or exact id', () => {
      // Names and keys without digits, so an id-like search can only match by id.
      const ids = async (filter: Parameters<typeof t.store.jobList>[0]['filter']) => (await t.store.jobList({ filter })).jobs.map((j) => j.id);

      it('matches a case-insensitive part of the name or of the key', async () => {
        const weekly = await insertJob(t.store, { name: 'Reports.Weekly' });
        const invoice = await insertJob(t.store, { name: 'mail.send', key: 'Invoice-ACME-june' });
        await insertJob(t.store, { name: 'mail.send', key: null });
        expect(await ids({ search: 'weekly' })).toEqual([weekly.id]);
        expect(await ids({ search: 'REPORTS.' })).toEqual([weekly.id]);
        expect(await ids({ search: 'acme' })).toEqual([invoice.id]);
        expect(await ids({ search: 'invoice-acme-JUNE' })).toEqual([invoice.id]);
        expect(await ids({ search: 'no-such' })).toEqual([]);
      });

      it('matches a job by its exact id, never by a part of it or another spelling', async () => {
        const jobs = await t.store.jobInsertMany({ jobs: Array.from({ length: 12 }, () => jobInput({ name: 'plain.job' })) });
        const target = jobs[10]!.job;
        expect(await ids({ search: target.id })).toEqual([target.id]);
        // A part of an id is only the id it spells: '1' selects job 1, never job 11.
        const part = target.id.slice(0, -1);
        expect(part).not.toBe('');
        expect(await ids({ search: part })).toEqual(jobs.filter((r) => r.job.id === part).map((r) => r.job.id));
        expect(await ids({ search: `0${target.id}` })).toEqual([]);
        expect(await ids({ search: ` ${target.id}` })).toEqual([]);
      });

      it('an id-like text that names no job matches nothing, whatever its size', async () => {
        await insertJob(t.store, { name: 'plain.job', key: 'plain' });
        expect(await ids({ search: '987654321' })).toEqual([]);
        expect(await ids({ search: '9223372036854775807' })).toEqual([]);
        expect(await ids({ search: '99999999999999999999' })).toEqual([]);
      });

      it('takes % and _ literally in the name and in the key', async () => {
        const pctName = await insertJob(t.store, { name: 'odd%name' });
        const pctKey = await insertJob(t.store, { name: 'plain.job', key: 'fifty%off' });
        const underKey = await insertJob(t.store, { name: 'plain.job', key: 'snake_case' });
        await insertJob(t.store, { name: 'plain.job', key: 'snakeXcase' });
        const slashKey = await insertJob(t.store, { name: 'plain.job', key: 'backslash\\key' });
        expect(await ids({ search: '%' })).toEqual([pctKey.id, pctName.id]);
        expect(await ids({ search: 'e_c' })).toEqual([underKey.id]);
        expect(await ids({ search: '_' })).toEqual([underKey.id]);
        expect(await ids({ search: '\\k' })).toEqual([slashKey.id]);
      });

      it('combines with the other filters and pages with a cursor', async () => {
        const a = await insertJob(t.store, { name: 'mail.send', queue: 'mail', key: 'user-anna' });
        const b = await insertJob(t.store, { name: 'mail.send', queue: 'mail', key: 'user-bob', scheduleId: 'nightly' });
        const c = await insertJob(t.store, { name: 'report.user', queue: 'reports' });
        const d = await insertJob(t.store, { name: 'mail.send', queue: 'mail', key: 'user-carl', runAt: new Date(t.clock.now() + 60_000) });
        await insertJob(t.store, { name: 'mail.send', queue: 'mail', key: 'admin' });
        expect(await ids({ search: 'user' })).toEqual([d.id, c.id, b.id, a.id]);
        expect(await ids({ search: 'user', queues: ['mail'] })).toEqual([d.id, b.id, a.id]);
        expect(await ids({ search: 'user', states: ['scheduled'] })).toEqual([d.id]);
        expect(await ids({ search: 'user', scheduleId: 'nightly' })).toEqual([b.id]);
        expect(await ids({ search: 'user', nameContains: 'report' })).toEqual([c.id]);
        expect(await ids({ search: a.id, queues: ['reports'] })).toEqual([]);
        expect(await ids({ search: a.id, queues: ['mail'] })).toEqual([a.id]);
        const first = await t.store.jobList({ filter: { search: 'USER' }, limit: 3 });
        expect(first.jobs.map((j) => j.id)).toEqual([d.id, c.id, b.id]);
        const rest = await t.store.jobList({ filter: { search: 'USER' }, limit: 3, cursor: first.nextCursor });
        expect(rest.jobs.map((j) => j.id)).toEqual([a.id]);
        expect(rest.nextCursor).toBeNull();
      });

      it('an empty search filters nothing', async () => {
        const a = await insertJob(t.store);
        expect(await ids({ search: '' })).toEqual([a.id]);
      });
    });

    it('filters by creation time', async () => {
      const early = await insertJob(t.store);
      t.clock.advance(10_000);
      const middle = await insertJob(t.store);
      t.clock.advance(10_000);
      const late = await insertJob(t.store);
      const base = early.createdAt.getTime();
      const ids = async (createdAfter?: Date, createdBefore?: Date) => (await t.store.jobList({ filter: { createdAfter, createdBefore } })).jobs.map((j) => j.id);
      expect(await ids(new Date(base + 5_000))).toEqual([late.id, middle.id]);
      expect(await ids(undefined, new Date(base + 5_000))).toEqual([early.id]);
      expect(await ids(new Date(base + 5_000), new Date(base + 15_000))).toEqual([middle.id]);
      // createdAfter is inclusive, createdBefore exclusive.
      expect(await ids(middle.createdAt, late.createdAt)).toEqual([middle.id]);
    });

    it('cancels a pending job; it is never claimed', async () => {
      const job = await insertJob(t.store);
      const cancelled = await t.store.jobCancel({ id: job.id, reason: 'operator' });
      expect(cancelled).toMatchObject({ id: job.id, state: 'cancelled', lastError: { message: 'operator', kind: 'cancelled' } });
      expect(cancelled?.finishedAt?.getTime()).toBe(t.clock.now());
      expect(await fetchJobs(t.store)).toEqual([]);
    });

    it('cancels a running job: its lease is gone and the late finish is rejected', async () => {
      const job = await insertAndClaim(t.store);
      t.clock.advance(300);
      const cancelled = await t.store.jobCancel({ id: job.id, reason: 'stop it' });
      expect(cancelled).toMatchObject({ state: 'cancelled', lease: null });
      const late = await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: '"late"' } }] });
      expect(late).toEqual({ applied: [], rejected: [job.id] });
      expect(await t.store.jobGet({ id: job.id })).toMatchObject({ state: 'cancelled', result: null });
      const attempts = await t.store.jobAttempts({ id: job.id });
      expect(attempts.map((a) => a.outcome)).toEqual(['cancelled']);
      expect(attempts[0]?.durationMs).toBe(300);
    });

    it('cancels a retryable job and a scheduled job', async () => {
      const failing = await insertAndClaim(t.store);
      await t.store.jobFinishMany({ items: [{ id: failing.id, token: failing.lease.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 1000 } }] });
      const later = await insertJob(t.store, { runAt: new Date(t.clock.now() + 60_000) });
      expect(await t.store.jobCancel({ id: failing.id, reason: 'enough' })).toMatchObject({ state: 'cancelled' });
      expect(await t.store.jobCancel({ id: later.id, reason: 'enough' })).toMatchObject({ state: 'cancelled' });
      t.clock.advance(120_000);
      expect(await fetchJobs(t.store)).toEqual([]);
      // The failed attempt stays in the history; cancelling a job that is not running adds none.
      expect((await t.store.jobAttempts({ id: failing.id })).map((a) => a.outcome)).toEqual(['failed']);
    });

    it('cancel leaves a final job unchanged and returns null for an unknown id', async () => {
      const job = await insertAndClaim(t.store);
      await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: null } }] });
      expect(await t.store.jobCancel({ id: job.id, reason: 'too late' })).toMatchObject({ state: 'completed', lastError: null });
      expect(await t.store.jobCancel({ id: '31337000', reason: 'x' })).toBeNull();
    });

    it('retries a dead job now, granting one more attempt', async () => {
      const job = await insertAndClaim(t.store, { maxAttempts: 1 });
      await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'dead', error: errorRecord() } }] });
      t.clock.advance(1_000);
      const retried = await t.store.jobRetry({ id: job.id });
      expect(retried).toMatchObject({ state: 'available', attempt: 1, maxAttempts: 2, finishedAt: null });
      expect(retried?.runAt.getTime()).toBe(t.clock.now());
      const [again] = await fetchJobs(t.store);
      expect(again).toMatchObject({ id: job.id, attempt: 2 });
    });

    it('retries a scheduled job now and a cancelled one too', async () => {
      const later = await insertJob(t.store, { runAt: new Date(t.clock.now() + 3_600_000) });
      const gone = await insertJob(t.store);
      await t.store.jobCancel({ id: gone.id, reason: 'x' });
      expect(await t.store.jobRetry({ id: later.id })).toMatchObject({ state: 'available', maxAttempts: 3 });
      expect(await t.store.jobRetry({ id: gone.id })).toMatchObject({ state: 'available' });
      expect((await fetchJobs(t.store)).map((j) => j.id).sort()).toEqual([later.id, gone.id].sort());
    });

    it('retries a job the rescuer declared dead', async () => {
      const job = await insertAndClaim(t.store, { maxAttempts: 1 });
      t.clock.advance(60_000);
      expect((await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR })).dead).toEqual([job.id]);
      expect(await t.store.jobRetry({ id: job.id })).toMatchObject({ state: 'available', attempt: 1, maxAttempts: 2 });
      const [again] = await fetchJobs(t.store);
      expect(again).toMatchObject({ id: job.id, attempt: 2 });
      await t.store.jobFinishMany({ items: [{ id: job.id, token: again!.lease!.token, finish: { outcome: 'completed', result: null } }] });
      expect((await t.store.jobAttempts({ id: job.id })).map((a) => [a.attempt, a.outcome])).toEqual([
        [1, 'lost'],
        [2, 'completed'],
      ]);
    });

    it('retries a completed job, keeping its completed attempt in the history once', async () => {
      const job = await insertAndClaim(t.store);
      t.clock.advance(250);
      await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result: '{"n":1}' } }] });
      const completedAt = t.clock.now();
      t.clock.advance(1_000);
      const retried = await Promise.all([t.store.jobRetry({ id: job.id }), t.store.jobRetry({ id: job.id })]);
      expect(retried.map((r) => r?.state)).toEqual(['available', 'available']);
      const [again] = await fetchJobs(t.store);
      expect(again).toMatchObject({ id: job.id, attempt: 2 });
      t.clock.advance(100);
      await t.store.jobFinishMany({ items: [{ id: job.id, token: again!.lease!.token, finish: { outcome: 'completed', result: '{"n":2}' } }] });
      const attempts = await t.store.jobAttempts({ id: job.id });
      expect(attempts.map((a) => [a.attempt, a.outcome, a.result, a.durationMs])).toEqual([
        [1, 'completed', '{"n":1}', 250],
        [2, 'completed', '{"n":2}', 100],
      ]);
      expect(attempts[0]?.finishedAt?.getTime()).toBe(completedAt);
    });

    it('refuses to retry a job whose key another pending job holds, changing nothing', async () => {
      const first = await insertJob(t.store, { key: 'report-42' });
      await t.store.jobCancel({ id: first.id, reason: 'replaced' });
      const second = await insertJob(t.store, { key: 'report-42' });
      const error = await t.store.jobRetry({ id: first.id }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StateError);
      expect(await t.store.jobGet({ id: first.id })).toMatchObject({ state: 'cancelled' });
      expect(await t.store.jobGet({ id: second.id })).toMatchObject({ state: 'available' });
    });

    it('leaves an available job and a waiting one as they are: no new place in line, no start before its dependencies', async () => {
      const available = await insertJob(t.store, { runAt: new Date(t.clock.now() - 60_000) });
      const dependency = await insertJob(t.store);
      const waiting = (await t.store.jobInsertMany({ jobs: [jobInput({ dependsOn: [dependency.id] })] }))[0]!.job;
      expect(waiting.state).toBe('waiting');
      t.clock.advance(5_000);
      expect(await t.store.jobRetry({ id: available.id })).toEqual(await t.store.jobGet({ id: available.id }));
      expect(await t.store.jobGet({ id: available.id })).toMatchObject({ state: 'available', runAt: available.runAt });
      expect(await t.store.jobRetry({ id: waiting.id })).toMatchObject({ id: waiting.id, state: 'waiting' });
      expect((await t.store.jobGet({ id: waiting.id }))?.state).toBe('waiting');
      // The oldest due job is still claimed first.
      expect((await fetchJobs(t.store, 'default', 1))[0]?.id).toBe(available.id);
    });

    it('refuses to retry a running job and returns null for an unknown id', async () => {
      const job = await insertAndClaim(t.store);
      const result = await t.store.jobRetry({ id: job.id });
      expect(result).toMatchObject({ id: job.id, state: 'running', lease: { token: job.lease.token } });
      expect(await t.store.jobRetry({ id: '31337001' })).toBeNull();
    });

    it('stats count jobs per queue and state, with every state present', async () => {
      expect(await t.store.jobStats()).toEqual({ queues: [], totals: zeroCounts() });
      await t.store.jobInsertMany({ jobs: [jobInput({ queue: 'a' }), jobInput({ queue: 'a' }), jobInput({ queue: 'b', runAt: new Date(t.clock.now() + 1000) })] });
      const [claimed] = await fetchJobs(t.store, 'a', 1);
      await t.store.jobFinishMany({ items: [{ id: claimed!.id, token: claimed!.lease!.token, finish: { outcome: 'completed', result: null } }] });
      const stats = await t.store.jobStats();
      expect(stats.totals).toEqual({ ...zeroCounts(), available: 1, scheduled: 1, completed: 1 });
      const byQueue = Object.fromEntries(stats.queues.map((q) => [q.queue, q.counts]));
      expect(byQueue).toEqual({ a: { ...zeroCounts(), available: 1, completed: 1 }, b: { ...zeroCounts(), scheduled: 1 } });
    });

    it('stats stay exact through every transition: insert, key duplicate, claim, each finish, cancel, retry, rescue, delete, prune', async () => {
      const truth = async () => {
        const counted: Record<string, Record<string, number>> = {};
        let cursor: string | null = null;
        do {
          const page: JobListPage = await t.store.jobList({ limit: 1000, cursor });
          for (const job of page.jobs) {
            counted[job.queue] ??= { ...zeroCounts() };
            counted[job.queue]![job.state]! += 1;
          }
          cursor = page.nextCursor;
        } while (cursor !== null);
        return counted;
      };
      const expectExact = async (step: string) => {
        const stats = await t.store.jobStats();
        expect(Object.fromEntries(stats.queues.map((q) => [q.queue, q.counts])), step).toEqual(await truth());
      };
      await t.store.jobInsertMany({ jobs: [...Array.from({ length: 8 }, () => jobInput({ queue: 'a' })), jobInput({ queue: 'b', key: 'k' }), jobInput({ queue: 'c', runAt: new Date(t.clock.now() + 60_000) })] });
      await t.store.jobInsertMany({ jobs: [jobInput({ queue: 'b', key: 'k' })] }); // swallowed by the key
      await expectExact('after inserts');
      const claimed = await fetchJobs(t.store, 'a', 7);
      await expectExact('after a claim');
      const [c1, c2, c3, c4, c5, c6, c7] = claimed as (JobRecord & { lease: NonNullable<JobRecord['lease']> })[];
      await t.store.jobFinishMany({
        items: [
          { id: c1!.id, token: c1!.lease.token, finish: { outcome: 'completed', result: null } },
          { id: c2!.id, token: c2!.lease.token, finish: { outcome: 'failed', error: errorRecord(), retryDelayMs: 1000 } },
          { id: c3!.id, token: c3!.lease.token, finish: { outcome: 'dead', error: errorRecord() } },
          { id: c4!.id, token: c4!.lease.token, finish: { outcome: 'snoozed', delayMs: 1000 } },
          { id: c5!.id, token: c5!.lease.token, finish: { outcome: 'cancelled', reason: 'self' } },
          { id: c6!.id, token: c6!.lease.token, finish: { outcome: 'released' } },
          // A finish with a wrong token changes nothing.
          { id: c7!.id, token: 'not-the-token', finish: { outcome: 'completed', result: null } },
        ],
      });
      await expectExact('after finishes');
      await t.store.jobCancel({ id: c7!.id, reason: 'operator' });
      await t.store.jobRetry({ id: c3!.id });
      await expectExact('after cancel and retry');
      const [running] = await fetchJobs(t.store, 'b', 1);
      t.clock.advance(LEASE_MS + 1_000);
      await t.store.jobRescueExpired({ limit: 10, error: LOST_ERROR });
      await expectExact('after a rescue');
      await t.store.jobDelete({ ids: [c1!.id, c5!.id, running!.id] });
      await t.store.jobPrune({ finishedBefore: new Date(t.clock.now() + 1), states: ['cancelled', 'completed', 'dead'], limit: 100 });
      await expectExact('after delete and prune');
    });

    it('newest finished by name: completed and dead jobs per name, latest finish first, with the last error', async () => {
      const finish = async (name: string, outcome: 'completed' | 'dead' | 'cancelled' | 'retry', message = name) => {
        const job = await insertAndClaim(t.store, { name });
        t.clock.advance(1_000);
        if (outcome === 'cancelled') {
          await t.store.jobCancel({ id: job.id, reason: 'cancelled' });
        } else if (outcome === 'retry') {
          await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'failed', error: errorRecord({ message }), retryDelayMs: 60_000 } }] });
        } else {
          const how = outcome === 'completed' ? { outcome, result: null } : { outcome, error: errorRecord({ message }) };
          await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: how }] });
        }
        return job;
      };
      // sync: dead, completed, dead, dead (oldest first); a cancelled and a retryable one count as neither.
      await finish('sync', 'dead', 'first');
      await finish('sync', 'completed');
      await finish('sync', 'dead', 'third');
      const early = await insertAndClaim(t.store, { name: 'sync' });
      await finish('sync', 'cancelled');
      await finish('sync', 'retry');
      // Created before the others, finished last: the finish time orders, not the id.
      t.clock.advance(1_000);
      await t.store.jobFinishMany({ items: [{ id: early.id, token: early.lease.token, finish: { outcome: 'dead', error: errorRecord({ message: 'latest' }) } }] });
      await finish('mail', 'completed');
      await insertJob(t.store, { name: 'idle' });

      const rows = await t.store.jobNewestFinished({ names: ['sync', 'mail', 'idle', 'never-seen', 'sync'], limit: 3 });
      const view = rows.map((row) => [row.name, row.state, row.lastError?.message ?? null]);
      expect(view.filter(([name]) => name === 'sync')).toEqual([
        ['sync', 'dead', 'latest'],
        ['sync', 'dead', 'third'],
        ['sync', 'completed', null],
      ]);
      expect(view.filter(([name]) => name === 'mail')).toEqual([['mail', 'completed', null]]);
      expect(view.filter(([name]) => name !== 'sync' && name !== 'mail')).toEqual([]);
      expect(rows.find((row) => row.name === 'sync')?.lastError).toMatchObject({ name: 'Error', message: 'latest' });
      expect(await t.store.jobNewestFinished({ names: ['sync'], limit: 0 })).toEqual([]);
      expect(await t.store.jobNewestFinished({ names: [], limit: 5 })).toEqual([]);
      // A retried dead job leaves the answer until it finishes again.
      expect(await t.store.jobRetry({ id: early.id })).not.toBeNull();
      const after = await t.store.jobNewestFinished({ names: ['sync'], limit: 1 });
      expect(after.map((row) => row.lastError?.message ?? null)).toEqual(['third']);
    });

    it('prunes final jobs finished before the cutoff, with their attempts, up to the limit', async () => {
      await t.store.jobInsertMany({ jobs: Array.from({ length: 4 }, () => jobInput()) });
      const claimed = await fetchJobs(t.store, 'default', 4);
      const [a, b, c, d] = claimed;
      await t.store.jobFinishMany({
        items: [
          { id: a!.id, token: a!.lease!.token, finish: { outcome: 'completed', result: null } },
          { id: b!.id, token: b!.lease!.token, finish: { outcome: 'dead', error: errorRecord() } },
          { id: c!.id, token: c!.lease!.token, finish: { outcome: 'completed', result: null } },
        ],
      });
      t.clock.advance(60_000);
      const cutoff = new Date(t.clock.now() - 1_000);
      // A job finished after the cutoff stays, whatever its state; running jobs are never pruned.
      const recent = await insertAndClaim(t.store);
      await t.store.jobFinishMany({ items: [{ id: recent.id, token: recent.lease.token, finish: { outcome: 'completed', result: null } }] });

      expect(await t.store.jobPrune({ finishedBefore: cutoff, states: ['completed'], limit: 1 })).toEqual({ deleted: 1 });
      expect(await t.store.jobPrune({ finishedBefore: cutoff, states: ['completed', 'running', 'available'], limit: 100 })).toEqual({ deleted: 1 });
      expect(await t.store.jobGet({ id: a!.id })).toBeNull();
      expect(await t.store.jobGet({ id: c!.id })).toBeNull();
      expect(await t.store.jobAttempts({ id: a!.id })).toEqual([]);
      expect((await t.store.jobGet({ id: b!.id }))?.state).toBe('dead');
      expect(await t.store.jobPrune({ finishedBefore: cutoff, states: ['dead'], limit: 100 })).toEqual({ deleted: 1 });
      expect(await t.store.jobGet({ id: b!.id })).toBeNull();
      expect((await t.store.jobGet({ id: d!.id }))?.state).toBe('running');
      expect((await t.store.jobGet({ id: recent.id }))?.state).toBe('completed');
      expect(await t.store.jobAttempts({ id: recent.id })).toHaveLength(1);
    });

    it('a prune scope restricts it to names or queues, or keeps them out; results are cleared by age without deleting jobs', async () => {
      const finish = async (overrides: Parameters<typeof insertAndClaim>[1], result: string | null) => {
        const job = await insertAndClaim(t.store, overrides);
        await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease.token, finish: { outcome: 'completed', result } }] });
        return job.id;
      };
      const report = await finish({ name: 'report', queue: 'reports' }, '"big"');
      const mail = await finish({ name: 'mail', queue: 'mail' }, '"sent"');
      const other = await finish({ name: 'other', queue: 'mail' }, '"x"');
      t.clock.advance(60_000);
      const cutoff = new Date(t.clock.now());
      const exists = async (id: string) => (await t.store.jobGet({ id })) !== null;
      // Results first: clear those of the report only, then every other one but mail's queue.
      expect(await t.store.jobResultPrune({ finishedBefore: cutoff, limit: 100, scope: { names: ['report'] } })).toEqual({ cleared: 1 });
      expect(await t.store.jobGet({ id: report })).toMatchObject({ state: 'completed', result: null });
      expect((await t.store.jobGet({ id: mail }))?.result).toBe('"sent"');
      expect(await t.store.jobResultPrune({ finishedBefore: cutoff, limit: 100, scope: { exceptQueues: ['mail'] } })).toEqual({ cleared: 0 });
      expect(await t.store.jobResultPrune({ finishedBefore: cutoff, limit: 100, scope: { queues: ['mail'], exceptNames: ['mail'] } })).toEqual({ cleared: 1 });
      expect((await t.store.jobGet({ id: other }))?.result).toBeNull();
      expect(await t.store.jobResultPrune({ finishedBefore: new Date(cutoff.getTime() - 120_000), limit: 100 })).toEqual({ cleared: 0 });
      // Deletes in the same scopes; an empty names list selects nothing.
      expect(await t.store.jobPrune({ finishedBefore: cutoff, states: ['completed'], limit: 100, scope: { names: [] } })).toEqual({ deleted: 0 });
      expect(await t.store.jobPrune({ finishedBefore: cutoff, states: ['completed'], limit: 100, scope: { exceptNames: ['report'], exceptQueues: ['reports'] } })).toEqual({ deleted: 2 });
      expect([await exists(report), await exists(mail), await exists(other)]).toEqual([true, false, false]);
      expect(await t.store.jobPrune({ finishedBefore: cutoff, states: ['completed'], limit: 100, scope: { queues: ['reports'] } })).toEqual({ deleted: 1 });
      expect(await exists(report)).toBe(false);
    });

    it('deletes only final jobs among the ids given, with their attempts; ids are never handed out again', async () => {
      await t.store.jobInsertMany({ jobs: [jobInput(), jobInput()] });
      const [done, failed] = await fetchJobs(t.store, 'default', 2);
      const running = await insertAndClaim(t.store);
      const pending = await insertJob(t.store, { queue: 'elsewhere' });
      await t.store.jobFinishMany({
        items: [
          { id: done!.id, token: done!.lease!.token, finish: { outcome: 'completed', result: '1' } },
          { id: failed!.id, token: failed!.lease!.token, finish: { outcome: 'dead', error: errorRecord() } },
        ],
      });
      const newest = await insertAndClaim(t.store);
      await t.store.jobFinishMany({ items: [{ id: newest.id, token: newest.lease.token, finish: { outcome: 'cancelled', reason: 'x' } }] });
      const result = await t.store.jobDelete({ ids: [pending.id, done!.id, failed!.id, running.id, newest.id, '999999', 'not-an-id'] });
      expect([...result.deleted].sort()).toEqual([done!.id, failed!.id, newest.id].sort());
      for (const id of [done!.id, failed!.id, newest.id]) {
        expect(await t.store.jobGet({ id })).toBeNull();
        expect(await t.store.jobAttempts({ id })).toEqual([]);
      }
      expect((await t.store.jobGet({ id: pending.id }))?.state).toBe('available');
      expect((await t.store.jobGet({ id: running.id }))?.state).toBe('running');
      expect(await t.store.jobDelete({ ids: [] })).toEqual({ deleted: [] });
      // The newest id was deleted: the next job still gets a new one.
      const next = await insertJob(t.store);
      expect(BigInt(next.id)).toBeGreaterThan(BigInt(newest.id));
    });
  });
}
