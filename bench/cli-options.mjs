// Command-line options of `npm run bench -- …`. Kept dependency-free so it can be parsed before the
// bench's own packages are installed.

/** Every system the runner knows, in table order. */
export const ALL_SYSTEMS = ['nightshift', 'bullmq', 'pg-boss', 'graphile-worker'];

/** Nightshift stores selectable with `--store`. */
export const NIGHTSHIFT_STORES = ['sqlite', 'postgres'];

export const USAGE = `Usage: npm run bench -- [options]

  --store sqlite|postgres|all   Nightshift store(s) to benchmark (default all). Peers always run on
                                their own backend (BullMQ: Redis; pg-boss, graphile-worker: PostgreSQL).
  --only W1,W3                  Workloads and tables to run (default all: W1,W2,W3,W3x2,W4,W4P,W5,W6,W7,
                                then CLI and HTTP). Tables besides the workloads run alone when only
                                they are named (no peers, Redis or peer packages needed):
                                CLI      how long one \`nightshift\` command takes;
                                HTTP     enqueue through the HTTP API vs in-process (SQLite, PostgreSQL);
                                HTTP-1M  read routes of the API on a store seeded with 1,000,000 jobs
                                         (seeding takes a while: only run when named).
  --systems nightshift,bullmq   Systems to run (default all: ${ALL_SYSTEMS.join(',')}).
  --quick                       Smaller counts: a smoke run that checks the harness, not a measurement.
  --repeat N                    Run every workload N times (default: each workload's own count: 1 for
                                most, 3 for W5, 15 turns for W3B/W3O/W3A); the result is the median run, and
                                groups run by turns compare N pairs. More runs narrow a comparison
                                whose runs spread by a few points.
  --pg-url URL                  PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test).
                                A database "nightshift_bench_<pid>" is created on it and dropped afterwards.
  --redis-url URL               Redis server (default redis://127.0.0.1:6379).
  --out FILE                    JSON results file (default bench/results/latest.json).
  -h, --help                    Show this help.
`;

/**
 * @typedef {object} BenchOptions
 * @property {string[]} stores   Nightshift stores.
 * @property {string[] | null} only  Workload ids, or null for all.
 * @property {string[]} systems
 * @property {boolean} quick
 * @property {number | null} repeat  Runs of every workload; null: each workload's own.
 * @property {string} pgUrl
 * @property {string} redisUrl
 * @property {string | null} out  JSON output path; null means the default.
 * @property {boolean} help
 */

/**
 * Parses argv (without node and script path).
 * @param {string[]} argv
 * @returns {BenchOptions}
 */
export function parseOptions(argv) {
  /** @type {BenchOptions} */
  const options = {
    stores: [...NIGHTSHIFT_STORES],
    only: null,
    systems: [...ALL_SYSTEMS],
    quick: false,
    repeat: null,
    pgUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    out: null,
    help: false,
  };
  const list = (value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value; see --help`);
      return next;
    };
    switch (flag) {
      case '--store': {
        const store = value();
        if (store === 'all') options.stores = [...NIGHTSHIFT_STORES];
        else if (NIGHTSHIFT_STORES.includes(store)) options.stores = [store];
        else throw new Error(`--store must be sqlite, postgres or all, got "${store}"`);
        break;
      }
      case '--only':
        options.only = list(value()).map((id) => id.toUpperCase().replace('X', 'x'));
        break;
      case '--systems': {
        const systems = list(value());
        const unknown = systems.filter((name) => !ALL_SYSTEMS.includes(name));
        if (unknown.length > 0) throw new Error(`--systems: unknown ${unknown.join(', ')}; known: ${ALL_SYSTEMS.join(', ')}`);
        options.systems = ALL_SYSTEMS.filter((name) => systems.includes(name));
        break;
      }
      case '--quick':
        options.quick = true;
        break;
      case '--repeat': {
        const text = value();
        const repeat = Number(text);
        if (!/^\d+$/.test(text) || !Number.isSafeInteger(repeat) || repeat < 1 || repeat > 1000) throw new Error(`--repeat must be a whole number from 1 to 1000, got "${text}"`);
        options.repeat = repeat;
        break;
      }
      case '--pg-url':
        options.pgUrl = value();
        break;
      case '--redis-url':
        options.redisUrl = value();
        break;
      case '--out':
        options.out = value();
        break;
      case '-h':
      case '--help':
        options.help = true;
        break;
      default:
        throw new Error(`unknown option "${arg}"; see --help`);
    }
  }
  return options;
}
