/**
 * The weekly summary email. There is no mail server in the example: each message is written to
 * `examples/outbox/` as an .eml file, which any mail client opens.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { defineJob } from 'nightshift';
import { z } from 'zod';
import { loadUserState, loadUsers, paths, writeFileAtomic } from './app-state.js';

function renderEmail(to: string, name: string, lines: string[], sentAt: Date): string {
  return [
    'From: Nightshift example <summaries@example.test>',
    `To: ${name} <${to}>`,
    `Date: ${sentAt.toUTCString()}`,
    'Subject: Your week in skills',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hi ${name.split(' ')[0]},`,
    '',
    ...lines,
    '',
    '— sent by the weekly summary job',
    '',
  ].join('\r\n');
}

export const weeklySummary = defineJob({
  name: 'email.weekly-summary',
  queue: 'cognition',
  description: 'Write a weekly skills summary email per active user to the outbox folder',
  schema: z.object({ userIds: z.array(z.string()).optional() }),
  retry: { attempts: 5, backoff: { type: 'exponential', delayMs: 60_000 } },
  handler: async ({ userIds }, ctx) => {
    const sentAt = ctx.now();
    const users = (await loadUsers()).filter((user) => user.active && (!userIds || userIds.includes(user.id)));
    await mkdir(paths.outbox, { recursive: true });
    const files: string[] = [];
    for (const [index, user] of users.entries()) {
      ctx.signal.throwIfAborted();
      const state = await loadUserState(user.id);
      const skills = Object.entries(state.skills).sort(([, a], [, b]) => b.confidence - a.confidence);
      const lines = skills.length
        ? ['Where we think you are strongest:', ...skills.map(([skill, entry]) => `  - ${skill}: ${Math.round(entry.confidence * 100)}% confident`)]
        : ['We did not see enough activity this week to say anything yet.'];
      // One file name per user and week: a retried job overwrites instead of sending twice.
      const week = sentAt.toISOString().slice(0, 10);
      const file = join(paths.outbox, `${week}-${user.id}.eml`);
      await writeFileAtomic(file, renderEmail(user.email, user.name, lines, sentAt));
      files.push(file);
      ctx.progress({ done: index + 1, of: users.length });
    }
    return { sent: files.length, files };
  },
});
