#!/usr/bin/env node
// Entry point of `npm run bench`: Nightshift against BullMQ, pg-boss and graphile-worker on the same
// workloads (bench/workloads.mjs). Installs the bench's own dependencies on first use, runs every
// case in fresh processes against throw-away data, prints one table and writes the results as JSON.
// Then the side tables: CLI (cli-latency.mjs) and HTTP (http-enqueue-table.mjs), and HTTP-1M
// (http-reads-table.mjs) when named; `--only` with side tables alone runs just those.
// See bench/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { USAGE, parseOptions } from './cli-options.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT_DIR = resolve(BENCH_DIR, '..');
const PEER_PACKAGES = ['bullmq', 'pg-boss', 'graphile-worker', 'ioredis', 'pg', 'autocannon'];
/** Tables besides the workload table, selectable with --only; HTTP-1M runs only when named. */
const SIDE_TABLES = ['CLI', 'HTTP', 'HTTP-1M'];

/** Installs bench/package.json's dependencies when any is missing (fresh clone). */
function ensureBenchDependencies() {
  const missing = PEER_PACKAGES.filter((name) => !existsSync(join(BENCH_DIR, 'node_modules', name, 'package.json')));
  if (missing.length === 0) return;
  console.error(`bench: installing benchmark dependencies (${missing.join(', ')} missing)…`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const install = spawnSync(npm, ['install', '--prefix', BENCH_DIR, '--no-audit', '--no-fund'], { stdio: 'inherit', cwd: BENCH_DIR });
  if (install.status !== 0) throw new Error(`"npm install --prefix bench" failed (exit ${install.status ?? install.signal}); run it by hand to see why`);
}

function packageVersion(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function gitRevision() {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT_DIR, encoding: 'utf8' });
  if (rev.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT_DIR, encoding: 'utf8' });
  return `${rev.stdout.trim()}${dirty.stdout.trim() ? ' (+ uncommitted src changes)' : ''}`;
}

/**
 * The order to run `cases` in, as groups of their indexes: one case per group, except cases whose
 * workloads share an `interleave` value on the same system and store, which form one group (run
 * by turns), placed where its first case is.
 */
function interleavedGroups(cases) {
  const groups = [];
  const byKey = new Map();
  for (const [index, c] of cases.entries()) {
    const key = c.workload.interleave === undefined ? null : `${c.workload.interleave}|${c.system}|${c.store}`;
    const group = key === null ? undefined : byKey.get(key);
    if (group) group.push(index);
    else {
      const created = [index];
      groups.push(created);
      if (key !== null) byKey.set(key, created);
    }
  }
  return groups;
}

/** The cases to run, in table order. */
function planCases(options, workloadList) {
  const cases = [];
  for (const workload of workloadList) {
    for (const system of options.systems) {
      const stores = system === 'nightshift' ? options.stores : system === 'bullmq' ? ['redis'] : ['postgres'];
      for (const store of stores) {
        if (workload.onlyFor && !workload.onlyFor.includes(`${system}:${store}`)) continue;
        cases.push({ workload, system, store });
      }
    }
  }
  return cases;
}

/** The CLI table (bench/cli-latency.mjs): prints it and returns its rows for the JSON results. */
async function runCliTable() {
  if (!existsSync(join(ROOT_DIR, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run "npm run bench" (it builds first) or "npm run build"');
  const { CLI_CALLS, measureCli, renderCliTable } = await import('./cli-latency.mjs');
  process.stderr.write(`bench: CLI commands, ${CLI_CALLS} calls each … `);
  const rows = measureCli({ rootDir: ROOT_DIR });
  process.stderr.write('done\n');
  console.log(
    [
      '',
      `Nightshift CLI — ${new Date().toISOString()}, nightshift ${packageVersion(ROOT_DIR)}${gitRevision() ? ` @ ${gitRevision()}` : ''}, node ${process.version}`,
      `machine: ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`,
      '',
      renderCliTable(rows),
      '',
      'time: one command in a fresh process, start to exit (wall clock); a TypeScript config importing a job file and zod, on SQLite.',
      'median of the calls after the first; the first call of a fresh project compiles the config into the compile cache.',
    ].join('\n'),
  );
  return rows;
}

/** Header lines of a side table: when, what code, which machine and how loaded it is. */
function sideTableHeader(title, extra = []) {
  return [
    '',
    `${title} — ${new Date().toISOString()}, nightshift ${packageVersion(ROOT_DIR)}${gitRevision() ? ` @ ${gitRevision()}` : ''}, node ${process.version}${extra.length ? `, ${extra.join(', ')}` : ''}`,
    `machine: ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`,
    '',
  ];
}

/**
 * Runs a PostgreSQL-backed side table in a fresh bench database (dropped afterwards) when one of
 * its stores is PostgreSQL. `fn` gets the database URL ('' without PostgreSQL) and the server version.
 */
async function withBenchDatabase(options, fn) {
  if (!options.stores.includes('postgres')) return fn('', null);
  const { createBenchDatabase, dropBenchDatabase } = await import('./backends.mjs');
  const created = await createBenchDatabase(options.pgUrl);
  try {
    return await fn(created.url, created.serverVersion);
  } finally {
    await dropBenchDatabase(options.pgUrl).catch((error) => console.error(`bench: could not drop the bench database: ${error.message}`));
  }
}

/** The HTTP table (bench/http-enqueue-table.mjs): prints it and returns its rows. */
async function runHttpTable(options) {
  if (!existsSync(join(ROOT_DIR, 'dist', 'server', 'index.js'))) throw new Error('dist/server/index.js is missing: run "npm run bench" (it builds first) or "npm run build"');
  const { measureHttpEnqueue, renderHttpEnqueueTable, HTTP_TARGETS } = await import('./http-enqueue-table.mjs');
  return withBenchDatabase(options, async (pgUrl, postgresVersion) => {
    const rows = await measureHttpEnqueue({ stores: options.stores, pgUrl, quick: options.quick, log: (text) => process.stderr.write(text) });
    console.log(
      [
        ...sideTableHeader(`Nightshift HTTP enqueue${options.quick ? ' — QUICK SMOKE RUN, not a measurement' : ''}`, postgresVersion ? [`postgresql ${postgresVersion}`] : []),
        renderHttpEnqueueTable(rows),
        '',
        'server: a forked process running createNightshift({ worker: false, http: { port: 0 } }) with defaults otherwise (metrics, event feed and process',
        'registry on, as `nightshift serve` runs); the load generator is this process (autocannon: keep-alive sockets, one per client, one request at a time each).',
        'in-process rows: the same runtime\'s client, called inside the server process. jobs/s over a timed window after a warm-up;',
        'CPU: % of one core over the cell; check: jobs stored = requests answered 201 (plus at most one unanswered request per client at the stop). SQLite: a temp file; PostgreSQL: schema ns_http on 127.0.0.1.',
        `targets (SQLite, from the issue): >= ${HTTP_TARGETS.single.toLocaleString('en-US')} jobs/s one job per request, >= ${HTTP_TARGETS.bulk.toLocaleString('en-US')} jobs/s in bulk; none for PostgreSQL.`,
      ].join('\n'),
    );
    return rows;
  });
}

/** The HTTP-1M table (bench/http-reads-table.mjs): prints it and returns its rows. */
async function runHttpReadsTable(options) {
  if (!existsSync(join(ROOT_DIR, 'dist', 'server', 'index.js'))) throw new Error('dist/server/index.js is missing: run "npm run bench" (it builds first) or "npm run build"');
  const { measureHttpReads, renderHttpReadsTable, READ_TARGET_P95_MS, seedDescription } = await import('./http-reads-table.mjs');
  return withBenchDatabase(options, async (pgUrl, postgresVersion) => {
    const result = await measureHttpReads({ stores: options.stores, pgUrl, quick: options.quick, log: (text) => process.stderr.write(text) });
    console.log(
      [
        ...sideTableHeader(`Nightshift HTTP reads at ${result.jobs.toLocaleString('en-US')} jobs${options.quick ? ' — QUICK SMOKE RUN, not a measurement' : ''}`, postgresVersion ? [`postgresql ${postgresVersion}`] : []),
        renderHttpReadsTable(result.rows),
        '',
        `seed: ${seedDescription(result.jobs)}`,
        ...result.seeds.map((seed) => `seed ${seed.store}: ${seed.text}`),
        'requests: one at a time over a keep-alive connection from this process to the forked server process (as in the HTTP table), after 3 unmeasured ones;',
        `latency: request sent to response read, ms. target: p95 <= ${READ_TARGET_P95_MS} ms per route on both stores. skipped: the route is not there (404) or refuses the filter (400).`,
        ...result.notes.map((note) => `note: ${note}`),
      ].join('\n'),
    );
    return result;
  });
}

/**
 * Runs the side tables named in `ids` (CLI, HTTP, HTTP-1M) in that order. Returns what goes into
 * the JSON results and whether any cell failed (an error, or a stored count that does not match;
 * a missed target is reported, not failed).
 */
async function runSideTables(ids, options) {
  const json = {};
  let failed = false;
  // One table failing to start (no PostgreSQL, no build) does not lose the others.
  const attempt = async (id, fn) => {
    try {
      return await fn();
    } catch (error) {
      failed = true;
      console.error(`bench: ${id} table failed: ${error instanceof Error ? error.message : String(error)}`);
      return { error: error instanceof Error ? error.message : String(error) };
    }
  };
  if (ids.includes('CLI')) json.cli = await attempt('CLI', runCliTable);
  if (ids.includes('HTTP')) {
    json.http = await attempt('HTTP', () => runHttpTable(options));
    failed ||= Array.isArray(json.http) && json.http.some((row) => row.jobsPerSec === null || (row.check !== null && !row.check.startsWith('ok')));
  }
  if (ids.includes('HTTP-1M')) {
    json.httpReads = await attempt('HTTP-1M', () => runHttpReadsTable(options));
    failed ||= Array.isArray(json.httpReads.rows) && json.httpReads.rows.some((row) => row.error);
  }
  return { json, failed };
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // Tables other than the workloads: CLI and HTTP run with everything, HTTP-1M only when named.
  const sideTables = SIDE_TABLES.filter((id) => (options.only === null ? id !== 'HTTP-1M' : options.only.includes(id)));
  if (options.only !== null) options.only = options.only.filter((id) => !SIDE_TABLES.includes(id));
  if (options.only !== null && options.only.length === 0) {
    // The HTTP table's load generator (autocannon) is a bench dependency too.
    if (sideTables.includes('HTTP')) ensureBenchDependencies();
    const startedAt = new Date().toISOString();
    const side = await runSideTables(sideTables, options);
    const outFile = options.out ? resolve(options.out) : join(BENCH_DIR, 'results', `latest-${sideTables.map((id) => id.toLowerCase()).join('-')}.json`);
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, `${JSON.stringify({ startedAt, ...side.json }, null, 2)}\n`);
    console.error(`bench: results written to ${outFile}`);
    return side.failed ? 1 : 0;
  }
  ensureBenchDependencies();
  const { workloads } = await import('./workloads.mjs');
  const { runCase } = await import('./case-runner.mjs');
  const { medianRun } = await import('./median-run.mjs');
  const { renderTable, ratioToBestPeer } = await import('./report-table.mjs');
  const { createBenchDatabase, dropBenchDatabase, redisVersion } = await import('./backends.mjs');

  const allWorkloads = workloads({ quick: options.quick });
  const unknown = (options.only ?? []).filter((id) => !allWorkloads.some((workload) => workload.id === id));
  if (unknown.length > 0) throw new Error(`--only: unknown workload ${unknown.join(', ')}; known: ${allWorkloads.map((w) => w.id).join(', ')}`);
  const selected = options.only ? allWorkloads.filter((workload) => options.only.includes(workload.id)) : allWorkloads;
  const cases = planCases(options, selected);
  if (cases.length === 0) throw new Error('nothing to run with these --only/--systems/--store options');

  if (cases.some((c) => c.system === 'nightshift') && !existsSync(join(ROOT_DIR, 'dist', 'index.js'))) {
    throw new Error('dist/index.js is missing: run "npm run bench" (it builds first) or "npm run build"');
  }
  const needsPostgres = cases.some((c) => c.store === 'postgres');
  const needsRedis = cases.some((c) => c.store === 'redis');
  const servers = {};
  let pgUrl = '';
  if (needsPostgres) {
    const created = await createBenchDatabase(options.pgUrl);
    pgUrl = created.url;
    servers.postgresql = created.serverVersion;
  }
  if (needsRedis) servers.redis = await redisVersion(options.redisUrl);

  const versions = {
    nightshift: `${packageVersion(ROOT_DIR)}${gitRevision() ? ` @ ${gitRevision()}` : ''}`,
    bullmq: packageVersion(join(BENCH_DIR, 'node_modules', 'bullmq')),
    ioredis: packageVersion(join(BENCH_DIR, 'node_modules', 'ioredis')),
    'pg-boss': packageVersion(join(BENCH_DIR, 'node_modules', 'pg-boss')),
    'graphile-worker': packageVersion(join(BENCH_DIR, 'node_modules', 'graphile-worker')),
    node: process.version,
    ...servers,
  };
  const runTag = `${process.pid}-${Date.now().toString(36)}`;
  const startedAt = new Date();
  console.error(`bench: ${cases.length} cases${options.quick ? ' (--quick: smoke run, not a measurement)' : ''}`);

  const results = new Array(cases.length);
  const failedRun = (run) => run.error !== null || run.exactlyOnce?.ok === false || run.limits?.ok === false || run.flow?.ok === false;
  try {
    for (const group of interleavedGroups(cases)) {
      // One case, or the cases of an interleave group run by turns: each turn runs every case of
      // the group that has runs left and has not failed.
      const runs = group.map(() => []);
      const runsOf = (workload) => (options.quick ? 1 : (options.repeat ?? workload.repeat ?? 1));
      const repeat = Math.max(...group.map((index) => runsOf(cases[index].workload)));
      const label = (index) => `bench: [${index + 1}/${cases.length}] ${cases[index].workload.id} ${cases[index].system} (${cases[index].store}) … `;
      // A lone case says what runs before it runs; a group, before its turns, and each case's result after.
      if (group.length > 1) process.stderr.write(`bench: ${group.map((index) => cases[index].workload.id).join(', ')} ${cases[group[0]].system} (${cases[group[0]].store}) by turns, ${repeat} turns …\n`);
      else process.stderr.write(label(group[0]));
      for (let turn = 0; turn < repeat; turn++) {
        for (const [at, index] of group.entries()) {
          const c = cases[index];
          const caseRuns = runs[at];
          if (caseRuns.length >= runsOf(c.workload) || caseRuns.some(failedRun)) continue;
          caseRuns.push(await runCase({ workload: c.workload, system: c.system, store: c.store, pgUrl, redisUrl: options.redisUrl, runTag }));
        }
      }
      for (const [at, index] of group.entries()) {
        const result = medianRun(runs[at]);
        results[index] = result;
        if (group.length > 1) process.stderr.write(label(index));
        process.stderr.write(
        result.error
          ? `error: ${result.error.split('\n')[0]}\n`
          : `${result.latencyMs ? `p95 ${result.latencyMs.p95.toFixed(1)} ms` : result.flow ? `total ${Math.round(result.flow.totalMs ?? Number.NaN)} ms, fan-in ${(result.flow.fanInMs ?? Number.NaN).toFixed(1)} ms` : `${Math.round(result.jobsPerSec ?? 0)} jobs/s`}, ${result.exactlyOnce?.text ?? '-'}${result.limits ? `, ${result.limits.text}` : ''}${result.flow ? `, ${result.flow.text}` : ''}\n`,
        );
      }
    }
  } finally {
    if (needsPostgres) await dropBenchDatabase(options.pgUrl).catch((error) => console.error(`bench: could not drop the bench database: ${error.message}`));
  }

  let missingExports = [];
  if (cases.some((c) => c.system === 'nightshift')) {
    const { missingPublicExports } = await import('./systems/nightshift-exports.mjs');
    missingExports = missingPublicExports();
  }

  const table = renderTable(results, selected);
  const machine = `${os.cpus().length} CPU (${os.cpus()[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`;
  const lines = [
    '',
    `Nightshift benchmark${options.quick ? ' — QUICK SMOKE RUN, counts reduced, not a measurement' : ''} — ${startedAt.toISOString()}`,
    `versions: ${Object.entries(versions).map(([name, version]) => `${name} ${version}`).join(', ')}`,
    `machine: ${machine}`,
    '',
    table,
    '',
    'result: jobs/s (higher is better) or enqueue->start latency percentiles (lower is better).',
    'vs best peer: ratio to the best of bullmq/pg-boss/graphile-worker on that workload, > 1 = better (throughput, or p95 latency).',
    'peak RSS: the measured process (worker; producer for W1/W2). exactly-once: every sequence number ran (W1/W2: is stored) exactly once.',
    ...limitLegend(selected),
  ];
  const { loadHarness } = await import('./systems/case-context.mjs');
  const settings = {};
  for (const system of options.systems) settings[system] = (await loadHarness(system)).settings;
  for (const [system, text] of Object.entries(settings)) lines.push(`settings: ${system}: ${text}`);
  for (const result of results) for (const note of result.notes) if (!note.startsWith('exactly-once:')) lines.push(`note: ${result.workload} ${result.system} (${result.store}): ${note}`);
  for (const workload of selected) {
    for (const [system, why] of Object.entries(workload.absent ?? {})) if (options.systems.includes(system)) lines.push(`note: ${workload.id} ${system}: absent: ${why}`);
  }
  lines.push(...surfaceCostNotes(results));
  if (missingExports.length > 0) lines.push(`note: not exported from dist/index.js yet (loaded from their modules): ${missingExports.join(', ')}`);
  console.log(lines.join('\n'));
  const side = await runSideTables(sideTables, options);

  const outFile = options.out ? resolve(options.out) : join(BENCH_DIR, 'results', 'latest.json');
  mkdirSync(dirname(outFile), { recursive: true });
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: options.quick,
    options: { stores: options.stores, only: options.only, systems: options.systems },
    versions,
    settings,
    machine,
    workloads: selected,
    results: results.map((result) => ({ ...result, vsBestPeer: ratioToBestPeer(result, results) })),
    missingPublicExports: missingExports,
    cli: null,
    ...side.json,
  };
  writeFileSync(outFile, `${JSON.stringify(json, null, 2)}\n`);
  console.error(`bench: results written to ${outFile}`);
  return side.failed || results.some((result) => result.error || (result.exactlyOnce && !result.exactlyOnce.ok) || (result.limits && !result.limits.ok) || (result.flow && !result.flow.ok)) ? 1 : 0;
}

/** What the limit checks (W6 per key, W7 rate) and the flow times (W8) of the selected workloads mean, for the legend under the table. */
function limitLegend(selected) {
  const lines = [];
  if (selected.some((workload) => workload.perKey !== undefined)) {
    lines.push('max N/key: the most handler calls of one key open at once (start to return, over every process); above the per-key limit fails the case.');
  }
  if (selected.some((workload) => workload.rateLimit !== undefined)) {
    lines.push(
      'rate: handler starts / (last start - first start), and its ratio to the limit (target within 2 %); max in 1 s: the most starts in any sliding window of the',
      "limit's period over the merged start times; above the limit fails the case.",
    );
  }
  if (selected.some((workload) => workload.kind === 'flow')) {
    lines.push(
      "flow: total = the runner's go (worker start) to the parent handler's start; fan-in = the parent handler's start - the last child handler's return (wall clock,",
      'across processes); vs best peer on total. The parent must run once and read every child\'s result, each completed, once (saw N), else the case fails.',
    );
  }
  return lines;
}

/** The median of numbers (the mean of the middle two for an even count); null for none. */
function medianOf(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * A 95 % confidence interval for the median of `values`, without assuming how they are
 * distributed: the k-th smallest and k-th largest value, for the largest k with
 * P(Binomial(n, ½) < k) ≤ 2.5 % (each value falls below the true median with probability ½).
 * With 40 turns that is the 14th and the 27th. Null below 6 values, where no such k exists.
 */
function medianInterval(values) {
  const n = values.length;
  const sorted = [...values].sort((a, b) => a - b);
  let below = 0;
  let probability = 2 ** -n;
  let k = 0;
  for (let i = 0; i < n && below + probability <= 0.025; i++) {
    below += probability;
    k = i + 1;
    probability = (probability * (n - i)) / (i + 1);
  }
  return k === 0 ? null : [sorted[k - 1], sorted[n - k]];
}

/**
 * How `on` compares with `base`, two results of one interleave group: per turn (runs that ran
 * one after the other, so the machine's drift over the whole group cancels), the ratio of
 * throughputs and of the worker's CPU time per job; the medians of those ratios, and a 95 %
 * interval for the throughput one (`medianInterval`). Null figures when a run of a turn has none.
 */
function pairedRatios(on, base) {
  const turns = Math.min(on.runs?.length ?? 0, base.runs?.length ?? 0);
  const speed = [];
  const cpu = [];
  for (let turn = 0; turn < turns; turn++) {
    const a = on.runs[turn];
    const b = base.runs[turn];
    if (a.jobsPerSec && b.jobsPerSec) speed.push(a.jobsPerSec / b.jobsPerSec);
    if (a.cpuMs && b.cpuMs) cpu.push(a.cpuMs / b.cpuMs);
  }
  return { turns, speed: medianOf(speed), speedInterval: medianInterval(speed), cpu: medianOf(cpu) };
}

/** A result's start figures, medians over its runs: wall and CPU ms of the workers' start(). */
function startFigures(result) {
  const wall = medianOf((result.runs ?? []).map((run) => run.startMs).filter((ms) => typeof ms === 'number'));
  const cpu = medianOf((result.runs ?? []).map((run) => run.startCpuMs).filter((ms) => typeof ms === 'number'));
  return wall === null ? 'unknown' : `${Math.round(wall)} ms (${Math.round(cpu ?? 0)} ms CPU)`;
}

/**
 * What the operator surfaces cost, per store: W3O (all on) against W3B (all off), run by turns.
 * The verdict is the median over turns of each turn's throughput ratio (the issue's bound is
 * 5 %), with a 95 % interval for that median: a bound below the interval is missed whatever the
 * turns' noise, one inside it is not decided by the run. The ratio of the two medians and the
 * worker's CPU time per job are printed beside it.
 * Alerting: W3A against W3O, the same way (bound: at least 95 % of W3O).
 */
function surfaceCostNotes(results) {
  const notes = [];
  const pct = (value) => `${value.toFixed(1)} %`;
  // A throughput ratio's interval as a cost (1 − ratio) or a share (ratio), low to high.
  const costRange = (interval) => (interval === null ? '' : ` (95 % interval ${((1 - interval[1]) * 100).toFixed(1)} to ${pct((1 - interval[0]) * 100)})`);
  const shareRange = (interval) => (interval === null ? '' : ` (95 % interval ${(interval[0] * 100).toFixed(1)} to ${pct(interval[1] * 100)})`);
  for (const store of ['sqlite', 'postgres']) {
    const find = (id) => results.find((result) => result?.workload === id && result.system === 'nightshift' && result.store === store && !result.error);
    const off = find('W3B');
    const on = find('W3O');
    if (!off?.jobsPerSec || !on?.jobsPerSec) continue;
    const paired = pairedRatios(on, off);
    const ofMedians = (1 - on.jobsPerSec / off.jobsPerSec) * 100;
    const verdict = paired.speed === null ? ofMedians : (1 - paired.speed) * 100;
    notes.push(
      `note: operator surfaces on nightshift (${store}): cost ${pct(verdict)}${paired.speed === null ? '' : costRange(paired.speedInterval)} of throughput (bound: 5 %)` +
        `${paired.speed === null ? ' from the medians' : `, the median over ${paired.turns} turns of W3O/W3B run one after the other`}; ` +
        `medians W3O ${Math.round(on.jobsPerSec)} vs W3B ${Math.round(off.jobsPerSec)} jobs/s (${pct(ofMedians)})` +
        `${paired.cpu === null ? '' : `; worker CPU time per job ${paired.cpu >= 1 ? '+' : ''}${pct((paired.cpu - 1) * 100)} (median over turns)`}` +
        `${on.timedFrom === 'started' ? `; timed from the end of start(), which took ${startFigures(on)} on vs ${startFigures(off)} off (medians, once per process)` : ''}`,
    );
  }
  for (const store of ['sqlite', 'postgres']) {
    const find = (id) => results.find((result) => result?.workload === id && result.system === 'nightshift' && result.store === store && !result.error);
    const base = find('W3O');
    const alerts = find('W3A');
    if (!base?.jobsPerSec || !alerts?.jobsPerSec) continue;
    const paired = pairedRatios(alerts, base);
    const ofMedians = (alerts.jobsPerSec / base.jobsPerSec) * 100;
    const verdict = paired.speed === null ? ofMedians : paired.speed * 100;
    notes.push(
      `note: alerting on nightshift (${store}): W3A at ${pct(verdict)}${paired.speed === null ? '' : shareRange(paired.speedInterval)} of W3O (bound: at least 95 %)` +
        `${paired.speed === null ? ' from the medians' : `, the median over ${paired.turns} turns`}; medians W3A ${Math.round(alerts.jobsPerSec)} vs W3O ${Math.round(base.jobsPerSec)} jobs/s (${pct(ofMedians)})` +
        `${paired.cpu === null ? '' : `; worker CPU time ${paired.cpu >= 1 ? '+' : ''}${pct((paired.cpu - 1) * 100)}`}`,
    );
  }
  return notes;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
