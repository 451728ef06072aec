// Finds the Nightshift functions the bench needs in the built package. The public entry point
// (dist/index.js) is preferred; while a function is not exported from it yet, the module that
// defines it is used directly, and `missingPublicExports()` names it so the gap is reported.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/** Function name → module (under dist/) that defines it, for when the entry point lacks it. */
const FALLBACK_MODULES = {
  defineJob: 'job/define-job.js',
  createSqliteStore: 'store/sqlite/sqlite-store.js',
  createPostgresStore: 'store/postgres/postgres-store.js',
  createClient: 'client/client.js',
  createWorker: 'worker/worker.js',
  createNightshift: 'nightshift.js',
  parseAlertRules: 'alerts/alert-rules.js',
  evaluateAlertRules: 'alerts/alert-evaluator.js',
};

/** @type {Promise<Record<string, Function>> | null} */
let loading = null;
/** @type {string[]} */
const missing = [];

/**
 * Loads `defineJob`, the store factories, `createClient` and `createNightshift`.
 * @returns {Promise<Record<string, any>>}
 */
export function loadNightshift() {
  loading ??= load();
  return loading;
}

/** Names the bench needed but did not find on dist/index.js (after `loadNightshift`). */
export function missingPublicExports() {
  return [...missing];
}

/**
 * Whether the built package has the queue option `rateLimit` (W7). An unknown queue option is
 * ignored, not refused, so the bench looks for it in the declaration of `QueueOptions`.
 */
export function rateLimitSupported() {
  try {
    return /\brateLimit\?:/.test(readFileSync(`${DIST}worker/worker-options.d.ts`, 'utf8'));
  } catch {
    return false;
  }
}

async function load() {
  const entry = `${DIST}index.js`;
  if (!existsSync(entry)) throw new Error(`Nightshift is not built: ${entry} is missing; run "npm run build" in the repository root`);
  const index = await import(pathToFileURL(entry).href);
  /** @type {Record<string, any>} */
  const api = {};
  for (const [fn, modulePath] of Object.entries(FALLBACK_MODULES)) {
    if (typeof index[fn] === 'function') {
      api[fn] = index[fn];
      continue;
    }
    missing.push(fn);
    const file = `${DIST}${modulePath}`;
    if (!existsSync(file)) continue;
    const mod = await import(pathToFileURL(file).href);
    if (typeof mod[fn] === 'function') api[fn] = mod[fn];
  }
  const needed = ['defineJob', 'createClient', 'createNightshift'];
  const absent = needed.filter((fn) => !api[fn]);
  if (absent.length > 0) throw new Error(`Nightshift build lacks ${absent.join(', ')} (looked in dist/index.js and ${absent.map((fn) => FALLBACK_MODULES[fn]).join(', ')})`);
  return api;
}
