import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project } from './cli-harness.js';

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

describe('nightshift schedules', () => {
  let project: Project;

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig({ extra: "schedules: './schedules.yaml'," }), 'schedules.yaml': scheduleFile });
  });
  afterEach(() => project.cleanup());

  it('syncs the declared schedules and lists them', async () => {
    expect((await project.json<{ schedules: unknown[] }>(['schedules'])).schedules).toEqual([]);
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
    expect(table.stdout).toMatch(/^ID\s+JOB\s+CRON\s+TIMEZONE\s+ENABLED\s+NEXT RUN/);
  });

  it('pauses, resumes, triggers and shows a schedule with its runs', async () => {
    await project.json(['schedules', 'sync']);
    expect(await project.json(['schedules', 'pause', 'hourly-greeting'])).toMatchObject({ enabled: false, nextRunAt: null });
    const resumed = await project.json<ScheduleJson>(['schedules', 'resume', 'hourly-greeting']);
    expect(resumed.enabled).toBe(true);
    expect(resumed.nextRunAt).not.toBeNull();

    const triggered = await project.json<{ jobId: string }>(['schedules', 'trigger', 'hourly-greeting', '--input', '{"who":"now"}']);
    const { job } = await project.json<{ job: { payload: unknown; scheduleId: string } }>(['job', triggered.jobId]);
    expect(job).toMatchObject({ payload: { who: 'now' }, scheduleId: 'hourly-greeting' });

    const shown = await project.json<{ schedule: ScheduleJson; upcoming: string[]; history: { jobId: string; status: string }[] }>(['schedules', 'show', 'hourly-greeting']);
    expect(shown.upcoming).toHaveLength(5);
    expect(shown.history).toEqual([expect.objectContaining({ jobId: triggered.jobId, status: 'manual' })]);
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
