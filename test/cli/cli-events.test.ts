// What an operator changes from the command line reaches the store's event feed (GET /api/events),
// and a job run with `nightshift run` counts in the activity stats, as a daemon's changes and runs
// do: each command is its own process, on a real SQLite file.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventFeedReader, type FeedEvent } from '../../src/observe/event-feed.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { assertBuilt, fixtureConfig, Project } from './cli-harness.js';

describe('nightshift commands write to the event feed', () => {
  let project: Project | null = null;
  beforeAll(() => assertBuilt());
  afterEach(() => {
    project?.cleanup();
    project = null;
  });

  /** Every event of the feed after `after`, oldest first. */
  async function feed(after = '0'): Promise<FeedEvent[]> {
    const store = createSqliteStore({ path: project!.dbPath });
    try {
      return await createEventFeedReader(store).list({ afterId: after, limit: 1000 });
    } finally {
      await store.close();
    }
  }
  const brief = (events: readonly FeedEvent[]) => events.map((event) => [event.type, event.queue, event.jobName, event.jobId]);

  it('enqueue, cancel, queue pause, resume and drain, run, a schedule\'s trigger and a retry: in the order they happened; reading commands write nothing', async () => {
    project = new Project({
      'nightshift.config.ts': fixtureConfig({ extra: "schedules: './schedules.yaml'," }),
      'schedules.yaml': 'schedules:\n  - id: hourly\n    jobId: greet\n    schedule: "0 * * * *"\n    input: { who: cron }\n',
    });
    const enqueued = await project.json<{ id: string }>(['enqueue', 'greet', '--data', '{"who":"ada"}']);
    await project.json(['queues', 'pause', 'mail']);
    await project.json(['queues', 'resume', 'mail']);
    await project.json(['cancel', enqueued.id, '--reason', 'not today']);
    const mail = await project.json<{ id: string }>(['enqueue', 'greet', '--data', '{"who":"cy"}', '--queue', 'mail']);
    expect(await project.json(['queues', 'drain', 'mail'])).toMatchObject({ changed: 1 });
    const ran = await project.json<{ id: string; state: string }>(['run', 'greet', '--input-who', 'bob']);
    expect(ran.state).toBe('completed');
    const failed = await project.run(['--json', 'run', 'explode']);
    expect(failed.code).toBe(1);
    const dead = JSON.parse(failed.stdout) as { id: string };

    const events = await feed();
    expect(brief(events)).toEqual([
      ['job:enqueued', 'default', 'greet', enqueued.id],
      ['queue:paused', 'mail', null, null],
      ['queue:resumed', 'mail', null, null],
      ['job:cancelled', 'default', 'greet', enqueued.id],
      ['job:enqueued', 'mail', 'greet', mail.id],
      ['job:cancelled', 'mail', 'greet', mail.id],
      ['job:enqueued', 'default', 'greet', ran.id],
      ['job:started', 'default', 'greet', ran.id],
      ['job:completed', 'default', 'greet', ran.id],
      ['job:enqueued', 'risky', 'explode', dead.id],
      ['job:started', 'risky', 'explode', dead.id],
      ['job:dead', 'risky', 'explode', dead.id],
    ]);
    expect(events[3]!.data).toEqual({ reason: 'not today' });
    expect(events[7]!.data).toMatchObject({ attempt: 1, maxAttempts: 1 });
    expect(events[11]!.data).toMatchObject({ willRetry: false, error: { message: 'kaboom' } });

    // A schedule run now: its job enqueued, then the schedule fired (manual), as a daemon's tick.
    expect((await project.run(['schedules', 'sync'])).code).toBe(0);
    const before = (await feed()).at(-1)!.id;
    const triggered = await project.json<{ jobId: string; status: string }>(['schedules', 'trigger', 'hourly']);
    const fired = await feed(before);
    expect(brief(fired)).toEqual([
      ['job:enqueued', 'default', 'greet', triggered.jobId],
      ['schedule:fired', null, null, triggered.jobId],
    ]);
    expect(fired[1]!.data).toMatchObject({ scheduleId: 'hourly', status: 'manual' });

    // A retry by hand: the dead job runnable again, with the attempt it gets.
    const beforeRetry = (await feed()).at(-1)!.id;
    expect((await project.run(['retry', dead.id])).code).toBe(0);
    const retried = await feed(beforeRetry);
    expect(brief(retried)).toEqual([['job:retried', 'risky', 'explode', dead.id]]);
    expect(retried[0]!.data).toEqual({ attempt: 1, maxAttempts: 2 });

    // Commands that only read add nothing.
    for (const args of [['jobs'], ['job', ran.id], ['queues'], ['stats'], ['dead']]) expect((await project.run(args)).code).toBe(0);
    for (const args of [['schedules'], ['schedules', 'history', 'hourly']]) expect((await project.run(args)).code).toBe(0);
    expect(await feed(retried.at(-1)!.id)).toEqual([]);
  });

  it('a run counts in the activity stats, as a daemon\'s runs do', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    expect((await project.run(['run', 'greet', '--input-who', 'ada'])).code).toBe(0);
    expect((await project.run(['run', 'explode'])).code).toBe(1);
    const { queues } = await project.json<{ queues: { name: string; completedLastHour: number; failedLastHour: number }[] }>(['queues']);
    expect(queues.find((queue) => queue.name === 'default')).toMatchObject({ completedLastHour: 1, failedLastHour: 0 });
    expect(queues.find((queue) => queue.name === 'risky')).toMatchObject({ completedLastHour: 0, failedLastHour: 1 });
  });
});
