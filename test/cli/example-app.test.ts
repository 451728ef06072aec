import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, Project, repoRoot, waitFor, type RunningCli } from './cli-harness.js';

/** The example app in examples/, run through the CLI with its data redirected to a temp dir. */
describe('example app', () => {
  let project: Project | null = null;
  let daemon: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project?.cleanup();
    project = null;
  });

  it('fans nightly analysis out per user, then snapshots and mails the results', async () => {
    project = new Project({});
    const dir = project.dir;
    const env = {
      EXAMPLE_DATA_DIR: join(dir, 'app-data'),
      EXAMPLE_OUTBOX_DIR: join(dir, 'outbox'),
      NIGHTSHIFT_DB: join(dir, 'nightshift.db'),
    };
    const config = ['--config', join(repoRoot, 'examples', 'nightshift.config.ts')];

    const listed = await project.json<{ jobs: { name: string; queue: string }[] }>([...config, 'list'], env);
    expect(listed.jobs.map((job) => `${job.name}@${job.queue}`).sort()).toEqual([
      'analysis.nightly@default',
      'analysis.user@cognition',
      'email.weekly-summary@cognition',
      'maintenance.cleanup@default',
      'skills.decay@sensory',
      'state.snapshot@sensory',
    ]);

    // The rollout share and the cap bound the fan-out; nothing is enqueued at 0 %.
    const none = await project.json<{ state: string; result: { active: number; users: number } }>(
      [...config, 'run', 'analysis.nightly', '--input', '{"rolloutPercent":0}'],
      env,
    );
    expect(none.result).toMatchObject({ active: 3, users: 0 });
    const capped = await project.json<{ state: string; result: { users: number; jobIds: string[] } }>(
      [...config, 'run', 'analysis.nightly', '--input', '{"cap":1}'],
      env,
    );
    expect(capped.result.users).toBe(1);
    expect(capped.result.jobIds).toHaveLength(1);

    // The parent job runs in-process and enqueues one job per active user in one bulk insert.
    const parent = await project.json<{ state: string; result: { users: number; enqueued: number; jobIds: string[] } }>([...config, 'run', 'analysis.nightly'], env);
    expect(parent.state).toBe('completed');
    // The capped run already enqueued one user's job; its key makes the full run skip that one.
    expect(parent.result).toMatchObject({ users: 3, enqueued: 2 });

    daemon = project.spawn([...config, 'daemon'], env);
    await waitFor('every per-user analysis to complete', async () => {
      const { jobs } = await project!.json<{ jobs: { state: string }[] }>(['jobs', '--job', 'analysis.user'], env);
      return jobs.length === 3 && jobs.every((job) => job.state === 'completed');
    });
    const state = JSON.parse(readFileSync(join(env.EXAMPLE_DATA_DIR, 'users', 'u-ada.json'), 'utf8')) as { skills: Record<string, { confidence: number }> };
    expect(Object.keys(state.skills).sort()).toEqual(['rust', 'sql', 'typescript']);

    // The daemon synced the example's schedule file.
    expect(daemon.stderr).toContain('"schedules synced from file"');

    const snapshot = await project.json<{ state: string; result: { file: string; users: number } }>([...config, 'run', 'state.snapshot'], env);
    expect(snapshot.result.users).toBe(3);
    expect(existsSync(snapshot.result.file)).toBe(true);

    const mail = await project.json<{ state: string; result: { sent: number } }>([...config, 'run', 'email.weekly-summary'], env);
    expect(mail.result.sent).toBe(3);
    const emails = readdirSync(env.EXAMPLE_OUTBOX_DIR);
    expect(emails).toHaveLength(3);
    const adaEmail = emails.find((file) => file.endsWith('u-ada.eml'));
    expect(adaEmail).toBeDefined();
    expect(readFileSync(join(env.EXAMPLE_OUTBOX_DIR, adaEmail ?? ''), 'utf8')).toContain('typescript:');

    const decay = await project.json<{ state: string }>([...config, 'run', 'skills.decay', '--input', '{"halfLifeDays": 7}'], env);
    expect(decay.state).toBe('completed');
    const cleanup = await project.json<{ state: string }>([...config, 'run', 'maintenance.cleanup'], env);
    expect(cleanup.state).toBe('completed');

    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });
});
