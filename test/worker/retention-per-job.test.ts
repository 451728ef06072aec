// Retention per job and per queue, on SQLite and PostgreSQL: a job's own `keep` wins over its
// queue's, which wins over the runtime's; `keepResult` clears results and keeps the jobs.
import { afterEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift } from '../../src/nightshift.js';
import { TestClock } from '../../src/store/conformance/test-clock.js';
import type { Store } from '../../src/store/types.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Claims job `id` and finishes it completed (with a result) or dead. */
async function finish(store: Store, id: string, queue: string, outcome: 'completed' | 'dead'): Promise<void> {
  const [job] = await store.jobFetch({ queue, limit: 1, owner: 'w', leaseMs: 60_000, ids: [id] });
  const result = outcome === 'completed' ? { outcome, result: '{"big":"result"}' } : { outcome, error: { name: 'Error', message: 'x', stack: null, kind: 'error' } };
  await store.jobFinishMany({ items: [{ id, token: job!.lease!.token, finish: result as never }] });
}

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`retention per job and queue on ${kind.kind}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('applies the job\'s keep, then its queue\'s, then the runtime\'s, and clears results after keepResult', async () => {
      const clock = new TestClock();
      const opened: OpenedStore = await kind.open({ clock: clock.fn });
      cleanups.push(() => opened.cleanup());
      const shortLived = defineJob({ name: 'ping', queue: 'pings', keep: { completed: '1h' }, handler: () => undefined });
      const audited = defineJob({ name: 'audit', queue: 'pings', keep: { completed: '30d', dead: '30d' }, keepResult: '2h', handler: () => undefined });
      const report = defineJob({ name: 'report', queue: 'reports', handler: () => undefined });
      const plain = defineJob({ name: 'plain', handler: () => undefined });
      const runtime = () => createNightshift({
        store: opened.store,
        jobs: [shortLived, audited, report, plain],
        worker: false,
        queues: { pings: { keep: { completed: '3h' } }, reports: { keep: { completed: '10d', dead: '2d' }, keepResult: '1h' } },
        prune: { retention: { completedMs: DAY, deadMs: 7 * DAY } },
        processRegistry: false,
        stats: false,
      });
      const nightshift = runtime();
      const ids: Record<string, string> = {};
      for (const [label, job, outcome] of [
        ['ping', shortLived, 'completed'],
        ['audit', audited, 'completed'],
        ['auditDead', audited, 'dead'],
        ['report', report, 'completed'],
        ['reportDead', report, 'dead'],
        ['plain', plain, 'completed'],
      ] as const) {
        const { job: stored } = await nightshift.enqueue(job as never, {});
        await finish(opened.store, stored.id, stored.queue, outcome);
        ids[label] = stored.id;
      }
      const prune = async (afterMs: number) => {
        clock.set(clock.now() + afterMs);
        // A runtime's pruner (on with worker: false because prune is given) runs a pass at start.
        const pass = runtime();
        await pass.start();
        await pass.stop();
      };
      const state = async () => {
        const out: Record<string, string> = {};
        for (const [label, id] of Object.entries(ids)) {
          const job = await opened.store.jobGet({ id });
          out[label] = job === null ? 'gone' : job.result === null && job.state === 'completed' ? 'no result' : job.state;
        }
        return out;
      };
      await prune(2 * HOUR);
      // ping: its own 1h. report: its queue's keepResult 1h. audit keeps its result until 2h (not yet past).
      expect(await state()).toMatchObject({ ping: 'gone', audit: 'completed', report: 'no result', plain: 'completed' });
      await prune(2 * HOUR);
      expect(await state()).toMatchObject({ audit: 'no result', auditDead: 'dead', reportDead: 'dead', plain: 'completed' });
      await prune(DAY);
      // The queue's 3h does not apply to audit (its own 30d); plain goes with the runtime's day; reports keep 10d / 2d.
      expect(await state()).toMatchObject({ audit: 'no result', plain: 'gone', report: 'no result', reportDead: 'dead' });
      await prune(2 * DAY);
      expect(await state()).toMatchObject({ reportDead: 'gone', auditDead: 'dead', report: 'no result' });
      await prune(8 * DAY);
      expect(await state()).toMatchObject({ report: 'gone', audit: 'no result', auditDead: 'dead' });
    });

    it('refuses a keep that is not a duration, or a state that is not kept', () => {
      expect(() => defineJob({ name: 'x', keep: { completed: 'soon' as never }, handler: () => undefined })).toThrow(/job "x": keep.completed must be a whole number of ms/);
      expect(() => defineJob({ name: 'x', keep: { running: '1h' } as never, handler: () => undefined })).toThrow(/keep.running is not a state to keep/);
      expect(() => defineJob({ name: 'x', keepResult: -5, handler: () => undefined })).toThrow(/keepResult must be at least/);
    });
  });
}
