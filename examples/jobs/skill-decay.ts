/**
 * Skill-confidence decay: a skill nobody has seen a user use lately becomes less certain. Runs
 * daily; confidence halves every `halfLifeDays` since the skill was last seen, and skills below
 * `dropBelow` are forgotten.
 */
import { defineJob } from 'nightshift';
import { z } from 'zod';
import { listUserStates, saveUserState } from './app-state.js';

const DAY_MS = 86_400_000;

export const skillDecay = defineJob({
  name: 'skills.decay',
  queue: 'sensory',
  description: 'Lower confidence in skills not seen recently (half-life decay)',
  schema: z.object({
    halfLifeDays: z.number().positive().default(30),
    dropBelow: z.number().min(0).max(1).default(0.05),
  }),
  handler: async ({ halfLifeDays, dropBelow }, ctx) => {
    const now = ctx.now().getTime();
    let decayed = 0;
    let dropped = 0;
    for (const state of await listUserStates()) {
      ctx.signal.throwIfAborted();
      let changed = false;
      for (const [skill, entry] of Object.entries(state.skills)) {
        const idleDays = Math.max(0, (now - Date.parse(entry.lastSeenAt)) / DAY_MS);
        // Decay from the last sighting, not from the last run, so running twice a day is harmless.
        const confidence = Math.round(entry.confidence * 0.5 ** (idleDays / halfLifeDays) * 1000) / 1000;
        if (confidence < dropBelow) {
          delete state.skills[skill];
          dropped++;
          changed = true;
        } else if (confidence !== entry.confidence) {
          state.skills[skill] = { confidence, lastSeenAt: entry.lastSeenAt };
          decayed++;
          changed = true;
        }
      }
      if (changed) await saveUserState(state);
    }
    return { decayed, dropped };
  },
});
