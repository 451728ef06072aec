// Fault injection: workers whose clocks are two hours off. Retries, snoozes, delayed enqueues and
// cron ticks must follow the store's clock: a worker ahead must not push a 2 s retry 2 h out,
// and a worker behind must not re-run it at once (a hot retry loop against a failing dependency).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../src/client/client.js';
import { defineJob } from '../../src/job/define-job.js';
import { snooze } from '../../src/job/outcomes.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { createScheduleManager } from '../../src/scheduler/schedule-manager.js';
import type { Store } from '../../src/store/types.js';
import { killAll, spawnJsonLineProcess, stopAll } from '../fixtures/child-workers.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { STORE_KINDS, type OpenedStore } from './both-stores.js';
import { SKEW_JOBS_SPEC } from './skew-jobs.js';

const TWO_HOURS = 2 * 60 * 60 * 1000;
const DELAY = 2000;

/** How far after the store's now a job is due, in ms. */
async function dueIn(store: Store, id: string): Promise<number> {
  const [job, now] = await Promise.all([store.jobGet({ id }), store.timeNow()]);
  return job!.runAt.getTime() - now.getTime();
}

describe('workers with skewed clocks (injected clock)', () => {
  for (const kind of STORE_KINDS) {
    for (const skew of [TWO_HOURS, -TWO_HOURS]) {
      describe.skipIf(!kind.available)(`${kind.kind}, worker clock ${skew > 0 ? '+' : '-'}2 h`, () => {
        let opened: OpenedStore | null = null;
        let nightshift: Nightshift | null = null;
        afterEach(async () => {
          await nightshift?.stop();
          await opened?.cleanup();
          nightshift = null;
          opened = null;
        });

        it('retries and snoozes are due 2 s after the store\'s now; delayed enqueues too', async () => {
          opened = await kind.open();
          const flaky = defineJob({
            name: 'flaky',
            schema: z.object({}),
            retry: { attempts: 3, backoff: { type: 'fixed', delayMs: DELAY, jitter: 0 } },
            handler: () => {
              throw new Error('dependency down');
            },
          });
          const sleepy = defineJob({ name: 'sleepy', schema: z.object({}), handler: () => snooze(DELAY) });
          nightshift = createNightshift({ store: opened.store, jobs: [flaky, sleepy], clock: () => Date.now() + skew, pollIntervalMs: 50, prune: false });
          const failed = nightshift.events.waitFor('job:failed');
          const snoozed = nightshift.events.waitFor('job:snoozed');
          const a = await nightshift.enqueue(flaky, {});
          const b = await nightshift.enqueue(sleepy, {});
          await nightshift.start();
          const [f, s] = await Promise.all([failed, snoozed]);
          const retryIn = await dueIn(opened.store, a.job.id);
          const snoozeIn = await dueIn(opened.store, b.job.id);
          expect(f.retryDelayMs).toBe(DELAY);
          expect(s.delayMs).toBe(DELAY);
          // Read back within a second of the finish; never hours off, never already due.
          expect(retryIn).toBeGreaterThan(DELAY - 1500);
          expect(retryIn).toBeLessThanOrEqual(DELAY);
          expect(snoozeIn).toBeGreaterThan(DELAY - 1500);
          expect(snoozeIn).toBeLessThanOrEqual(DELAY);
          const delayed = await nightshift.enqueue(sleepy, {}, { delayMs: DELAY });
          expect(await dueIn(opened.store, delayed.job.id)).toBeGreaterThan(DELAY - 1500);
          console.log(`[fault] ${kind.kind}: worker clock ${skew > 0 ? '+' : '-'}2 h; observed: retry due in ${retryIn} ms, snooze due in ${snoozeIn} ms (store clock), both asked for ${DELAY} ms`);
        });
      });
    }
  }
});

const url = postgresUrl();
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

/**
 * libfaketime, preloaded into node itself. (The `faketime` command would run node as its child,
 * and stopping the wrapper by pid would leave that child running.)
 */
function findLibfaketime(): string | null {
  try {
    for (const dir of fs.readdirSync('/usr/lib')) {
      const candidate = path.join('/usr/lib', dir, 'faketime', 'libfaketime.so.1');
      if (fs.existsSync(candidate)) return candidate;
    }
  } catch {
    // no /usr/lib: not Debian-like
  }
  return null;
}
const libfaketime = findLibfaketime();
const hasFaketime = libfaketime !== null;
if (!hasFaketime) {
  const message = 'clock-skew: libfaketime (Debian package faketime) is not installed; the libfaketime process cases are SKIPPED. .ci/run installs it.';
  if (process.env.CI === 'true') throw new Error(`${message} Under CI=true they must run.`);
  console.warn(`\n!!! ${message}\n`);
}

describe.skipIf(url === null || !hasFaketime)('a worker and scheduler process on PostgreSQL under libfaketime', () => {
  afterEach(async () => {
    await stopAll(10_000);
    await killAll();
  });

  for (const offset of ['+2h', '-2h']) {
    it(`with its clock ${offset}: retry, snooze and cron ticks follow the server's clock`, async () => {
      const { schema, drop } = testSchema(url!, 'skew');
      const jobs = SKEW_JOBS_SPEC.map((spec) => defineJob({ name: spec.name, schema: z.object({}).passthrough(), handler: () => undefined }));
      const { createPostgresStore } = await import('../../src/store/postgres/postgres-store.js');
      const store = createPostgresStore({ connectionString: url!, schema, poolSize: 2 });
      try {
        await store.migrate();
        const client = createClient({ store, jobs });
        await createScheduleManager({ store, jobs }).create({ id: 'skew-every-2s', jobId: 'skew.tick', schedule: '*/2 * * * * *' });
        const child = spawnJsonLineProcess({
          args: ['--import', 'jiti/register', path.join(HERE, 'skewed-worker-process.ts')],
          cwd: ROOT,
          env: { NS_PG_URL: url!, NS_SCHEMA: schema, LD_PRELOAD: libfaketime!, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
          waitTimeoutMs: 30_000,
        });
        const ready = await child.waitForLine((line) => line.type === 'ready');
        const skewMs = (ready.now as number) - (await store.timeNow()).getTime();
        expect(Math.abs(Math.abs(skewMs) - TWO_HOURS)).toBeLessThan(60_000);

        const flaky = (await client.enqueue('skew.flaky', {})).job.id;
        const sleepy = (await client.enqueue('skew.sleepy', {})).job.id;
        await child.waitForLine((line) => line.type === 'failed' && line.id === flaky);
        await child.waitForLine((line) => line.type === 'snoozed' && line.id === sleepy);
        const retryIn = await dueIn(store, flaky);
        const snoozeIn = await dueIn(store, sleepy);
        expect(retryIn).toBeGreaterThan(DELAY - 1500);
        expect(retryIn).toBeLessThanOrEqual(DELAY);
        expect(snoozeIn).toBeGreaterThan(DELAY - 1500);
        expect(snoozeIn).toBeLessThanOrEqual(DELAY);

        // Both run again, no sooner than the delay by the server's clock.
        await child.waitForLine((line) => line.type === 'ran' && line.id === flaky && line.attempt === 2);
        await child.waitForLine((line) => line.type === 'ran' && line.id === sleepy && child.lines.filter((l) => l.type === 'ran' && l.id === sleepy).length === 2);
        // Read the history once the retry has finished: both attempts are then recorded for good.
        const deadline = Date.now() + 15_000;
        while ((await store.jobGet({ id: flaky }))?.state !== 'completed' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
        const attempts = await store.jobAttempts({ id: flaky });
        expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
        const gap = attempts[1]!.startedAt.getTime() - attempts[0]!.finishedAt!.getTime();
        expect(gap).toBeGreaterThanOrEqual(DELAY - 5);

        // Cron: the ticks it claims are at the server's time, not two hours off.
        const fired = await child.waitForLine((line) => line.type === 'fired' && line.scheduleId === 'skew-every-2s');
        const now = (await store.timeNow()).getTime();
        const fireAt = Date.parse(fired.fireAt as string);
        expect(Math.abs(now - fireAt)).toBeLessThan(10_000);
        console.log(
          `[fault] postgres: worker+scheduler process under libfaketime ${offset} (its clock ${Math.round(skewMs / 60000)} min off); observed: retry due in ${retryIn} ms, ` +
            `snooze in ${snoozeIn} ms, retry ran ${gap} ms after the failure by the server's clock, cron tick fired at ${fired.fireAt} (server now ${new Date(now).toISOString()})`,
        );
      } finally {
        await stopAll(10_000);
        await store.close();
        await drop();
      }
    });
  }
});
