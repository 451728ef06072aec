import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { withBuiltinJobs } from '../../src/jobs/builtin-jobs.js';
import { createJobRegistry } from '../../src/scheduler/schedule-definition.js';
import { parseScheduleFile, syncScheduleDefinitions, syncScheduleFile } from '../../src/scheduler/schedule-file.js';
import { createScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { storeHarnesses, type OpenedStore } from './store-harness.js';

const questmaster = defineJob({ name: 'daily.questmaster', schema: z.object({ orgId: z.string() }), handler: () => null });
const cleanup = defineJob({ name: 'cleanup', schema: z.object({ days: z.number().int().default(30) }), handler: () => null });
const jobs = createJobRegistry(withBuiltinJobs([questmaster, cleanup], { http: { allow: ['hooks.example.org'] }, command: { allow: ['/usr/local/bin/backup'] } }));

const EXAMPLE = `schedules:
  - jobId: daily.questmaster
    schedule: "0 9 * * *"
    enabled: true
    timezone: "America/New_York"   # optional, default UTC
    description: "Daily quest unlocking"
    input: { orgId: "default-org" }
`;

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseScheduleFile', () => {
  it('accepts the documented shape unchanged', async () => {
    const [schedule, ...rest] = await parseScheduleFile(EXAMPLE, 'scheduler.yaml', { jobs });
    expect(rest).toEqual([]);
    expect(schedule).toEqual({
      id: 'daily.questmaster',
      jobName: 'daily.questmaster',
      cron: '0 9 * * *',
      timezone: 'America/New_York',
      enabled: true,
      description: 'Daily quest unlocking',
      input: '{"orgId":"default-org"}',
      catchUp: 0,
      overlap: 'allow',
      source: 'file',
      jobOptions: null,
    });
  });

  it('accepts our own fields and the built-in http/command jobs', async () => {
    const text = `schedules:
  - id: cleanup.nightly
    jobId: cleanup
    schedule: "@daily"
    catchUp: 3
    overlap: skip
    queue: maintenance
    priority: 5
    maxAttempts: 1
    timeoutMs: 60000
  - id: ping.webhook
    jobId: http
    schedule: "*/10 * * * * *"
    input: { url: "http://127.0.0.1:9/hook", method: POST, body: { hello: 1 } }
  - id: backup
    jobId: command
    schedule: "30 2 * * SUN"
    input: { argv: ["/bin/true"] }
`;
    const schedules = await parseScheduleFile(text, 'scheduler.yaml', { jobs });
    expect(schedules.map((s) => [s.id, s.jobName, s.catchUp, s.overlap, s.jobOptions])).toEqual([
      ['cleanup.nightly', 'cleanup', 3, 'skip', '{"queue":"maintenance","priority":5,"maxAttempts":1,"timeoutMs":60000}'],
      ['ping.webhook', 'http', 0, 'allow', null],
      ['backup', 'command', 0, 'allow', null],
    ]);
  });

  describe('reports every bad entry with file, line and a typed cause', () => {
    const entry = (fields: string): string => `schedules:\n  - jobId: daily.questmaster\n    input: { orgId: "o" }\n${fields}`;
    const cases: [string, string, string, number, string][] = [
      ['minute out of range', entry('    schedule: "61 * * * *"\n'), 'INVALID_CRON', 4, 'minute field: 61 is out of range'],
      ['too few fields', entry('    schedule: "* * *"\n'), 'INVALID_CRON', 4, 'expected 5 fields'],
      ['zero step', entry('    schedule: "*/0 * * * *"\n'), 'INVALID_CRON', 4, 'step must be at least 1'],
      ['never fires', entry('    schedule: "0 0 31 2 *"\n'), 'INVALID_CRON', 4, 'never fires'],
      ['unknown time zone', entry('    schedule: "0 9 * * *"\n    timezone: America/New_Yrok\n'), 'INVALID_TIMEZONE', 5, 'America/New_Yrok'],
      ['unknown job', 'schedules:\n  - jobId: weekly.report\n    schedule: "@weekly"\n', 'UNKNOWN_JOB', 2, 'weekly.report'],
      ['input failing the schema', 'schedules:\n  - jobId: daily.questmaster\n    schedule: "@daily"\n    input:\n      orgId: 12\n', 'INVALID_PAYLOAD', 5, 'orgId'],
      ['bad built-in input', 'schedules:\n  - jobId: command\n    schedule: "@daily"\n    input: { argv: [] }\n', 'INVALID_PAYLOAD', 4, 'argv'],
      ['missing schedule', 'schedules:\n  - jobId: cleanup\n', 'INVALID_OPTION', 2, 'schedule'],
      [
        'duplicate ids',
        'schedules:\n  - jobId: cleanup\n    schedule: "@daily"\n  - jobId: cleanup\n    schedule: "@hourly"\n',
        'DUPLICATE_SCHEDULE',
        4,
        'already used by schedules[0] (line 2)',
      ],
    ];
    for (const [label, text, code, line, fragment] of cases) {
      it(label, async () => {
        const error = await configError(parseScheduleFile(text, '/etc/app/scheduler.yaml', { jobs }));
        expect(error.code).toBe('INVALID_CONFIG');
        expect(error.file).toBe('/etc/app/scheduler.yaml');
        expect(error.line).toBe(line);
        expect(error.message).toContain(`/etc/app/scheduler.yaml:${line}: `);
        expect(error.message).toContain(fragment);
        expect((error.cause as { code: string }).code).toBe(code);
      });
    }

    it('malformed YAML', async () => {
      const error = await configError(parseScheduleFile('schedules:\n  - jobId: cleanup\n    schedule: "@daily\n', 'bad.yaml', { jobs }));
      expect(error.file).toBe('bad.yaml');
      expect(error.line).toBeGreaterThanOrEqual(3);
      expect(error.message).toMatch(/^bad\.yaml:\d+: invalid YAML/);
    });

    it('an unquoted cron expression (YAML syntax) gets a hint', async () => {
      const error = await configError(parseScheduleFile('schedules:\n  - jobId: cleanup\n    schedule: */15 * * * *\n', 'x.yaml', { jobs }));
      expect(error.line).toBe(3);
      expect(error.message).toContain('quote cron expressions');
    });

    it('a file without a schedules list', async () => {
      const error = await configError(parseScheduleFile('schedule:\n  - jobId: cleanup\n', 'x.yaml', { jobs }));
      expect(error.message).toContain('no "schedules:" list');
    });

    it('several problems at once, all listed', async () => {
      const text = 'schedules:\n  - jobId: cleanup\n    schedule: "61 * * * *"\n  - jobId: nope\n    schedule: "@daily"\n';
      const error = await configError(parseScheduleFile(text, 'x.yaml', { jobs }));
      expect(error.line).toBe(3);
      expect(error.message).toContain('2 invalid schedules');
      expect(error.issues.map((issue) => issue.path)).toEqual(['schedules[0].schedule', 'schedules[1].jobId']);
      expect(error.issues[1]!.message).toContain('line 4');
    });
  });
});

for (const harness of storeHarnesses) {
  describe(`schedule file sync on ${harness.label}`, () => {
    let opened: OpenedStore;
    let dir: string;
    beforeEach(async () => {
      opened = await harness.open(Date.parse('2026-01-05T08:00:00Z'));
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-schedule-file-'));
    });
    afterEach(async () => {
      await opened.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('creates, updates and (when asked) removes file schedules idempotently, keeping api schedules apart', async () => {
      const file = path.join(dir, 'scheduler.yaml');
      const manager = createScheduleManager({ store: opened.store, jobs });
      await manager.create({ id: 'from-api', jobId: 'cleanup', schedule: '@hourly' });

      fs.writeFileSync(file, `${EXAMPLE}  - id: cleanup.nightly\n    jobId: cleanup\n    schedule: "0 3 * * *"\n`);
      expect(await syncScheduleFile({ store: opened.store, path: file, jobs })).toEqual({ created: ['daily.questmaster', 'cleanup.nightly'], updated: [], deleted: [], unchanged: [], undeclared: [] });
      const first = await manager.get('daily.questmaster');
      expect(first).toMatchObject({ source: 'file', nextRunAt: new Date('2026-01-05T14:00:00Z') });
      expect(await syncScheduleFile({ store: opened.store, path: file, jobs })).toEqual({ created: [], updated: [], deleted: [], unchanged: ['daily.questmaster', 'cleanup.nightly'], undeclared: [] });

      // An entry gone from the file may be another file's schedule: kept and reported, unless asked.
      fs.writeFileSync(file, EXAMPLE.replace('"0 9 * * *"', '"0 10 * * *"'));
      expect(await syncScheduleFile({ store: opened.store, path: file, jobs })).toEqual({ created: [], updated: ['daily.questmaster'], deleted: [], unchanged: [], undeclared: ['cleanup.nightly'] });
      expect(await manager.get('cleanup.nightly')).not.toBeNull();
      expect(await syncScheduleFile({ store: opened.store, path: file, jobs, deleteUndeclared: true })).toEqual({
        created: [],
        updated: [],
        deleted: ['cleanup.nightly'],
        unchanged: ['daily.questmaster'],
        undeclared: [],
      });
      expect((await manager.get('daily.questmaster'))?.nextRunAt).toEqual(new Date('2026-01-05T15:00:00Z'));
      expect((await manager.list()).map((s) => [s.id, s.source])).toEqual([
        ['daily.questmaster', 'file'],
        ['from-api', 'api'],
      ]);

      // A file entry may not take the id of an api schedule; nothing is written.
      fs.writeFileSync(file, `${EXAMPLE}  - id: from-api\n    jobId: cleanup\n    schedule: "@daily"\n`);
      const error = await configError(syncScheduleFile({ store: opened.store, path: file, jobs }));
      expect((error.cause as { code: string }).code).toBe('DUPLICATE_SCHEDULE');
      expect((await manager.get('from-api'))?.cron).toBe('@hourly');

      // An invalid file changes nothing.
      fs.writeFileSync(file, 'schedules: []\n  bad: [\n');
      await configError(syncScheduleFile({ store: opened.store, path: file, jobs }));
      expect(await manager.get('daily.questmaster')).not.toBeNull();
      fs.writeFileSync(file, 'schedules: []\n');
      expect((await syncScheduleFile({ store: opened.store, path: file, jobs })).undeclared).toEqual(['daily.questmaster']);
      expect((await syncScheduleFile({ store: opened.store, path: file, jobs, deleteUndeclared: true })).deleted).toEqual(['daily.questmaster']);
    });

    it('syncs schedules declared in code as source "code"', async () => {
      const declared = [{ jobId: 'cleanup', schedule: '0 4 * * *', input: { days: 7 } }];
      expect((await syncScheduleDefinitions({ store: opened.store, schedules: declared, jobs })).created).toEqual(['cleanup']);
      expect((await opened.store.scheduleGet({ id: 'cleanup' }))?.source).toBe('code');
      expect((await syncScheduleDefinitions({ store: opened.store, schedules: declared, jobs })).unchanged).toEqual(['cleanup']);
      const error = await configError(syncScheduleDefinitions({ store: opened.store, schedules: [{ jobId: 'cleanup', schedule: '0 0 30 2 *' }], jobs }));
      expect((error.cause as { code: string }).code).toBe('INVALID_CRON');
    });
  });
}
