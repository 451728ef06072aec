/** Cleanup: keeps the example's folders from growing without bound. */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { defineJob } from 'nightshift';
import { z } from 'zod';
import { paths } from './app-state.js';

const DAY_MS = 86_400_000;

/** Deletes files in `dir` older than `maxAgeMs`, always keeping the newest `keep`. */
async function prune(dir: string, maxAgeMs: number, keep: number, nowMs: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const files = await Promise.all(names.map(async (name) => ({ path: join(dir, name), mtimeMs: (await stat(join(dir, name))).mtimeMs })));
  files.sort((a, b) => b.mtimeMs - a.mtimeMs);
  let removed = 0;
  for (const file of files.slice(keep)) {
    if (nowMs - file.mtimeMs > maxAgeMs) {
      await rm(file.path, { force: true });
      removed++;
    }
  }
  return removed;
}

export const cleanup = defineJob({
  name: 'maintenance.cleanup',
  description: 'Delete old snapshots and sent emails (keeps the newest ones)',
  schema: z.object({
    snapshotMaxAgeDays: z.number().positive().default(14),
    outboxMaxAgeDays: z.number().positive().default(30),
    keep: z.number().int().min(0).default(8),
  }),
  handler: async ({ snapshotMaxAgeDays, outboxMaxAgeDays, keep }, ctx) => {
    const now = ctx.now().getTime();
    const snapshots = await prune(paths.snapshots, snapshotMaxAgeDays * DAY_MS, keep, now);
    const emails = await prune(paths.outbox, outboxMaxAgeDays * DAY_MS, keep, now);
    return { snapshotsRemoved: snapshots, emailsRemoved: emails };
  },
});
