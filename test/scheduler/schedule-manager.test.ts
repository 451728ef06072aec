import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { withBuiltinJobs } from '../../src/jobs/builtin-jobs.js';
import { NightshiftEvents } from '../../src/observe/events.js';
import { createScheduleManager, type ScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import { storeHarnesses, type OpenedStore } from './store-harness.js';

const report = defineJob({ name: 'report.daily', schema: z.object({ orgId: z.string() }), handler: () => 'ok' });
const ping = defineJob({ name: 'ping', queue: 'pings', schema: z.object({}), handler: () => 'pong' });
const jobs = [report, ping];
const at = (iso: string): number => Date.parse(iso);

async function rejection(promise: Promise<unknown>): Promise<ValidationError> {
  try {
    await promise;
  } catch (error) {
    return error as ValidationError;
  }
  throw new Error('expected a rejection');
}

for (const harness of storeHarnesses) {
  describe(`schedule manager on ${harness.label}`, () => {
    let opened: OpenedStore;
    let manager: ScheduleManager;

    beforeEach(async () => {
      opened = await harness.open(at('2026-01-05T08:00:00Z'));
      manager = createScheduleManager({ store: opened.store, jobs });
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    it('creates, gets and lists schedules with filters', async () => {
      const created = await manager.create({ jobId: 'report.daily', schedule: '0 9 * * MON-FRI', timezone: 'Europe/Paris', description: 'Daily report', input: { orgId: 'o1' } });
      expect(created).toMatchObject({ id: 'report.daily', jobName: 'report.daily', cron: '0 9 * * MON-FRI', timezone: 'Europe/Paris', enabled: true, paused: false, source: 'api', lastOutcome: null });
      // 09:00 in Paris is 08:00 UTC; it is exactly 08:00 now, and fire times are strictly after now.
      expect(created.nextRunAt?.toISOString()).toBe('2026-01-06T08:00:00.000Z');
      opened.clock.set(at('2026-01-10T00:00:00Z'));
      await manager.create({ id: 'ping.fast', jobId: 'ping', schedule: '*/5 * * * *', overlap: 'skip', priority: 7 });
      await manager.create({ id: 'ping.slow', jobId: 'ping', schedule: '@hourly', enabled: false });
      expect((await manager.list()).map((s) => s.id)).toEqual(['ping.fast', 'ping.slow', 'report.daily']);
      expect((await manager.list({ paused: true })).map((s) => s.id)).toEqual(['ping.slow']);
      expect((await manager.list({ enabled: true })).map((s) => s.id)).toEqual(['ping.fast', 'report.daily']);
      expect((await manager.list({ nameContains: 'PING' })).map((s) => s.id)).toEqual(['ping.fast', 'ping.slow']);
      expect((await manager.list({ cron: '*/5  * * * *' })).map((s) => s.id)).toEqual(['ping.fast']);
      expect((await manager.list({ createdAfter: new Date(at('2026-01-09T00:00:00Z')) })).map((s) => s.id)).toEqual(['ping.fast', 'ping.slow']);
      expect((await manager.list({ createdBefore: new Date(at('2026-01-09T00:00:00Z')) })).map((s) => s.id)).toEqual(['report.daily']);
      expect(await manager.get('nope')).toBeNull();
      expect((await manager.get('ping.slow'))?.nextRunAt).toBeNull();
    });

    it('updates cron, timezone, input and enabled, recomputing the next run from now', async () => {
      await manager.create({ id: 'r', jobId: 'report.daily', schedule: '0 9 * * *', input: { orgId: 'o1' } });
      const updated = await manager.update('r', { schedule: '30 6 * * *', timezone: 'America/New_York', input: { orgId: 'o2' } });
      expect(updated).toMatchObject({ cron: '30 6 * * *', timezone: 'America/New_York', input: '{"orgId":"o2"}' });
      expect(updated.nextRunAt?.toISOString()).toBe('2026-01-05T11:30:00.000Z');
      const disabled = await manager.update('r', { enabled: false });
      expect(disabled).toMatchObject({ enabled: false, paused: true, nextRunAt: null });
      const bad = await rejection(manager.update('r', { input: { orgId: 42 } }));
      expect(bad.code).toBe('INVALID_PAYLOAD');
      expect((await manager.get('r'))?.input).toBe('{"orgId":"o2"}'); // unchanged
      await expect(manager.update('missing', { enabled: true })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('tells its events of a manual run as the scheduler tells a tick: the job enqueued, then the schedule fired', async () => {
      const events = new NightshiftEvents();
      const told: string[] = [];
      events.on('job:enqueued', ({ job, inserted }) => told.push(`enqueued ${job.id} ${job.scheduleId} ${inserted}`));
      events.on('schedule:fired', ({ scheduleId, jobId, status, fireAt }) => told.push(`fired ${scheduleId} ${jobId} ${status} ${fireAt.getTime() % 1000 !== 0}`));
      const telling = createScheduleManager({ store: opened.store, jobs, events });
      await telling.create({ id: 'p', jobId: 'ping', schedule: '0 * * * *' });
      expect(told).toEqual([]);
      const { job } = await telling.trigger('p');
      expect(told).toEqual([`enqueued ${job.id} p true`, `fired p ${job.id} manual true`]);
      // A trigger that fails (an input the job refuses) tells nothing.
      await telling.create({ id: 'r', jobId: 'report.daily', schedule: '@daily', input: { orgId: 'o1' } });
      await expect(telling.trigger('r', { input: { orgId: 5 } })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
      expect(told).toHaveLength(2);
    });

    it('pauses, resumes, triggers now and shows history, last outcome and statistics', async () => {
      await manager.create({ id: 'p', jobId: 'ping', schedule: '0 * * * *', overlap: 'skip' });
      const paused = await manager.pause('p');
      expect(paused).toMatchObject({ enabled: false, paused: true, nextRunAt: null });
      const triggered = await manager.trigger('p');
      expect(triggered.job).toMatchObject({ name: 'ping', queue: 'pings', scheduleId: 'p', state: 'available' });
      expect(triggered.tick.status).toBe('manual');
      expect(triggered.tick.fireAt.getTime() % 1000).not.toBe(0);
      const second = await manager.trigger('p');
      expect(second.job.id).not.toBe(triggered.job.id);

      const resumed = await manager.resume('p');
      expect(resumed.nextRunAt?.toISOString()).toBe('2026-01-05T09:00:00.000Z');
      // Finish one manual run as a worker would, fail the other for good.
      const running = await opened.store.jobFetch({ queue: 'pings', limit: 2, owner: 'w', leaseMs: 60_000 });
      await opened.store.jobFinishMany({
        items: [
          { id: running[0]!.id, token: running[0]!.lease!.token, finish: { outcome: 'completed', result: '"pong"' } },
          { id: running[1]!.id, token: running[1]!.lease!.token, finish: { outcome: 'dead', error: { name: 'Error', message: 'boom', stack: null, kind: 'error' } } },
        ],
      });
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      await createScheduler({ store: opened.store, jobs }).runOnce();

      const view = await manager.get('p');
      expect(view?.lastRunAt?.toISOString()).toBe('2026-01-05T09:00:00.000Z');
      expect(view?.lastOutcome?.state).toBe('available');
      const history = await manager.history('p');
      expect(history.map((entry) => entry.status)).toEqual(['enqueued', 'manual', 'manual']);
      expect(history.map((entry) => entry.job?.state).sort()).toEqual(['available', 'completed', 'dead']);
      expect(history.find((entry) => entry.job?.state === 'dead')?.job?.lastError?.message).toBe('boom');
      expect(await manager.upcoming('p', 3)).toEqual([new Date('2026-01-05T10:00:00Z'), new Date('2026-01-05T11:00:00Z'), new Date('2026-01-05T12:00:00Z')]);

      await manager.create({ id: 'q', jobId: 'ping', schedule: '0 0 * * *', enabled: false });
      expect(await manager.stats()).toEqual({
        schedules: { total: 2, active: 1, paused: 1 },
        runs: { total: 3, pending: 1, running: 0, completed: 1, failed: 1, cancelled: 0 },
        successRate: 0.5,
      });
    });

    it('trigger can override the input, which is still checked against the schema', async () => {
      await manager.create({ id: 'r', jobId: 'report.daily', schedule: '0 9 * * *', input: { orgId: 'o1' } });
      const { job } = await manager.trigger('r', { input: { orgId: 'other' } });
      expect(JSON.parse(job.payload)).toEqual({ orgId: 'other' });
      expect((await rejection(manager.trigger('r', { input: { org: 1 } }))).code).toBe('INVALID_PAYLOAD');
      await expect(manager.trigger('nope')).rejects.toMatchObject({ code: 'UNKNOWN_SCHEDULE' });
    });

    it('deletes a schedule; a re-created one never re-fires a tick already claimed', async () => {
      await manager.create({ id: 'h', jobId: 'ping', schedule: '0 * * * *' });
      opened.clock.set(at('2026-01-05T09:00:00Z'));
      const scheduler = createScheduler({ store: opened.store, jobs });
      expect((await scheduler.runOnce()).enqueued).toBe(1);
      expect(await manager.delete('h')).toBe(true);
      expect(await manager.delete('h')).toBe(false);
      expect(await manager.get('h')).toBeNull();
      await manager.create({ id: 'h', jobId: 'ping', schedule: '0 * * * *' });
      // Force the re-created schedule to look at 09:00 again: the tick row still says it was claimed.
      await opened.store.scheduleUpdateNext({ id: 'h', nextRunAt: new Date(at('2026-01-05T09:00:00Z')) });
      const again = await scheduler.runOnce();
      expect(again).toMatchObject({ enqueued: 0, lost: 1 });
      expect((await manager.get('h'))?.nextRunAt?.toISOString()).toBe('2026-01-05T10:00:00.000Z');
    });

    describe('rejects bad input with a typed error naming the field, and changes nothing', () => {
      const cases: [string, Record<string, unknown>, string, string][] = [
        ['minute out of range', { schedule: '61 * * * *' }, 'INVALID_CRON', 'minute field: 61 is out of range 0–59'],
        ['too few fields', { schedule: '* * *' }, 'INVALID_CRON', 'expected 5 fields'],
        ['zero step', { schedule: '*/0 * * * *' }, 'INVALID_CRON', 'step must be at least 1'],
        ['never fires', { schedule: '0 0 31 2 *' }, 'INVALID_CRON', 'never fires'],
        ['unknown alias', { schedule: '@sometimes' }, 'INVALID_CRON', 'unknown alias'],
        ['unknown time zone', { timezone: 'America/New_Yrok' }, 'INVALID_TIMEZONE', 'America/New_Yrok'],
        ['unknown job', { jobId: 'report.weekly' }, 'UNKNOWN_JOB', 'known jobs: ping, report.daily'],
        ['input failing the schema', { input: { orgId: 7 } }, 'INVALID_PAYLOAD', 'orgId'],
        ['unknown field', { timzone: 'UTC' }, 'INVALID_OPTION', 'timzone'],
        ['bad catchUp', { catchUp: -1 }, 'INVALID_OPTION', 'catchUp'],
        ['bad overlap', { overlap: 'sometimes' }, 'INVALID_OPTION', 'overlap'],
        ['bad id', { id: 'has space' }, 'INVALID_NAME', 'schedule.id'],
        ['bad priority', { priority: 2_000_000 }, 'INVALID_OPTION', 'priority'],
      ];
      for (const [label, override, code, text] of cases) {
        it(label, async () => {
          const error = await rejection(manager.create({ id: 'bad', jobId: 'report.daily', schedule: '0 9 * * *', input: { orgId: 'o1' }, ...override } as never));
          expect(error).toBeInstanceOf(ValidationError);
          expect(error.code).toBe(code);
          expect(error.message).toContain(text);
          expect(await manager.list()).toEqual([]);
        });
      }

      it('several problems: all named, with the first one\'s code', async () => {
        const error = await rejection(manager.create({ id: 'bad', jobId: 'nope', schedule: '61 * * * *', timezone: 'Bad/Zone', priority: 'HIGH' } as never));
        expect(error.code).toBe('INVALID_CRON');
        expect(error.issues.map((issue) => issue.path)).toEqual(['schedule.schedule', 'schedule.timezone', 'schedule.jobId', 'schedule.priority']);
        expect(error.message).toContain('schedule.timezone: unknown time zone "Bad/Zone"');
        expect(error.message).toContain('schedule.jobId: unknown job "nope"');
        expect(await manager.list()).toEqual([]);
      });

      it('an input the built-in job\'s allow-list refuses (POST /api/schedules, PATCH)', async () => {
        const withHttp = createScheduleManager({ store: opened.store, jobs: withBuiltinJobs(jobs, { http: { allow: ['hooks.example.org'] } }) });
        const error = await rejection(withHttp.create({ id: 'hook', jobId: 'http', schedule: '@daily', input: { url: 'https://evil.example/x' } }));
        expect(error.code).toBe('INVALID_PAYLOAD');
        expect(error.message).toBe('schedule.input.url: refused GET https://evil.example/x: evil.example is not in builtins.http.allow (allowed: hooks.example.org); add the host or a URL prefix there to allow it');
        expect(await withHttp.list()).toEqual([]);
        await withHttp.create({ id: 'hook', jobId: 'http', schedule: '@daily', input: { url: 'https://hooks.example.org/x' } });
        const changed = await rejection(withHttp.update('hook', { input: { url: 'https://evil.example/x' } }));
        expect(changed.code).toBe('INVALID_PAYLOAD');
        expect(JSON.parse((await withHttp.get('hook'))!.input)).toEqual({ url: 'https://hooks.example.org/x' });
      });

      it('duplicate id', async () => {
        await manager.create({ id: 'dup', jobId: 'ping', schedule: '@daily' });
        const error = await rejection(manager.create({ id: 'dup', jobId: 'ping', schedule: '@hourly' }));
        expect(error.code).toBe('DUPLICATE_SCHEDULE');
        expect((await manager.get('dup'))?.cron).toBe('@daily');
      });
    });
  });
}
