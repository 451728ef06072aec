// Dependencies and flows through the client and a real worker, on SQLite and PostgreSQL: a parent
// runs once, after its last child, and reads every child's result; a failed child decides the
// parent by its policy; bad input is refused before anything is stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NightshiftError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { until } from '../fixtures/sqlite-runtime.js';

interface ParentRun {
  at: number;
  results: { id: string; state: string; result: unknown }[];
}

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`flows and dependencies on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift;
    let childEnds: number[];
    let parentRuns: ParentRun[];

    const child = defineJob({
      name: 'flow.child',
      schema: z.object({ n: z.number().int(), fail: z.boolean().optional() }),
      retry: { attempts: 1 },
      handler: async ({ n, fail }) => {
        if (fail) throw new Error(`child ${n} failed`);
        childEnds.push(Date.now());
        return { n, square: n * n };
      },
    });
    const parent = defineJob({
      name: 'flow.parent',
      schema: z.object({ label: z.string() }),
      handler: async (_payload, ctx) => {
        parentRuns.push({ at: Date.now(), results: await ctx.childResults() });
        return 'summarised';
      },
    });

    beforeEach(async () => {
      childEnds = [];
      parentRuns = [];
      opened = await kind.open();
      nightshift = createNightshift({ store: opened.store, jobs: [child, parent], queues: { default: { concurrency: 20 } }, pollIntervalMs: 20 });
      await nightshift.start();
    });
    afterEach(async () => {
      await nightshift.stop();
      await opened.cleanup();
    });

    it('a parent with 500 children runs once, after the last child completed, with every result', async () => {
      const flow = await nightshift.client.flow({
        job: parent,
        data: { label: 'nightly' },
        children: Array.from({ length: 500 }, (_, n) => ({ job: 'flow.child', data: { n } })),
      });
      expect(flow.job.state).toBe('waiting');
      expect(flow.children).toHaveLength(500);
      expect(flow.children.every((c) => c.job.state === 'available' && c.inserted)).toBe(true);
      await until(async () => (await nightshift.client.get(flow.job.id)).state === 'completed', 'the parent completed', 60_000);
      expect(parentRuns).toHaveLength(1);
      const [run] = parentRuns as [ParentRun];
      expect(run.at).toBeGreaterThanOrEqual(Math.max(...childEnds));
      expect(run.results).toHaveLength(500);
      expect(run.results.map((r) => r.id)).toEqual(flow.children.map((c) => c.job.id));
      expect(run.results.every((r, n) => r.state === 'completed' && (r.result as { square: number }).square === n * n)).toBe(true);
    });

    it('a dead child cancels its parent by default, naming it, and tells it; with onDependencyFailure run the parent runs and sees it', async () => {
      // In the order they happened: the child's death, then its parent's cancellation.
      const told: string[] = [];
      nightshift.events.on('job:failed', ({ job, willRetry }) => void (!willRetry && told.push(`dead ${job.id}`)));
      nightshift.events.on('job:cancelled', ({ job, reason }) => void told.push(`cancelled ${job.id} ${job.state}: ${reason}`));
      const cancelled = await nightshift.client.flow({ job: parent, data: { label: 'strict' }, children: [{ job: child, data: { n: 1 } }, { job: child, data: { n: 2, fail: true } }] });
      const tolerant = await nightshift.client.flow({
        job: parent,
        data: { label: 'tolerant' },
        options: { onDependencyFailure: 'run' },
        children: [{ job: child, data: { n: 3 } }, { job: child, data: { n: 4, fail: true } }],
      });
      await until(async () => (await nightshift.client.get(cancelled.job.id)).state === 'cancelled', 'the strict parent was cancelled', 20_000);
      const strict = await nightshift.client.get(cancelled.job.id);
      expect(strict.lastError).toMatchObject({ kind: 'dependency_failed', message: `dependency ${cancelled.children[1]!.job.id} ended dead` });
      const failedChild = cancelled.children[1]!.job.id;
      // Retrying the parent alone would run it without the child it waits for: refused, naming it.
      await expect(nightshift.client.retry(cancelled.job.id)).rejects.toThrow(`job ${cancelled.job.id} was cancelled because job ${failedChild} it depends on ended dead; retry job ${failedChild} first`);
      expect(await nightshift.client.retryMany({ job: 'flow.parent', state: 'cancelled' })).toMatchObject({ changed: 0, skipped: 1 });
      expect((await nightshift.client.get(cancelled.job.id)).state).toBe('cancelled');
      await until(() => told.some((line) => line.startsWith(`cancelled ${cancelled.job.id}`)), 'the parent\'s cancellation told', 10_000);
      expect(told.filter((line) => line === `dead ${failedChild}` || line.startsWith(`cancelled ${cancelled.job.id} `))).toEqual([
        `dead ${failedChild}`,
        `cancelled ${cancelled.job.id} cancelled: dependency ${failedChild} ended dead`,
      ]);
      await until(async () => (await nightshift.client.get(tolerant.job.id)).state === 'completed', 'the tolerant parent completed', 20_000);
      // An operator's cancel takes the jobs waiting on it down too, and tells each, after it.
      const { job: held } = await nightshift.enqueue(child, { n: 9 }, { delayMs: 3_600_000 });
      const { job: onHeld } = await nightshift.enqueue(parent, { label: 'on-held' }, { dependsOn: [held.id] });
      told.length = 0;
      await nightshift.client.cancel(held.id, 'not needed');
      expect(told).toEqual([`cancelled ${held.id} cancelled: not needed`, `cancelled ${onHeld.id} cancelled: dependency ${held.id} ended cancelled`]);
      expect(parentRuns).toHaveLength(1);
      expect(parentRuns[0]!.results.map((r) => r.state)).toEqual(['completed', 'dead']);
    });

    it('enqueue with dependsOn waits; why names what it waits for; a retried dead dependency releases a waiting job', async () => {
      const { job: first } = await nightshift.enqueue(child, { n: 5, fail: true });
      const { job: waiter } = await nightshift.enqueue(parent, { label: 'after' }, { dependsOn: [first.id], onDependencyFailure: 'wait' });
      expect(waiter.state).toBe('waiting');
      await until(async () => (await nightshift.client.get(first.id)).state === 'dead', 'the dependency died', 20_000);
      const why = await nightshift.client.why(waiter.id);
      expect(why).toMatchObject({ code: 'waiting', waitingOn: [first.id] });
      // The dependency ended: the job waits for someone to retry it, and says so.
      expect(why.message).toBe(`waiting for 1 of its 1 dependencies to complete: job ${first.id}; job ${first.id} ended dead — it waits until that job is retried and completes`);
      expect(parentRuns).toHaveLength(0);
    });

    it('refuses bad dependencies and bad flows before the store, storing nothing', async () => {
      const refusals: [() => Promise<unknown>, string, RegExp][] = [
        [() => nightshift.enqueue(parent, { label: 'x' }, { dependsOn: ['987654321'] }), 'UNKNOWN_DEPENDENCY', /do not exist: 987654321/],
        [() => nightshift.enqueue(parent, { label: 'x' }, { dependsOn: ['abc'] }), 'INVALID_OPTION', /dependsOn must be an array/],
        [() => nightshift.enqueue(parent, { label: 'x' }, { dependsOn: '1' as never }), 'INVALID_OPTION', /dependsOn must be an array/],
        [() => nightshift.enqueue(parent, { label: 'x' }, { onDependencyFailure: 'later' as never }), 'INVALID_OPTION', /onDependencyFailure must be one of cancel, run, wait/],
        [() => nightshift.client.flow({ job: parent, data: { label: 'x' }, children: [{ job: child, data: { n: 'one' } }] }), 'INVALID_PAYLOAD', /^flow\.children\[0\] "flow\.child": /],
        [() => nightshift.client.flow({ job: parent, data: { label: 'x' }, children: [{ job: 'no.such.job', data: {} }] }), 'UNKNOWN_JOB', /unknown job "no.such.job"/],
        [() => nightshift.client.flow({ job: parent, data: { label: 'x' }, children: 'kids' as never }), 'INVALID_OPTION', /children must be an array/],
        [() => nightshift.client.flow(null as never), 'INVALID_OPTION', /a flow node must be an object/],
      ];
      for (const [attempt, code, message] of refusals) {
        const error = await attempt().then(
          () => null,
          (thrown: unknown) => thrown,
        );
        expect(error, String(message)).toBeInstanceOf(NightshiftError);
        expect((error as NightshiftError).code, String(message)).toBe(code);
        expect((error as NightshiftError).message).toMatch(message);
      }
      expect((await nightshift.client.list({ limit: 10 })).jobs).toEqual([]);
    });
  });
}
