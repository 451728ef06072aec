// Short drains (well under a second for the fastest systems) vary by several per cent from run to
// run on a small shared machine, more than the differences they are meant to show. Such workloads
// are run a few times, each run a complete case with fresh processes and data, and the median run
// is reported; every run must still pass the exactly-once check.

/**
 * Picks the run to report: the first failed run when any failed (an error, an exactly-once
 * violation, a broken limit or a failed flow check must show), else the median by throughput, with the other runs noted.
 * @param {import('./case-runner.mjs').CaseResult[]} runs  At least one.
 * @returns {import('./case-runner.mjs').CaseResult & { runs: { jobsPerSec: number | null, cpuMs: number | null, startMs: number | null, startCpuMs: number | null }[] }}
 *   `runs`: every run's throughput, worker CPU time and start figures, in the order they ran.
 */
export function medianRun(runs) {
  if (runs.length === 0) throw new Error('medianRun: no runs');
  const failed = runs.find((run) => run.error !== null || run.exactlyOnce?.ok === false || run.limits?.ok === false || run.flow?.ok === false);
  if (failed) return failed;
  const all = runs.map((run) => ({ jobsPerSec: run.jobsPerSec, cpuMs: run.cpuMs ?? null, startMs: run.startMs ?? null, startCpuMs: run.startCpuMs ?? null }));
  if (runs.length === 1) return { ...runs[0], runs: all };
  const sorted = [...runs].sort((a, b) => (a.jobsPerSec ?? 0) - (b.jobsPerSec ?? 0));
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const rates = runs.map((run) => Math.round(run.jobsPerSec ?? 0).toLocaleString('en-US')).join(', ');
  return { ...median, runs: all, notes: [...median.notes, `median of ${runs.length} runs (${rates} jobs/s)`] };
}
