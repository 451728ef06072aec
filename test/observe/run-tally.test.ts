// The one count of a process's runs that the metrics and the activity stats read
// (run-tally.ts): counted while delivered, taken by each reader on its own.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { NightshiftEvents } from '../../src/observe/events.js';
import { createStatsRecorder } from '../../src/observe/stats-recorder.js';
import { runObservers } from '../../src/observe/run-observers.js';
import { MAX_TALLY_PAIRS, RUN_BOUNDS_MS, RUN_BUCKETS, RunTally, runBucket, type TallyDelta } from '../../src/observe/run-tally.js';
import type { JobRecord } from '../../src/store/types.js';
import { openTempStore } from '../fixtures/sqlite-runtime.js';

const RUN_AT = Date.parse('2026-11-30T10:00:00Z');
const job = (queue: string, name: string, waitMs: number | null = null) =>
  ({ id: '1', queue, name, state: 'running', runAt: new Date(RUN_AT), attemptedAt: waitMs === null ? null : new Date(RUN_AT + waitMs) }) as unknown as JobRecord;

/** What one take hands over, by "queue/name". */
function take(reader: { take(visit: (delta: TallyDelta) => void): void }): Map<string, TallyDelta> {
  const deltas = new Map<string, TallyDelta>();
  reader.take((delta) => deltas.set(`${delta.cell.queue}/${delta.cell.name}`, delta));
  return deltas;
}

describe('run tally', () => {
  it('puts a value equal to a bound in that bound’s bucket and anything above the last in the extra one', () => {
    expect(RUN_BUCKETS).toBe(RUN_BOUNDS_MS.length + 1);
    expect(runBucket(0)).toBe(0);
    RUN_BOUNDS_MS.forEach((bound, index) => {
      expect(runBucket(bound)).toBe(index);
      expect(runBucket(bound + 0.001)).toBe(index + 1);
    });
    expect(runBucket(Number.MAX_VALUE)).toBe(RUN_BOUNDS_MS.length);
    // The same buckets as a linear search, on values between and on the bounds.
    for (let ms = 0; ms <= 3_700_000; ms += 997) expect(runBucket(ms)).toBe(RUN_BOUNDS_MS.findIndex((bound) => ms <= bound) === -1 ? RUN_BOUNDS_MS.length : RUN_BOUNDS_MS.findIndex((bound) => ms <= bound));
  });

  it('counts completions, run times and waits per queue and job name; negative values count as 0, starts without an attempt time have no wait', () => {
    const tally = new RunTally();
    const reader = tally.reader();
    tally.started(job('mail', 'send', 30));
    tally.started(job('mail', 'send', null));
    tally.started(job('mail', 'send', -5));
    tally.completed(job('mail', 'send'), 4);
    tally.completed(job('mail', 'send'), -1);
    tally.completed(job('reports', 'build'), 5_000_000);
    const deltas = take(reader);
    const mail = deltas.get('mail/send')!;
    expect(mail.completed).toBe(2);
    expect(mail.durationSumMs).toBe(4);
    expect(mail.durationCounts[0]).toBe(2);
    expect(mail.waits).toBe(2);
    expect(mail.waitSumMs).toBe(30);
    expect(mail.waitCounts[0]).toBe(1);
    expect(mail.waitCounts[runBucket(30)]).toBe(1);
    const reports = deltas.get('reports/build')!;
    expect([reports.completed, reports.waits, reports.durationCounts[RUN_BUCKETS - 1]]).toEqual([1, 0, 1]);
    expect(tally.cells.map((cell) => `${cell.queue}/${cell.name}`)).toEqual(['mail/send', 'reports/build']);
  });

  it('hands each reader only what was counted since its last take, and nothing of what came before it', () => {
    const tally = new RunTally();
    tally.completed(job('q', 'a'), 1);
    const first = tally.reader();
    tally.completed(job('q', 'a'), 20);
    const second = tally.reader();
    tally.completed(job('q', 'a'), 300);
    tally.completed(job('q', 'b'), 2);

    const one = take(first);
    expect(one.get('q/a')!.completed).toBe(2);
    expect(one.get('q/a')!.durationSumMs).toBe(320);
    expect(one.get('q/b')!.completed).toBe(1);
    const two = take(second);
    expect(two.get('q/a')!.completed).toBe(1);
    expect(two.get('q/a')!.durationSumMs).toBe(300);
    expect(Array.from(two.get('q/a')!.durationCounts).reduce((sum, count) => sum + count, 0)).toBe(1);
    // Nothing new: nothing handed over.
    expect(take(first).size).toBe(0);
    tally.started(job('q', 'b', 7));
    const again = take(first);
    expect([...again.keys()]).toEqual(['q/b']);
    expect([again.get('q/b')!.completed, again.get('q/b')!.waits]).toEqual([0, 1]);
  });

  it(`counts at most ${MAX_TALLY_PAIRS} pairs and says how many runs it left out`, () => {
    const tally = new RunTally();
    for (let i = 0; i < MAX_TALLY_PAIRS; i++) tally.completed(job('q', `job-${i}`), 1);
    tally.completed(job('q', 'one-too-many'), 1);
    tally.started(job('q', 'one-too-many', 1));
    tally.completed(job('q', 'job-0'), 1);
    expect(tally.cells).toHaveLength(MAX_TALLY_PAIRS);
    expect(tally.dropped).toBe(2);
    expect(tally.cells[0]!.completed).toBe(2);
  });
});

describe('run tally, fed by the run observers', () => {
  it('counts delivered runs only while someone uses it', () => {
    const events = new NightshiftEvents();
    const observers = runObservers(events);
    observers.completed(job('q', 'a'), 1);
    observers.deliver();
    expect(observers.tally.cells).toHaveLength(0);

    const release = observers.useTally();
    const reader = observers.tally.reader();
    observers.started(job('q', 'a', 3), 'w');
    observers.completed(job('q', 'a'), 2);
    // Counted when delivered: at the end of the task, or at once when asked.
    expect(take(reader).size).toBe(0);
    observers.deliver();
    expect(take(reader).get('q/a')).toMatchObject({ completed: 1, waits: 1, durationSumMs: 2, waitSumMs: 3 });

    // Released: what waited is still counted, later runs are not.
    observers.completed(job('q', 'a'), 5);
    release();
    release();
    observers.completed(job('q', 'a'), 7);
    observers.deliver();
    expect(take(reader).get('q/a')).toMatchObject({ completed: 1, durationSumMs: 5 });
  });

  it('keeps counting for one user after another lets go', async () => {
    const events = new NightshiftEvents();
    const observers = runObservers(events);
    const releaseFirst = observers.useTally();
    const releaseSecond = observers.useTally();
    const reader = observers.tally.reader();
    releaseFirst();
    observers.completed(job('q', 'a'), 1);
    await Promise.resolve();
    expect(take(reader).get('q/a')?.completed).toBe(1);
    releaseSecond();
  });
});

describe('run tally, read by the activity stats (SQLite)', () => {
  it('adds what it counted to the stored stats, and logs the runs it left out once', async () => {
    const temp = await openTempStore();
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
          done();
        },
      }),
    );
    const events = new NightshiftEvents();
    const observers = runObservers(events);
    const recorder = createStatsRecorder({ store: temp.store, events, logger, flushMs: 3_600_000 });
    try {
      await recorder.start();
      for (let i = 0; i < MAX_TALLY_PAIRS; i++) observers.completed(job('q', `job-${i}`), 3);
      observers.completed(job('q', 'left-out'), 3);
      observers.completed(job('q', 'left-out'), 4);
      observers.started(job('q', 'job-0', 30), 'w');
      await recorder.flush();
      const warnings = lines.filter((line) => line.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ dropped: 2, pairs: MAX_TALLY_PAIRS });
      const stored = await temp.store.statsList({ since: new Date(Date.now() - 3_600_000), bucketMs: 7_200_000 });
      const byName = new Map<string, { completed: number; waitSumMs: number }>();
      for (const row of stored) {
        const seen = byName.get(row.name) ?? { completed: 0, waitSumMs: 0 };
        byName.set(row.name, { completed: seen.completed + row.completed, waitSumMs: seen.waitSumMs + row.waitSumMs });
      }
      expect(byName.size).toBe(MAX_TALLY_PAIRS);
      expect(byName.get('job-0')).toEqual({ completed: 1, waitSumMs: 30 });
      expect(byName.has('left-out')).toBe(false);
      // Nothing new left out: no second warning.
      observers.completed(job('q', 'job-1'), 3);
      await recorder.flush();
      expect(lines.filter((line) => line.level === 40)).toHaveLength(1);
    } finally {
      await recorder.stop();
      await temp.cleanup();
    }
  });
});
