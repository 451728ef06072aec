// Exactly-once accounting. Every benchmark job carries a sequence number 0 … n-1 in its payload;
// each handler call bumps that number's counter. Merging the ledgers of every worker process and
// looking for zeros (missing) and counts above one (ran twice) proves each job ran exactly once,
// independently of what the system under test claims.

/** Per-process run counter indexed by sequence number. */
export class RunLedger {
  /** @param {number} jobs Number of jobs (sequence numbers 0 … jobs-1). */
  constructor(jobs) {
    // Uint16 so that a pathological re-run storm still counts instead of wrapping at 256.
    this.counts = new Uint16Array(jobs);
    /** Handler calls whose sequence number was out of range (foreign or corrupt jobs). */
    this.foreign = 0;
    /** Total handler calls. */
    this.calls = 0;
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
