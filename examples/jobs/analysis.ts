/**
 * Nightly per-user analysis, fanned out: `analysis.nightly` picks the active users and enqueues
 * one `analysis.user` job each, in one bulk insert, through its context (`ctx.enqueueMany`). Each per-user job can then fail, retry and
 * time out on its own, and the `cognition` queue's concurrency bounds how many run at once.
 */
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { defineJob } from 'nightshift';
import { z } from 'zod';
import { loadUserState, loadUsers, saveUserState } from './app-state.js';

/** Skills the analysis recognises in a user's notes, by keyword. */
const SKILL_KEYWORDS: Record<string, readonly string[]> = {
  typescript: ['typescript', 'sdk'],
  sql: ['sql', 'postgresql', 'query plan'],
  rust: ['rust'],
  operations: ['kubernetes', 'rollout', 'outage', 'incident'],
  writing: ['write-up', 'talk', 'drafted', 'explained'],
};

/** How much one mention raises a skill's confidence, towards 1. */
const REINFORCEMENT = 0.25;

export const analyzeUser = defineJob({
  name: 'analysis.user',
  queue: 'cognition',
  description: 'Read one user\'s recent notes and update their skill confidences',
  schema: z.object({ userId: z.string().min(1), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) }),
  retry: { attempts: 4, backoff: { type: 'exponential', delayMs: 5_000, maxDelayMs: 300_000 } },
  handler: async ({ userId, date }, ctx) => {
    const user = (await loadUsers()).find((candidate) => candidate.id === userId);
    if (!user) return { userId, skipped: 'user no longer exists' };
    // Stands in for a model call: slow, and it must stop when the job is cancelled or times out.
    await delay(150, undefined, { signal: ctx.signal });
    const state = await loadUserState(userId);
    const now = ctx.now().toISOString();
    const seen: string[] = [];
    for (const [skill, keywords] of Object.entries(SKILL_KEYWORDS)) {
      const mentions = user.notes.filter((note) => keywords.some((keyword) => note.toLowerCase().includes(keyword))).length;
      if (mentions === 0) continue;
      const before = state.skills[skill]?.confidence ?? 0;
      const confidence = 1 - (1 - before) * (1 - REINFORCEMENT) ** mentions;
      state.skills[skill] = { confidence: Math.round(confidence * 1000) / 1000, lastSeenAt: now };
      seen.push(skill);
    }
    state.lastAnalysisAt = now;
    state.insights = [`${date}: active in ${seen.length ? seen.join(', ') : 'nothing we track'}`, ...state.insights].slice(0, 10);
    await saveUserState(state);
    ctx.log.info({ userId, skills: seen }, 'user analysed');
    return { userId, skills: seen };
  },
});

/**
 * Whether a user falls inside a rollout of `percent` %. Deterministic (a hash of the id), so the
 * same users stay in from one night to the next while the percentage is raised step by step.
 */
export function inRollout(userId: string, percent: number): boolean {
  const bucket = createHash('sha256').update(userId).digest().readUInt16BE(0) % 100;
  return bucket < percent;
}

export const nightlyAnalysis = defineJob({
  name: 'analysis.nightly',
  description: 'Select active users (rollout percentage, cap) and enqueue one analysis.user job per user',
  schema: z.object({
    /** Share of active users analysed, 0–100; default 100. */
    rolloutPercent: z.number().min(0).max(100).default(100),
    /** Most users analysed in one night, so the model service downstream is not overloaded; default 1 000. */
    cap: z.number().int().positive().max(10_000).default(1_000),
  }),
  retry: { attempts: 3 },
  handler: async ({ rolloutPercent, cap }, ctx) => {
    const active = (await loadUsers()).filter((user) => user.active);
    const selected = active.filter((user) => inRollout(user.id, rolloutPercent)).slice(0, cap);
    const date = ctx.now().toISOString().slice(0, 10);
    // The key makes a retried or doubly-triggered fan-out harmless while the first user jobs are
    // still pending: one pending job per user per night. A key only holds while its job is pending,
    // so a trigger after they all finished fans out again.
    const results = await ctx.enqueueMany(
      analyzeUser,
      selected.map((user) => ({ userId: user.id, date })),
      { keyOf: (payload) => `${payload.userId}:${payload.date}` },
    );
    const enqueued = results.filter((result) => result.inserted).length;
    ctx.log.info({ active: active.length, selected: selected.length, enqueued, rolloutPercent, cap }, 'nightly analysis fanned out');
    return { active: active.length, users: selected.length, enqueued, jobIds: results.map((result) => result.job.id) };
  },
});
