// The workloads every system runs with the same parameters. Counts shrink under `--quick` so a
// smoke run finishes in well under a minute per system; the full counts are the published ones.

/**
 * @typedef {object} Workload
 * @property {string} id            Short id used by `--only` (e.g. `W3`).
 * @property {string} title         One-line description printed in the table.
 * @property {'enqueue-single' | 'enqueue-bulk' | 'drain' | 'latency' | 'flow'} kind
 * @property {number} jobs          Jobs enqueued/processed (a flow: its children and the parent).
 * @property {number} [children]    Flow: children of the one parent (sequence numbers 0 … children-1; the parent's is `children`).
 * @property {number} [batch]       Bulk batch size (enqueue-bulk), jobs.
 * @property {number} [concurrency] Worker concurrency per process (drain, latency).
 * @property {number} [processes]   Worker processes (drain); default 1.
 * @property {'noop' | 'yield' | 'timer5' | 'latency'} [handler] What each job does (`yield`: awaits one
 *                                  setImmediate, so handlers started together are open at once).
 * @property {number} [rate]        Producer rate (latency), jobs/s.
 * @property {boolean} [inProcess] Latency: the producer runs inside the worker's process.
 * @property {string[]} [onlyFor]   Restricts the workload to these `system:store` labels.
 * @property {Record<string, string>} [absent] Why a system is not in `onlyFor` (printed under the table).
 * @property {number} [keys]        Drain: payloads carry `key`; each key's jobs are seeded together (see makeBatches).
 * @property {number} [perKey]      Drain: jobs of one key allowed to run at once (needs `keys`); checked
 *                                  over every handler call's start and end.
 * @property {{ max: number, perMs: number }} [rateLimit] Drain: the queue's rate limit, handler starts per
 *                                  `perMs` ms; checked over every window of `perMs` and on the achieved rate.
 * @property {number} [repeat]      Runs per case; the median run is reported (see median-run.mjs). Default 1; 1 with --quick.
 * @property {string} [interleave]  Cases of workloads with the same value, system and store run by turns, one run each per turn.
 * @property {'go' | 'started'} [timedFrom] Drain: jobs/s timed from `go` (default: the worker's start() included) or from
 *   when every worker's start() resolved (its one-time cost reported apart, in `startMs`/`startCpuMs`).
 * @property {'off' | 'on' | 'alerts'} [surfaces] Drain: Nightshift's operator surfaces (metrics, process registry,
 *                                  event feed, activity stats) all off or all on; `alerts`: all on plus ten alert
 *                                  rules (see ALERT_RULES in systems/nightshift.mjs); unset: the runtime's defaults.
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
    // such switches); five runs each, compared in a note under the table. Workloads of one
    // `interleave` group run by turns on each store (W3B, W3O, W3A, W3B, …), so that the machine
    // drifting over a minute weighs on each alike, and runs of one turn are compared as pairs.
    // Timed from the end of the worker's start(): what is compared is the cost per job; what
    // starting costs once per process (loading the metrics library, a first heartbeat) is
    // reported in the note beside it.
    ...['off', 'on'].map((surfaces) => ({
      id: surfaces === 'off' ? 'W3B' : 'W3O',
      title: `W3 with metrics, registry, event feed and stats all ${surfaces}`,
      kind: 'drain',
      jobs: scale(20_000, 2_000),
      concurrency: 10,
      handler: 'noop',
      surfaces,
      repeat: 15,
      interleave: 'surfaces',
      timedFrom: 'started',
      onlyFor: ['nightshift:sqlite', 'nightshift:postgres'],
    })),
    {
      // What alerting costs a worker: W3O plus the ten alert rules of the reference alerts.yaml
      // (failure streaks and counts, dead-letter size, backlog, oldest due job, no worker, success
      // rate, duration spike, late schedule), evaluated by the runtime at its default interval and at
      // start, delivered to the log channel. Compared with W3O of the same run in a note.
      id: 'W3A',
      title: 'W3 with every surface on and ten alert rules evaluated',
      kind: 'drain',
      jobs: scale(20_000, 2_000),
      concurrency: 10,
      handler: 'noop',
      surfaces: 'alerts',
      repeat: 15,
      interleave: 'surfaces',
      timedFrom: 'started',
      onlyFor: ['nightshift:sqlite', 'nightshift:postgres'],
    },
    { id: 'W5', title: '5 ms async jobs, concurrency 50', kind: 'drain', jobs: scale(5_000, 1_000), concurrency: 50, handler: 'timer5', repeat: 3 },
    {
      // One job of a key at a time, 1,000 keys x 20 jobs. BullMQ's groups are in BullMQ Pro only.
      id: 'W6',
      title: `drain with per-key concurrency 1, ${scale('1,000 keys x 20', '100 keys x 10')} jobs, concurrency 10`,
      kind: 'drain',
      jobs: scale(20_000, 1_000),
      keys: scale(1_000, 100),
      perKey: 1,
      concurrency: 10,
      handler: 'yield',
      onlyFor: ['nightshift:sqlite', 'nightshift:postgres', 'pg-boss:postgres', 'graphile-worker:postgres'],
      absent: { bullmq: 'open-source BullMQ has no per-key concurrency (groups are a BullMQ Pro feature)' },
    },
    {
      // A queue limited to 500 starts per second, seeded with 20 s of work.
      id: 'W7',
      title: `drain under a queue rate limit of ${scale('500/s (20 s', '100/s (5 s')} of jobs), concurrency 10`,
      kind: 'drain',
      jobs: scale(10_000, 500),
      rateLimit: { max: scale(500, 100), perMs: 1_000 },
      concurrency: 10,
      handler: 'noop',
      onlyFor: ['nightshift:sqlite', 'nightshift:postgres', 'bullmq:redis'],
      absent: {
        'pg-boss': 'pg-boss 10 has no worker rate limit (singletonSeconds throttles sends, one job per period; it does not pace a backlog)',
        'graphile-worker': 'graphile-worker 0.17 has no rate limit option',
      },
    },
    {
      // Fan-out and fan-in: one parent waiting on 10,000 no-op children, the tree inserted at once.
      id: 'W8',
      title: `a flow of ${scale('10,000', '1,000')} children and one parent, concurrency 10`,
      kind: 'flow',
      jobs: scale(10_000, 1_000) + 1,
      children: scale(10_000, 1_000),
      concurrency: 10,
      onlyFor: ['nightshift:sqlite', 'nightshift:postgres', 'bullmq:redis'],
      absent: {
        'pg-boss': 'pg-boss 10 has no job dependencies or flows (no parent, child or group option on send/insert; its queue policies limit how many of a key run, not what waits for what)',
        'graphile-worker': 'graphile-worker 0.17 has no job dependencies or flows (a task can add jobs, but nothing makes a job wait for others)',
      },
    },
  ];
}
