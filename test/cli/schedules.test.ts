import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { scheduleHistoryEntryToJson, scheduleToJson } from '../../src/scheduler/schedule-json.js';
import { createScheduleManager, type ScheduleManager } from '../../src/scheduler/schedule-manager.js';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift } from '../../src/nightshift.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { callJson } from '../support/http-call.js';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from './cli-harness.js';

interface ScheduleJson {
  id: string;
  jobName: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  input: unknown;
  source: string;
  nextRunAt: string | null;
}

const scheduleFile = `schedules:
  - id: hourly-greeting
    jobId: greet
    schedule: "0 * * * *"
    timezone: Europe/Amsterdam
    description: says hello every hour
    input: { who: cron }
  - jobId: explode
    schedule: "30 2 * * *"
    enabled: false
`;

interface HistoryJson {
  scheduleId: string;
  timezone: string;
  history: { fireAt: string; status: string; jobId: string | null; jobState: string | null; durationMs: number | null; error: { message: string } | null }[];
}

/**
 * What the library and the HTTP API make of the project's stored schedules (scheduler/schedule-json.ts),
 * read in this process from the same database file as the CLI: what `--json` must print.
 */
async function withLibraryView<T>(project: Project, read: (schedules: ScheduleManager) => Promise<T>): Promise<T> {
  const store = createSqliteStore({ path: project.dbPath });
  try {
    return await read(createScheduleManager({ store, jobs: [] }));
  } finally {
    await store.close();
  }
}

/** The ISO 8601 instants (`…Z` or `…+01:00`) in a line of text. */
const instantsIn = (line: string): string[] => line.match(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})/g) ?? [];

describe('nightshift schedules', () => {
  let project: Project;
  let daemon: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: "schedules: './schedules.yaml'," }), 'schedules.yaml': scheduleFile });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project.cleanup();
  });

  it('syncs the declared schedules and lists them', async () => {
    // Declared but not stored yet: listed from the file, with their next runs.
    const before = await project.json<{ schedules: (ScheduleJson & { declaration: string })[] }>(['schedules']);
    expect(before.schedules.map((schedule) => [schedule.id, schedule.declaration])).toEqual([
      ['hourly-greeting', 'not-stored'],
      ['explode', 'not-stored'],
    ]);
    const synced = await project.json<{ created: string[] }>(['schedules', 'sync']);
    expect(synced.created.sort()).toEqual(['explode', 'hourly-greeting']);
    // A second sync changes nothing.
    const again = await project.json<{ created: string[]; updated: string[]; deleted: string[]; unchanged: string[] }>(['schedules', 'sync']);
    expect(again).toMatchObject({ created: [], updated: [], deleted: [] });
    expect(again.unchanged.sort()).toEqual(['explode', 'hourly-greeting']);

    const { schedules } = await project.json<{ schedules: ScheduleJson[] }>(['schedules', 'list']);
    expect(schedules.find((schedule) => schedule.id === 'hourly-greeting')).toMatchObject({
      jobName: 'greet',
      cron: '0 * * * *',
      timezone: 'Europe/Amsterdam',
      enabled: true,
      input: { who: 'cron' },
      source: 'file',
    });
    expect(schedules.find((schedule) => schedule.id === 'explode')).toMatchObject({ enabled: false, nextRunAt: null });
    const table = await project.run(['schedules']);
    expect(table.stdout).toMatch(/^ID\s+JOB\s+CRON\s+TIMEZONE\s+ENABLED\s+NEXT RUN \(LOCAL\)\s+NEXT RUN \(UTC\)\s+LAST RUN \(UTC\)\s+LAST OUTCOME/);
    // The next run appears on Amsterdam's wall clock (with its offset) and in UTC: the same instant.
    const hourly = schedules.find((schedule) => schedule.id === 'hourly-greeting')!;
    const row = table.stdout.split('\n').find((line) => line.startsWith('hourly-greeting'))!;
    const [local, utc, ...rest] = instantsIn(row);
    expect(local).toMatch(/\+0[12]:00$/);
    expect(utc).toMatch(/Z$/);
    expect(new Date(local!).getTime()).toBe(new Date(hourly.nextRunAt!).getTime());
    expect(new Date(utc!).getTime()).toBe(new Date(hourly.nextRunAt!).getTime());
    expect(rest).toEqual([]);
    // Never run yet: no last run, no outcome; stored as the file declares it.
    expect(row).toMatch(/-\s+-\s+stored$/);
    // A paused schedule has no next run in either column.
    expect(table.stdout.split('\n').find((line) => line.startsWith('explode'))).toMatch(/paused\s+-\s+-\s+-\s+-\s+stored$/);
  });

  it('prints schedules and their history with --json in the API\'s shape, from the one serializer', async () => {
    const declared = await project.json<{ schedules: Record<string, unknown>[] }>(['schedules']);
    await project.json(['schedules', 'sync']);
    const { jobId } = await project.json<{ jobId: string }>(['schedules', 'trigger', 'hourly-greeting']);
    const paused = await project.json(['schedules', 'pause', 'explode']);
    const listed = await project.json<{ schedules: Record<string, unknown>[] }>(['schedules']);
    const shown = await project.json<{ schedule: unknown; history: unknown[] }>(['schedules', 'show', 'hourly-greeting']);
    const history = await project.json<{ history: unknown[] }>(['schedules', 'history', 'hourly-greeting']);

    const library = await withLibraryView(project, async (schedules) => ({
      list: (await schedules.list()).map(scheduleToJson),
      explode: scheduleToJson((await schedules.get('explode'))!),
      hourly: scheduleToJson((await schedules.get('hourly-greeting'))!),
      history: (await schedules.history('hourly-greeting', { limit: 10 })).map(scheduleHistoryEntryToJson),
    }));
    // Declared schedules come first, in the file's order; the library lists them in the store's.
    const byId = (a: { id?: unknown }, b: { id?: unknown }): number => String(a.id).localeCompare(String(b.id));
    expect(listed.schedules.map(({ declaration, ...schedule }) => [schedule, declaration]).sort(([a], [b]) => byId(a as { id: unknown }, b as { id: unknown }))).toEqual(
      [...library.list].sort(byId).map((schedule) => [schedule, 'stored']),
    );
    expect(paused).toEqual(library.explode);
    expect(shown.schedule).toEqual(library.hourly);
    expect(library.hourly.lastJobId).toBe(jobId);
    expect(library.hourly.lastOutcome).toMatchObject({ jobId, state: 'available' });
    expect(shown.history).toEqual(library.history);
    expect(history.history).toEqual(library.history);
    expect(library.history).toEqual([expect.objectContaining({ jobId, status: 'manual', job: expect.objectContaining({ id: jobId, state: 'available' }) })]);
    // Declared but not stored yet (listed before the sync): the same fields, plus `declaration`.
    const apiFields = Object.keys(library.hourly);
    expect(declared.schedules.map((schedule) => schedule.declaration)).toEqual(['not-stored', 'not-stored']);
    for (const schedule of declared.schedules) expect(Object.keys(schedule).sort()).toEqual([...apiFields, 'declaration'].sort());
  });

  it('shows the execution history with job states, durations and errors, and the last outcome in the list', async () => {
    await project.json(['schedules', 'sync']);
    const greeted = await project.json<{ jobId: string }>(['schedules', 'trigger', 'hourly-greeting']);
    const exploded = await project.json<{ jobId: string }>(['schedules', 'trigger', 'explode']);
    daemon = project.spawn(['daemon']);
    await waitFor('both triggered runs to finish', async () => {
      const states = await Promise.all(
        [greeted.jobId, exploded.jobId].map(async (id) => (await project.json<{ job: { state: string } }>(['job', id])).job.state),
      );
      return states[0] === 'completed' && states[1] === 'dead';
    });
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    daemon = null;

    const history = await project.json<HistoryJson>(['schedules', 'history', 'explode']);
    expect(history.scheduleId).toBe('explode');
    // Finished runs too (duration, error, result): the API's shape.
    expect(history.history).toEqual(await withLibraryView(project, async (schedules) => (await schedules.history('explode', { limit: 20 })).map(scheduleHistoryEntryToJson)));
    const run = history.history.find((entry) => entry.jobId === exploded.jobId);
    expect(run).toMatchObject({ status: 'manual', jobState: 'dead', error: { message: 'kaboom' } });
    expect(run!.durationMs).toEqual(expect.any(Number));

    const greetHistory = await project.json<HistoryJson>(['schedules', 'history', 'hourly-greeting', '--limit', '1']);
    expect(greetHistory.history).toHaveLength(1);
    expect(greetHistory.history[0]).toMatchObject({ jobId: greeted.jobId, jobState: 'completed', error: null });

    const table = await project.run(['schedules', 'history', 'explode']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^FIRE AT \(UTC\)\s+STATUS\s+JOB\s+STATE\s+DURATION\s+ERROR/);
    const line = table.stdout.split('\n').find((text) => text.includes(` ${exploded.jobId} `))!;
    expect(line).toMatch(/manual\s+\d+\s+dead\s+\S+\s+Error: kaboom$/);

    const listed = await project.run(['schedules']);
    expect(listed.stdout.split('\n').find((text) => text.startsWith('explode'))).toMatch(/\s+dead\s+stored$/);
    expect(listed.stdout.split('\n').find((text) => text.startsWith('hourly-greeting'))).toMatch(/\s+completed\s+stored$/);

    const unknown = await project.run(['schedules', 'history', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error [UNKNOWN_SCHEDULE]');
    const badLimit = await project.run(['schedules', 'history', 'explode', '--limit', '0']);
    expect(badLimit.code).toBe(2);
  });

  it('pauses and resumes a schedule created at run time; triggers and shows a schedule with its runs', async () => {
    await project.json(['schedules', 'sync']);
    // Created at run time (source "api"), as `POST /api/schedules` does.
    const store = createSqliteStore({ path: project.dbPath });
    await createScheduleManager({ store, jobs: [defineJob({ name: 'greet', handler: () => null })] })
      .create({ id: 'api-greeting', jobId: 'greet', schedule: '@hourly', input: { who: 'api' } })
      .finally(() => store.close());
    expect(await project.json(['schedules', 'pause', 'api-greeting'])).toMatchObject({ enabled: false, nextRunAt: null, source: 'api' });
    // Pausing a paused schedule changes nothing, and says so.
    expect((await project.run(['schedules', 'pause', 'api-greeting'])).stdout).toBe('schedule api-greeting is already paused\n');
    const resumed = await project.json<ScheduleJson>(['schedules', 'resume', 'api-greeting']);
    expect(resumed.enabled).toBe(true);
    expect(resumed.nextRunAt).not.toBeNull();

    const triggered = await project.json<{ jobId: string }>(['schedules', 'trigger', 'hourly-greeting', '--input', '{"who":"now"}']);
    const { job } = await project.json<{ job: { payload: unknown; scheduleId: string } }>(['job', triggered.jobId]);
    expect(job).toMatchObject({ payload: { who: 'now' }, scheduleId: 'hourly-greeting' });

    const shown = await project.json<{ schedule: ScheduleJson; upcoming: string[]; history: { jobId: string; status: string }[] }>(['schedules', 'show', 'hourly-greeting']);
    expect(shown.upcoming).toHaveLength(5);
    expect(shown.history).toEqual([expect.objectContaining({ jobId: triggered.jobId, status: 'manual' })]);
  });

  it('refuses to pause or resume a schedule the file declares, as the HTTP API does, and changes nothing', async () => {
    await project.json(['schedules', 'sync']);
    const before = await project.json<{ schedule: ScheduleJson }>(['schedules', 'show', 'hourly-greeting']);
    const paused = await project.run(['schedules', 'pause', 'hourly-greeting']);
    expect(paused.code).toBe(1);
    expect(paused.stdout).toBe('');
    const file = join(project.dir, 'schedules.yaml');
    expect(paused.stderr).toBe(
      `error [SCHEDULE_MANAGED_BY_FILE]: schedule "hourly-greeting" is declared in a YAML schedule file (source "file"; this deployment's is ${file}), which owns it: ` +
        'pausing it from the CLI would be undone by the next sync. Set `enabled: false` in its entry there, then run `nightshift schedules sync` (or restart the daemon).\n',
    );
    expect((await project.json<{ schedule: ScheduleJson }>(['schedules', 'show', 'hourly-greeting'])).schedule).toEqual(before.schedule);
    // The disabled one is already paused: nothing to undo. Resuming it is refused the same way.
    expect((await project.run(['schedules', 'pause', 'explode'])).code).toBe(0);
    const resumed = await project.run(['schedules', 'resume', 'explode']);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toContain('resuming it from the CLI would be undone by the next sync. Set `enabled: true` in its entry there');
    expect((await project.json<{ schedule: ScheduleJson }>(['schedules', 'show', 'explode'])).schedule.enabled).toBe(false);

    // The very rule and message of the HTTP API (409), bar the channel.
    const store = createSqliteStore({ path: project.dbPath });
    const runtime = createNightshift({ store, jobs: [], worker: false, http: { port: 0, scheduleFile: file } });
    try {
      await runtime.start();
      const reply = await callJson(runtime.httpAddress!, 'POST', '/api/schedules/hourly-greeting/pause');
      expect(reply.status).toBe(409);
      const { code, message } = (reply.body as { error: { code: string; message: string } }).error;
      expect(code).toBe('SCHEDULE_MANAGED_BY_FILE');
      expect(`error [${code}]: ${message.replace('through the API', 'from the CLI')}\n`).toBe(paused.stderr);
    } finally {
      await runtime.stop();
      await store.close();
    }
  });

  it('rejects unknown schedules and inputs failing the job schema', async () => {
    await project.json(['schedules', 'sync']);
    const unknown = await project.run(['schedules', 'show', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error [UNKNOWN_SCHEDULE]: no schedule with id "nope"');
    const invalid = await project.run(['schedules', 'trigger', 'hourly-greeting', '--input', '{"who": 5}']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('INVALID_PAYLOAD');
    const { jobs } = await project.json<{ jobs: unknown[] }>(['jobs']);
    expect(jobs).toEqual([]);
  });
});

describe('nightshift schedules with schedule files', () => {
  let project: Project;
  let daemon: RunningCli | null = null;

  const fileA = `schedules:
  - id: a-daily
    jobId: greet
    schedule: "0 6 * * *"
    timezone: America/New_York
    input: { who: a }
`;
  const fileB = `schedules:
  - id: b-hourly
    jobId: greet
    schedule: "15 * * * *"
    input: { who: b }
`;

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig(), 'a.yaml': fileA, 'b.yaml': fileB });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project.cleanup();
  });

  it('lists what a file declares, with next runs, before any daemon stored it; an invalid file fails naming its line', async () => {
    const listed = await project.json<{ declaredIn: string; schedules: (ScheduleJson & { declaration: string; lastRunAt: string | null })[] }>(['--config', 'a.yaml', 'schedules']);
    expect(listed.declaredIn).toMatch(/a\.yaml$/);
    expect(listed.schedules).toEqual([
      expect.objectContaining({ id: 'a-daily', cron: '0 6 * * *', timezone: 'America/New_York', declaration: 'not-stored', lastRunAt: null, source: 'file' }),
    ]);
    // 06:00 in New York, the next one after now.
    const next = new Date(listed.schedules[0]!.nextRunAt!);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    expect(new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', minute: 'numeric', hour12: false }).format(next)).toBe('06:00');

    const table = await project.run(['--config', 'a.yaml', 'schedules']);
    expect(table.stdout).toMatch(/^ID\s+JOB\s+CRON\s+TIMEZONE\s+ENABLED\s+NEXT RUN \(LOCAL\)\s+NEXT RUN \(UTC\)\s+LAST RUN \(UTC\)\s+LAST OUTCOME\s+DECLARED/);
    expect(table.stdout.split('\n').find((line) => line.startsWith('a-daily'))).toMatch(/not stored yet$/);
    expect(table.stdout).toContain('1 declared in');
    // Listing stored nothing, and created no database where none was (no daemon ran here yet).
    expect(existsSync(join(project.dir, 'data'))).toBe(false);
    expect((await project.json<{ schedules: unknown[] }>(['schedules'])).schedules).toEqual([]);
    expect(existsSync(join(project.dir, 'data'))).toBe(false);

    // A changed file shows the new settings, marked until a sync stores them.
    await project.json(['--config', 'a.yaml', 'schedules', 'sync']);
    project.write('a.yaml', fileA.replace('"0 6 * * *"', '"30 7 * * *"'));
    const changed = await project.json<{ schedules: (ScheduleJson & { declaration: string })[] }>(['--config', 'a.yaml', 'schedules']);
    expect(changed.schedules[0]).toMatchObject({ id: 'a-daily', cron: '30 7 * * *', declaration: 'changed' });

    project.write('bad.yaml', 'schedules:\n  - jobId: greet\n    schedule: "61 * * * *"\n');
    // A sync of an invalid file where no database is yet: refused before any store is opened.
    const fresh = new Project({ 'nightshift.config.ts': fixtureConfig(), 'bad.yaml': 'schedules:\n  - jobId: greet\n    schedule: "61 * * * *"\n' });
    try {
      const refused = await fresh.run(['--config', 'bad.yaml', 'schedules', 'sync']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/bad\.yaml:2: 2 problems in 1 schedule:/);
      expect(existsSync(join(fresh.dir, 'data'))).toBe(false);
    } finally {
      fresh.cleanup();
    }
    const invalid = await project.run(['--config', 'bad.yaml', 'schedules']);
    expect(invalid.code).toBe(1);
    // Every problem, each at its line: the input (no `who`) at the entry's, the cron at its own.
    expect(invalid.stderr).toMatch(/bad\.yaml:2: 2 problems in 1 schedule:\n  line 2: schedules\[0\]\.input\.who: .*\(INVALID_PAYLOAD\)\n  line 3: schedules\[0\]\.schedule: invalid cron expression "61 \* \* \* \*"/);
  });

  it('prints every problem of a file once, each at its own line, and stores nothing', async () => {
    project.write(
      'many.yaml',
      [
        'schedules:',
        '  - id: a-daily', // line 2
        '    jobId: greet',
        '    schedule: "0 6 * * *"',
        '    input: { who: a }',
        '  - id: a-daily', // line 6: duplicate id
        '    jobId: greet',
        '    schedule: "0 7 * * *"',
        '    input: { who: b }',
        '  - id: bad', // line 10
        '    jobId: nope', // 11: unknown job
        '    schedule: "61 * * * *"', // 12: bad cron
        '    timezone: Bad/Zone', // 13: unknown zone
        '    priority: HIGH', // 14: bad priority
        '  - id: typo', // 15
        '    jobId: greet',
        '    schedule: "@daily"',
        '    input: { who: c }',
        '    timzone: UTC', // 19: unknown field
        '',
      ].join('\n'),
    );
    const file = join(project.dir, 'many.yaml');
    const expected = [
      `error [INVALID_CONFIG]: ${file}:6: 6 problems in 3 schedules:`,
      '  line 6: schedules[1].id: schedule id "a-daily" is already used by schedules[0] (line 2); give one of them another "id" (DUPLICATE_SCHEDULE)',
      '  line 11: schedules[2].jobId: unknown job "nope"; known jobs: explode, give-up, greet (UNKNOWN_JOB)',
      '  line 12: schedules[2].schedule: invalid cron expression "61 * * * *": minute field: 61 is out of range 0–59 (INVALID_CRON)',
      '  line 13: schedules[2].timezone: unknown time zone "Bad/Zone"; use an IANA name such as "America/New_York", "Europe/London" or "UTC" (INVALID_TIMEZONE)',
      '  line 14: schedules[2].priority: priority must be an integer from -1000000 to 1000000 or one of critical (1000), high (100), normal (0), low (-100); got "HIGH" (INVALID_OPTION)',
      '  line 19: schedules[3].timzone: unknown field "timzone" (did you mean "timezone"?) (INVALID_OPTION)',
      '',
    ].join('\n');
    for (const command of [['schedules'], ['schedules', 'sync']]) {
      const result = await project.run(['--config', 'many.yaml', ...command]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(expected);
    }
    // One problem alone: said once, not again as a list of one.
    project.write('one.yaml', 'schedules:\n  - jobId: greet\n    schedule: "@hourly"\n    input: { who: a }\n  - jobId: greet\n    schedule: "@daily"\n    input: { who: b }\n');
    const one = await project.run(['--config', 'one.yaml', 'schedules', 'sync']);
    expect(one.code).toBe(1);
    expect(one.stderr).toBe(`error [INVALID_CONFIG]: ${join(project.dir, 'one.yaml')}:5: schedules[1].id: schedule id "greet" is already used by schedules[0] (line 2); give one of them an "id" (DUPLICATE_SCHEDULE)\n`);
    expect((await project.json<{ schedules: unknown[] }>(['schedules'])).schedules).toEqual([]);
  });

  it('a sync from one file keeps the schedules another file stored, says so, and deletes them only when told', async () => {
    expect((await project.json<{ created: string[] }>(['--config', 'a.yaml', 'schedules', 'sync'])).created).toEqual(['a-daily']);
    const fromB = await project.run(['--json', '--config', 'b.yaml', 'schedules', 'sync']);
    expect(fromB.code).toBe(0);
    expect(JSON.parse(fromB.stdout)).toMatchObject({ created: ['b-hourly'], deleted: [], undeclared: ['a-daily'] });
    expect(fromB.stderr).toContain('warning: kept 1 stored schedule(s)');
    expect(fromB.stderr).toContain('a-daily');
    expect(fromB.stderr).toContain('--delete-undeclared');

    const stored = await project.json<{ schedules: ScheduleJson[] }>(['schedules']);
    expect(stored.schedules.map((schedule) => schedule.id).sort()).toEqual(['a-daily', 'b-hourly']);
    const fromBView = await project.json<{ schedules: (ScheduleJson & { declaration: string })[] }>(['--config', 'b.yaml', 'schedules']);
    expect(fromBView.schedules.map((schedule) => [schedule.id, schedule.declaration])).toEqual([
      ['b-hourly', 'stored'],
      ['a-daily', 'not-declared'],
    ]);

    // A daemon started with the other file keeps them too, with a warning in its log.
    daemon = project.spawn(['--config', 'b.yaml', 'daemon']);
    await waitFor('the daemon to start', () => daemon!.stderr.includes('"daemon ready"'));
    const warning = daemon.stderr.split('\n').find((line) => line.includes('"level":40') && line.includes('"undeclared"'));
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, undeclared: ['a-daily'] });
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    daemon = null;
    expect((await project.json<{ schedules: ScheduleJson[] }>(['schedules'])).schedules.map((schedule) => schedule.id).sort()).toEqual(['a-daily', 'b-hourly']);

    const deleted = await project.json<{ deleted: string[]; undeclared: string[] }>(['--config', 'b.yaml', 'schedules', 'sync', '--delete-undeclared']);
    expect(deleted).toMatchObject({ deleted: ['a-daily'], undeclared: [] });
    expect((await project.json<{ schedules: ScheduleJson[] }>(['schedules'])).schedules.map((schedule) => schedule.id)).toEqual(['b-hourly']);
  });
});

describe('nightshift schedules and the queues the workers consume', () => {
  let project: Project;
  let daemon: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project.cleanup();
  });

  /** The second entry of docs/scheduling.md's first example, firing every second instead of every 15 minutes. */
  const docsEntry = `schedules:
  - id: cleanup.frequent          # optional, default: the jobId
    jobId: cleanup
    schedule: "* * * * * *"
    catchUp: 2                    # run up to 2 missed ticks after downtime
    overlap: skip                 # do not start while the previous run is unfinished
    queue: maintenance
    priority: low                 # or a number: -100
    maxAttempts: 1
`;
  const config = (queues: string): string => `import { defineConfig, defineJob } from 'nightshift';
export const cleanup = defineJob({ name: 'cleanup', handler: async () => 'cleaned' });
export default defineConfig({ jobs: [cleanup], queues: ${queues}, schedules: './scheduler.yaml' });
`;

  it('warns at listing, sync and daemon start when a schedule sends its jobs to a queue no worker of the config consumes', async () => {
    project = new Project({ 'nightshift.config.ts': config('{}'), 'scheduler.yaml': docsEntry });
    const notice =
      'schedule cleanup.frequent sends its jobs to queue "maintenance", which no worker started with this config consumes (it consumes default): ' +
      'those jobs will wait there, and with overlap "skip" or "queue" hold back every later tick. ' +
      `Add the queue to the \`queues\` of the config (${join(project.dir, 'nightshift.config.ts')}) (queues: { "maintenance": {} }), drop \`queue:\` from the schedule, or run a worker whose config consumes it`;
    const listed = await project.run(['schedules']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toBe(`warning: ${notice}\n`);
    const synced = await project.run(['schedules', 'sync']);
    expect(synced.code).toBe(0);
    expect(synced.stderr).toBe(`warning: ${notice}\n`);
    daemon = project.spawn(['daemon']);
    await waitFor('the daemon to start', () => daemon!.stderr.includes('"daemon ready"'));
    const warning = daemon.stderr.split('\n').find((line) => line.includes('"unconsumedQueues"'));
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, msg: notice, unconsumedQueues: [{ queue: 'maintenance', schedules: ['cleanup.frequent'] }], consumedQueues: ['default'] });
  });

  it('runs the documented example once the config names its queue, and warns of nothing', async () => {
    project = new Project({ 'nightshift.config.ts': config('{ maintenance: { concurrency: 1 } }'), 'scheduler.yaml': docsEntry });
    expect((await project.run(['schedules'])).stderr).toBe('');
    daemon = project.spawn(['daemon']);
    const done = await waitFor('a scheduled cleanup to complete on its queue', async () => {
      const { jobs } = await project.json<{ jobs: { queue: string; priority: number; maxAttempts: number; result: unknown }[] }>(['jobs', '--job', 'cleanup', '--state', 'completed']);
      return jobs[0];
    });
    expect(done).toMatchObject({ queue: 'maintenance', priority: -100, maxAttempts: 1, result: 'cleaned' });
    expect(daemon.stderr).not.toContain('no worker started with this config consumes');
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    daemon = null;
  });
});
