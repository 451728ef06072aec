/**
 * The built-in `command` job: runs one program, described entirely by its input:
 *
 * ```yaml
 * - id: nightly.backup
 *   jobId: command
 *   schedule: "30 2 * * *"
 *   input:
 *     argv: ["/usr/local/bin/backup", "--target", "/srv/backups"]
 *     cwd: "/srv"
 *     env: { BACKUP_LEVEL: "full" }
 * ```
 *
 * It exists only where the config enables it with an allow-list of programs
 * (`builtins.command.allow`, see builtin-config.ts and command-allow-list.ts). A job naming any
 * other program, or whose input sets an environment variable `builtins.command.inputEnv` does not
 * list, ends `dead` with `UnrecoverableError` before any process is spawned.
 *
 * The program is started directly from `argv` — no shell, so nothing in the arguments is
 * interpreted — at the absolute path its allow-list entry resolved to. `shell: true` runs
 * `argv[0]` (then the only element) through `sh -c` instead, must be asked for explicitly, and
 * needs `sh` in the allow-list. The environment holds only the variables the config passes
 * through (`builtins.command.env`) and those the input sets. Exit code 0 completes the job with
 * `{ exitCode, signal, stdout, stderr, durationMs }` (the last `tailBytes` of each stream); a
 * non-zero exit or a death by signal fails the attempt (retried per the job's policy).
 *
 * When the job's signal fires (timeout, cancellation, shutdown), the program's process group gets
 * SIGTERM, then SIGKILL after `killGraceMs`: children it started are stopped too.
 */
import { spawn } from 'node:child_process';
import { z } from 'zod';
import { UnrecoverableError } from '../errors.js';
import { defineJob } from '../job/define-job.js';
import { COMMAND_JOB_NAME } from './builtin-names.js';
import type { CommandJobConfig } from './builtin-config.js';
import { CommandAllowList, type AllowedProgram } from './command-allow-list.js';
import { registerScheduleInputCheck } from './schedule-input-checks.js';

/** Default bytes kept from the end of stdout and of stderr. */
export const DEFAULT_COMMAND_TAIL_BYTES = 4096;
/** Default wait between SIGTERM and SIGKILL when the job is stopped, ms. */
export const DEFAULT_COMMAND_KILL_GRACE_MS = 5000;

/** Input of the `command` job. */
export const commandJobInput = z
  .object({
    /** Program and arguments: `["pg_dump", "--format=custom", "app"]`. With `shell: true`, one command line. */
    argv: z.array(z.string()).min(1, 'must name at least the program to run'),
    /** Working directory; default the worker's. */
    cwd: z.string().min(1).optional(),
    /** Variables set for the program; only names listed in `builtins.command.inputEnv`. */
    env: z.record(z.string(), z.string()).optional(),
    /** Start from the variables the config passes through (`builtins.command.env`); default true. */
    inheritEnv: z.boolean().optional(),
    /** Run `argv[0]` through the system shell; default false. */
    shell: z.boolean().optional(),
    /** Bytes kept from the end of stdout and of stderr; default 4096. */
    tailBytes: z.number().int().min(0).max(1024 * 1024).optional(),
    /** Wait between SIGTERM and SIGKILL when the job is stopped, ms; default 5000. */
    killGraceMs: z.number().int().min(0).max(600_000).optional(),
  })
  .strict()
  .refine((input) => input.shell !== true || input.argv.length === 1, {
    message: 'with shell: true, argv must hold exactly one command line (e.g. ["tar czf /tmp/x.tgz /srv | wc -c"])',
    path: ['argv'],
  });

export type CommandJobInput = z.input<typeof commandJobInput>;

/** What a completed `command` job records. */
export interface CommandJobResult {
  exitCode: number | null;
  signal: string | null;
  /** The last `tailBytes` of standard output. */
  stdout: string;
  /** The last `tailBytes` of standard error. */
  stderr: string;
  durationMs: number;
}

/** Keeps the last `limit` bytes written to a stream, whatever its total size. */
class Tail {
  #chunks: Buffer[] = [];
  #size = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    if (this.limit === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#chunks.length > 1 && this.#size - (this.#chunks[0] as Buffer).length >= this.limit) {
      this.#size -= (this.#chunks.shift() as Buffer).length;
    }
  }
  toString(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

/** Failure of a command: non-zero exit, killed by a signal, or could not start. */
export class CommandFailedError extends Error {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderr: string;
  constructor(message: string, details: { exitCode: number | null; signal: string | null; stderr: string }) {
    super(message);
    this.name = 'CommandFailedError';
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderr = details.stderr;
  }
}

/** Names of the programs `sh` may be found under, for `shell: true`. */
const SHELL_NAMES = ['sh', '/bin/sh', '/usr/bin/sh'];

/** The program a job's input starts, from the allow-list; throws `UnrecoverableError` when none fits. */
function allowedProgram(allowList: CommandAllowList, input: { argv: string[]; shell?: boolean | undefined }): AllowedProgram {
  if (input.shell === true) {
    const shell = SHELL_NAMES.map((name) => allowList.find(name)).find((program) => program !== undefined);
    if (shell !== undefined) return shell;
    throw new UnrecoverableError(
      `refused to run a shell command line (shell: true runs sh -c): "sh" is not in builtins.command.allow (allowed: ${allowList.describe()}); add "sh" there to allow it — which allows any command line`,
    );
  }
  const argv0 = input.argv[0] as string;
  const program = allowList.find(argv0);
  if (program !== undefined) return program;
  throw new UnrecoverableError(
    `refused to run ${JSON.stringify(argv0)}: not in builtins.command.allow (allowed: ${allowList.describe()}); add it there (an absolute path, or a name looked up in PATH) to allow it`,
  );
}

/** Throws `UnrecoverableError` when the input's `env` sets a name `config.inputEnv` does not list. */
function assertSettableEnv(config: CommandJobConfig, input: { env?: Record<string, string> | undefined }): void {
  const settable = new Set(config.inputEnv ?? []);
  const refused = Object.keys(input.env ?? {}).filter((name) => !settable.has(name));
  if (refused.length > 0) {
    throw new UnrecoverableError(
      `refused to set ${refused.map((name) => JSON.stringify(name)).join(', ')} in the program's environment: not in builtins.command.inputEnv (${config.inputEnv?.length ? `allowed: ${config.inputEnv.join(', ')}` : 'none allowed'}); add the name there to allow it`,
    );
  }
}

/**
 * The program's environment: the worker's variables listed in `config.env` (unless the input says
 * `inheritEnv: false`), then the input's `env`, each of whose names must be in `config.inputEnv`.
 */
function programEnvironment(config: CommandJobConfig, input: { env?: Record<string, string> | undefined; inheritEnv?: boolean | undefined }): Record<string, string> {
  assertSettableEnv(config, input);
  const env: Record<string, string> = {};
  if (input.inheritEnv !== false) {
    for (const name of config.env ?? []) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
  }
  return { ...env, ...(input.env ?? {}) };
}

/**
 * The built-in `command` job, allowed to start what `config.allow` lists. Bare names are looked up
 * in `PATH` now; throws a `ConfigError` when one is not found or an entry is malformed.
 */
export function createCommandJob(config: CommandJobConfig) {
  const allowList = new CommandAllowList(config.allow);
  const job = defineJob({
    name: COMMAND_JOB_NAME,
    description: 'Runs one allowed program (no shell unless asked); exit code 0 completes, anything else fails',
    schema: commandJobInput,
    async handler(input, ctx): Promise<CommandJobResult> {
      ctx.signal.throwIfAborted();
      // Both checks come before the spawn: a refused job starts no process at all.
      const program = allowedProgram(allowList, input);
      const env = programEnvironment(config, input);
      const args = input.shell === true ? ['-c', input.argv[0] as string] : input.argv.slice(1);
      const tailBytes = input.tailBytes ?? DEFAULT_COMMAND_TAIL_BYTES;
      const started = performance.now();
      const child = spawn(program.path, args, { cwd: input.cwd, env, shell: false, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
      const stdout = new Tail(tailBytes);
      const stderr = new Tail(tailBytes);
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

      // detached: the program leads its own process group, so a stop reaches what it started too.
      const kill = (signal: NodeJS.Signals): void => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        try {
          if (process.platform === 'win32') child.kill(signal);
          else process.kill(-child.pid, signal);
        } catch {
          // Already gone.
        }
      };
      let killTimer: NodeJS.Timeout | null = null;
      const onAbort = (): void => {
        ctx.log.info({ pid: child.pid }, 'stopping the command (SIGTERM)');
        kill('SIGTERM');
        killTimer = setTimeout(() => kill('SIGKILL'), input.killGraceMs ?? DEFAULT_COMMAND_KILL_GRACE_MS);
        killTimer.unref();
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });

      try {
        const { exitCode, signal } = await new Promise<{ exitCode: number | null; signal: string | null }>((resolve, reject) => {
          child.once('error', (error) => reject(new CommandFailedError(`cannot run ${JSON.stringify(program.path)}: ${error.message}`, { exitCode: null, signal: null, stderr: '' })));
          child.once('close', (code, killedBy) => resolve({ exitCode: code, signal: killedBy }));
        });
        const durationMs = Math.round(performance.now() - started);
        if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('the command was stopped');
        const result = { exitCode, signal, stdout: stdout.toString(), stderr: stderr.toString(), durationMs };
        if (exitCode !== 0) {
          const how = signal !== null ? `was killed by ${signal}` : `exited with code ${exitCode}`;
          throw new CommandFailedError(`${JSON.stringify(program.path)} ${how}${result.stderr ? `; stderr: ${result.stderr.trim()}` : ''}`, { exitCode, signal, stderr: result.stderr });
        }
        return result;
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        if (killTimer !== null) clearTimeout(killTimer);
      }
    },
  });
  // A schedule naming a program (or an input variable) the lists refuse is refused where it is
  // stored, with the message each of its runs would end with.
  registerScheduleInputCheck(job, (input) => {
    const checked = input as { argv: string[]; shell?: boolean; env?: Record<string, string> };
    const refusals = [];
    for (const [path, check] of [
      [checked.shell === true ? 'shell' : 'argv', () => allowedProgram(allowList, checked)],
      ['env', () => assertSettableEnv(config, checked)],
    ] as const) {
      try {
        check();
      } catch (error) {
        refusals.push({ path, message: (error as Error).message });
      }
    }
    return refusals;
  });
  return job;
}
