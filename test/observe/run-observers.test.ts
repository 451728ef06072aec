// How a worker tells the process's own surfaces about its runs (run-observers.ts): queued and
// delivered at the end of the task, in order, with the worker's own record; listeners of the
// public events still get theirs at once, with a copy in the new state.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { NightshiftEvents } from '../../src/observe/events.js';
import { observeRuns, runObservers, type RunObserver } from '../../src/observe/run-observers.js';
import type { JobRecord } from '../../src/store/types.js';
import { createEventFeedWriter } from '../../src/observe/event-feed.js';
import { openRuntime, openTempStore, until, type Runtime } from '../fixtures/sqlite-runtime.js';

let runtime: Runtime | null = null;
afterEach(async () => {
  await runtime?.close();
  runtime = null;
});

/** An observer that writes down what it is told: `started <id> <worker>` / `completed <id> <state>`. */
function recorder(): RunObserver & { seen: string[]; jobs: JobRecord[] } {
  const seen: string[] = [];
  const jobs: JobRecord[] = [];
  return {
    seen,
    jobs,
    started(job, workerId) {
      seen.push(`started ${job.id} ${workerId}`);
      jobs.push(job);
    },
    completed(job, durationMs) {
      expect(durationMs).toBeGreaterThanOrEqual(0);
      seen.push(`completed ${job.id} ${job.state}`);
      jobs.push(job);
    },
  };
}

const job = (id: string) => ({ id, name: 'n', queue: 'q', state: 'running', lease: { owner: 'w', token: 't', expiresAt: new Date() } }) as unknown as JobRecord;

describe('run observers on a real worker (SQLite)', () => {
  it('see every run start and then complete, with the worker’s own record, while listeners get a copy in the new state', async () => {
    const ran: string[] = [];
    const count = defineJob({ name: 'count', schema: z.object({ n: z.number() }), handler: ({ n }) => void ran.push(String(n)) });
    runtime = await openRuntime([count], { worker: { id: 'worker-a' } });
    const { client, worker, events } = runtime;
    const observer = recorder();
    const off = observeRuns(events, observer);
    const copies: JobRecord[] = [];
    events.on('job:completed', ({ job }) => copies.push(job));
    const ids = [];
    for (let n = 0; n < 5; n++) ids.push((await client.enqueue(count, { n })).job.id);
    await worker.start();
    await until(() => copies.length === 5, 'five completions');
    runObservers(events).deliver();
    for (const id of ids) {
      const mine = observer.seen.filter((line) => line.split(' ')[1] === id);
      expect(mine).toEqual([`started ${id} worker-a`, `completed ${id} running`]);
    }
    // The listener's copy is another object, in the state the finish wrote.
    for (const copy of copies) {
      expect(copy.state).toBe('completed');
      expect(copy.lease).toBeNull();
      expect(observer.jobs).not.toContain(copy);
      expect(observer.jobs.find((one) => one.id === copy.id)?.state).toBe('running');
    }
    off();
  });
});

describe('run observers, delivery', () => {
  it('are told at the end of the task, or at once when asked to deliver, in the order runs happened', async () => {
    const events = new NightshiftEvents();
    const observers = runObservers(events);
    const observer = recorder();
    observeRuns(events, observer);
    observers.started(job('1'), 'w');
    observers.started(job('2'), 'w');
    observers.completed(job('1'), 1);
    expect(observer.seen).toEqual([]);
    observers.deliver();
    expect(observer.seen).toEqual(['started 1 w', 'started 2 w', 'completed 1 running']);
    observers.completed(job('2'), 2);
    await Promise.resolve();
    expect(observer.seen.at(-1)).toBe('completed 2 running');
  });

  it('deliver what waits before an observer comes or goes: a new one misses earlier runs, a leaving one gets them', () => {
    const events = new NightshiftEvents();
    const observers = runObservers(events);
    const first = recorder();
    const offFirst = observeRuns(events, first);
    observers.started(job('1'), 'w');
    const second = recorder();
    observeRuns(events, second);
    observers.started(job('2'), 'w');
    offFirst();
    expect(first.seen).toEqual(['started 1 w', 'started 2 w']);
    expect(second.seen).toEqual(['started 2 w']);
    observers.started(job('3'), 'w');
    observers.deliver();
    expect(first.seen).toHaveLength(2);
    expect(second.seen).toEqual(['started 2 w', 'started 3 w']);
  });

  it('deliver each run once when an observer delivers during a delivery, and keep delivering after it', () => {
    const events = new NightshiftEvents();
    const observers = runObservers(events);
    // The first observer, told of job 1, queues job 2 and delivers at once (as the feed's flush
    // delivers from inside its own observer).
    let nested = false;
    observeRuns(events, {
      started(record) {
        if (record.id === '1' && !nested) {
          nested = true;
          observers.started(job('2'), 'w');
          observers.deliver();
        }
      },
      completed() {},
    });
    const observer = recorder();
    observeRuns(events, observer);
    observers.started(job('1'), 'w');
    observers.deliver();
    expect(observer.seen.sort()).toEqual(['started 1 w', 'started 2 w']);
    // The arrays taken turns with stay sound: later runs arrive once each, in order, and a
    // delivery with nothing waiting tells nobody anything.
    for (let round = 3; round < 9; round++) {
      observers.started(job(String(round)), 'w');
      observers.completed(job(String(round)), 1);
      observers.deliver();
      observers.deliver();
    }
    expect(observer.seen.slice(2)).toEqual([3, 4, 5, 6, 7, 8].flatMap((id) => [`started ${id} w`, `completed ${id} running`]));
  });

  it('keep going past an observer that throws, and report its error as worker:error', async () => {
    const events = new NightshiftEvents();
    const observers = runObservers(events);
    const errors: { error: unknown; during: string }[] = [];
    events.on('worker:error', (payload) => errors.push(payload));
    const broken = new Error('observer broke');
    observeRuns(events, {
      started() {
        throw broken;
      },
      completed() {},
    });
    const observer = recorder();
    observeRuns(events, observer);
    observers.started(job('1'), 'w');
    // Delivered by the microtask, where a throw would otherwise end the process.
    await Promise.resolve();
    expect(observer.seen).toEqual(['started 1 w']);
    expect(errors).toEqual([{ error: broken, during: 'run observer' }]);
  });

  it('queue nothing when no observer listens', () => {
    const events = new NightshiftEvents();
    const observers = runObservers(events);
    observers.started(job('1'), 'w');
    const observer = recorder();
    observeRuns(events, observer);
    observers.deliver();
    expect(observer.seen).toEqual([]);
  });

  it('reach the event feed before any event that came after them in the same task (SQLite)', async () => {
    const temp = await openTempStore();
    try {
      const events = new NightshiftEvents();
      const observers = runObservers(events);
      const writer = createEventFeedWriter({ store: temp.store, events, flushIntervalMs: 60_000 });
      writer.start();
      observers.started(job('7'), 'w');
      events.emit('queue:paused', { queue: 'q' });
      observers.completed(job('7'), 1.5);
      events.emit('queue:resumed', { queue: 'q' });
      await writer.flush();
      await writer.stop();
      const written = await temp.store.eventList({ afterId: '0', limit: 10 });
      expect(written.map((event) => event.type)).toEqual(['job:started', 'queue:paused', 'job:completed', 'queue:resumed']);
    } finally {
      await temp.cleanup();
    }
  });
});
