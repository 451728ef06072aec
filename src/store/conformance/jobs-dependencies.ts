/** Conformance: job dependencies — waiting, release on completion, failure policies, flows in one insert, and the graph after cancel, rescue and prune. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../errors.js';
import { dependencyDeletedError } from '../job-dependencies.js';
import type { JobRecord, Store } from '../types.js';
import { errorRecord, fetchJobs, insertJob, jobInput, LEASE_MS, useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

const OWNER = 'deps-worker';

/** Claims job `id` (by id) and finishes it with `outcome`. */
async function finishOne(store: Store, id: string, outcome: 'completed' | 'dead' | 'cancelled', result: string | null = null): Promise<void> {
  const [job] = await store.jobFetch({ queue: 'default', limit: 1, owner: OWNER, leaseMs: LEASE_MS, ids: [id] });
  if (!job?.lease) throw new Error(`could not claim job ${id}`);
  const finish =
    outcome === 'completed' ? ({ outcome, result } as const) : outcome === 'dead' ? ({ outcome, error: errorRecord() } as const) : ({ outcome, reason: 'stop' } as const);
  const { applied } = await store.jobFinishMany({ items: [{ id, token: job.lease.token, finish }] });
  if (applied.length !== 1) throw new Error(`finish of ${id} was not applied`);
}

const stateOf = async (store: Store, id: string): Promise<JobRecord['state'] | undefined> => (await store.jobGet({ id }))?.state;

export function describeJobDependencies(factory: StoreFactory): void {
  describe('job dependencies', () => {
    const t = useStoreFixture(factory);

    it('a job waits until every dependency completed, then becomes available; its dependencies are listed with their results', async () => {
      const a = await insertJob(t.store);
      const b = await insertJob(t.store);
      const child = await insertJob(t.store, { dependsOn: [a.id, b.id, a.id] });
      expect(child.state).toBe('waiting');
      // A waiting job is never claimed.
      const claimed = await fetchJobs(t.store);
      expect(claimed.map((job) => job.id).sort()).toEqual([a.id, b.id].sort());
      for (const job of claimed) await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease!.token, finish: { outcome: 'completed', result: job.id === a.id ? '"A"' : null } }] });
      expect(await stateOf(t.store, child.id)).toBe('available');
      const deps = await t.store.jobDependencies({ id: child.id });
      expect(deps.map((d) => [d.job.id, d.job.state, d.job.result, d.settled])).toEqual([
        [a.id, 'completed', '"A"', true],
        [b.id, 'completed', null, true],
      ]);
      expect(await t.store.jobDependencies({ id: a.id })).toEqual([]);
      expect(await t.store.jobDependencies({ id: '987654321' })).toEqual([]);
      expect(await t.store.jobDependencies({ id: 'nope' })).toEqual([]);
    });

    it('releases one dependency at a time: still waiting while one is left; a job due later becomes scheduled', async () => {
      const a = await insertJob(t.store);
      const b = await insertJob(t.store);
      const later = new Date(t.clock.now() + 60_000);
      const job = await insertJob(t.store, { dependsOn: [a.id, b.id], runAt: later });
      await finishOne(t.store, a.id, 'completed');
      expect(await stateOf(t.store, job.id)).toBe('waiting');
      await finishOne(t.store, b.id, 'completed');
      expect(await stateOf(t.store, job.id)).toBe('scheduled');
    });

    it('a job whose dependencies all completed already starts as usual', async () => {
      const a = await insertJob(t.store);
      await finishOne(t.store, a.id, 'completed');
      const job = await insertJob(t.store, { dependsOn: [a.id] });
      expect(job.state).toBe('available');
    });

    it('a dependency that ends dead or cancelled cancels the job (default), naming it, and the jobs waiting on that one in turn', async () => {
      const a = await insertJob(t.store);
      const mid = await insertJob(t.store, { dependsOn: [a.id] });
      const top = await insertJob(t.store, { dependsOn: [mid.id] });
      await finishOne(t.store, a.id, 'dead');
      const midAfter = await t.store.jobGet({ id: mid.id });
      expect(midAfter).toMatchObject({ state: 'cancelled', lastError: { kind: 'dependency_failed', message: `dependency ${a.id} ended dead` } });
      expect(midAfter!.finishedAt).not.toBeNull();
      expect(await t.store.jobGet({ id: top.id })).toMatchObject({ state: 'cancelled', lastError: { message: `dependency ${mid.id} ended cancelled` } });
      // Cancelling a dependency from outside does the same.
      const b = await insertJob(t.store);
      const other = await insertJob(t.store, { dependsOn: [b.id] });
      await t.store.jobCancel({ id: b.id, reason: 'operator' });
      expect(await t.store.jobGet({ id: other.id })).toMatchObject({ state: 'cancelled', lastError: { message: `dependency ${b.id} ended cancelled` } });
    });

    it('policy run treats a failed dependency as done; policy wait keeps waiting until a retry completes it', async () => {
      const a = await insertJob(t.store);
      const b = await insertJob(t.store);
      const pair = await t.store.jobInsertMany({
        jobs: [jobInput({ dependsOn: [a.id, b.id], onDependencyFailure: 'run' }), jobInput({ dependsOn: [a.id], onDependencyFailure: 'wait' })],
      });
      const [runner, waiter] = [pair[0]!.job, pair[1]!.job];
      await finishOne(t.store, a.id, 'dead');
      expect(await stateOf(t.store, runner.id)).toBe('waiting');
      expect(await stateOf(t.store, waiter.id)).toBe('waiting');
      await finishOne(t.store, b.id, 'completed');
      expect(await stateOf(t.store, runner.id)).toBe('available');
      // The dead dependency is retried and completes: the waiting job goes, the runner is not released twice.
      await t.store.jobRetry({ id: a.id });
      await finishOne(t.store, a.id, 'completed');
      expect(await stateOf(t.store, waiter.id)).toBe('available');
      expect(await stateOf(t.store, runner.id)).toBe('available');
      // A job inserted after its dependency died: cancelled at once under cancel, waiting under wait, due under run.
      const dead = await insertJob(t.store);
      await finishOne(t.store, dead.id, 'dead');
      const results = await t.store.jobInsertMany({
        jobs: [jobInput({ dependsOn: [dead.id] }), jobInput({ dependsOn: [dead.id], onDependencyFailure: 'wait' }), jobInput({ dependsOn: [dead.id], onDependencyFailure: 'run' })],
      });
      expect(results.map((r) => r.job.state)).toEqual(['cancelled', 'waiting', 'available']);
      expect(results[0]!.job.lastError).toMatchObject({ kind: 'dependency_failed', message: `dependency ${dead.id} ended dead` });
    });

    it('a flow in one insert: items depend on earlier items by position; the parent runs after every child', async () => {
      const children = Array.from({ length: 5 }, (_, i) => jobInput({ payload: `{"child":${i}}` }));
      const results = await t.store.jobInsertMany({ jobs: [...children, jobInput({ payload: '{"parent":true}', dependsOnItems: [0, 1, 2, 3, 4] })] });
      const parent = results[5]!.job;
      expect(parent.state).toBe('waiting');
      const claimed = await fetchJobs(t.store, 'default', 100);
      expect(claimed).toHaveLength(5);
      for (const [i, job] of claimed.entries()) {
        await t.store.jobFinishMany({ items: [{ id: job.id, token: job.lease!.token, finish: { outcome: 'completed', result: String(i) } }] });
        expect(await stateOf(t.store, parent.id)).toBe(i < 4 ? 'waiting' : 'available');
      }
      expect((await t.store.jobDependencies({ id: parent.id })).map((d) => d.job.id)).toEqual(results.slice(0, 5).map((r) => r.job.id));
    });

    it('a flow (`flow: true`) whose root key another insert holds stores nothing and returns the holder alone', async () => {
      const flowOf = (payload: string) => [
        jobInput({ name: 'flow.child', payload }),
        jobInput({ name: 'flow.child', payload }),
        jobInput({ name: 'flow.root', key: 'report-1', payload, dependsOnItems: [0, 1] }),
      ];
      const first = await t.store.jobInsertMany({ jobs: flowOf('1'), flow: true });
      expect(first.map((r) => r.inserted)).toEqual([true, true, true]);
      const root = first[2]!.job;
      expect(root).toMatchObject({ state: 'waiting', key: 'report-1' });
      const again = await t.store.jobInsertMany({ jobs: flowOf('2'), flow: true });
      expect(again).toEqual([{ job: await t.store.jobGet({ id: root.id }), inserted: false }]);
      expect((await t.store.jobList({ limit: 100 })).jobs).toHaveLength(3);
      // Held by a plain job of the root's name: the same.
      const plain = await insertJob(t.store, { name: 'flow.root', key: 'report-2' });
      const onPlain = await t.store.jobInsertMany({ jobs: flowOf('3').map((job) => (job.key === null ? job : { ...job, key: 'report-2' })), flow: true });
      expect(onPlain).toEqual([{ job: await t.store.jobGet({ id: plain.id }), inserted: false }]);
      expect((await t.store.jobList({ limit: 100 })).jobs).toHaveLength(4);
      // Once the holder finished the key is free: the flow is stored whole.
      const [claimed] = await t.store.jobFetch({ queue: 'default', limit: 1, owner: OWNER, leaseMs: LEASE_MS, ids: [plain.id] });
      await t.store.jobFinishMany({ items: [{ id: plain.id, token: claimed!.lease!.token, finish: { outcome: 'completed', result: null } }] });
      const freed = await t.store.jobInsertMany({ jobs: flowOf('4').map((job) => (job.key === null ? job : { ...job, key: 'report-2' })), flow: true });
      expect(freed.map((r) => r.inserted)).toEqual([true, true, true]);
      // A root without a key, and a one-job flow, insert as they always do.
      expect((await t.store.jobInsertMany({ jobs: [jobInput(), jobInput({ dependsOnItems: [0] })], flow: true })).map((r) => r.inserted)).toEqual([true, true]);
      expect(await t.store.jobInsertMany({ jobs: [jobInput({ name: 'flow.root', key: 'report-1' })], flow: true })).toEqual([{ job: await t.store.jobGet({ id: root.id }), inserted: false }]);
      // A root whose key one of its own jobs takes: that job is not "another insert"; the flow is stored as given.
      const own = await t.store.jobInsertMany({ jobs: [jobInput({ name: 'flow.root', key: 'own' }), jobInput({ name: 'flow.root', key: 'own', dependsOnItems: [0] })], flow: true });
      expect(own).toHaveLength(2);
      expect(own[0]!.inserted).toBe(true);
      expect(own[1]).toEqual({ job: await t.store.jobGet({ id: own[0]!.job.id }), inserted: false });
      // Keys are per job name: a root of another name with the same key is stored.
      const otherName = await t.store.jobInsertMany({ jobs: flowOf('5').map((job) => (job.key === null ? job : { ...job, name: 'flow.other' })), flow: true });
      expect(otherName.map((r) => r.inserted)).toEqual([true, true, true]);
    });

    it('refuses unknown dependencies, and positions that are not earlier items, storing nothing', async () => {
      const a = await insertJob(t.store);
      const before = (await t.store.jobList({ limit: 100 })).jobs.length;
      const attempts = [
        [jobInput({ dependsOn: [a.id, '987654321'] })],
        [jobInput({ dependsOn: ['not-an-id'] })],
        [jobInput(), jobInput({ dependsOnItems: [1] })],
        [jobInput({ dependsOnItems: [0] })],
        [jobInput(), jobInput({ dependsOnItems: [-1] })],
      ];
      for (const jobs of attempts) {
        const error = await t.store.jobInsertMany({ jobs }).then(
          () => null,
          (thrown: unknown) => thrown,
        );
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).code).toBe('UNKNOWN_DEPENDENCY');
      }
      expect((await t.store.jobList({ limit: 100 })).jobs).toHaveLength(before);
    });

    it('a finish that ends a dependency dead or cancelled reports the jobs it cancelled, those waiting on them included; a completion reports none', async () => {
      const a = await insertJob(t.store);
      const cancels = await insertJob(t.store, { dependsOn: [a.id] });
      const above = await insertJob(t.store, { dependsOn: [cancels.id] });
      const waits = await insertJob(t.store, { dependsOn: [a.id], onDependencyFailure: 'wait' });
      const runs = await insertJob(t.store, { dependsOn: [a.id], onDependencyFailure: 'run' });
      const [claimed] = await t.store.jobFetch({ queue: 'default', limit: 1, owner: OWNER, leaseMs: LEASE_MS, ids: [a.id] });
      const result = await t.store.jobFinishMany({ items: [{ id: a.id, token: claimed!.lease!.token, finish: { outcome: 'dead', error: errorRecord() } }] });
      expect(result.applied).toEqual([a.id]);
      expect([...(result.cancelledDependents ?? [])].sort()).toEqual([cancels.id, above.id].sort());
      expect(await stateOf(t.store, waits.id)).toBe('waiting');
      expect(await stateOf(t.store, runs.id)).toBe('available');
      // A cancelled dependency cancels too; a completed one releases, and nothing is reported.
      const b = await insertJob(t.store);
      const onB = await insertJob(t.store, { dependsOn: [b.id] });
      const c = await insertJob(t.store);
      const onC = await insertJob(t.store, { dependsOn: [c.id] });
      const [claimedB, claimedC] = await t.store.jobFetch({ queue: 'default', limit: 2, owner: OWNER, leaseMs: LEASE_MS, ids: [b.id, c.id] });
      const byId = new Map([claimedB!, claimedC!].map((job) => [job.id, job]));
      const cancelled = await t.store.jobFinishMany({ items: [{ id: b.id, token: byId.get(b.id)!.lease!.token, finish: { outcome: 'cancelled', reason: 'stop' } }] });
      expect(cancelled.cancelledDependents).toEqual([onB.id]);
      const completed = await t.store.jobFinishMany({ items: [{ id: c.id, token: byId.get(c.id)!.lease!.token, finish: { outcome: 'completed', result: null } }] });
      expect(completed).toEqual({ applied: [c.id], rejected: [] });
      expect(await stateOf(t.store, onC.id)).toBe('available');
      // A cancel reports the same, into the array the caller passes; without one it just cancels.
      const d = await insertJob(t.store);
      const onD = await insertJob(t.store, { dependsOn: [d.id] });
      const onOnD = await insertJob(t.store, { dependsOn: [onD.id] });
      const reported: string[] = [];
      expect(await t.store.jobCancel({ id: d.id, reason: 'stop', cancelledDependents: reported })).toMatchObject({ state: 'cancelled' });
      expect([...reported].sort()).toEqual([onD.id, onOnD.id].sort());
      const e = await insertJob(t.store);
      const onE = await insertJob(t.store, { dependsOn: [e.id] });
      await t.store.jobCancel({ id: e.id, reason: 'stop' });
      expect(await stateOf(t.store, onE.id)).toBe('cancelled');
    });

    it('the rescuer killing a dependency settles its dependents; pruning a finished graph leaves nothing behind', async () => {
      const a = await insertJob(t.store, { maxAttempts: 1 });
      const child = await insertJob(t.store, { dependsOn: [a.id] });
      await t.store.jobFetch({ queue: 'default', limit: 1, owner: OWNER, leaseMs: 1_000, ids: [a.id] });
      t.clock.advance(1_001);
      const rescued = await t.store.jobRescueExpired({ limit: 10, error: errorRecord({ kind: 'lease_expired' }) });
      expect(rescued.dead).toEqual([a.id]);
      expect(rescued.cancelledDependents).toEqual([child.id]);
      expect(await stateOf(t.store, child.id)).toBe('cancelled');
      t.clock.advance(60_000);
      await t.store.jobPrune({ finishedBefore: new Date(t.clock.now()), states: ['dead', 'cancelled'], limit: 100 });
      expect(await t.store.jobGet({ id: a.id })).toBeNull();
      expect(await t.store.jobDependencies({ id: child.id })).toEqual([]);
    });
  });
}

/** Conformance: `jobSettleStranded`, the repair of waiting jobs that nothing would release any more. */
export function describeStrandedDependents(factory: StoreFactory): void {
  describe('stranded dependents (jobSettleStranded)', () => {
    const t = useStoreFixture(factory);
    const sorted = (ids: readonly string[]) => [...ids].sort((a, b) => Number(a) - Number(b));
    const repair = async () => {
      const result = await t.store.jobSettleStranded({ limit: 100 });
      return { released: sorted(result.released), cancelled: sorted(result.cancelled), queues: [...result.queues].sort() };
    };
    const NOTHING = { released: [], cancelled: [], queues: [] };

    it('a dependency that ended without its dependents being settled (a crash in between): each policy gets what the finish would have done', async () => {
      const [done, dead, stopped] = [await insertJob(t.store), await insertJob(t.store), await insertJob(t.store)];
      const released = await insertJob(t.store, { dependsOn: [done.id] });
      const later = await insertJob(t.store, { dependsOn: [done.id], runAt: new Date(t.clock.now() + 60_000) });
      const cancelled = await insertJob(t.store, { dependsOn: [dead.id] });
      const above = await insertJob(t.store, { dependsOn: [cancelled.id] });
      const runner = await insertJob(t.store, { dependsOn: [dead.id], onDependencyFailure: 'run', queue: 'other' });
      const waiter = await insertJob(t.store, { dependsOn: [dead.id], onDependencyFailure: 'wait' });
      const onStopped = await insertJob(t.store, { dependsOn: [stopped.id] });
      await t.fixture.endWithoutSettling({ id: done.id, state: 'completed' });
      await t.fixture.endWithoutSettling({ id: dead.id, state: 'dead' });
      await t.fixture.endWithoutSettling({ id: stopped.id, state: 'cancelled' });
      expect(await stateOf(t.store, released.id)).toBe('waiting');

      expect(await repair()).toEqual({
        released: sorted([released.id, later.id, runner.id]),
        cancelled: sorted([cancelled.id, above.id, onStopped.id]),
        queues: ['default', 'other'],
      });
      expect(await stateOf(t.store, released.id)).toBe('available');
      expect(await stateOf(t.store, later.id)).toBe('scheduled');
      expect(await stateOf(t.store, runner.id)).toBe('available');
      expect((await t.store.jobDependencies({ id: released.id })).map((d) => d.settled)).toEqual([true]);
      const cancelledAfter = await t.store.jobGet({ id: cancelled.id });
      expect(cancelledAfter).toMatchObject({ state: 'cancelled', lastError: { name: 'DependencyFailed', kind: 'dependency_failed', message: `dependency ${dead.id} ended dead` } });
      expect(cancelledAfter!.finishedAt).not.toBeNull();
      expect(await t.store.jobGet({ id: above.id })).toMatchObject({ state: 'cancelled', lastError: { message: `dependency ${cancelled.id} ended cancelled` } });
      expect(await t.store.jobGet({ id: onStopped.id })).toMatchObject({ state: 'cancelled', lastError: { message: `dependency ${stopped.id} ended cancelled` } });
      // Under wait a dead dependency is not stranding: the job waits for a retry, which still releases it.
      expect(await stateOf(t.store, waiter.id)).toBe('waiting');
      expect(await repair()).toEqual(NOTHING);
      await t.store.jobRetry({ id: dead.id });
      await finishOne(t.store, dead.id, 'completed');
      expect(await stateOf(t.store, waiter.id)).toBe('available');
    });

    it('a dead dependency pruned while a job waits on it under wait: the job is cancelled, saying so, and the jobs waiting on it follow', async () => {
      const a = await insertJob(t.store);
      const waiter = await insertJob(t.store, { dependsOn: [a.id], onDependencyFailure: 'wait' });
      const above = await insertJob(t.store, { dependsOn: [waiter.id] });
      await finishOne(t.store, a.id, 'dead');
      t.clock.advance(60_000);
      expect((await t.store.jobPrune({ finishedBefore: new Date(t.clock.now()), states: ['dead'], limit: 100 })).deleted).toBe(1);
      expect(await stateOf(t.store, waiter.id)).toBe('waiting');

      expect(await repair()).toEqual({ released: [], cancelled: sorted([waiter.id, above.id]), queues: [] });
      const after = await t.store.jobGet({ id: waiter.id });
      // The record is the shared one, the same on every store.
      expect(after).toMatchObject({ state: 'cancelled', lastError: dependencyDeletedError() });
      expect(after!.finishedAt).not.toBeNull();
      expect(await t.store.jobGet({ id: above.id })).toMatchObject({ state: 'cancelled', lastError: { message: `dependency ${waiter.id} ended cancelled` } });
      expect(await repair()).toEqual(NOTHING);
    });

    it('a dependency deleted after it ended unsettled: cancel cancels the job; run counts the edge as settled', async () => {
      const [a, b, c] = [await insertJob(t.store), await insertJob(t.store), await insertJob(t.store)];
      const cancelling = await insertJob(t.store, { dependsOn: [a.id] });
      const running = await insertJob(t.store, { dependsOn: [a.id], onDependencyFailure: 'run', queue: 'other' });
      const stillWaiting = await insertJob(t.store, { dependsOn: [a.id, b.id], onDependencyFailure: 'run' });
      const laterRun = await insertJob(t.store, { dependsOn: [c.id], onDependencyFailure: 'run', runAt: new Date(t.clock.now() + 60_000) });
      await t.fixture.endWithoutSettling({ id: a.id, state: 'completed' });
      await t.fixture.endWithoutSettling({ id: c.id, state: 'dead' });
      expect(sorted((await t.store.jobDelete({ ids: [a.id, c.id] })).deleted)).toEqual([a.id, c.id]);

      expect(await repair()).toEqual({ released: sorted([running.id, laterRun.id]), cancelled: [cancelling.id], queues: ['other'] });
      expect(await t.store.jobGet({ id: cancelling.id })).toMatchObject({ state: 'cancelled', lastError: dependencyDeletedError() });
      expect(await stateOf(t.store, running.id)).toBe('available');
      expect(await stateOf(t.store, laterRun.id)).toBe('scheduled');
      // One edge of two went: it still waits for the other, whose completion releases it as usual.
      expect(await stateOf(t.store, stillWaiting.id)).toBe('waiting');
      expect(await repair()).toEqual(NOTHING);
      await finishOne(t.store, b.id, 'completed');
      expect(await stateOf(t.store, stillWaiting.id)).toBe('available');
    });

    it('with nothing stranded it returns nothing and changes nothing; limit 0 looks at nothing', async () => {
      const running = await insertJob(t.store);
      await t.store.jobFetch({ queue: 'default', limit: 1, owner: OWNER, leaseMs: LEASE_MS, ids: [running.id] });
      const dead = await insertJob(t.store);
      const done = await insertJob(t.store);
      await finishOne(t.store, dead.id, 'dead');
      await finishOne(t.store, done.id, 'completed');
      await insertJob(t.store, { dependsOn: [running.id] });
      await insertJob(t.store, { dependsOn: [dead.id], onDependencyFailure: 'wait' });
      await insertJob(t.store, { dependsOn: [running.id, done.id], onDependencyFailure: 'run' });
      await insertJob(t.store, { dependsOn: [done.id] });
      const before = (await t.store.jobList({ limit: 100 })).jobs;
      expect(await repair()).toEqual(NOTHING);
      expect(await t.store.jobSettleStranded({ limit: 0 })).toEqual(NOTHING);
      expect((await t.store.jobList({ limit: 100 })).jobs).toEqual(before);
    });

    it('two connections repairing at once change each stranded job once', async () => {
      const other = t.fixture.openAnother ? await t.fixture.openAnother() : t.store;
      const deps = [];
      for (let i = 0; i < 6; i++) deps.push(await insertJob(t.store));
      const released = [];
      const cancelled = [];
      for (const dep of deps) {
        released.push((await insertJob(t.store, { dependsOn: [dep.id] })).id);
        released.push((await insertJob(t.store, { dependsOn: [dep.id], onDependencyFailure: 'run' })).id);
      }
      for (const dep of deps.slice(0, 3)) await t.fixture.endWithoutSettling({ id: dep.id, state: 'completed' });
      for (const dep of deps.slice(3)) {
        cancelled.push((await insertJob(t.store, { dependsOn: [dep.id], onDependencyFailure: 'wait' })).id);
        await t.fixture.endWithoutSettling({ id: dep.id, state: 'dead' });
      }
      // The dead ones are deleted: under run their dependents are released, under cancel and wait cancelled.
      await t.store.jobDelete({ ids: deps.slice(3).map((dep) => dep.id) });
      const results = await Promise.all([t.store, other, t.store, other].map((store) => store.jobSettleStranded({ limit: 100 })));
      const everyRelease = results.flatMap((result) => result.released);
      const everyCancel = results.flatMap((result) => result.cancelled);
      const expectedReleased = released.filter((_, i) => i < 6 || i % 2 === 1);
      const expectedCancelled = [...released.filter((_, i) => i >= 6 && i % 2 === 0), ...cancelled];
      expect(sorted(everyRelease)).toEqual(sorted(expectedReleased));
      expect(sorted(everyCancel)).toEqual(sorted(expectedCancelled));
      expect(await repair()).toEqual(NOTHING);
    });

    it('works through a limited batch per call and finds the rest on the next', async () => {
      const deps = [await insertJob(t.store), await insertJob(t.store), await insertJob(t.store)];
      const waiting = [];
      for (const dep of deps) waiting.push(await insertJob(t.store, { dependsOn: [dep.id] }));
      for (const dep of deps) await t.fixture.endWithoutSettling({ id: dep.id, state: 'completed' });
      const first = await t.store.jobSettleStranded({ limit: 2 });
      expect(first.released).toHaveLength(2);
      const second = await t.store.jobSettleStranded({ limit: 2 });
      expect(sorted([...first.released, ...second.released])).toEqual(sorted(waiting.map((job) => job.id)));
      expect(await repair()).toEqual(NOTHING);
    });
  });
}

/** Conformance: throttle and debounce by key, including two connections enqueueing at once. */
export function describeThrottleDebounce(factory: StoreFactory): void {
  describe('throttle and debounce', () => {
    const t = useStoreFixture(factory);
    const throttled = (payload: string, perMs = 10_000, name = 'conformance.job') => jobInput({ name, payload, throttle: { key: 'org-1', perMs } });
    const debounced = (payload: string, delayMs = 5_000, maxDelayMs: number | null = 20_000) => jobInput({ payload, debounce: { key: 'doc-7', delayMs, maxDelayMs } });

    it('throttle: one job per key per window, whatever its state; a new one once the window passed', async () => {
      const [first] = await t.store.jobInsertMany({ jobs: [throttled('{"n":1}')] });
      expect(first).toMatchObject({ inserted: true });
      const [again] = await t.store.jobInsertMany({ jobs: [throttled('{"n":2}')] });
      expect(again).toMatchObject({ inserted: false, job: { id: first!.job.id, payload: '{"n":1}' } });
      // Finished does not matter: the window is about when it was created.
      await finishOne(t.store, first!.job.id, 'completed');
      t.clock.advance(9_999);
      expect((await t.store.jobInsertMany({ jobs: [throttled('{"n":3}')] }))[0]).toMatchObject({ inserted: false, job: { id: first!.job.id } });
      // Another key, another name: their own windows.
      expect((await t.store.jobInsertMany({ jobs: [jobInput({ throttle: { key: 'org-2', perMs: 10_000 } })] }))[0]!.inserted).toBe(true);
      expect((await t.store.jobInsertMany({ jobs: [throttled('{}', 10_000, 'other.job')] }))[0]!.inserted).toBe(true);
      t.clock.advance(1);
      const [later] = await t.store.jobInsertMany({ jobs: [throttled('{"n":4}')] });
      expect(later!.inserted).toBe(true);
      expect(later!.job.id).not.toBe(first!.job.id);
    });

    it('debounce: a pending job gets the latest payload and moves its run time, never past its deadline; a started one is left alone', async () => {
      const start = t.clock.now();
      const [first] = await t.store.jobInsertMany({ jobs: [debounced('{"v":1}')] });
      expect(first).toMatchObject({ inserted: true, job: { state: 'scheduled', payload: '{"v":1}' } });
      expect(first!.job.runAt.getTime()).toBe(start + 5_000);
      t.clock.advance(4_000);
      const [second] = await t.store.jobInsertMany({ jobs: [debounced('{"v":2}')] });
      expect(second).toMatchObject({ inserted: false, job: { id: first!.job.id, payload: '{"v":2}', state: 'scheduled' } });
      expect(second!.job.runAt.getTime()).toBe(start + 9_000);
      // Keeps moving, but not past first enqueue + maxDelayMs.
      t.clock.advance(14_000);
      const [third] = await t.store.jobInsertMany({ jobs: [debounced('{"v":3}')] });
      expect(third!.job.runAt.getTime()).toBe(start + 20_000);
      expect((await t.store.jobGet({ id: first!.job.id }))?.payload).toBe('{"v":3}');
      // Once it runs, the next enqueue starts a new debounced job.
      t.clock.set(start + 20_000);
      const [claimed] = await fetchJobs(t.store);
      expect(claimed?.id).toBe(first!.job.id);
      const [fresh] = await t.store.jobInsertMany({ jobs: [debounced('{"v":4}')] });
      expect(fresh!.inserted).toBe(true);
      expect(fresh!.job.id).not.toBe(first!.job.id);
    });

    it('two connections enqueueing one key at once make one job', async () => {
      const other = t.fixture.openAnother ? await t.fixture.openAnother() : t.store;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? t.store : other).jobInsertMany({ jobs: [i < 5 ? throttled(`{"i":${i}}`) : debounced(`{"i":${i}}`)] })),
      );
      const ids = results.map((r) => r[0]!.job.id);
      expect(new Set(ids.slice(0, 5)).size).toBe(1);
      expect(new Set(ids.slice(5)).size).toBe(1);
      expect(results.flat().filter((r) => r.inserted)).toHaveLength(2);
    });
  });
}
