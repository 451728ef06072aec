/**
 * Runs the built `nightshift` binary (dist/cli/main.js) as a child process against throw-away
 * project directories, the way users run it. `npm run build` must have run first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');
/** `import … from` specifiers for fixture configs living outside the repository. */
export const distIndexUrl = pathToFileURL(join(repoRoot, 'dist', 'index.js')).href;
export const zodUrl = pathToFileURL(join(repoRoot, 'node_modules', 'zod', 'index.js')).href;

export function assertBuilt(): void {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` before these tests`);
}

/** Environment variables the CLI reads; removed from the inherited environment so tests start clean. */
const NIGHTSHIFT_ENV = [
  'NIGHTSHIFT_DB',
  'DATABASE_URL',
  'NIGHTSHIFT_STORE',
  'MAX_CONCURRENT_JOBS',
  'JOB_TIMEOUT_MS',
  'SHUTDOWN_TIMEOUT_MS',
  'POLL_INTERVAL_MS',
  'HEALTH_CHECK_PORT',
  'NIGHTSHIFT_HTTP',
  'NIGHTSHIFT_API_TOKEN',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'NIGHTSHIFT_RETAIN_COMPLETED',
  'NIGHTSHIFT_RETAIN_CANCELLED',
  'NIGHTSHIFT_RETAIN_DEAD',
];

export function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of NIGHTSHIFT_ENV) delete env[key];
  // vitest's own variables would leak into the child; they mean nothing there.
  delete env.NODE_OPTIONS;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A temp project directory with the given files; `cleanup()` removes it. */
export class Project {
  readonly dir: string;

  constructor(files: Record<string, string> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'nightshift-cli-'));
    for (const [name, text] of Object.entries(files)) this.write(name, text);
  }

  write(name: string, text: string): string {
    const path = join(this.dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  }

  get dbPath(): string {
    return join(this.dir, 'data', 'nightshift.db');
  }

  /**
   * Runs `nightshift <args>` in the project directory and waits for it to exit. `nodeArgs` go to
   * node before the script (`--import` a loader hook, …).
   */
  run(args: readonly string[], env: Record<string, string | undefined> = {}, nodeArgs: readonly string[] = []): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...nodeArgs, cliPath, ...args], { cwd: this.dir, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }

  /** Runs `nightshift --json <args>` and parses stdout; fails with the CLI's stderr when it exits non-zero. */
  async json<T = Record<string, unknown>>(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<T> {
    const result = await this.run(['--json', ...args], env);
    if (result.code !== 0) throw new Error(`nightshift ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  }

  /** Starts a long-running command (the daemon); collects its output. */
  spawn(args: readonly string[], env: Record<string, string | undefined> = {}): RunningCli {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: this.dir, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    return new RunningCli(child);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RunningCli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;

  constructor(child: ChildProcess) {
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }));
    });
  }

  /** Sends a signal to this child only (by its pid). */
  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Makes sure the child is gone (for `afterEach`). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`.
 * The deadline is a safety net; the poll interval only bounds how fast a condition is noticed.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** A fixture config with a few jobs, importing the library as `importFrom` (the package name by default). */
export function fixtureConfig(options: { importFrom?: string; extra?: string } = {}): string {
  const from = options.importFrom ?? 'nightshift';
  return `import { defineConfig, defineJob, UnrecoverableError } from '${from}';
import { z } from '${zodUrl}';

export const greet = defineJob({
  name: 'greet',
  description: 'says hello',
  schema: z.object({ who: z.string().min(1) }),
  handler: async ({ who }) => ({ greeting: 'hello ' + who }),
});

export const explode = defineJob({
  name: 'explode',
  queue: 'risky',
  schema: z.object({}).passthrough(),
  retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 10, jitter: 0 } },
  handler: async () => {
    throw new Error('kaboom');
  },
});

export const giveUp = defineJob({
  name: 'give-up',
  schema: z.object({}),
  retry: { attempts: 5 },
  handler: async () => {
    throw new UnrecoverableError('nothing to retry');
  },
});

export default defineConfig({
  jobs: [greet, explode, giveUp],
  queues: { risky: { concurrency: 2, timeoutMs: 5000 } },
  ${options.extra ?? ''}
});
`;
}
