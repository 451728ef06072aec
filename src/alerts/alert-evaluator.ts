/**
 * Evaluates alert rules against the store's state now. One pass reads each signal once — job
 * counts per queue and state, the oldest due job per queue, the live processes, the schedules,
 * and the per-minute stats of each window the rules use — and returns what fires. Nothing here
 * sends anything; `alert-service.ts` throttles and delivers.
 */
import { listProcesses } from '../observe/process-registry.js';
import { addDelta, emptyDelta } from '../observe/stats-recorder.js';
import { percentile, summarize } from '../observe/stats-report.js';
import type { StatsDelta, Store } from '../store/types.js';
import type { AlertRules, Severity } from './alert-rules.js';
import { readStreaks } from './failure-streaks.js';
import { queueLoads, SaturationMemory } from './queue-saturation.js';

/**
 * `noWorker` fires once a due job has waited this long (ms) with no live consumer: a worker that
 * is starting (a deploy that starts evaluators and workers apart) registers well within it, and
 * a queue nobody consumes still alerts within a minute.
 */
export const NO_WORKER_MIN_LAG_MS = 30_000;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Most job names one `consecutiveFailures` rule looks at per pass (all in one read). */
const MAX_NAMES_PER_RULE = 200;

export type AlertFamily = 'jobFailures' | 'queueHealth' | 'performance' | 'schedules';

/** One rule firing for one subject. */
export interface Firing {
  /** `rule|kind|name`: what throttling and de-duplication key on. */
  key: string;
  rule: string;
  family: AlertFamily;
  severity: Severity;
  description: string | null;
  /** Channel names; empty means the settings' channels. */
  channels: string[];
  /** Send a "resolved" message when the condition clears. */
  notifyResolved: boolean;
  subject: { kind: 'job' | 'queue' | 'schedule'; name: string };
  /** The figure that crossed the threshold, in words ("3 consecutive dead jobs"). */
  measured: string;
  /** The threshold, in words ("≥ 3"). */
  threshold: string;
  lastError: { name: string; message: string } | null;
}

export interface EvaluationOptions {
  /** Job names known to this process (besides those in the stats). */
  jobNames?: readonly string[];
  /**
   * Since when each queue has been saturated, kept across the passes of one evaluator (the alert
   * service holds one). Without it each pass starts afresh, so `saturatedForSeconds` never fires.
   */
  saturation?: SaturationMemory;
}

function matcher(pattern: string | undefined): (name: string) => boolean {
  if (pattern === undefined) return () => true;
  const regex = new RegExp(pattern);
  return (name) => regex.test(name);
}

function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/** Per name and per queue, the sums of a window (and, when asked for, of the day before it). */
interface WindowStats {
  byName: Map<string, StatsDelta>;
  byQueue: Map<string, StatsDelta>;
  /** Empty unless the window was read with its baseline. */
  baselineByName: Map<string, StatsDelta>;
}

/**
 * Reads the per-minute stats of the window ending now. With `baseline` (only `durationIncrease`
 * needs it) the day before the window too, as one more bucket: that is a day of minutes more to
 * sum, the largest part of a pass on a busy store, so it is read only for the windows that use it.
 */
async function readWindow(store: Store, nowMs: number, windowMs: number, baseline: boolean): Promise<WindowStats> {
  const windowStart = floorMinute(nowMs - windowMs);
  // With a baseline, buckets of one day from a day before the window: [baseline day][window]. Without,
  // one bucket longer than the window (now − windowStart is under windowMs + a minute).
  const since = baseline ? windowStart - DAY_MS : windowStart;
  const rows = await store.statsList({ since: new Date(since), bucketMs: baseline ? DAY_MS : windowMs + MINUTE_MS });
  const out: WindowStats = { byName: new Map(), byQueue: new Map(), baselineByName: new Map() };
  const add = (map: Map<string, StatsDelta>, key: string, row: StatsDelta) => {
    let into = map.get(key);
    if (!into) {
      into = emptyDelta(row.queue, row.name);
      map.set(key, into);
    }
    addDelta(into, row);
  };
  for (const row of rows) {
    if (baseline && row.start.getTime() === since) {
      add(out.baselineByName, row.name, row);
    } else {
      add(out.byName, row.name, row);
      add(out.byQueue, row.queue, row);
    }
  }
  return out;
}

/** The windows (seconds) the enabled rules read, and whether each needs the day before it. */
function windowsOf(rules: AlertRules): Map<number, boolean> {
  const needs = new Map<number, boolean>();
  const need = (seconds: number | undefined, baseline = false) => {
    const key = seconds ?? 3600;
    needs.set(key, (needs.get(key) ?? false) || baseline);
  };
  for (const { enabled, conditions } of rules.jobFailures) {
    if (!enabled) continue;
    if (conditions.failureCount !== undefined || conditions.timeouts !== undefined) need(conditions.timeWindow);
    if (conditions.failuresPerHour !== undefined) need(3600);
    if (conditions.consecutiveFailures !== undefined) need(DAY_MS / 1000);
  }
  for (const { enabled, conditions } of rules.queueHealth) if (enabled && conditions.waitP95Seconds !== undefined) need(conditions.timeWindow);
  for (const { enabled, conditions } of rules.performance) if (enabled) need(conditions.timeWindow, conditions.durationIncrease !== undefined);
  return needs;
}

/** Evaluates every enabled rule once. */
export async function evaluateAlertRules(store: Store, rules: AlertRules, options: EvaluationOptions = {}): Promise<Firing[]> {
  if (!rules.settings.enabled) return [];
  const now = (await store.timeNow()).getTime();
  // Every window is asked for at once: on PostgreSQL the reads run side by side on the pool.
  const windows = new Map<number, Promise<WindowStats>>();
  for (const [seconds, baseline] of windowsOf(rules)) {
    const read = readWindow(store, now, seconds * 1000, baseline);
    // Awaited where a rule reads it; until then a failure must not count as unhandled.
    read.catch(() => undefined);
    windows.set(seconds, read);
  }
  const windowOf = (seconds: number | undefined): Promise<WindowStats> => {
    const key = seconds ?? 3600;
    let found = windows.get(key);
    if (!found) {
      found = readWindow(store, now, key * 1000, false);
      windows.set(key, found);
    }
    return found;
  };
  let countsRead: ReturnType<Store['jobStats']> | null = null;
  const counts = () => (countsRead ??= store.jobStats());
  const firings: Firing[] = [];
  const fire = (family: AlertFamily, rule: { name: string; severity: Severity; description?: string | undefined; channels?: string[] | undefined; notifyResolved?: boolean | undefined }, subject: Firing['subject'], measured: string, threshold: string, lastError: Firing['lastError'] = null) => {
    firings.push({
      key: `${rule.name}|${subject.kind}|${subject.name}`,
      rule: rule.name,
      family,
      severity: rule.severity,
      description: rule.description ?? null,
      channels: rule.channels ?? [],
      notifyResolved: rule.notifyResolved ?? rules.settings.notifyResolved,
      subject,
      measured,
      threshold,
      lastError,
    });
  };

  for (const rule of rules.jobFailures) {
    if (!rule.enabled) continue;
    const { conditions } = rule;
    const matches = matcher(conditions.jobPattern);
    if (conditions.failureCount !== undefined || conditions.failuresPerHour !== undefined) {
      const checks: [number, number | undefined, string][] = [
        [conditions.timeWindow ?? 3600, conditions.failureCount, 'failureCount'],
        [3600, conditions.failuresPerHour, 'failuresPerHour'],
      ];
      for (const [windowSeconds, threshold, label] of checks) {
        if (threshold === undefined) continue;
        const stats = await windowOf(windowSeconds);
        for (const [name, delta] of stats.byName) {
          if (!matches(name)) continue;
          const failed = delta.failed + delta.dead;
          if (failed >= threshold) {
            fire('jobFailures', rule, { kind: 'job', name }, `${failed} failed attempt${failed === 1 ? '' : 's'} in ${windowSeconds} s`, `${label} ≥ ${threshold}`);
          }
        }
      }
    }
    if (conditions.timeouts !== undefined) {
      const windowSeconds = conditions.timeWindow ?? 3600;
      const stats = await windowOf(windowSeconds);
      for (const [name, delta] of stats.byName) {
        if (matches(name) && delta.timeouts >= conditions.timeouts) {
          fire('jobFailures', rule, { kind: 'job', name }, `${delta.timeouts} attempt${delta.timeouts === 1 ? '' : 's'} timed out in ${windowSeconds} s`, `timeouts ≥ ${conditions.timeouts}`);
        }
      }
    }
    if (conditions.consecutiveFailures !== undefined) {
      const n = conditions.consecutiveFailures;
      const stats = await windowOf(DAY_MS / 1000);
      const names = [...new Set([...(options.jobNames ?? []), ...stats.byName.keys()])].filter(matches).sort().slice(0, MAX_NAMES_PER_RULE);
      const answers = await readStreaks(store, names, n);
      for (const name of names) {
        const answer = answers.get(name);
        if (answer?.firing) fire('jobFailures', rule, { kind: 'job', name }, `the newest ${n} finished job${n === 1 ? '' : 's'} all ended dead`, `consecutiveFailures ≥ ${n}`, answer.lastError);
      }
    }
  }

  if (rules.queueHealth.some((rule) => rule.enabled)) {
    const [stats, oldest, processes, paused] = await Promise.all([counts(), store.jobQueueOldest(), listProcesses(store), store.queuePausedSince()]);
    const lagOf = new Map(oldest.map((entry) => [entry.queue, Math.max(0, now - entry.oldestRunAt.getTime())]));
    const consumed = new Set(processes.flatMap((process) => process.queues.map((slot) => slot?.queue)).filter((queue): queue is string => typeof queue === 'string'));
    // Observed once per pass, whatever the rules: the memory must see every pass to know "since".
    const saturated = (options.saturation ?? new SaturationMemory()).observe(queueLoads(processes), now);
    for (const rule of rules.queueHealth) {
      if (!rule.enabled) continue;
      const { conditions } = rule;
      const matches = matcher(conditions.queuePattern);
      const waits = conditions.waitP95Seconds !== undefined ? await windowOf(conditions.timeWindow) : null;
      if (conditions.pausedForSeconds !== undefined) {
        for (const { queue, pausedAt } of paused) {
          const pausedMs = now - pausedAt.getTime();
          if (matches(queue) && pausedMs >= conditions.pausedForSeconds * 1000) {
            fire('queueHealth', rule, { kind: 'queue', name: queue }, `paused for ${Math.round(pausedMs / 1000)} s (since ${pausedAt.toISOString()})`, `pausedForSeconds ≥ ${conditions.pausedForSeconds}`);
          }
        }
      }
      if (conditions.saturatedForSeconds !== undefined) {
        for (const { queue, busy, slots, sinceMs } of saturated) {
          const forMs = now - sinceMs;
          if (matches(queue) && forMs >= conditions.saturatedForSeconds * 1000) {
            fire('queueHealth', rule, { kind: 'queue', name: queue }, `saturated for ${Math.round(forMs / 1000)} s (${busy}/${slots} slots busy)`, `saturatedForSeconds ≥ ${conditions.saturatedForSeconds}`);
          }
        }
      }
      for (const { queue, counts: c } of stats.queues) {
        if (!matches(queue)) continue;
        const subject = { kind: 'queue' as const, name: queue };
        const pending = c.available + c.scheduled + c.retryable;
        const lagMs = lagOf.get(queue) ?? 0;
        if (conditions.dlqSize !== undefined && c.dead >= conditions.dlqSize) fire('queueHealth', rule, subject, `${c.dead} dead job${c.dead === 1 ? '' : 's'}`, `dlqSize ≥ ${conditions.dlqSize}`);
        if (conditions.pendingJobs !== undefined && pending >= conditions.pendingJobs) fire('queueHealth', rule, subject, `${pending} pending jobs`, `pendingJobs ≥ ${conditions.pendingJobs}`);
        if (conditions.delayedJobs !== undefined && c.scheduled + c.retryable >= conditions.delayedJobs) {
          fire('queueHealth', rule, subject, `${c.scheduled + c.retryable} scheduled or retrying jobs`, `delayedJobs ≥ ${conditions.delayedJobs}`);
        }
        if (conditions.oldestDueSeconds !== undefined && lagMs >= conditions.oldestDueSeconds * 1000) {
          fire('queueHealth', rule, subject, `the oldest due job has waited ${Math.round(lagMs / 1000)} s`, `oldestDueSeconds ≥ ${conditions.oldestDueSeconds}`);
        }
        if (conditions.noWorker && lagMs >= NO_WORKER_MIN_LAG_MS && !consumed.has(queue)) {
          fire('queueHealth', rule, subject, `due jobs (the oldest waiting ${Math.round(lagMs / 1000)} s) and no live worker consumes the queue`, 'noWorker');
        }
        if (waits && conditions.waitP95Seconds !== undefined) {
          const p95 = percentile(waits.byQueue.get(queue)?.waitBuckets ?? [], 0.95);
          if (p95 !== null && p95 >= conditions.waitP95Seconds * 1000) {
            fire('queueHealth', rule, subject, `p95 wait from due to start ${Math.round(p95 / 100) / 10} s over ${conditions.timeWindow ?? 3600} s`, `waitP95Seconds ≥ ${conditions.waitP95Seconds}`);
          }
        }
      }
    }
  }

  for (const rule of rules.performance) {
    if (!rule.enabled) continue;
    const { conditions } = rule;
    const matches = matcher(conditions.jobPattern);
    const windowSeconds = conditions.timeWindow ?? 3600;
    const stats = await windowOf(windowSeconds);
    const minRuns = conditions.minRuns ?? 1;
    for (const [name, delta] of stats.byName) {
      if (!matches(name)) continue;
      const summary = summarize(delta);
      if (summary.runs < minRuns) continue;
      if (conditions.successRate !== undefined && summary.successRate !== null && summary.successRate < conditions.successRate) {
        fire('performance', rule, { kind: 'job', name }, `success rate ${Math.round(summary.successRate * 1000) / 10} % over ${summary.runs} runs in ${windowSeconds} s`, `successRate < ${conditions.successRate * 100} %`);
      }
      if (conditions.durationIncrease !== undefined) {
        const baseline = summarize(stats.baselineByName.get(name) ?? emptyDelta('', ''));
        const avg = summary.durationMs.avg;
        const before = baseline.durationMs.avg;
        if (avg !== null && before !== null && before > 0 && baseline.runs >= minRuns && avg >= before * conditions.durationIncrease) {
          fire('performance', rule, { kind: 'job', name }, `average run time ${avg} ms against ${before} ms the day before (×${Math.round((avg / before) * 10) / 10})`, `durationIncrease ≥ ×${conditions.durationIncrease}`);
        }
      }
    }
  }

  if (rules.schedules.some((rule) => rule.enabled)) {
    const schedules = await store.scheduleList({});
    for (const rule of rules.schedules) {
      if (!rule.enabled) continue;
      const matches = matcher(rule.conditions.schedulePattern);
      for (const schedule of schedules) {
        if (!schedule.enabled || !schedule.nextRunAt || !matches(schedule.id)) continue;
        const lateMs = now - schedule.nextRunAt.getTime();
        if (lateMs >= rule.conditions.lateBySeconds * 1000) {
          fire('schedules', rule, { kind: 'schedule', name: schedule.id }, `the tick due at ${schedule.nextRunAt.toISOString()} is ${Math.round(lateMs / 1000)} s late and not claimed`, `lateBySeconds ≥ ${rule.conditions.lateBySeconds}`);
        }
      }
    }
  }
  return firings;
}
