/**
 * The reads behind `consecutiveFailures`: for each job name, are its newest N finished jobs all
 * dead? The store answers with `jobList` (newest first, filtered by name and state), which walks
 * the jobs from the newest down until it has found N: cheap for a name that finished jobs lately,
 * a walk over the whole table for one that has not (a job that never ran, or ran last week) —
 * about 100 ms per such name at 1,000,000 jobs, on either store. So an evaluator remembers each
 * answer (`StreakMemory`) and reads a name again only when it may have changed:
 * - it has no answer yet (an evaluator's first pass reads every name);
 * - the answer is firing (so a streak that clears resolves at the next pass);
 * - the per-minute stats show a job of that name completed or died since the answer was read
 *   (minus `STATS_SKEW_MS`, for clocks and flushes);
 * - or the answer is older than `STREAK_REFRESH_MS`, for what the stats do not count — deaths by
 *   the rescuer (a job that crashes its process), an operator's retry, pruning. At most one such
 *   name is read again per pass, the oldest answer first, so a pass costs at most one long walk.
 * Without a memory (a one-off evaluation) every name is read.
 */
import type { Store } from '../store/types.js';

/** A remembered answer is read again after this long at the latest, ms (one name per pass). */
export const STREAK_REFRESH_MS = 600_000;
/** Stats of the minutes from this long before an answer was read count as "since", ms. */
export const STATS_SKEW_MS = 300_000;
const MINUTE_MS = 60_000;

/** One name's answer for one streak length. */
export interface StreakAnswer {
  /** The newest N finished jobs of the name all ended dead. */
  firing: boolean;
  /** The newest job's last error, when firing. */
  lastError: { name: string; message: string } | null;
}

interface Remembered extends StreakAnswer {
  /** Store time of the read, ms. */
  readAtMs: number;
}

/** Answers per (streak length, name) kept across the passes of one evaluator. */
export class StreakMemory {
  readonly answers = new Map<string, Remembered>();
}

const keyOf = (n: number, name: string) => `${n}|${name}`;

/**
 * The answers for `names` with streak length `n` at store time `nowMs`, reading from the store
 * only the names whose remembered answer may be out of date (see the module comment).
 */
export async function readStreaks(store: Store, names: readonly string[], n: number, nowMs: number, memory?: StreakMemory): Promise<Map<string, StreakAnswer>> {
  const answers = new Map<string, StreakAnswer>();
  const toRead = new Set<string>();
  const kept: [string, Remembered][] = [];
  for (const name of names) {
    const known = memory?.answers.get(keyOf(n, name));
    if (!known || known.firing) toRead.add(name);
    else kept.push([name, known]);
  }
  if (kept.length > 0) {
    // Which kept names finished a job since their answer: one read of the minutes since the oldest.
    const oldest = Math.min(...kept.map(([, known]) => known.readAtMs));
    const floorMinute = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;
    const since = floorMinute(oldest - STATS_SKEW_MS);
    const rows = await store.statsList({ since: new Date(since), bucketMs: MINUTE_MS });
    const lastFinish = new Map<string, number>();
    for (const row of rows) {
      if (row.completed + row.dead === 0) continue;
      lastFinish.set(row.name, Math.max(lastFinish.get(row.name) ?? 0, row.start.getTime()));
    }
    let stalest: [string, Remembered] | null = null;
    for (const entry of kept) {
      const [name, known] = entry;
      const finishedAt = lastFinish.get(name);
      if (finishedAt !== undefined && finishedAt >= floorMinute(known.readAtMs - STATS_SKEW_MS)) {
        toRead.add(name);
        continue;
      }
      answers.set(name, { firing: known.firing, lastError: known.lastError });
      if (nowMs - known.readAtMs >= STREAK_REFRESH_MS && (stalest === null || known.readAtMs < stalest[1].readAtMs)) stalest = entry;
    }
    if (stalest) toRead.add(stalest[0]);
  }
  for (const name of toRead) {
    const page = await store.jobList({ filter: { names: [name], states: ['completed', 'dead'] }, limit: n });
    const firing = page.jobs.length === n && page.jobs.every((job) => job.state === 'dead');
    const newest = page.jobs[0];
    const answer: StreakAnswer = { firing, lastError: firing && newest?.lastError ? { name: newest.lastError.name, message: newest.lastError.message } : null };
    answers.set(name, answer);
    memory?.answers.set(keyOf(n, name), { ...answer, readAtMs: nowMs });
  }
  return answers;
}
