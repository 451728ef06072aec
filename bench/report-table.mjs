// Turns case results into the one table `npm run bench` prints, and computes each result's ratio to
// the best peer (BullMQ, pg-boss, graphile-worker) on the same workload.

const PEERS = new Set(['bullmq', 'pg-boss', 'graphile-worker']);

/**
 * Ratio to the best peer on the same workload, oriented so that > 1 is better than that peer:
 * throughput / best peer throughput, best peer p95 latency / p95 latency, or for a flow (W8) best
 * peer total / total. A workload only
 * Nightshift runs (W3x2) is compared with the peers' single-process W3. A rate-limited drain (W7)
 * has none: faster is not better there, the ratio to the limit in the result is the comparison.
 * @param {import('./case-runner.mjs').CaseResult} result
 * @param {import('./case-runner.mjs').CaseResult[]} all
 * @returns {{ ratio: number, against: string, workload: string } | null}
 */
export function ratioToBestPeer(result, all) {
  if (result.error || result.limits?.rate) return null;
  const workload = result.workload === 'W3x2' ? 'W3' : result.workload;
  const peers = all.filter((other) => other.workload === workload && PEERS.has(other.system) && !other.error);
  if (result.flow) {
    // A flow (W8): the best peer's total over this one's, so > 1 is faster to the parent's start.
    if (result.flow.totalMs === null) return null;
    const best = minBy(peers.filter((peer) => peer.flow?.totalMs != null), (peer) => peer.flow.totalMs);
    if (!best) return null;
    return { ratio: best.flow.totalMs / result.flow.totalMs, against: best.system, workload };
  }
  if (result.latencyMs) {
    const best = minBy(peers.filter((peer) => peer.latencyMs), (peer) => peer.latencyMs.p95);
    if (!best) return null;
    return { ratio: best.latencyMs.p95 / result.latencyMs.p95, against: best.system, workload };
  }
  if (result.jobsPerSec === null) return null;
  const best = minBy(peers.filter((peer) => peer.jobsPerSec !== null), (peer) => -peer.jobsPerSec);
  if (!best) return null;
  return { ratio: result.jobsPerSec / best.jobsPerSec, against: best.system, workload };
}

/**
 * Renders the results as an aligned text table.
 * @param {import('./case-runner.mjs').CaseResult[]} results
 * @param {import('./workloads.mjs').Workload[]} workloads
 * @returns {string}
 */
export function renderTable(results, workloads) {
  const header = ['workload', 'system (store)', 'result', 'peak RSS', 'vs best peer', 'exactly-once'];
  const rows = [];
  for (const workload of workloads) {
    const ofWorkload = results.filter((result) => result.workload === workload.id);
    if (ofWorkload.length === 0) continue;
    for (const result of ofWorkload) {
      const ratio = ratioToBestPeer(result, results);
      rows.push([
        workload.id,
        `${result.system} (${result.store})`,
        result.error ? `ERROR: ${truncate(result.error, 60)}` : formatResult(result),
        result.peakRssBytes === null ? '-' : `${(result.peakRssBytes / 1024 / 1024).toFixed(0)} MB`,
        ratio === null ? '-' : `${formatRatio(ratio.ratio)}x${ratio.workload !== result.workload ? ` (vs ${ratio.workload})` : ''}`,
        result.exactlyOnce ? `${result.exactlyOnce.text}${result.flow ? `; ${result.flow.text}` : ''}` : '-',
      ]);
    }
  }
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells) => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** @param {import('./case-runner.mjs').CaseResult} result */
function formatResult(result) {
  if (result.latencyMs) {
    const { p50, p95, p99 } = result.latencyMs;
    return `p50 ${p50.toFixed(1)} / p95 ${p95.toFixed(1)} / p99 ${p99.toFixed(1)} ms`;
  }
  if (result.flow) {
    const { totalMs, fanInMs } = result.flow;
    return totalMs === null ? 'parent never started' : `total ${formatSeconds(totalMs)}, fan-in ${fanInMs === null ? '-' : `${fanInMs.toFixed(1)} ms`}`;
  }
  if (result.limits?.rate) {
    const { achievedPerSec, ratio, maxInWindow, perMs } = result.limits.rate;
    const held = maxInWindow <= result.limits.rate.max;
    return `rate ${achievedPerSec.toFixed(1)}/s (${ratio.toFixed(3)}x limit), ${held ? '' : 'FAIL '}max ${maxInWindow} in ${perMs / 1000} s`;
  }
  if (result.jobsPerSec !== null) {
    const rate = `${Math.round(result.jobsPerSec).toLocaleString('en-US')} jobs/s`;
    return result.limits ? `${rate}, ${result.limits.text}` : rate;
  }
  return '-';
}

/** Seconds with two decimals, or ms below one second. */
function formatSeconds(ms) {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Two decimals, or two significant digits below 0.1 so a 200x gap does not print as 0.00. */
function formatRatio(ratio) {
  return ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2);
}

function minBy(items, key) {
  let best = null;
  for (const item of items) if (best === null || key(item) < key(best)) best = item;
  return best;
}

function truncate(text, length) {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > length ? `${oneLine.slice(0, length - 1)}…` : oneLine;
}
