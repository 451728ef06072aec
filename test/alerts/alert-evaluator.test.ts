// Alert rules evaluated against a real store on both stores, with an injected clock: each
// condition fires on exactly the subjects past its threshold, and stays quiet below it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluateAlertRules, type Firing } from '../../src/alerts/alert-evaluator.js';
import { parseAlertRules } from '../../src/alerts/alert-rules.js';
import { createAlertService } from '../../src/alerts/alert-service.js';
import type { Store } from '../../src/store/types.js';
import type { ProcessInfo } from '../../src/observe/process-registry.js';
import { TestClock } from '../../src/store/conformance/test-clock.js';
import { STATS_BUCKET_COUNT, type JobInsert, type StatsDelta } from '../../src/store/types.js';
import { jobInput } from '../../src/store/conformance/conformance-fixtures.js';
import { emptyDelta } from '../../src/observe/stats-recorder.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const insert = (overrides: Partial<JobInsert> = {}): JobInsert => jobInput({ name: 'sync', maxAttempts: 1, payload: '{}', ...overrides });
const delta = (overrides: Partial<StatsDelta>): StatsDelta => ({ ...emptyDelta('default', 'sync'), ...overrides });
const keys = (firings: Firing[]) => firings.map((firing) => firing.key).sort();

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`alert rules on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let clock: TestClock;
    beforeEach(async () => {
      clock = new TestClock();
      opened = await kind.open({ clock: clock.fn });
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    /** Runs jobs of `name` to the given ends, oldest first. */
    async function finish(name: string, ends: ('completed' | 'dead')[], queue = 'default') {
      for (const end of ends) {
        const [result] = await opened.store.jobInsertMany({ jobs: [insert({ name, queue })] });
        const [claimed] = await opened.store.jobFetch({ queue, limit: 1, owner: 'w', leaseMs: 60_000, ids: [result!.job.id] });
        await opened.store.jobFinishMany({
          items: [{ id: claimed!.id, token: claimed!.lease!.token, finish: end === 'completed' ? { outcome: 'completed', result: null } : { outcome: 'dead', error: { name: 'SyncError', message: `upstream said no to ${name}`, stack: null, kind: 'error' } } }],
        });
      }
    }

    it('job failures: consecutive dead jobs per name, failure counts in a window, with a job pattern', async () => {
      await finish('sync', ['completed', 'dead', 'dead', 'dead']);
      await finish('mail', ['dead', 'completed', 'dead']);
      await opened.store.statsAdd({ deltas: [delta({ name: 'sync', dead: 3, completed: 1 }), delta({ name: 'mail', dead: 2, timeouts: 2 }), delta({ name: 'github-sync', failed: 1, timeouts: 1 })] });
      const rules = parseAlertRules({
        jobFailures: [
          { name: 'repeated', conditions: { consecutiveFailures: 3 }, severity: 'high' },
          { name: 'critical', conditions: { jobPattern: '^(questmaster|github-sync)', failureCount: 1 }, severity: 'critical' },
          { name: 'noisy', conditions: { failuresPerHour: 3 } },
          { name: 'too-slow', conditions: { timeouts: 2, timeWindow: 600 } },
        ],
      });
      const firings = await evaluateAlertRules(opened.store, rules, { jobNames: ['sync', 'mail'] });
      expect(keys(firings)).toEqual(['critical|job|github-sync', 'noisy|job|sync', 'repeated|job|sync', 'too-slow|job|mail']);
      const repeated = firings.find((firing) => firing.rule === 'repeated')!;
      expect(repeated).toMatchObject({ severity: 'high', measured: 'the newest 3 finished jobs all ended dead', threshold: 'consecutiveFailures ≥ 3', lastError: { name: 'SyncError', message: 'upstream said no to sync' } });
      // An hour later the window is empty: the count rules go quiet; the streak is still the streak.
      clock.advance(3_700_000);
      expect(keys(await evaluateAlertRules(opened.store, rules, { jobNames: ['sync', 'mail'] }))).toEqual(['repeated|job|sync']);
    });

    it('job failures: every pass sees what ended since, stats or not, in one read of the store for all names', async () => {
      const reads: string[][] = [];
      const store = new Proxy(opened.store, {
        get(target, property) {
          if (property === 'jobNewestFinished') return (params: Parameters<Store['jobNewestFinished']>[0]) => (reads.push([...params.names].sort()), target.jobNewestFinished(params));
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const rules = parseAlertRules({ jobFailures: [{ name: 'streak', conditions: { consecutiveFailures: 2 } }] });
      const pass = async () => {
        reads.length = 0;
        return keys(await evaluateAlertRules(store, rules, { jobNames: ['sync', 'mail', 'idle'] }));
      };
      await finish('sync', ['dead', 'dead']);
      await finish('mail', ['completed']);
      expect(await pass()).toEqual(['streak|job|sync']);
      expect(reads).toEqual([['idle', 'mail', 'sync']]);

      // idle dies twice where the stats do not see it (as the rescuer's deaths): the next pass fires.
      await finish('idle', ['dead', 'dead']);
      clock.advance(30_000);
      expect(await pass()).toEqual(['streak|job|idle', 'streak|job|sync']);

      // sync completes, uncounted too: its streak clears at once.
      await finish('sync', ['completed']);
      clock.advance(30_000);
      expect(await pass()).toEqual(['streak|job|idle']);

      // An operator retries idle's newest dead job: one dead job left on top, under the streak of 2.
      const [newest] = (await opened.store.jobList({ filter: { names: ['idle'], states: ['dead'] }, limit: 1 })).jobs;
      await opened.store.jobRetry({ id: newest!.id });
      clock.advance(30_000);
      expect(await pass()).toEqual([]);
      expect(reads).toEqual([['idle', 'mail', 'sync']]);
    });

    it('queue health: dead-letter size, backlog, delayed jobs, oldest due job and no live worker', async () => {
      await finish('sync', ['dead', 'dead'], 'mail');
      await opened.store.jobInsertMany({ jobs: Array.from({ length: 3 }, () => insert({ queue: 'bulk' })) });
      await opened.store.jobInsertMany({ jobs: [insert({ queue: 'later', runAt: new Date(clock.now() + 3_600_000) })] });
      await opened.store.queuePause({ queue: 'frozen' }); // paused for two minutes, without a job
      clock.advance(90_000);
      await opened.store.queuePause({ queue: 'just-paused' }); // paused for 30 s: under the rule's minute
      clock.advance(30_000); // the bulk jobs have waited two minutes
      // Due for 10 s with no consumer: a worker about to start (a split deploy), not yet an orphan.
      await opened.store.jobInsertMany({ jobs: [insert({ queue: 'fresh' })] });
      clock.advance(10_000);
      const rules = parseAlertRules({
        queueHealth: [
          { name: 'dlq', conditions: { dlqSize: 2 } },
          { name: 'backlog', conditions: { pendingJobs: 3 } },
          { name: 'delayed', conditions: { delayedJobs: 1 } },
          { name: 'stuck', conditions: { oldestDueSeconds: 60, queuePattern: '^bulk$' } },
          { name: 'orphaned', conditions: { noWorker: true } },
          { name: 'quiet', conditions: { dlqSize: 3 } },
          { name: 'held', conditions: { pausedForSeconds: 60 } },
        ],
      });
      expect(keys(await evaluateAlertRules(opened.store, rules))).toEqual([
        'backlog|queue|bulk',
        'delayed|queue|later',
        'dlq|queue|mail',
        'held|queue|frozen',
        'orphaned|queue|bulk',
        'stuck|queue|bulk',
      ]);
    });

    it('queue health: every live slot of a queue busy for N s fires, per evaluator, and resolves when a slot frees', async () => {
      /** What each process tells the registry (as the runtime does every 10 s). */
      const beat = async (queues: Record<string, ProcessInfo['queues']>) => {
        for (const [id, slots] of Object.entries(queues)) {
          const info: ProcessInfo = { id, host: 'test', pid: 1, version: '0', roles: ['worker'], queues: slots, runningJobIds: [], startedAt: new Date(clock.now()).toISOString() };
          await opened.store.processHeartbeat({ id, info: JSON.stringify(info), forgetAfterMs: 3_600_000 });
        }
      };
      const full = {
        // `busy` is full across two processes (2/2 + 2/2); `capped` is held by its cluster-wide limit of 2
        // (the smallest reported) although 6 slots are configured; `calm` has room.
        a: [{ queue: 'busy', concurrency: 2, busy: 2 }, { queue: 'calm', concurrency: 4, busy: 1 }, { queue: 'capped', concurrency: 4, busy: 1, globalConcurrency: 3 }],
        b: [{ queue: 'busy', concurrency: 2, busy: 2 }, { queue: 'capped', concurrency: 2, busy: 1, globalConcurrency: 2 }],
      };
      const rules = parseAlertRules({
        settings: { channels: ['log'], throttle: { minInterval: 0 } },
        queueHealth: [
          { name: 'saturated', conditions: { saturatedForSeconds: 60 } },
          { name: 'capped-saturated', conditions: { saturatedForSeconds: 90, queuePattern: '^capped$' } },
        ],
      });
      const service = createAlertService({ store: opened.store as never, rules, channelNames: ['log'] });
      const opensOf = async () => (await service.evaluate()).opened.map((episode) => episode.key).sort();

      await beat(full);
      expect(await opensOf()).toEqual([]); // saturated from now on
      clock.advance(30_000);
      await beat(full);
      expect(await opensOf()).toEqual([]); // 30 s < 60 s
      clock.advance(30_000);
      await beat(full);
      expect(await opensOf()).toEqual(['saturated|queue|busy', 'saturated|queue|capped']);
      const firings = await evaluateAlertRules(opened.store, rules);
      expect(firings).toEqual([]); // a one-off evaluation has no memory of earlier passes
      clock.advance(30_000);
      await beat(full);
      const pass = await service.evaluate();
      expect(pass.opened.map((episode) => episode.key)).toEqual(['capped-saturated|queue|capped']);
      const measured = (await opened.store.alertList({ filter: { open: true }, limit: 10 })).map((episode) => [episode.key, JSON.parse(episode.info).measured, JSON.parse(episode.info).threshold]).sort();
      expect(measured).toEqual([
        ['capped-saturated|queue|capped', 'saturated for 90 s (2/2 slots busy)', 'saturatedForSeconds ≥ 90'],
        ['saturated|queue|busy', 'saturated for 60 s (4/4 slots busy)', 'saturatedForSeconds ≥ 60'],
        ['saturated|queue|capped', 'saturated for 60 s (2/2 slots busy)', 'saturatedForSeconds ≥ 60'],
      ]);

      // One slot of `busy` frees: its episode resolves, and its clock starts again from the next full pass.
      clock.advance(10_000);
      await beat({ ...full, b: [{ queue: 'busy', concurrency: 2, busy: 1 }, full.b[1]!] });
      expect((await service.evaluate()).resolved.map((episode) => episode.key)).toEqual(['saturated|queue|busy']);
      clock.advance(10_000);
      await beat(full);
      expect(await opensOf()).toEqual([]);
      clock.advance(59_000);
      await beat(full);
      expect(await opensOf()).toEqual([]); // 59 s since it filled again
      clock.advance(1_000);
      expect(await opensOf()).toEqual(['saturated|queue|busy']);

      // Its processes stop beating: nothing consumes the queues, nothing is saturated, all resolve.
      clock.advance(31_000);
      expect((await service.evaluate()).resolved.map((episode) => episode.key).sort()).toEqual(['capped-saturated|queue|capped', 'saturated|queue|busy', 'saturated|queue|capped']);
    });

    it('performance: success rate below a floor with enough runs, and run time against the day before', async () => {
      const durations = (count: number, bucket: number, sumMs: number) => {
        const buckets = new Array(STATS_BUCKET_COUNT).fill(0);
        buckets[bucket] = count;
        return { durationBuckets: buckets, durationSumMs: sumMs };
      };
      await opened.store.statsAdd({ deltas: [delta({ name: 'report', completed: 10, ...durations(10, 4, 1_000) })] }); // 100 ms each
      clock.advance(86_400_000 + 600_000);
      await opened.store.statsAdd({
        deltas: [
          delta({ name: 'flaky', completed: 3, dead: 2, ...durations(5, 1, 40) }),
          delta({ name: 'rare', completed: 0, dead: 1, ...durations(1, 1, 8) }),
          delta({ name: 'report', completed: 4, ...durations(4, 7, 1_200) }), // 300 ms each
        ],
      });
      const rules = parseAlertRules({
        performance: [
          { name: 'low-success-rate', conditions: { jobPattern: '.*', successRate: 0.8, timeWindow: 3600, minRuns: 5 } },
          { name: 'duration-spike', conditions: { jobPattern: '.*', durationIncrease: 2.0, timeWindow: 3600, minRuns: 3 } },
        ],
      });
      const firings = await evaluateAlertRules(opened.store, rules);
      expect(keys(firings)).toEqual(['duration-spike|job|report', 'low-success-rate|job|flaky']);
      expect(firings.find((firing) => firing.rule === 'duration-spike')!.measured).toBe('average run time 300 ms against 100 ms the day before (×3)');
    });

    it('schedules: a tick later than its grace and not claimed', async () => {
      const schedule = { jobName: 'sync', cron: '0 * * * *', timezone: 'UTC', enabled: true, description: null, input: '{}', catchUp: 0, overlap: 'allow' as const, source: 'code' as const, jobOptions: null };
      await opened.store.scheduleUpsertMany({ schedules: [{ ...schedule, id: 'hourly' }, { ...schedule, id: 'paused', enabled: false }, { ...schedule, id: 'fine' }] });
      await opened.store.scheduleUpdateNext({ id: 'hourly', nextRunAt: new Date(clock.now() - 600_000) });
      await opened.store.scheduleUpdateNext({ id: 'paused', nextRunAt: new Date(clock.now() - 600_000) });
      await opened.store.scheduleUpdateNext({ id: 'fine', nextRunAt: new Date(clock.now() - 30_000) });
      const rules = parseAlertRules({ schedules: [{ name: 'missed-tick', conditions: { lateBySeconds: 120 } }] });
      expect(keys(await evaluateAlertRules(opened.store, rules))).toEqual(['missed-tick|schedule|hourly']);
      expect(await evaluateAlertRules(opened.store, parseAlertRules({ settings: { enabled: false }, schedules: [{ name: 'missed-tick', conditions: { lateBySeconds: 120 } }] }))).toEqual([]);
    });
  });
}
