/** State snapshots every 6 hours: every user's state in one JSON file, for restores and audits. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { defineJob } from 'nightshift';
import { z } from 'zod';
import { listUserStates, paths, writeFileAtomic } from './app-state.js';

export const stateSnapshot = defineJob({
  name: 'state.snapshot',
  queue: 'sensory',
  description: 'Write all user state to data/snapshots/<time>.json',
  schema: z.object({ label: z.string().max(40).regex(/^[a-z0-9-]*$/).optional() }),
  handler: async ({ label }, ctx) => {
    const takenAt = ctx.now();
    const states = await listUserStates();
    await mkdir(paths.snapshots, { recursive: true });
    const stamp = takenAt.toISOString().replace(/[:.]/g, '-');
    const file = join(paths.snapshots, `${stamp}${label ? `-${label}` : ''}.json`);
    await writeFileAtomic(file, `${JSON.stringify({ takenAt: takenAt.toISOString(), jobId: ctx.id, users: states }, null, 2)}\n`);
    return { file, users: states.length };
  },
});
