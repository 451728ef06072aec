// A separate OS process working on a shared SQLite file, for the multi-process store tests.
// Usage: node --import jiti/register sqlite-process-child.ts <db path> <migrate|drain> [batch]
// Prints one JSON line with what it did, then exits.
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const [path, mode, batchArg] = process.argv.slice(2);
if (path === undefined || (mode !== 'migrate' && mode !== 'drain')) {
  process.stderr.write('usage: sqlite-process-child.ts <db path> <migrate|drain> [batch]\n');
  process.exit(2);
}

const store = createSqliteStore({ path, busyTimeoutMs: 20_000 });
await store.migrate();
if (mode === 'migrate') {
  process.stdout.write(`${JSON.stringify({ migrated: true })}\n`);
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
