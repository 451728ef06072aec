// `nightshift queues …` and `nightshift dead …` as operators type them, on a real SQLite file.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { assertBuilt, fixtureConfig, Project } from './cli-harness.js';

describe('nightshift queues and dead', () => {
  let project: Project | null = null;
  beforeAll(() => assertBuilt());
  afterEach(() => {
    project?.cleanup();
    project = null;
  });

  it('lists queues with counts, pauses, resumes and drains one', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    for (const who of ['a', 'b', 'c']) await project.json(['enqueue', 'greet', '--data', JSON.stringify({ who }), '--queue', 'mail']);
    const listed = await project.json<{ queues: { name: string; paused: boolean; counts: Record<string, number>; lagMs: number }[] }>(['queues']);
    expect(listed.queues.find((queue) => queue.name === 'mail')).toMatchObject({ paused: false, counts: { available: 3 } });
    expect(await project.json(['queues', 'pause', 'mail'])).toEqual({ queue: 'mail', paused: true });
    const text = await project.run(['queues']);
    expect(text.stdout).toMatch(/^QUEUE\s+PAUSED\s+AVAILABLE/);
    expect(text.stdout).toMatch(/mail\s+yes\s+3/);
    expect(await project.json(['queues', 'resume', 'mail'])).toEqual({ queue: 'mail', paused: false });
    expect(await project.json(['queues', 'drain', 'mail'])).toMatchObject({ queue: 'mail', changed: 3, more: false });
    const after = await project.json<{ queues: { name: string; counts: Record<string, number> }[] }>(['queues', 'list']);
    expect(after.queues.find((queue) => queue.name === 'mail')?.counts).toMatchObject({ available: 0, cancelled: 3 });
  });

  it('stops quietly when its reader goes away early (| head), instead of dying on EPIPE', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    expect((await project.run(['migrate'])).code).toBe(0);
    const store = createSqliteStore({ path: project.dbPath });
    const job = { name: 'greet', queue: 'default', payload: JSON.stringify({ who: 'x'.repeat(300) }), priority: 0, maxAttempts: 1, runAt: null, key: null, timeoutMs: null, scheduleId: null, meta: null };
    await store.jobInsertMany({ jobs: Array.from({ length: 1000 }, () => job) });
    await store.close();
    const running = project.spawn(['--json', 'jobs', '--limit', '1000']);
    // Read one chunk, then close the pipe, as `head -c 10` does: ~400 KB is still to be written.
    running.child.stdout!.once('data', () => running.child.stdout!.destroy());
    const result = await running.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/EPIPE|Unhandled/);
  });

  it('groups dead jobs by job and error, then retries and purges them by filter', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    for (let i = 0; i < 3; i++) expect((await project.run(['run', 'give-up', '--input', '{}'])).code).toBe(1);
    const grouped = await project.json<{ groups: { job: string; queue: string; error: string; count: number }[] }>(['dead']);
    expect(grouped.groups).toEqual([expect.objectContaining({ job: 'give-up', queue: 'default', error: 'UnrecoverableError: nothing to retry', count: 3 })]);
    expect((await project.run(['dead'])).stdout).toMatch(/3\s+give-up\s+default\s+UnrecoverableError: nothing to retry/);
    // Filters select: another queue, or a time range before any of them, changes nothing.
    expect(await project.json(['dead', 'purge', '--queue', 'elsewhere'])).toMatchObject({ changed: 0 });
    expect(await project.json(['dead', 'retry', '--before', '2000-01-01T00:00:00Z'])).toMatchObject({ changed: 0 });
    // By error kind: an UnrecoverableError is kind unrecoverable, not timeout.
    expect((await project.json<{ groups: unknown[] }>(['dead', '--error-kind', 'timeout'])).groups).toEqual([]);
    expect((await project.json<{ groups: { count: number }[] }>(['dead', '--error-kind', 'unrecoverable'])).groups).toEqual([expect.objectContaining({ count: 3 })]);
    expect(await project.json(['dead', 'retry', '--error-kind', 'timeout'])).toMatchObject({ changed: 0 });
    const badKind = await project.run(['dead', 'retry', '--error-kind', 'Time Out']);
    expect(badKind.code).not.toBe(0);
    expect(badKind.stderr).toContain('errorKind must be a kind like timeout');
    // Without a filter, purge wants --all: nothing deleted.
    const unfiltered = await project.run(['dead', 'purge']);
    expect(unfiltered.code).toBe(2);
    expect(unfiltered.stderr).toContain('or --all to delete every dead job');
    expect(await project.json(['dead', 'purge', '--job', 'give-up', '--error-kind', 'unrecoverable'])).toMatchObject({ changed: 3 });
    expect((await project.json<{ groups: unknown[] }>(['dead'])).groups).toEqual([]);
    expect((await project.run(['run', 'give-up', '--input', '{}'])).code).toBe(1);
    expect(await project.json(['dead', 'retry', '--job', 'give-up', '--since', '2000-01-01T00:00:00Z'])).toMatchObject({ changed: 1 });
    expect((await project.json<{ jobs: { state: string }[] }>(['jobs', '--job', 'give-up'])).jobs.map((job) => job.state)).toEqual(['available']);
    // --all purges every dead job, and only dead ones.
    expect((await project.run(['run', 'give-up', '--input', '{}'])).code).toBe(1);
    expect(await project.json(['dead', 'purge', '--all'])).toMatchObject({ changed: 1 });
    expect((await project.json<{ jobs: { state: string }[] }>(['jobs', '--job', 'give-up'])).jobs.map((job) => job.state)).toEqual(['available']);
    const bad = await project.run(['dead', 'retry', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be an ISO 8601 time');
  });
});
