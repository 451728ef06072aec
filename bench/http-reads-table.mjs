// The HTTP-1M table (`npm run bench -- --only HTTP-1M`): how long the API's read routes take on a
// store holding a million jobs, on SQLite and PostgreSQL. The store is migrated, seeded by bulk SQL
// (million-jobs-seed.mjs), then served by the same forked server process as the HTTP table; this
// process sends each route's requests one at a time over a keep-alive connection and reports
// p50/p95/max against the target. A route that answers 404 (not there in this build) or 400 (a
// filter it does not take) is skipped with the reason in a note, so the table runs on any version
// of the API.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHttpClient, percentile, renderTextTable, startServerProcess } from './http-load.mjs';
import { SEED_JOBS, seedPostgres, seedSqlite } from './million-jobs-seed.mjs';
import { loadNightshift } from './systems/nightshift-exports.mjs';
import { ALERT_RULES } from './alert-rules.mjs';

export { seedDescription } from './million-jobs-seed.mjs';

/** The target: p95 of every route, ms, on both stores. */
export const READ_TARGET_P95_MS = 100;
/** The target of one evaluation pass of the alert rules, ms. */
export const ALERT_PASS_TARGET_MS = 200;
/** Timed evaluation passes after the first. */
const ALERT_PASSES = 10;
/** Measured requests per route (after WARMUP unmeasured ones), and the time one route may take. */
const REQUESTS = 50;
const WARMUP = 3;
const ROUTE_BUDGET_MS = 20_000;
/**
 * `/metrics` caches the store's queue counts for 5 s (observe/metrics.ts, `cacheMs`), so requests
 * in a row measure the cache. A Prometheus scraper (every 15 s or more) always finds it expired:
 * the second metrics row waits this long between requests, and takes fewer of them.
 */
const METRICS_EXPIRED_GAP_MS = 5_500;
const METRICS_EXPIRED_REQUESTS = 5;

/**
 * The routes, with filters chosen to be selective (a rare value makes a newest-first scan read
 * far before it fills a page). Built from the seed's clock so the created range falls inside
 * the seeded history.
 * @param {number} nowMs
 */
function readRoutes(nowMs) {
  const hour = 3_600_000;
  const after = new Date(nowMs - 4 * 24 * hour).toISOString();
  const before = new Date(nowMs - 4 * 24 * hour + hour).toISOString();
  return [
    ['queues', '/api/queues'],
    ['jobs, no filter (newest page)', '/api/jobs'],
    ['jobs state=dead (2 %)', '/api/jobs?state=dead'],
    ['jobs state=running (0.5 %)', '/api/jobs?state=running'],
    ['jobs queue=maintenance (0.5 %)', '/api/jobs?queue=maintenance'],
    ['jobs name=billing.charge (1.25 %)', '/api/jobs?name=billing.charge'],
    ['jobs search=vacuum (0.5 %)', '/api/jobs?search=vacuum'],
    ['jobs created in a 1 h window 4 days back', `/api/jobs?createdAfter=${encodeURIComponent(after)}&createdBefore=${encodeURIComponent(before)}`],
    ['jobs scheduleId=nightly-vacuum (0.5 %)', '/api/jobs?scheduleId=nightly-vacuum'],
    ['jobs state=dead&queue=billing (0.05 %)', '/api/jobs?state=dead&queue=billing'],
    ['metrics (queue counts cached)', '/metrics'],
    { label: `metrics (cache expired, as a scraper sees it: ${METRICS_EXPIRED_REQUESTS} req ${METRICS_EXPIRED_GAP_MS / 1000} s apart)`, path: '/metrics', requests: METRICS_EXPIRED_REQUESTS, gapMs: METRICS_EXPIRED_GAP_MS },
    ['stats (last hour and day)', '/api/stats'],
    ['stats timeseries window=7d (hourly buckets)', '/api/stats/timeseries?window=7d'],
  ].map((route) => (Array.isArray(route) ? { label: route[0], path: route[1] } : route));
}

/** What a reply holds, for the table: the jobs or queues listed, else the body's size. */
function replySize(path, text) {
  try {
    const body = JSON.parse(text);
    if (path.startsWith('/api/jobs') && Array.isArray(body.jobs)) return `${body.jobs.length} jobs`;
    if (path === '/api/queues' && Array.isArray(body.queues)) return `${body.queues.length} queues`;
  } catch {
    // Not JSON (metrics): its size.
  }
  return `${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB`;
}

/** Measures one route; returns a row (skipped with a reason on 404/400). */
async function measureRoute(http, route) {
  const first = await http.request('GET', route.path);
  if (first.status === 404 || first.status === 400) {
    let reason = `${first.status}`;
    try {
      reason += `: ${JSON.parse(first.text).error?.message ?? ''}`;
    } catch {
      // keep the status alone
    }
    return { skipped: reason.slice(0, 160) };
  }
  if (first.status !== 200) throw new Error(`GET ${route.path} answered ${first.status}: ${first.text.slice(0, 200)}`);
  for (let i = 1; i < WARMUP; i++) await http.request('GET', route.path);
  const latenciesMs = [];
  const requests = route.requests ?? REQUESTS;
  const budgetEnd = performance.now() + (route.gapMs ? requests * route.gapMs * 2 : ROUTE_BUDGET_MS);
  let size = replySize(route.path, first.text);
  while (latenciesMs.length < requests && performance.now() < budgetEnd) {
    if (route.gapMs) await new Promise((resolve) => setTimeout(resolve, route.gapMs));
    const started = performance.now();
    const reply = await http.request('GET', route.path);
    latenciesMs.push(performance.now() - started);
    if (reply.status !== 200) throw new Error(`GET ${route.path} answered ${reply.status}: ${reply.text.slice(0, 200)}`);
    size = replySize(route.path, reply.text);
  }
  return { p50: percentile(latenciesMs, 50), p95: percentile(latenciesMs, 95), max: Math.max(...latenciesMs), requests: latenciesMs.length, plannedRequests: requests, size };
}

/**
 * Rolls the seeded per-minute stats up as the pruner's first pass would (older minutes into
 * quarter hours and hours, `STATS_ROLLUPS` in maintenance/pruner.ts): a store that has run a week
 * holds those, not a week of minutes. Returns false when the build has no rollups.
 */
async function rollUpStats(store, nowMs) {
  const file = fileURLToPath(new URL('../dist/maintenance/pruner.js', import.meta.url));
  if (!existsSync(file) || typeof store.statsRollup !== 'function') return false;
  const { STATS_ROLLUPS } = await import(pathToFileURL(file).href);
  if (!Array.isArray(STATS_ROLLUPS)) return false;
  for (const rollup of STATS_ROLLUPS) {
    const floor = (ms) => Math.floor(ms / rollup.resolutionMs) * rollup.resolutionMs;
    await store.statsRollup({ from: new Date(floor(nowMs - rollup.olderThanMs - rollup.spanMs)), to: new Date(floor(nowMs - rollup.olderThanMs)), resolutionMs: rollup.resolutionMs });
  }
  return true;
}

/**
 * Times the alert rules' evaluation on the seeded store, in this process (as a daemon runs it):
 * the first pass of a fresh evaluator, then ALERT_PASSES more. Two rows, each with its own target.
 */
async function measureAlertPasses(api, spec) {
  if (typeof api.evaluateAlertRules !== 'function' || typeof api.parseAlertRules !== 'function') return [{ route: 'alert rules', skipped: 'this build has no evaluateAlertRules' }];
  const store = spec.store === 'sqlite' ? api.createSqliteStore({ path: spec.sqlitePath }) : api.createPostgresStore({ connectionString: spec.pgUrl, schema: spec.schema });
  try {
    const rules = api.parseAlertRules(ALERT_RULES);
    // The seeded names, and a registered one that never ran (no finished job to find).
    const jobNames = [...SEED_JOBS.map((job) => job.name), 'questmaster.nightly'];
    const pass = async () => {
      const started = performance.now();
      const firings = await api.evaluateAlertRules(store, rules, { jobNames });
      return { ms: performance.now() - started, firings: firings.length };
    };
    const first = await pass();
    const later = [];
    let firings = first.firings;
    for (let i = 0; i < ALERT_PASSES; i++) {
      const next = await pass();
      later.push(next.ms);
      firings = next.firings;
    }
    const label = `alert rules (${Object.values(ALERT_RULES).filter(Array.isArray).flat().length}), one evaluation pass`;
    return [
      { route: `${label}: the first`, p50: first.ms, p95: first.ms, max: first.ms, requests: 1, plannedRequests: 1, size: `${first.firings} firing`, targetMs: ALERT_PASS_TARGET_MS },
      { route: `${label}: the next ${ALERT_PASSES}`, p50: percentile(later, 50), p95: percentile(later, 95), max: Math.max(...later), requests: later.length, plannedRequests: ALERT_PASSES, size: `${firings} firing`, targetMs: ALERT_PASS_TARGET_MS },
    ];
  } finally {
    await store.close();
  }
}

/**
 * Seeds each store and measures every route on it.
 * @param {{ stores: string[], pgUrl: string, quick: boolean, log: (text: string) => void }} options
 */
export async function measureHttpReads({ stores, pgUrl, quick, log }) {
  const count = quick ? 100_000 : 1_000_000;
  const api = await loadNightshift();
  const rows = [];
  const seeds = [];
  const notes = [];
  for (const store of stores) {
    const dir = store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'nightshift-bench-http-1m-')) : null;
    const spec = store === 'sqlite' ? { store, sqlitePath: join(dir, 'reads.db') } : { store, pgUrl, schema: 'ns_http_1m' };
    let server = null;
    let http = null;
    try {
      const migrating = store === 'sqlite' ? api.createSqliteStore({ path: spec.sqlitePath }) : api.createPostgresStore({ connectionString: pgUrl, schema: spec.schema });
      await migrating.migrate();
      await migrating.close();
      log(`bench: HTTP-1M ${store}: seeding ${count.toLocaleString('en-US')} jobs … `);
      const nowMs = Date.now();
      const seed = store === 'sqlite' ? await seedSqlite(spec.sqlitePath, { count, nowMs, log }) : await seedPostgres(pgUrl, spec.schema, { count, nowMs, log });
      log(`done in ${(seed.ms / 1000).toFixed(1)} s\n`);
      let rolled = false;
      if (seed.statsRows !== null) {
        const rolling = store === 'sqlite' ? api.createSqliteStore({ path: spec.sqlitePath }) : api.createPostgresStore({ connectionString: pgUrl, schema: spec.schema });
        try {
          rolled = await rollUpStats(rolling, nowMs);
        } finally {
          await rolling.close();
        }
      }
      const statsText = seed.statsRows === null ? 'no stats table in this build' : `${seed.statsRows.toLocaleString('en-US')} per-minute stats rows summed from the jobs${rolled ? ', then rolled up as the pruner does (quarter hours after 2 h, hours after 25 h)' : ''}`;
      seeds.push({ store, ms: seed.ms, text: `${(seed.ms / 1000).toFixed(1)} s${store === 'postgres' ? ', then VACUUM ANALYZE (what autovacuum reaches after a load)' : ', no ANALYZE (the store never runs one)'}; ${statsText}` });
      server = await startServerProcess({ ...spec, extraJobs: SEED_JOBS });
      http = createHttpClient(server.address, { sockets: 1 });
      for (const route of readRoutes(nowMs)) {
        log(`bench: HTTP-1M ${store} GET ${route.path} … `);
        try {
          const measured = await measureRoute(http, route);
          rows.push({ store, route: route.label, path: route.path, ...measured, error: null });
          log(measured.skipped ? `skipped (${measured.skipped})\n` : `p95 ${measured.p95.toFixed(1)} ms\n`);
        } catch (error) {
          const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
          rows.push({ store, route: route.label, path: route.path, error: message });
          log(`error: ${message}\n`);
        }
      }
      log(`bench: HTTP-1M ${store} alert rules … `);
      try {
        const passes = await measureAlertPasses(api, spec);
        for (const row of passes) rows.push({ store, path: '', error: null, ...row });
        log(passes.map((row) => (row.skipped ? `skipped (${row.skipped})` : `${row.p95.toFixed(1)} ms`)).join(', ') + '\n');
      } catch (error) {
        const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
        rows.push({ store, route: 'alert rules', path: '', error: message });
        log(`error: ${message}\n`);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      rows.push({ store, route: 'setup', path: '', error: message });
      log(`error: ${message}\n`);
    } finally {
      http?.close();
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const row of rows) if (row.skipped) notes.push(`${row.store}: ${row.path ? `GET ${row.path}` : row.route} skipped: ${row.skipped}`);
  return { jobs: count, rows, seeds, notes };
}

/** The table as text: one line per route, the stores side by side. */
export function renderHttpReadsTable(rows) {
  const stores = [...new Set(rows.map((row) => row.store))];
  const routes = [...new Set(rows.map((row) => row.route))];
  const header = ['route', ...stores.flatMap((store) => [`${store} p50 / p95 / max`, 'met', 'reply']), 'target'];
  const cells = routes.map((route) => [
    route,
    ...stores.flatMap((store) => {
      const row = rows.find((r) => r.store === store && r.route === route);
      if (!row) return ['-', '-', '-'];
      if (row.error) return [`error: ${row.error.slice(0, 40)}`, '-', '-'];
      if (row.skipped) return [`skipped (${row.skipped.split(':')[0]})`, '-', '-'];
      return [`${row.p50.toFixed(1)} / ${row.p95.toFixed(1)} / ${row.max.toFixed(1)} ms${row.requests < row.plannedRequests ? ` (${row.requests} req)` : ''}`, row.p95 <= (row.targetMs ?? READ_TARGET_P95_MS) ? 'yes' : 'NO', row.size];
    }),
    `p95 <= ${rows.find((r) => r.route === route)?.targetMs ?? READ_TARGET_P95_MS} ms`,
  ]);
  return renderTextTable(header, cells);
}
