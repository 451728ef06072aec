// The CLI table of `npm run bench` (`--only CLI` prints it alone): how long one `nightshift`
// command takes, start to exit, as an operator types it — a fresh process each call, on a project
// with a TypeScript config (importing a job file and zod) on SQLite. The first call of a fresh
// project compiles the config; the others find it in the compile cache, which is the everyday
// case, so the table reports the median of the warm calls, and the cold call on its own row.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Calls per command; the median is reported. */
export const CLI_CALLS = 10;

function writeProject(rootDir) {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-bench-cli-'));
  const zod = pathToFileURL(join(rootDir, 'node_modules', 'zod', 'index.js')).href;
  const files = {
    // A project has a node_modules folder: the compile cache lives in node_modules/.cache there.
    'node_modules/.keep': '',
    'jobs/send-welcome.ts': `import { defineJob, UnrecoverableError } from 'nightshift';
import { z } from '${zod}';

export const sendWelcome = defineJob({
  name: 'email.welcome',
  queue: 'email',
  description: 'sends the welcome email',
  schema: z.object({ userId: z.number().int(), locale: z.string().default('en') }),
  retry: { attempts: 5, backoff: { type: 'exponential', delayMs: 2_000, maxDelayMs: 600_000 } },
  handler: async ({ userId }: { userId: number; locale: string }) => {
    if (userId < 0) throw new UnrecoverableError('no such user');
    return { sent: true };
  },
});
`,
    'nightshift.config.ts': `import { defineConfig, defineJob } from 'nightshift';
import { sendWelcome } from './jobs/send-welcome.js';

const cleanup = defineJob({ name: 'cleanup.nightly', handler: async () => ({ removed: 0 }) });

export default defineConfig({
  jobs: [sendWelcome, cleanup],
  queues: { email: { concurrency: 10, timeoutMs: 30_000 } },
  store: { sqlite: { path: './data/nightshift.db' } },
});
`,
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** Runs one command in a fresh process; returns its wall time in ms. Throws when it fails. */
function timeCall(cliPath, dir, args, env) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [cliPath, ...args], { cwd: dir, env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`nightshift ${args.join(' ')} exited ${result.status ?? result.signal}: ${result.stderr.trim().split('\n')[0]}`);
  return ms;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Measures the commands. Returns rows of { command, medianMs, minMs, maxMs, calls } and the
 * baseline (`node -e 0`, the machine's floor for any Node.js command).
 * @param {{ rootDir: string, calls?: number }} options
 */
export function measureCli({ rootDir, calls = CLI_CALLS }) {
  const cliPath = join(rootDir, 'dist', 'cli', 'main.js');
  const dir = writeProject(rootDir);
  const env = { ...process.env };
  for (const key of ['NIGHTSHIFT_DB', 'DATABASE_URL', 'NIGHTSHIFT_STORE', 'LOG_LEVEL', 'NODE_OPTIONS']) delete env[key];
  try {
    const rows = [];
    const row = (command, times) => rows.push({ command, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), calls: times.length });
    // The first call of a fresh project: compiles the config and creates the database.
    row('list (first call: compiles the config)', [timeCall(cliPath, dir, ['list'], env)]);
    const commands = [
      ['list', ['list']],
      ['jobs', ['jobs', '--limit', '20']],
      ['enqueue', ['enqueue', 'email.welcome', '--data', '{"userId":42}']],
    ];
    for (const [label, args] of commands) {
      const times = [];
      for (let i = 0; i < calls; i++) times.push(timeCall(cliPath, dir, args, env));
      row(label, times);
    }
    const baseline = [];
    for (let i = 0; i < calls; i++) {
      const started = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0']);
      baseline.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    row('node -e 0 (baseline: Node.js start and exit)', baseline);
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The CLI table as text. */
export function renderCliTable(rows) {
  const header = ['command', 'median', 'min', 'max', 'calls'];
  const cells = rows.map((row) => [row.command, `${Math.round(row.medianMs)} ms`, `${Math.round(row.minMs)} ms`, `${Math.round(row.maxMs)} ms`, String(row.calls)]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((cell) => cell[column].length)));
  const line = (cell) => cell.map((text, column) => (column === 0 ? text.padEnd(widths[column]) : text.padStart(widths[column]))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(line)].join('\n');
}
