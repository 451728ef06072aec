// The schedule routes of the HTTP API over real loopback HTTP, on both stores: every route, the
// filters, hostile input (a clear error, nothing stored), schedules owned by a file or the config
// (409, nothing changed), and trigger → a real worker runs the job → history and stats show it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validate as validateOpenApi } from '@readme/openapi-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import type { NightshiftEventMap } from '../../src/observe/events.js';
import { createJobRegistry } from '../../src/scheduler/schedule-definition.js';
import { syncScheduleDefinitions, syncScheduleFile } from '../../src/scheduler/schedule-file.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { callJson, type Reply } from '../support/http-call.js';

const report = defineJob({
  name: 'report.daily',
  queue: 'reports',
  schema: z.object({ orgId: z.string().min(1) }),
  handler: async ({ orgId }) => ({ reported: orgId }),
});
const failing = defineJob({
  name: 'always.fails',
  retry: { attempts: 1 },
  handler: () => {
    throw new Error('upstream down');
  },
});
const JOBS = [report, failing];


const SCHEDULE_ROUTES = [
  'GET /api/schedules',
  'POST /api/schedules',
  'GET /api/schedules/stats',
  'GET /api/schedules/{id}',
  'PATCH /api/schedules/{id}',
  'DELETE /api/schedules/{id}',
  'POST /api/schedules/{id}/pause',
  'POST /api/schedules/{id}/resume',
  'POST /api/schedules/{id}/trigger',
  'GET /api/schedules/{id}/history',
];

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`HTTP API schedules on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift | null = null;
    let base: string;
    let tmp: string;

    async function start(options: { worker?: boolean; scheduleFile?: string } = {}): Promise<void> {
      nightshift = createNightshift({
        store: opened.store,
        jobs: JOBS,
        worker: options.worker ?? false,
        pollIntervalMs: 20,
        http: { port: 0, ...(options.scheduleFile ? { scheduleFile: options.scheduleFile } : {}) },
      });
      await nightshift.start();
      base = nightshift.httpAddress!;
    }

    const call = (method: string, path: string, body?: unknown): Promise<Reply> => callJson(base, method, path, body);

    /** Resolves with the first event of `name` that `match` accepts (registered before the action that causes it). */
    function nextEvent<K extends keyof NightshiftEventMap>(name: K, match: (payload: NightshiftEventMap[K]) => boolean): Promise<NightshiftEventMap[K]> {
      return new Promise((resolve) => {
        const listener = (payload: NightshiftEventMap[K]) => {
          if (!match(payload)) return;
          nightshift!.events.off(name, listener);
          resolve(payload);
        };
        nightshift!.events.on(name, listener);
      });
    }

    const storedIds = async () => (await opened.store.scheduleList({})).map((schedule) => schedule.id).sort();
    const jobCount = async () => Object.values((await opened.store.jobStats()).totals).reduce((sum, n) => sum + n, 0);

    beforeEach(async () => {
      opened = await kind.open();
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-api-schedules-'));
    });
    afterEach(async () => {
      await nightshift?.stop();
      nightshift = null;
      await opened.cleanup();
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('creates, shows, lists with filters, changes, pauses, resumes and deletes', async () => {
      await start();
      const created = await call('POST', '/api/schedules', {
        id: 'report.acme',
        jobId: 'report.daily',
        schedule: '0 9 * * MON-FRI',
        timezone: 'America/New_York',
        description: 'weekday report',
        input: { orgId: 'acme' },
        catchUp: 2,
        overlap: 'skip',
        priority: 7,
      });
      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({
        id: 'report.acme',
        jobName: 'report.daily',
        cron: '0 9 * * MON-FRI',
        timezone: 'America/New_York',
        enabled: true,
        paused: false,
        description: 'weekday report',
        input: { orgId: 'acme' },
        catchUp: 2,
        overlap: 'skip',
        source: 'api',
        jobOptions: { priority: 7 },
        lastRunAt: null,
        lastJobId: null,
        lastOutcome: null,
      });
      expect(Date.parse(created.body.nextRunAt)).toBeGreaterThan(Date.now() - 60_000);

      // Defaults: id = jobId, UTC, enabled, input {}.
      const second = await call('POST', '/api/schedules', { jobId: 'always.fails', schedule: '@hourly', enabled: false });
      expect(second).toMatchObject({ status: 201, body: { id: 'always.fails', timezone: 'UTC', enabled: false, paused: true, input: {}, nextRunAt: null, overlap: 'allow' } });
      // An id with a slash is one path segment when sent as %2F.
      expect((await call('POST', '/api/schedules', { id: 'reports/eu', jobId: 'report.daily', schedule: '*/15 * * * *', input: { orgId: 'eu' } })).status).toBe(201);

      const shown = await call('GET', '/api/schedules/report.acme');
      expect(shown.status).toBe(200);
      expect(shown.body.upcoming).toHaveLength(5);
      expect(shown.body.upcoming[0]).toBe(shown.body.nextRunAt);
      // 09:00 in New York is 13:00 or 14:00 UTC, on a weekday.
      for (const at of shown.body.upcoming as string[]) {
        expect([13, 14]).toContain(new Date(at).getUTCHours());
        expect([0, 6]).not.toContain(new Date(at).getUTCDay());
      }
      expect((await call('GET', '/api/schedules/always.fails')).body.upcoming).toEqual([]);
      expect(await call('GET', '/api/schedules/reports%2Feu')).toMatchObject({ status: 200, body: { id: 'reports/eu', cron: '*/15 * * * *' } });

      const ids = async (query: string) => ((await call('GET', `/api/schedules${query}`)).body.schedules as { id: string }[]).map((s) => s.id).sort();
      expect(await ids('')).toEqual(['always.fails', 'report.acme', 'reports/eu']);
      expect(await ids('?enabled=true')).toEqual(['report.acme', 'reports/eu']);
      expect(await ids('?enabled=false')).toEqual(['always.fails']);
      expect(await ids('?search=REPORT')).toEqual(['report.acme', 'reports/eu']);
      expect(await ids(`?cron=${encodeURIComponent('*/15  *  * * *')}`)).toEqual(['reports/eu']);
      expect(await ids('?source=api')).toEqual(['always.fails', 'report.acme', 'reports/eu']);
      expect(await ids('?source=file')).toEqual([]);
      expect(await ids(`?createdAfter=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).toEqual([]);
      expect(await ids(`?createdBefore=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}&search=acme`)).toEqual(['report.acme']);
      expect((await call('GET', '/api/schedules?enabled=yes')).status).toBe(400);

      // A change of the cron moves the next run; fields left out keep their values; null clears the description.
      const patched = await call('PATCH', '/api/schedules/report.acme', { schedule: '30 8 * * *', description: null, input: { orgId: 'acme-eu' } });
      expect(patched.status, patched.text).toBe(200);
      expect(patched.body).toMatchObject({ cron: '30 8 * * *', timezone: 'America/New_York', description: null, input: { orgId: 'acme-eu' }, overlap: 'skip', catchUp: 2, jobOptions: { priority: 7 } });
      expect(patched.body.nextRunAt).not.toBe(created.body.nextRunAt);
      expect([12, 13]).toContain(new Date(patched.body.nextRunAt).getUTCHours());

      const paused = await call('POST', '/api/schedules/report.acme/pause');
      expect(paused).toMatchObject({ status: 200, body: { enabled: false, paused: true, nextRunAt: null } });
      expect((await opened.store.scheduleGet({ id: 'report.acme' }))?.enabled).toBe(false);
      expect(await call('POST', '/api/schedules/report.acme/pause')).toMatchObject({ status: 200, body: { enabled: false } });
      const resumed = await call('POST', '/api/schedules/report.acme/resume');
      expect(resumed).toMatchObject({ status: 200, body: { enabled: true, paused: false } });
      expect(resumed.body.nextRunAt).not.toBeNull();
      expect(await call('POST', '/api/schedules/report.acme/resume')).toMatchObject({ status: 200, body: { enabled: true } });

      expect(await call('DELETE', '/api/schedules/report.acme')).toMatchObject({ status: 200, body: { id: 'report.acme', deleted: true } });
      expect(await call('GET', '/api/schedules/report.acme')).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_SCHEDULE' } } });
      expect(await call('DELETE', '/api/schedules/report.acme')).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_SCHEDULE' } } });
      expect(await call('DELETE', '/api/schedules/reports%2Feu')).toMatchObject({ status: 200 });
      // The longest id (128 characters), every slash percent-encoded, is still one reachable parameter.
      const longest = `a${'/b'.repeat(63)}c`;
      expect(longest).toHaveLength(128);
      expect((await call('POST', '/api/schedules', { id: longest, jobId: 'always.fails', schedule: '@daily' })).status).toBe(201);
      expect(await call('POST', `/api/schedules/${encodeURIComponent(longest)}/pause`)).toMatchObject({ status: 200, body: { id: longest, paused: true } });
      expect(await call('DELETE', `/api/schedules/${encodeURIComponent(longest)}`)).toMatchObject({ status: 200, body: { id: longest } });
      expect(await storedIds()).toEqual(['always.fails']);
      expect(await jobCount()).toBe(0);
    });

    it('hostile input gets a clear error in the one shape and stores nothing', async () => {
      await start();
      const valid = { id: 'ok.one', jobId: 'report.daily', schedule: '0 9 * * *', input: { orgId: 'acme' } };
      expect((await call('POST', '/api/schedules', valid)).status).toBe(201);
      const before = await opened.store.scheduleGet({ id: 'ok.one' });

      const cases: [string, unknown, number, string, RegExp?][] = [
        ['out-of-range minute', { ...valid, id: 'x1', schedule: '61 * * * *' }, 400, 'INVALID_CRON', /minute field: 61 is out of range/],
        ['too few fields', { ...valid, id: 'x2', schedule: '* * *' }, 400, 'INVALID_CRON'],
        ['empty cron', { ...valid, id: 'x3', schedule: '' }, 400, 'INVALID_CRON'],
        ['cron that never fires', { ...valid, id: 'x4', schedule: '0 0 31 2 *' }, 400, 'INVALID_CRON', /never fires/],
        ['misspelt zone', { ...valid, id: 'x5', timezone: 'America/New_Yrok' }, 400, 'INVALID_TIMEZONE', /America\/New_Yrok/],
        ['zone with ../', { ...valid, id: 'x6', timezone: '../../etc/localtime' }, 400, 'INVALID_TIMEZONE'],
        ['unknown job', { ...valid, id: 'x7', jobId: 'no.such.job' }, 404, 'UNKNOWN_JOB', /known jobs: always\.fails, report\.daily/],
        ['input failing the schema', { ...valid, id: 'x8', input: { orgId: '' } }, 400, 'INVALID_PAYLOAD'],
        ['duplicate id', valid, 409, 'DUPLICATE_SCHEDULE', /already exists/],
        ['id with ../', { ...valid, id: '../etc/passwd' }, 400, 'INVALID_REQUEST', /schedule id/],
        ['id with quotes', { ...valid, id: 'a"b\'c' }, 400, 'INVALID_REQUEST'],
        ['id with NUL', { ...valid, id: 'a\u0000b' }, 400, 'INVALID_REQUEST'],
        ['id of 129 characters', { ...valid, id: 'a'.repeat(129) }, 400, 'INVALID_REQUEST'],
        ['job id with ../', { ...valid, id: 'x9', jobId: '../x' }, 400, 'INVALID_REQUEST'],
        ['unknown field', { ...valid, id: 'x10', timzone: 'UTC' }, 400, 'INVALID_REQUEST', /timzone/],
        ['catchUp past 1000', { ...valid, id: 'x11', catchUp: 1001 }, 400, 'INVALID_REQUEST'],
        ['unknown overlap policy', { ...valid, id: 'x12', overlap: 'sometimes' }, 400, 'INVALID_REQUEST'],
        ['description with NUL', { ...valid, id: 'x13', description: 'a\u0000b' }, 400, 'INVALID_OPTION'],
        ['missing cron', { id: 'x14', jobId: 'report.daily' }, 400, 'INVALID_REQUEST'],
        ['not JSON', '{"jobId": ', 400, 'INVALID_REQUEST'],
      ];
      for (const [what, body, status, code, message] of cases) {
        const reply = await call('POST', '/api/schedules', body);
        expect(reply.status, `${what}: ${reply.text.slice(0, 300)}`).toBe(status);
        expect(reply.body?.error?.code, what).toBe(code);
        expect(typeof reply.body.error.message, what).toBe('string');
        if (message) expect(reply.body.error.message, what).toMatch(message);
      }

      // Changes that fail leave the schedule as it was.
      for (const [what, patch, code] of [
        ['bad cron', { schedule: '*/0 * * * *' }, 'INVALID_CRON'],
        ['bad zone', { timezone: 'Mars/Olympus' }, 'INVALID_TIMEZONE'],
        ['unknown job', { jobId: 'no.such.job' }, 'UNKNOWN_JOB'],
        ['id change', { id: 'other' }, 'INVALID_REQUEST'],
        ['unknown field', { enabeld: false }, 'INVALID_REQUEST'],
        ['input failing the schema', { input: { orgId: 42 } }, 'INVALID_PAYLOAD'],
      ] as const) {
        const reply = await call('PATCH', '/api/schedules/ok.one', patch);
        expect(reply.body?.error?.code, `${what}: ${reply.text.slice(0, 300)}`).toBe(code);
      }
      expect(await opened.store.scheduleGet({ id: 'ok.one' })).toEqual(before);

      // Hostile ids in the path: refused before any lookup; unknown ones are 404 on every route.
      for (const id of ['..%2F..%2Fetc%2Fpasswd', 'a%22b%27c', 'a%00b', '.hidden', '-x', 'a'.repeat(129)]) {
        for (const [method, suffix] of [['GET', ''], ['PATCH', ''], ['DELETE', ''], ['POST', '/pause'], ['POST', '/trigger'], ['GET', '/history']] as const) {
          const reply = await call(method, `/api/schedules/${id}${suffix}`, method === 'PATCH' ? { enabled: false } : undefined);
          expect(reply.status, `${method} ${id}${suffix}: ${reply.text.slice(0, 200)}`).toBe(400);
          expect(reply.body.error.code).toBe('INVALID_REQUEST');
        }
      }
      for (const [method, suffix, body] of [
        ['GET', '', undefined],
        ['PATCH', '', { enabled: false }],
        ['DELETE', '', undefined],
        ['POST', '/pause', undefined],
        ['POST', '/resume', undefined],
        ['POST', '/trigger', undefined],
        ['GET', '/history', undefined],
      ] as const) {
        const reply = await call(method, `/api/schedules/no.such.schedule${suffix}`, body);
        expect(reply, `${method} ${suffix}`).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_SCHEDULE' } } });
      }
      expect((await call('POST', '/api/schedules/ok.one/trigger', { input: { orgId: '' } })).body.error.code).toBe('INVALID_PAYLOAD');
      expect((await call('POST', '/api/schedules/ok.one/trigger', { inputs: {} })).body.error.code).toBe('INVALID_REQUEST');
      expect((await call('GET', '/api/schedules/ok.one/history?limit=0')).status).toBe(400);
      expect((await call('GET', '/api/schedules/ok.one/history?limit=1001')).status).toBe(400);

      expect(await storedIds()).toEqual(['ok.one']);
      expect(await opened.store.scheduleGet({ id: 'ok.one' })).toEqual(before);
      expect(await jobCount()).toBe(0);
      expect(await opened.store.scheduleTickList({ scheduleId: 'ok.one', limit: 10 })).toEqual([]);
    });

    it('refuses (409) changes that the next sync of the schedule file or the config would undo, and changes nothing', async () => {
      const file = path.join(tmp, 'scheduler.yaml');
      fs.writeFileSync(
        file,
        [
          'schedules:',
          '  - id: nightly.report',
          '    jobId: report.daily',
          '    schedule: "0 2 * * *"',
          '    input: { orgId: acme }',
          '  - id: weekly.off',
          '    jobId: report.daily',
          '    schedule: "0 3 * * SUN"',
          '    enabled: false',
          '    input: { orgId: acme }',
          '',
        ].join('\n'),
      );
      const jobs = createJobRegistry(JOBS);
      await syncScheduleFile({ store: opened.store, path: file, jobs });
      await syncScheduleDefinitions({ store: opened.store, schedules: [{ id: 'from.code', jobId: 'report.daily', schedule: '@daily', input: { orgId: 'x' } }], jobs });
      const before = await opened.store.scheduleList({});
      await start({ scheduleFile: file });

      const refused: [string, string, unknown, RegExp][] = [
        ['PATCH', '/api/schedules/nightly.report', { schedule: '0 4 * * *' }, /Edit its entry there/],
        ['DELETE', '/api/schedules/nightly.report', undefined, /Remove its entry there, then run `nightshift schedules sync --delete-undeclared`/],
        ['POST', '/api/schedules/nightly.report/pause', undefined, /Set `enabled: false` in its entry there/],
        ['POST', '/api/schedules/weekly.off/resume', undefined, /Set `enabled: true` in its entry there/],
      ];
      for (const [method, url, body, fix] of refused) {
        const reply = await call(method, url, body);
        expect(reply.status, `${method} ${url}: ${reply.text}`).toBe(409);
        expect(reply.body.error.code).toBe('SCHEDULE_MANAGED_BY_FILE');
        expect(reply.body.error.message).toContain(`declared in a YAML schedule file (source "file"; this deployment's is ${file})`);
        expect(reply.body.error.message).toContain('would be undone by the next sync');
        expect(reply.body.error.message).toContain('nightshift schedules sync');
        expect(reply.body.error.message).toMatch(fix);
        expect(reply.body.error.details).toEqual({ source: 'file', file });
      }
      const fromCode = await call('PATCH', '/api/schedules/from.code', { description: 'x' });
      expect(fromCode.status).toBe(409);
      expect(fromCode.body.error.message).toMatch(/the `schedules` list of the code config \(source "code"; nightshift.config.ts\)/);
      expect(fromCode.body.error.details).toEqual({ source: 'code' });
      expect((await call('DELETE', '/api/schedules/from.code')).status).toBe(409);

      // What the file already says is no change: answered as it is. A run now is not undone by a sync.
      expect(await call('POST', '/api/schedules/nightly.report/resume')).toMatchObject({ status: 200, body: { enabled: true, source: 'file' } });
      expect(await call('POST', '/api/schedules/weekly.off/pause')).toMatchObject({ status: 200, body: { enabled: false } });
      expect(await opened.store.scheduleList({})).toEqual(before);
      const enqueued = nextEvent('job:enqueued', ({ job }) => job.scheduleId === 'nightly.report');
      const fired = nextEvent('schedule:fired', ({ scheduleId }) => scheduleId === 'nightly.report');
      const triggered = await call('POST', '/api/schedules/nightly.report/trigger');
      expect(triggered).toMatchObject({ status: 201, body: { job: { name: 'report.daily', scheduleId: 'nightly.report', payload: { orgId: 'acme' } } } });
      // Told as a tick is (what the event feed copies): the job enqueued, the schedule fired by hand.
      expect((await enqueued).job.id).toBe(triggered.body.job.id);
      expect(await fired).toMatchObject({ jobId: triggered.body.job.id, status: 'manual' });

      // Without a known file the message says where to look.
      await nightshift!.stop();
      await start();
      const generic = await call('DELETE', '/api/schedules/nightly.report');
      expect(generic.status).toBe(409);
      expect(generic.body.error.message).toMatch(/source "file"; the file the config's `schedules` names, or the daemon's --config <file\.yaml>/);
      expect((await opened.store.scheduleList({})).map((s) => s.id).sort()).toEqual(['from.code', 'nightly.report', 'weekly.off']);
    });

    it('triggers runs that a real worker executes; history and stats show them', async () => {
      await start({ worker: true });
      expect((await call('POST', '/api/schedules', { id: 'acme', jobId: 'report.daily', schedule: '0 0 1 1 *', input: { orgId: 'acme' } })).status).toBe(201);
      expect((await call('POST', '/api/schedules', { id: 'broken', jobId: 'always.fails', schedule: '0 0 1 1 *', enabled: false })).status).toBe(201);
      expect((await call('POST', '/api/schedules', { id: 'idle', jobId: 'report.daily', schedule: '@yearly', input: { orgId: 'i' } })).status).toBe(201);

      const emptyStats = await call('GET', '/api/schedules/stats');
      expect(emptyStats.status, emptyStats.text).toBe(200);
      expect(emptyStats.body.summary).toEqual({ total: 3, enabled: 2, paused: 1 });
      expect(emptyStats.body.schedules.find((s: { id: string }) => s.id === 'idle')).toMatchObject({ runs: 0, skipped: 0, failures: 0, capped: false, lastRunAt: null, lastOutcome: null });

      const completed = nextEvent('job:completed', ({ job }) => job.scheduleId === 'acme');
      const first = await call('POST', '/api/schedules/acme/trigger');
      expect(first.status, first.text).toBe(201);
      expect(first.body).toMatchObject({ job: { name: 'report.daily', queue: 'reports', scheduleId: 'acme', payload: { orgId: 'acme' } }, tick: { scheduleId: 'acme', status: 'manual' } });
      await completed;
      const completedAgain = nextEvent('job:completed', ({ job }) => job.scheduleId === 'acme');
      const second = await call('POST', '/api/schedules/acme/trigger', { input: { orgId: 'other' } });
      expect(second.body.job.payload).toEqual({ orgId: 'other' });
      await completedAgain;
      // A paused schedule can still be run by hand.
      const died = nextEvent('job:failed', ({ job }) => job.scheduleId === 'broken' && job.state === 'dead');
      expect((await call('POST', '/api/schedules/broken/trigger')).status).toBe(201);
      await died;

      const history = await call('GET', '/api/schedules/acme/history');
      expect(history.status, history.text).toBe(200);
      expect(history.body.history).toHaveLength(2);
      expect(history.body.history.map((entry: { jobId: string }) => entry.jobId)).toEqual([second.body.job.id, first.body.job.id]);
      expect(history.body.history[0]).toMatchObject({ status: 'manual', jobState: 'completed', error: null, job: { id: second.body.job.id, state: 'completed', attempt: 1, result: { reported: 'other' } } });
      expect(history.body.history[0].durationMs).toBeGreaterThanOrEqual(0);
      expect((await call('GET', '/api/schedules/acme/history?limit=1')).body.history.map((entry: { jobId: string }) => entry.jobId)).toEqual([second.body.job.id]);
      const brokenHistory = (await call('GET', '/api/schedules/broken/history')).body.history;
      expect(brokenHistory[0]).toMatchObject({ jobState: 'dead', error: { message: 'upstream down' }, job: { state: 'dead' } });

      const shown = await call('GET', '/api/schedules/acme');
      expect(shown.body).toMatchObject({ lastJobId: second.body.job.id, lastOutcome: { jobId: second.body.job.id, state: 'completed', attempt: 1, error: null } });

      const stats = await call('GET', '/api/schedules/stats');
      expect(stats.status, stats.text).toBe(200);
      const byId: Record<string, any> = Object.fromEntries((stats.body.schedules as { id: string }[]).map((s) => [s.id, s])); // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answer
      expect(byId.acme).toMatchObject({ jobName: 'report.daily', enabled: true, runs: 2, skipped: 0, failures: 0, failuresChecked: 2, capped: false, lastOutcome: { state: 'completed' } });
      expect(byId.acme.lastRunAt).toBe(shown.body.lastRunAt);
      expect(byId.acme.nextRunAt).toBe(shown.body.nextRunAt);
      expect(byId.broken).toMatchObject({ enabled: false, nextRunAt: null, runs: 1, failures: 1, failuresChecked: 1, lastOutcome: { state: 'dead', error: { message: 'upstream down' } } });
      expect(byId.idle).toMatchObject({ runs: 0, failures: 0 });
      expect(Date.parse(stats.body.now) - Date.parse(stats.body.windowStart)).toBe(24 * 60 * 60 * 1000);
    });

    it('counts ticks the overlap policy skipped, fired by a real scheduler', async () => {
      await start();
      const scheduler = createScheduler({ store: opened.store, jobs: JOBS, events: nightshift!.events, pollIntervalMs: 50 });
      // Every second, skip while a run is unfinished: no worker runs here, so the manual run stays queued.
      expect((await call('POST', '/api/schedules', { id: 'busy', jobId: 'report.daily', schedule: '* * * * * *', overlap: 'skip', input: { orgId: 'b' } })).status).toBe(201);
      expect((await call('POST', '/api/schedules/busy/trigger')).status).toBe(201);
      const skippedTick = nextEvent('schedule:fired', ({ scheduleId, status }) => scheduleId === 'busy' && status === 'skipped_overlap');
      await nightshift!.addService(scheduler);
      await skippedTick;
      await scheduler.stop();
      const busy = (await call('GET', '/api/schedules/stats')).body.schedules.find((s: { id: string }) => s.id === 'busy');
      const ticks = await opened.store.scheduleTickList({ scheduleId: 'busy', limit: 100 });
      expect(busy.skipped).toBe(ticks.filter((tick) => tick.status === 'skipped_overlap').length);
      expect(busy.skipped).toBeGreaterThanOrEqual(1);
      expect(busy.runs).toBe(ticks.filter((tick) => tick.jobId !== null).length);
      expect(busy).toMatchObject({ failures: 0, capped: false });
      const history = (await call('GET', '/api/schedules/busy/history?limit=100')).body.history as { status: string; jobId: string | null; job: unknown }[];
      expect(history.find((entry) => entry.status === 'skipped_overlap')).toMatchObject({ jobId: null, job: null, jobState: null, durationMs: null });
    });

    it('documents every schedule route in a valid OpenAPI document', async () => {
      await start();
      const doc = (await call('GET', '/api/openapi.json')).body;
      const result = await validateOpenApi(structuredClone(doc));
      expect(result.valid, JSON.stringify(result).slice(0, 500)).toBe(true);
      const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`));
      for (const route of SCHEDULE_ROUTES) expect(documented, route).toContain(route);
      const stats = doc.paths['/api/schedules/stats'].get.responses['200'].content['application/json'].schema;
      expect(stats.properties.schedules.items.properties.failures.description).toMatch(/dead now/);
    });
  });
}

describe.skipIf(!STORE_KINDS[0]!.available)('schedule routes without a schedule manager', () => {
  it('answer 404 saying this process does not serve schedules, and are left out of the document', async () => {
    const { createApiServer, listenApiServer } = await import('../../src/server/index.js');
    const opened = await STORE_KINDS[0]!.open();
    const nightshift = createNightshift({ store: opened.store, jobs: JOBS, worker: false });
    // Without the store (whose schedules it would serve) nor a schedule manager.
    const app = await createApiServer({ client: nightshift.client, ignoreStoreTokens: true });
    try {
      const base = await listenApiServer(app, { port: 0 });
      const reply = await fetch(`${base}/api/schedules`);
      expect(reply.status).toBe(404);
      expect(((await reply.json()) as { error: { message: string } }).error.message).toMatch(/schedules are not served by this process/);
      // Nor are they in the OpenAPI document.
      const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths).filter((path) => path.startsWith('/api/schedules'))).toEqual([]);
      expect(Object.keys(doc.paths)).toContain('/api/jobs');
    } finally {
      await app.close();
      await opened.cleanup();
    }
  });
});
