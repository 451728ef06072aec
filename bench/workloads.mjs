// The workloads every system runs with the same parameters. Counts shrink under `--quick` so a
// smoke run finishes in well under a minute per system; the full counts are the published ones.

/**
 * @typedef {object} Workload
 * @property {string} id            Short id used by `--only` (e.g. `W3`).
 * @property {string} title         One-line description printed in the table.
 * @property {'enqueue-single' | 'enqueue-bulk' | 'drain' | 'latency'} kind
 * @property {number} jobs          Jobs enqueued/processed.
 * @property {number} [batch]       Bulk batch size (enqueue-bulk), jobs.
 * @property {number} [concurrency] Worker concurrency per process (drain, latency).
 * @property {number} [processes]   Worker processes (drain); default 1.
 * @property {'noop' | 'timer5' | 'latency'} [handler] What each job does.
 * @property {number} [rate]        Producer rate (latency), jobs/s.
 * @property {boolean} [inProcess] Latency: the producer runs inside the worker's process.
 * @property {string[]} [onlyFor]   Restricts the workload to these `system:store` labels.
 * @property {number} [repeat]      Runs per case; the median run is reported (see median-run.mjs). Default 1; 1 with --quick.
 * @property {'off' | 'on'} [surfaces] Drain: Nightshift's operator surfaces (metrics, process registry, event feed,
 *                                  activity stats) all off or all on; unset: the runtime's defaults.
 */

/**
 * Returns the workload list.
 * @param {{ quick: boolean }} options `quick`: smaller counts for a smoke run.
 * @returns {Workload[]}
 */
export function workloads({ quick }) {
  const scale = (full, small) => (quick ? small : full);
  return [
    { id: 'W1', title: 'enqueue one at a time (awaited)', kind: 'enqueue-single', jobs: scale(5_000, 500) },
    { id: 'W2', title: 'enqueue in bulk batches of 1,000', kind: 'enqueue-bulk', jobs: scale(50_000, 5_000), batch: 1_000 },
    { id: 'W3', title: 'drain no-op jobs, concurrency 10', kind: 'drain', jobs: scale(20_000, 2_000), concurrency: 10, handler: 'noop' },
    {
      id: 'W3x2',
      title: 'drain no-op jobs, 2 processes x concurrency 10',
      kind: 'drain',
      jobs: scale(20_000, 2_000),
      concurrency: 10,
      processes: 2,
      handler: 'noop',
      onlyFor: ['nightshift:postgres'],
    },
    {
      id: 'W4',
      title: 'enqueue->start latency, 100 jobs/s for 10 s, idle worker',
      kind: 'latency',
      jobs: scale(1_000, 200),
      rate: 100,
      concurrency: 10,
      handler: 'latency',
    },
    {
      // The same producer inside the worker's process: the wake-up is the library's in-process
      // signal, not a database notification or a poll.
      id: 'W4P',
      title: 'enqueue->start latency, producer in the worker process, 100 jobs/s for 10 s',
      kind: 'latency',
      jobs: scale(1_000, 200),
      rate: 100,
      concurrency: 10,
      handler: 'latency',
      inProcess: true,
    },
    // The price of what operators watch: the same drain with metrics, the process registry, the
    // event feed and the activity stats all off, then all on. Nightshift only (the peers have no
    // such switches); five runs each, medians compared in a note under the table.
    ...['off', 'on'].map((surfaces) => ({
      id: surfaces === 'off' ? 'W3B' : 'W3O',
      title: `W3 with metrics, registry, event feed and stats all ${surfaces}`,
      kind: 'drain',
      jobs: scale(20_000, 2_000),
      concurrency: 10,
      handler: 'noop',
      surfaces,
      repeat: 5,
      onlyFor: ['nightshift:sqlite', 'nightshift:postgres'],
    })),
    { id: 'W5', title: '5 ms async jobs, concurrency 50', kind: 'drain', jobs: scale(5_000, 1_000), concurrency: 50, handler: 'timer5', repeat: 3 },
  ];
}
