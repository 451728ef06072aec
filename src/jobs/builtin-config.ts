/**
 * Settings of the built-in jobs (`builtins:` in `nightshift.config.ts` or in a YAML schedule
 * file). A built-in job exists only when its key is present: nothing is enabled by default, and
 * enabling one means saying what it may reach.
 *
 * ```ts
 * builtins: {
 *   command: { allow: ['/usr/local/bin/backup', 'pg_dump'], env: ['PATH', 'HOME'] },
 *   http: { allow: ['https://api.example.com/v1/', 'hooks.example.org'] },
 *   maintenance: true,
 * }
 * ```
 */
import { z } from 'zod';
import { isProgramEntry } from './command-allow-list.js';
import { parseHttpAllowEntry } from './http-allow-list.js';

/** Settings of the built-in `command` job; present = enabled. */
export interface CommandJobConfig {
  /**
   * Programs a job may start (its `argv[0]`): absolute paths, taken as written, or bare names
   * resolved against `PATH` once when the config loads (a name not found is a config error).
   * Required, at least one. Anything else ends the job `dead` before a process is spawned.
   * `shell: true` jobs run `sh -c …` and need `sh` (or `/bin/sh`) here — which allows any command
   * line; so does any interpreter (`node`, `python3`, `bash`).
   */
  allow: readonly string[];
  /**
   * Names of the worker's environment variables the program gets, with the worker's values at
   * the time it starts (e.g. `['PATH', 'HOME', 'LANG']`). Default none: nothing of the worker's
   * environment — database URLs, tokens — reaches the program unless listed here.
   */
  env?: readonly string[];
  /**
   * Names of variables a job's input may set (`input.env`). Default none: a job whose input sets
   * any other variable ends `dead` (variables like `LD_PRELOAD` would run code of the job's choosing).
   */
  inputEnv?: readonly string[];
}

/** Settings of the built-in `http` job; present = enabled. */
export interface HttpJobConfig {
  /**
   * Where requests may go, redirects included: hosts (`hooks.example.org`, `127.0.0.1:8080`,
   * `[::1]`: any path, http or https, any port unless one is written) or URL prefixes
   * (`https://api.example.com/v1/`: that scheme, host, port and path prefix). Required, at least
   * one. Link-local and cloud metadata addresses and names (169.254.0.0/16, fe80::/10,
   * 100.100.100.200, metadata.google.internal, …) are refused — as written or as a host resolves —
   * unless an entry names that very host or address.
   */
  allow: readonly string[];
}

/** Which built-in jobs exist, and what they may reach. Default `{}`: none. */
export interface BuiltinJobsConfig {
  /** Enables the `command` job (runs programs as the worker's user). Default: off. */
  command?: CommandJobConfig;
  /** Enables the `http` job (sends requests from the worker's network). Default: off. */
  http?: HttpJobConfig;
  /**
   * `true` enables `maintenance.retry` (retries recently dead jobs) and `maintenance.cleanup`
   * (deletes old finished jobs and their attempts) on the configured store. Default: off — they
   * reach nothing outside the store, but they change and delete its jobs, and a registered
   * built-in can be enqueued by anyone who can enqueue by name (CLI, API, SQL `enqueue()`).
   */
  maintenance?: boolean;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function builtinsSchema() {
  const envNames = z.array(z.string().regex(ENV_NAME, 'must be an environment variable name (letters, digits, _; not starting with a digit)'), {
    error: 'must be a list of environment variable names',
  });

  const commandConfigSchema = z.strictObject(
    {
      allow: z
        .array(z.string().refine(isProgramEntry, 'must be an absolute path or a bare program name (looked up in PATH)'), {
          // undefined: zod's own "expected array, received undefined", reported as "is required".
          error: (issue) => (issue.input === undefined ? undefined : 'must be a list of programs: absolute paths or bare names looked up in PATH'),
        })
        .min(1, 'must list at least one program (leave builtins.command out to keep the job off)'),
      env: envNames.optional(),
      inputEnv: envNames.optional(),
    },
    { error: 'must be { allow: [programs], env?: [names], inputEnv?: [names] }' },
  );

  const httpAllowEntry = z.string().superRefine((entry, ctx) => {
    try {
      parseHttpAllowEntry(entry);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  });

  const httpConfigSchema = z.strictObject(
    {
      allow: z
        .array(httpAllowEntry, { error: (issue) => (issue.input === undefined ? undefined : 'must be a list of hosts or URL prefixes') })
        .min(1, 'must list at least one host or URL prefix (leave builtins.http out to keep the job off)'),
    },
    { error: 'must be { allow: [hosts or URL prefixes] }' },
  );

  return z.strictObject(
    {
      command: commandConfigSchema.optional(),
      http: httpConfigSchema.optional(),
      maintenance: z.boolean({ error: 'must be true (enables maintenance.retry and maintenance.cleanup) or false' }).optional(),
    },
    { error: 'must be an object: { command?: { allow, env, inputEnv }, http?: { allow }, maintenance?: true }' },
  );
}

/**
 * The shape of `builtins`, checked by the config validation of code and YAML configs alike. Built
 * on first use: most configs enable no built-in job, and building zod schemas takes every command
 * that validates a config a few milliseconds.
 */
export const builtinJobsConfigSchema = z.lazy(builtinsSchema);
