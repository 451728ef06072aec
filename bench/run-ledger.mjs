// Exactly-once accounting. Every benchmark job carries a sequence number 0 … n-1 in its payload;
// each handler call bumps that number's counter. Merging the ledgers of every worker process and
// looking for zeros (missing) and counts above one (ran twice) proves each job ran exactly once,
// independently of what the system under test claims.
//
// Workloads with a limit (W6 per-key concurrency, W7 rate limit) also time every handler call:
// its start and end (preciseNow, comparable across processes) and its concurrency key. The same
// merged ledgers then give the largest number of one key's jobs running at once and the largest
// number of starts in any window of the rate limit's length (judgeLimits).

/** Per-process run counter indexed by sequence number. */
export class RunLedger {
  /**
   * @param {number} jobs Number of jobs (sequence numbers 0 … jobs-1).
   * @param {{ timed?: boolean }} [options] `timed`: also keep each call's start, end and key (`begin`/`end`).
   */
  constructor(jobs, { timed = false } = {}) {
    // Uint16 so that a pathological re-run storm still counts instead of wrapping at 256.
    this.counts = new Uint16Array(jobs);
    /** Handler calls whose sequence number was out of range (foreign or corrupt jobs). */
    this.foreign = 0;
    /** Total handler calls. */
    this.calls = 0;
    /** Timed ledgers only: per call, in call order, its start and end (ms) and its key (or null). */
    this.timings = timed ? { starts: /** @type {number[]} */ ([]), ends: /** @type {number[]} */ ([]), keys: /** @type {(string | null)[]} */ ([]) } : null;
  }

  /**
   * Records a handler call like `record`, and on a timed ledger its start time and key.
   * @param {unknown} seq
   * @param {unknown} key  The payload's concurrency key, if it has one.
   * @param {number} startedAt  ms (preciseNow).
   * @returns {number} The call's index, for `end`.
   */
  begin(seq, key, startedAt) {
    this.record(seq);
    if (!this.timings) return -1;
    this.timings.starts.push(startedAt);
    this.timings.ends.push(Number.NaN);
    this.timings.keys.push(typeof key === 'string' || typeof key === 'number' ? String(key) : null);
    return this.timings.starts.length - 1;
  }

  /** Records when the call `index` (from `begin`) returned. @param {number} index @param {number} endedAt */
  end(index, endedAt) {
    if (this.timings && index >= 0) this.timings.ends[index] = endedAt;
  }

  /** @param {unknown} seq */
  record(seq) {
    this.calls++;
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq >= this.counts.length) {
      this.foreign++;
      return;
    }
    if (this.counts[seq] < 0xffff) this.counts[seq]++;
  }
}

/**
 * @typedef {object} ExactlyOnceReport
 * @property {boolean} ok       No duplicates, none missing, no foreign jobs.
 * @property {number} missing   Sequence numbers that never ran (or are not stored).
 * @property {number} duplicated Sequence numbers that ran (or are stored) more than once.
 * @property {number} foreign   Jobs with an out-of-range sequence number.
 * @property {string} text      Short verdict for the table, e.g. `ok` or `2 dup, 0 missing`.
 */

/**
 * Merges per-process counters and judges them.
 * @param {number} jobs
 * @param {{ counts: Uint16Array, foreign: number }[]} ledgers
 * @returns {ExactlyOnceReport}
 */
export function judgeLedgers(jobs, ledgers) {
  const total = new Uint32Array(jobs);
  let foreign = 0;
  for (const ledger of ledgers) {
    foreign += ledger.foreign;
    for (let i = 0; i < jobs; i++) total[i] += ledger.counts[i] ?? 0;
  }
  return judgeTotals(total, foreign);
}

/**
 * Judges a list of sequence numbers read back from a store (enqueue workloads: each job stored once).
 * @param {number} jobs
 * @param {Iterable<unknown>} seqs
 * @returns {ExactlyOnceReport}
 */
export function judgeStoredSeqs(jobs, seqs) {
  const ledger = new RunLedger(jobs);
  for (const seq of seqs) ledger.record(seq);
  return judgeLedgers(jobs, [ledger]);
}

/** @param {Uint32Array} total @param {number} foreign @returns {ExactlyOnceReport} */
function judgeTotals(total, foreign) {
  let missing = 0;
  let duplicated = 0;
  for (const count of total) {
    if (count === 0) missing++;
    else if (count > 1) duplicated++;
  }
  const ok = missing === 0 && duplicated === 0 && foreign === 0;
  const parts = [`${duplicated} dup`, `${missing} missing`];
  if (foreign > 0) parts.push(`${foreign} foreign`);
  return { ok, missing, duplicated, foreign, text: ok ? 'ok' : `FAIL ${parts.join(', ')}` };
}

/**
 * @typedef {object} LimitsReport
 * @property {boolean} ok            Every limit held (and there were timings to check).
 * @property {string} text           Short verdict for the table, e.g. `max 1/key` or `FAIL max 2/key`.
 * @property {{ limit: number, maxRunning: number, keysOver: number, unfinished: number } | undefined} perKey
 *   Per-key concurrency: the most calls of one key open at once, over every key; keys that went over
 *   the limit; calls without an end time (counted as still running).
 * @property {{ max: number, perMs: number, maxInWindow: number, achievedPerSec: number, ratio: number, slopePerSec: number } | undefined} rate
 *   Rate limit: the most starts in any window of `perMs` (half-open, sliding over every start);
 *   the achieved rate, calls / (last start − first start), per second, and its ratio to max / perMs;
 *   the least-squares slope of start count over time, per second. The achieved rate of a limiter
 *   that lets a window's `max` jobs start at once comes out one window's worth high (n jobs over
 *   n / rate − perMs); the slope is the long-run pace whether the starts come evenly or in bursts.
 */

/**
 * Merges the timings of per-process ledgers and checks them against the workload's limits.
 * @param {{ timings?: { starts: number[], ends: number[], keys: (string | null)[] } | null }[]} ledgers
 * @param {{ perKey?: number, rateLimit?: { max: number, perMs: number } }} limits
 * @returns {LimitsReport}
 */
export function judgeLimits(ledgers, { perKey, rateLimit }) {
  const starts = [];
  const ends = [];
  const keys = [];
  for (const ledger of ledgers) {
    if (!ledger.timings) continue;
    starts.push(...ledger.timings.starts);
    ends.push(...ledger.timings.ends);
    keys.push(...ledger.timings.keys);
  }
  /** @type {LimitsReport} */
  const report = { ok: starts.length > 0, text: '', perKey: undefined, rate: undefined };
  const parts = [];
  if (starts.length === 0) parts.push('no timings');
  if (perKey !== undefined && starts.length > 0) {
    report.perKey = maxRunningPerKey(starts, ends, keys, perKey);
    const held = report.perKey.maxRunning <= perKey;
    report.ok &&= held;
    parts.push(`${held ? '' : 'FAIL '}max ${report.perKey.maxRunning}/key${held ? '' : ` (${report.perKey.keysOver} keys over ${perKey})`}`);
  }
  if (rateLimit !== undefined && starts.length > 0) {
    const sorted = Float64Array.from(starts).sort();
    const maxInWindow = maxInSlidingWindow(sorted, rateLimit.perMs);
    const spanMs = sorted[sorted.length - 1] - sorted[0];
    const achievedPerSec = spanMs > 0 ? (sorted.length / spanMs) * 1000 : Number.POSITIVE_INFINITY;
    const ratio = achievedPerSec / ((rateLimit.max / rateLimit.perMs) * 1000);
    report.rate = { max: rateLimit.max, perMs: rateLimit.perMs, maxInWindow, achievedPerSec, ratio, slopePerSec: startSlopePerSec(sorted) };
    const held = maxInWindow <= rateLimit.max;
    report.ok &&= held;
    parts.push(`${held ? '' : 'FAIL '}max ${maxInWindow} starts in ${rateLimit.perMs / 1000} s`);
  }
  report.text = parts.join(', ');
  return report;
}

/**
 * The most calls of one key open at once. A call is open from its start to its end; a call that
 * ends at the very time another starts does not overlap it. A call without an end (the ledger was
 * read while it ran) stays open to the end of the run.
 */
function maxRunningPerKey(starts, ends, keys, limit) {
  /** @type {Map<string, number[]>} call indexes per key */
  const byKey = new Map();
  let unfinished = 0;
  for (let i = 0; i < starts.length; i++) {
    if (keys[i] === null) continue;
    if (Number.isNaN(ends[i])) unfinished++;
    let list = byKey.get(keys[i]);
    if (!list) byKey.set(keys[i], (list = []));
    list.push(i);
  }
  let maxRunning = 0;
  let keysOver = 0;
  for (const calls of byKey.values()) {
    // Events of one key in time order, ends before starts at the same instant.
    const events = [];
    for (const i of calls) {
      events.push([starts[i], 1]);
      events.push([Number.isNaN(ends[i]) ? Number.POSITIVE_INFINITY : ends[i], -1]);
    }
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let running = 0;
    let most = 0;
    for (const [, delta] of events) {
      running += delta;
      if (running > most) most = running;
    }
    if (most > limit) keysOver++;
    if (most > maxRunning) maxRunning = most;
  }
  return { limit, maxRunning, keysOver, unfinished };
}

/** Least-squares slope of the start index over the sorted start times, per second. */
function startSlopePerSec(sortedTimes) {
  const n = sortedTimes.length;
  if (n < 2) return Number.NaN;
  const t0 = sortedTimes[0];
  let meanT = 0;
  for (const t of sortedTimes) meanT += (t - t0) / n;
  const meanI = (n - 1) / 2;
  let cov = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    const dt = sortedTimes[i] - t0 - meanT;
    cov += dt * (i - meanI);
    variance += dt * dt;
  }
  return variance > 0 ? (cov / variance) * 1000 : Number.POSITIVE_INFINITY;
}

/** The most of the sorted times in any half-open window [t, t + windowMs): a two-pointer sweep. */
export function maxInSlidingWindow(sortedTimes, windowMs) {
  let most = 0;
  let left = 0;
  for (let right = 0; right < sortedTimes.length; right++) {
    while (sortedTimes[right] - sortedTimes[left] >= windowMs) left++;
    if (right - left + 1 > most) most = right - left + 1;
  }
  return most;
}

/**
 * What a W8 worker process reports besides its ledger (case-process.mjs `flowHandlers`).
 * @typedef {object} FlowReport
 * @property {number[]} parentStarts  When each call of the parent's handler started, ms (preciseNow).
 * @property {number} lastChildEnd   When the last child handler of this process returned, ms (-Infinity: none ran here).
 * @property {{ count: number, completed: number, distinct: number }[]} results  Per parent call: the child
 *   results it read, how many of them were completed, and how many distinct child `seq`s in range they carried.
 */

/**
 * @typedef {object} FlowVerdict
 * @property {boolean} ok         The parent ran exactly once and read every child's result, each completed, once.
 * @property {string} text        Short verdict for the table, e.g. `parent 1 run, saw 10,000`.
 * @property {number | null} totalMs  From the runner's "go" to the parent handler's start, ms.
 * @property {number | null} fanInMs  From the last child handler's return to the parent handler's start, ms.
 * @property {number} parentRuns
 * @property {{ count: number, completed: number, distinct: number } | null} saw  What the first parent call read.
 */

/**
 * Judges the flow reports of W8's worker processes against the number of children.
 * @param {number} children
 * @param {(FlowReport | null | undefined)[]} reports
 * @param {number} goAt  The runner's "go", ms (preciseNow).
 * @returns {FlowVerdict}
 */
export function judgeFlow(children, reports, goAt) {
  const starts = reports.flatMap((report) => report?.parentStarts ?? []).sort((a, b) => a - b);
  const results = reports.flatMap((report) => report?.results ?? []);
  const lastChildEnd = Math.max(...reports.map((report) => report?.lastChildEnd ?? Number.NEGATIVE_INFINITY));
  const parentStart = starts.length > 0 ? starts[0] : null;
  const saw = results[0] ?? null;
  const sawAll = saw !== null && saw.count === children && saw.completed === children && saw.distinct === children;
  const ok = starts.length === 1 && sawAll;
  const count = (n) => n.toLocaleString('en-US');
  const sawText = saw === null ? 'saw nothing' : saw.count === saw.completed && saw.count === saw.distinct ? `saw ${count(saw.count)}` : `saw ${count(saw.count)} (${count(saw.completed)} completed, ${count(saw.distinct)} distinct)`;
  return {
    ok,
    text: `${ok ? '' : 'FAIL '}parent ${starts.length} run${starts.length === 1 ? '' : 's'}, ${sawText}${sawAll ? '' : ` of ${count(children)}`}`,
    totalMs: parentStart === null ? null : parentStart - goAt,
    fanInMs: parentStart === null || !Number.isFinite(lastChildEnd) ? null : parentStart - lastChildEnd,
    parentRuns: starts.length,
    saw,
  };
}
