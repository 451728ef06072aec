/**
 * The read behind `consecutiveFailures`: for each job name, are its newest N finished jobs (by
 * finish time) all dead? One store call for every name of a rule (`jobNewestFinished`), served by
 * an index over finished jobs by name: a seek per name, whether the name finished a job a second
 * ago, last week or never. So every pass reads every name again and sees every way a job can end
 * — a worker's finish, the rescuer's, an operator's retry, pruning — with nothing remembered.
 */
import type { Store } from '../store/types.js';

/** One name's answer for one streak length. */
export interface StreakAnswer {
  /** The newest N finished jobs of the name all ended dead. */
  firing: boolean;
  /** The newest job's last error, when firing. */
  lastError: { name: string; message: string } | null;
}

/** The answers for `names` with streak length `n`. */
export async function readStreaks(store: Store, names: readonly string[], n: number): Promise<Map<string, StreakAnswer>> {
  const rows = names.length === 0 ? [] : await store.jobNewestFinished({ names: [...names], limit: n });
  const byName = new Map<string, typeof rows>();
  for (const row of rows) {
    const list = byName.get(row.name);
    if (list) list.push(row);
    else byName.set(row.name, [row]);
  }
  const answers = new Map<string, StreakAnswer>();
  for (const name of names) {
    const newest = byName.get(name) ?? [];
    const firing = newest.length === n && newest.every((row) => row.state === 'dead');
    const lastError = firing && newest[0]?.lastError ? { name: newest[0].lastError.name, message: newest[0].lastError.message } : null;
    answers.set(name, { firing, lastError });
  }
  return answers;
}
