// A separate OS process working on a shared SQLite file, for the multi-process store tests.
// Usage: node --import jiti/register sqlite-process-child.ts <db path> <migrate|drain|claim-and-hang|insert> [batch]
// Prints one JSON line with what it did, then exits — except claim-and-hang, which claims one
// batch with a short lease, prints the claimed ids and tokens, and then waits to be killed.
// insert adds [batch] jobs, alternating single inserts with multi-row ones, and prints their ids.
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { JobInsert } from '../../src/store/types.js';

const [path, mode, batchArg] = process.argv.slice(2);
const MODES = ['migrate', 'drain', 'claim-and-hang', 'insert'];
if (path === undefined || mode === undefined || !MODES.includes(mode)) {
  process.stderr.write(`usage: sqlite-process-child.ts <db path> <${MODES.join('|')}> [batch]\n`);
  process.exit(2);
}

const store = createSqliteStore({ path, busyTimeoutMs: 20_000 });
await store.migrate();
if (mode === 'migrate') {
  process.stdout.write(`${JSON.stringify({ migrated: true })}\n`);
} else if (mode === 'claim-and-hang') {
  const jobs = await store.jobFetch({ queue: 'default', limit: Number(batchArg ?? 5), owner: `pid-${process.pid}`, leaseMs: 100 });
  process.stdout.write(`${JSON.stringify({ claimed: jobs.map((job) => ({ id: job.id, token: job.lease?.token })) })}\n`);
  // Hold the claims like a handler that never returns, until the parent kills the process.
  setInterval(() => undefined, 60_000);
  await new Promise(() => undefined);
} else if (mode === 'insert') {
  const total = Number(batchArg ?? 100);
  const ids: string[] = [];
  const job = (i: number): JobInsert => ({ name: 'child', queue: 'default', payload: `{"pid":${process.pid},"i":${i}}`, priority: 0, maxAttempts: 1, runAt: null, key: null, timeoutMs: null, scheduleId: null, meta: null });
  while (ids.length < total) {
    // One job alone, then a few in one statement: both ways of numbering rows race the other processes.
    const size = ids.length % 2 === 0 ? 1 : Math.min(7, total - ids.length);
    const results = await store.jobInsertMany({ jobs: Array.from({ length: size }, (_, i) => job(ids.length + i)) });
    ids.push(...results.map((result) => result.job.id));
  }
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ids })}\n`);
} else {
  const batch = Number(batchArg ?? 5);
  const claimed: string[] = [];
  // Bounded: the parent inserts a known number of jobs, so an empty fetch means the queue is drained.
  for (let round = 0; round < 100_000; round++) {
    const jobs = await store.jobFetch({ queue: 'default', limit: batch, owner: `pid-${process.pid}`, leaseMs: 60_000 });
    if (jobs.length === 0) break;
    claimed.push(...jobs.map((job) => job.id));
    await store.jobFinishMany({
      items: jobs.map((job) => ({ id: job.id, token: job.lease?.token ?? '', finish: { outcome: 'completed' as const, result: `"${process.pid}"` } })),
    });
  }
  process.stdout.write(`${JSON.stringify({ claimed })}\n`);
}
await store.close();
