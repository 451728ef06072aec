import type { Duration } from './setting-rules.js';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, NightshiftError } from '../errors.js';
import type { AlertRulesInput } from '../alerts/alert-rules.js';
import type { AnyJobDefinition } from '../job/define-job.js';
import type { withBuiltinJobs } from '../jobs/builtin-jobs.js';
import type { LevelWithSilent } from 'pino';
import type { Retention } from '../maintenance/pruner.js';
import type { HttpConfig, NightshiftConfig, ScheduleEntry, StoreConfig } from './define-config.js';
import { readEnv, RETENTION_VARIABLES, type EnvSettings } from './env.js';
import { loadSchemaNameCheck, namesPostgresSchema, validateConfig, validateFileSetting, type FileSettings, type ValidatedPrune } from './validate-config.js';

// Modules a command does not always need are imported where they are used, so that a short
// command (`list`, `jobs`, `enqueue`) loads only its own path: the config module loader (no
// config file: not needed), the YAML reader with the schedule sync (no schedule file), the
// built-in jobs with node:http and node:child_process (no `builtins:`). Each costs milliseconds
// of module loading on every call otherwise.

/** File names looked up in the working directory, in this order. */
export const CONFIG_FILE_NAMES = ['nightshift.config.ts', 'nightshift.config.mts', 'nightshift.config.js', 'nightshift.config.mjs'] as const;

/** Default concurrency of a queue, when neither the file nor `MAX_CONCURRENT_JOBS` sets one. */
export const DEFAULT_QUEUE_CONCURRENCY = 10;
/** Default attempt time limit of a queue, in ms (5 minutes). */
export const DEFAULT_QUEUE_TIMEOUT_MS = 300_000;

/** File names of an alerts file looked up beside the config file, in this order. */
export const ALERTS_FILE_NAMES = ['alerts.yaml', 'alerts.yml'] as const;

/**
 * Where alert rules come from: a YAML file in the `alerts.yaml` shape, or rules written inline in
 * the code config (`file` is that config, for error messages).
 */
export type AlertRulesSource = { kind: 'file'; file: string } | { kind: 'inline'; rules: AlertRulesInput; file: string | null };

/** A queue's settings after defaults and environment overrides. */
export interface ResolvedQueue {
  concurrency: number;
  timeoutMs: number;
  /** Set only when the file sets it; the worker's default (the concurrency) applies otherwise. */
  prefetch?: number;
  /** Set only when the file sets it: no cluster-wide limit otherwise. */
  globalConcurrency?: number;
  /** Set only when the file sets it: no rate limit otherwise. */
  rateLimit?: { max: number; perMs: number };
  /** Set only when the file sets them: the runtime's retention otherwise. */
  keep?: { completed?: Duration; cancelled?: Duration; dead?: Duration };
  keepResult?: Duration;
}

/** The configuration the CLI runs with: file + environment + defaults. */
export interface ResolvedConfig {
  /** Absolute path of the code config file; null when none was found and none was required. */
  file: string | null;
  /**
   * The config's jobs followed by the built-in jobs that `builtins` enables (in the code config or
   * the schedule file), each limited to its allow-list. None by default.
   */
  jobs: readonly AnyJobDefinition[];
  /** Every queue named by the file or used by a job, with its effective settings. */
  queues: Record<string, ResolvedQueue>;
  /** The file's store setting (environment overrides are applied by `resolveStore`). */
  store: StoreConfig | undefined;
  /** A YAML schedule file (absolute path), the inline list, or undefined for none. */
  schedules: string | readonly ScheduleEntry[] | undefined;
  leaseMs: number | undefined;
  shutdownTimeoutMs: number | undefined;
  /**
   * Pruning for `createNightshift({ prune })`: `false` (off), or the retention in ms — each field
   * from `NIGHTSHIFT_RETAIN_*`, else `prune:` of the code config or the schedule file; unset fields
   * take the pruner's defaults — and the time between passes.
   */
  prune: false | { retention: Retention; intervalMs?: number };
  /** `POLL_INTERVAL_MS`, else `pollIntervalMs` of the code config or the schedule file. */
  pollIntervalMs: number | undefined;
  /** `HEALTH_CHECK_PORT`: where `daemon` and `serve` serve the HTTP API, on 127.0.0.1 (see `http`). */
  healthCheckPort: number | undefined;
  /**
   * The config's `http` section (`HttpConfig`), validated; undefined without one. Its `host` and
   * `port` are the last choice of the listen address: `--http`, `NIGHTSHIFT_HTTP` and
   * `HEALTH_CHECK_PORT` win, applied by `daemon` and `serve` (config/http-config.ts), as
   * `resolveStore` applies the environment to `store`.
   */
  http: HttpConfig | undefined;
  /** `LOG_LEVEL`, else the file's `logLevel`; undefined when neither is set (each command picks its default). */
  logLevel: LevelWithSilent | undefined;
  maxPayloadBytes: number | undefined;
  workerId: string | undefined;
  setup: NightshiftConfig['setup'];
  /**
   * Where the alert rules are: the config's `alerts:` (inline rules, or a YAML path resolved from
   * the config file's directory), else `alerts.yaml` / `alerts.yml` beside the config file (the
   * working directory without one) when it exists, else null: alerting off. Only located here:
   * the commands that alert read and check the rules (config/alert-rules-source.ts), so that other
   * commands never load the rule schema. `daemon --alerts <file>` replaces it.
   */
  alerts: AlertRulesSource | null;
  /** The validated environment settings. */
  env: EnvSettings;
}

export interface LoadConfigOptions {
  /** Directory searched for `nightshift.config.*`; default `process.cwd()`. */
  cwd?: string;
  /**
   * The `--config` value: a code config file, or a `.yaml`/`.yml` schedule file (then the code
   * config is still looked up in `cwd`).
   */
  configPath?: string;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Whether a missing code config is an error. Default true, except when `configPath` names a
   * schedule file: a schedule file on its own is a deployment (its `builtins:` are then the only
   * jobs), for every command. Commands that only read the store (`jobs`, `stats`, …) pass false
   * and run on the environment's/default store.
   */
  required?: boolean;
}

const isScheduleFile = (path: string): boolean => /\.ya?ml$/i.test(path);

/**
 * Imports a config module. TypeScript is compiled on the fly, once per content (see
 * config-module-loader.ts: a compile cache keyed by each file's text), so no build step is needed
 * and only a config's first run after an edit pays for the compiler.
 *
 * `nightshift` inside the config is mapped to the very module instance this code runs from:
 * a second copy of the library would have its own error classes and registries, so `instanceof`
 * checks between the CLI and the user's jobs would silently fail. Only the modules of the names
 * the config uses are loaded (public-api-subset.ts): a command loads the database driver of its
 * own store, not both, nor the worker and scheduler to list jobs. Plain `.js` files of the
 * library that the config imports by path are loaded by Node's own loader, which shares its
 * module cache.
 */
async function importConfigModule(file: string): Promise<unknown> {
  const [{ ConfigModuleSyntaxError, loadConfigModule }, { importPublicApi }] = await Promise.all([
    import('./config-module-loader.js'),
    import('./public-api-subset.js'),
  ]);
  let loaded: unknown;
  try {
    loaded = await loadConfigModule(file, {
      api: (names) => importPublicApi(new URL('../index.js', import.meta.url), names, () => import('../index.js')),
    });
  } catch (error) {
    const where = error instanceof ConfigModuleSyntaxError ? error : { file, line: lineIn(error, file) };
    throw new ConfigError(`failed to load: ${describe(error)}`, { file: where.file, line: where.line, cause: error });
  }
  const exports = (typeof loaded === 'object' && loaded !== null ? loaded : {}) as Record<string, unknown>;
  let config = 'default' in exports ? exports.default : exports.config;
  if (config === undefined) {
    throw new ConfigError('has no default export; write `export default defineConfig({ jobs: [...] })`', { file });
  }
  if (typeof config === 'function') {
    // `export default async () => defineConfig({...})` lets a config do async setup.
    try {
      config = await (config as () => unknown)();
    } catch (error) {
      throw new ConfigError(`the exported config function threw: ${describe(error)}`, { file, line: lineIn(error, file), cause: error });
    }
  }
  return config;
}

function describe(error: unknown): string {
  if (error instanceof NightshiftError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The line of `file` where an error was thrown, from its stack. */
function lineIn(error: unknown, file: string): number | undefined {
  if (!(error instanceof Error) || typeof error.stack !== 'string') return undefined;
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`${escaped}:(\\d+)`).exec(error.stack);
  return match ? Number(match[1]) : undefined;
}

/** Finds the code config file: `configPath` when it names one, else `nightshift.config.*` in `cwd`. */
export function findConfigFile(cwd: string, configPath: string | undefined): string | null {
  if (configPath !== undefined && !isScheduleFile(configPath)) {
    const file = resolve(cwd, configPath);
    if (!existsSync(file) || !statSync(file).isFile()) {
      throw new ConfigError('config file not found (check the --config path)', { file });
    }
    return file;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return file;
  }
  return null;
}

/** The settings of a YAML schedule file (`builtins:`, `prune:`, `pollIntervalMs:`), and where they are. */
export interface ScheduleFileSettings {
  /** Each key the file sets, validated by the code config's own rules. */
  settings: Partial<FileSettings>;
  /** Absolute path of the schedule file. */
  file: string;
  /** The line of an issue path (`builtins.command.allow.1`, `prune.completed`) in the file, when known. */
  lineAt(issuePath: string): number | undefined;
}

const FILE_SETTING_KEYS = ['builtins', 'prune', 'pollIntervalMs'] as const satisfies readonly (keyof FileSettings)[];

/**
 * Reads and validates the settings of a schedule file. Null when the file sets none, or cannot
 * be read (the schedule sync reports that, naming the file). Throws `ConfigError` with the file
 * and line for invalid YAML or invalid settings.
 */
export async function readScheduleFileSettings(file: string): Promise<ScheduleFileSettings | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const { parseYamlFile } = await import('../scheduler/schedule-file.js');
  const { root, lineAt } = parseYamlFile(text, file);
  const settings: Partial<FileSettings> = {};
  for (const key of FILE_SETTING_KEYS) {
    if (key in root) Object.assign(settings, { [key]: validateFileSetting(key, root[key], file, lineAt) });
  }
  return Object.keys(settings).length === 0 ? null : { settings, file, lineAt };
}

/** The schedule file in use: `--config x.yaml`, else the config's `schedules` path (relative to the config file). */
function scheduleFileInUse(config: NightshiftConfig, file: string | null, scheduleFile: string | undefined): string | undefined {
  if (scheduleFile !== undefined) return scheduleFile;
  if (typeof config.schedules !== 'string') return undefined;
  // A schedule file ships next to the config that names it, so it resolves from there.
  return isAbsolute(config.schedules) ? config.schedules : resolve(file ? dirname(file) : process.cwd(), config.schedules);
}

/** Where the alert rules are (see `ResolvedConfig.alerts`). */
function alertRulesSource(config: NightshiftConfig, file: string | null): AlertRulesSource | null {
  // Like a schedule file, an alerts file ships next to the config that uses it.
  const directory = file ? dirname(file) : process.cwd();
  if (typeof config.alerts === 'string') return { kind: 'file', file: isAbsolute(config.alerts) ? config.alerts : resolve(directory, config.alerts) };
  if (config.alerts !== undefined) return { kind: 'inline', rules: config.alerts, file };
  for (const name of ALERTS_FILE_NAMES) {
    const beside = resolve(directory, name);
    if (existsSync(beside)) return { kind: 'file', file: beside };
  }
  return null;
}

/**
 * Loads, validates and resolves the configuration: the code config file, the environment
 * (which wins) and the defaults. Throws `ConfigError` naming the file for a missing file, a file
 * that throws while loading, or a config that fails validation (every issue listed).
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = readEnv(options.env ?? process.env);
  let scheduleFile: string | undefined;
  if (options.configPath !== undefined && isScheduleFile(options.configPath)) {
    scheduleFile = resolve(cwd, options.configPath);
    if (!existsSync(scheduleFile)) throw new ConfigError('schedule file not found (check the --config path)', { file: scheduleFile });
  }
  const file = findConfigFile(cwd, options.configPath);
  let config: NightshiftConfig;
  if (file === null) {
    // `--config cron.yaml` without a code config: a YAML-only deployment, whatever the command.
    if ((options.required ?? true) && scheduleFile === undefined) {
      const where = resolve(cwd, CONFIG_FILE_NAMES[0]);
      throw new ConfigError(
        `no config file found: create ${CONFIG_FILE_NAMES.join(', ')} in ${cwd} exporting defineConfig({ jobs: [...] }), or pass --config <path>`,
        { file: where },
      );
    }
    config = { jobs: [] };
  } else {
    const exported = await importConfigModule(file);
    // The store's own rule, loaded with the pg driver only for a config that names a schema.
    const schemaNameCheck = namesPostgresSchema(exported) ? await loadSchemaNameCheck() : undefined;
    config = validateConfig(exported, file, schemaNameCheck === undefined ? {} : { schemaNameCheck });
  }
  const schedules = scheduleFileInUse(config, file, scheduleFile);
  const fileSettings = schedules === undefined ? null : await readScheduleFileSettings(schedules);
  const enablesBuiltins = config.builtins !== undefined || fileSettings?.settings.builtins !== undefined;
  const builtinJobs = enablesBuiltins ? (await import('../jobs/builtin-jobs.js')).withBuiltinJobs : undefined;
  return resolveConfig(config, { file, env, scheduleFile, fileSettings, ...(builtinJobs === undefined ? {} : { builtinJobs }) });
}

/**
 * A setting that the code config and the schedule file may each set, but not both: the one that
 * is set, else undefined. Both set is a `ConfigError` at the schedule file's line.
 */
function fromOnePlace<K extends keyof FileSettings>(
  key: K,
  fromCode: FileSettings[K] | undefined,
  file: string | null,
  fileSettings: ScheduleFileSettings | null,
): FileSettings[K] | undefined {
  const fromFile = fileSettings?.settings[key];
  if (fromFile !== undefined && fromCode !== undefined && fileSettings !== null) {
    const line = fileSettings.lineAt(key);
    throw new ConfigError(`"${key}" is set here and in ${file ?? 'the code config'}; keep it in one place`, {
      file: fileSettings.file,
      ...(line === undefined ? {} : { line }),
    });
  }
  return fromFile ?? fromCode;
}

/**
 * The config's jobs plus the built-ins enabled by the code config or the schedule file (not both).
 * A problem found while building them (a program not on `PATH`, an app job of the same name) is a
 * `ConfigError` naming the file — and line, in a YAML file — that enabled them.
 */
function resolveJobs(
  config: NightshiftConfig,
  file: string | null,
  fileSettings: ScheduleFileSettings | null,
  builtinJobs: typeof withBuiltinJobs | undefined,
  env: EnvSettings,
): AnyJobDefinition[] {
  const builtins = fromOnePlace('builtins', config.builtins, file, fileSettings);
  // Nothing enabled: the config's jobs as they are, without loading the built-in jobs' code.
  if (builtins === undefined) return [...config.jobs];
  if (builtinJobs === undefined) throw new Error('resolveConfig: the config enables built-in jobs; pass `builtinJobs` (loadConfig does)');
  const fromFile = fileSettings?.settings.builtins !== undefined ? fileSettings : null;
  try {
    // The maintenance jobs act on the store this config and environment name (opened per run).
    return builtinJobs(config.jobs, builtins, { storeConfig: { config: config.store, env } });
  } catch (error) {
    if (!(error instanceof ConfigError) || error.file !== undefined) throw error;
    const where = fromFile?.file ?? file ?? undefined;
    const line = fromFile?.lineAt(error.issues[0]?.path ?? 'builtins');
    throw new ConfigError(error.message, {
      ...(where === undefined ? {} : { file: where }),
      ...(line === undefined ? {} : { line }),
      cause: error,
      issues: [...error.issues],
    });
  }
}

/**
 * Pruning: `NIGHTSHIFT_RETAIN_*` over `prune:` of the code config or the schedule file (durations
 * already in ms: validation converted them). The environment cannot turn on what `prune: false`
 * turned off: that contradiction is a `ConfigError` rather than a silent choice.
 */
function resolvePrune(config: NightshiftConfig, env: EnvSettings, file: string | null, fileSettings: ScheduleFileSettings | null): ResolvedConfig['prune'] {
  const prune = fromOnePlace('prune', config.prune as ValidatedPrune | undefined, file, fileSettings);
  if (prune === false) {
    if (env.retention !== undefined) {
      const fields = Object.keys(env.retention);
      const names = Object.entries(RETENTION_VARIABLES).filter(([, field]) => fields.includes(field)).map(([name]) => name);
      const inFile = fileSettings?.settings.prune === false ? fileSettings : null;
      const where = inFile?.file ?? file;
      const line = inFile?.lineAt('prune');
      throw new ConfigError(`${names.join(', ')} set${names.length === 1 ? 's' : ''} a retention, but "prune: false" turns pruning off; remove one of them`, {
        ...(where === null ? {} : { file: where }),
        ...(line === undefined ? {} : { line }),
      });
    }
    return false;
  }
  const retention: Retention = {};
  const completedMs = env.retention?.completedMs ?? prune?.completed;
  const cancelledMs = env.retention?.cancelledMs ?? prune?.cancelled;
  const deadMs = env.retention?.deadMs ?? prune?.dead;
  if (completedMs !== undefined) retention.completedMs = completedMs;
  if (cancelledMs !== undefined) retention.cancelledMs = cancelledMs;
  if (deadMs !== undefined) retention.deadMs = deadMs;
  if (prune?.ticks !== undefined) retention.ticksOlderThanMs = prune.ticks;
  return prune?.interval === undefined ? { retention } : { retention, intervalMs: prune.interval };
}

/**
 * Applies defaults and environment overrides to a validated config. `file` anchors relative
 * schedule file paths; `scheduleFile` (from `--config x.yaml`) replaces the config's schedules;
 * `fileSettings` are the settings read from the schedule file in use; `builtinJobs` is
 * `withBuiltinJobs` (jobs/builtin-jobs.ts), required only when the config or the schedule file
 * sets `builtins` — the caller loads it then, so that a config without built-ins never loads them.
 */
export function resolveConfig(
  config: NightshiftConfig,
  options: {
    file: string | null;
    env: EnvSettings;
    scheduleFile?: string | undefined;
    fileSettings?: ScheduleFileSettings | null;
    builtinJobs?: typeof withBuiltinJobs;
  },
): ResolvedConfig {
  const { env } = options;
  const fileSettings = options.fileSettings ?? null;
  const jobs = resolveJobs(config, options.file, fileSettings, options.builtinJobs, env);
  const queueNames = new Set<string>([...Object.keys(config.queues ?? {}), ...jobs.map((job) => job.queue)]);
  const queues: Record<string, ResolvedQueue> = {};
  for (const name of [...queueNames].sort()) {
    const fromFile = config.queues?.[name] ?? {};
    let concurrency = fromFile.concurrency ?? env.maxConcurrentJobs ?? DEFAULT_QUEUE_CONCURRENCY;
    if (env.maxConcurrentJobs !== undefined) concurrency = Math.min(concurrency, env.maxConcurrentJobs);
    queues[name] = { concurrency, timeoutMs: env.jobTimeoutMs ?? fromFile.timeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS };
    if (fromFile.prefetch !== undefined) queues[name].prefetch = fromFile.prefetch;
    if (fromFile.globalConcurrency !== undefined) queues[name].globalConcurrency = fromFile.globalConcurrency;
    if (fromFile.rateLimit !== undefined) queues[name].rateLimit = { max: fromFile.rateLimit.max, perMs: fromFile.rateLimit.perMs };
    if (fromFile.keep !== undefined) queues[name].keep = fromFile.keep;
    if (fromFile.keepResult !== undefined) queues[name].keepResult = fromFile.keepResult;
  }
  const schedules: ResolvedConfig['schedules'] = scheduleFileInUse(config, options.file, options.scheduleFile) ?? config.schedules;
  const configuredPollMs = fromOnePlace('pollIntervalMs', config.pollIntervalMs, options.file, fileSettings);
  const pollIntervalMs = env.pollIntervalMs ?? configuredPollMs;
  return {
    file: options.file,
    jobs,
    queues,
    store: config.store,
    schedules,
    leaseMs: config.leaseMs,
    shutdownTimeoutMs: env.shutdownTimeoutMs ?? config.shutdownTimeoutMs,
    prune: resolvePrune(config, env, options.file, fileSettings),
    pollIntervalMs,
    healthCheckPort: env.healthCheckPort,
    http: config.http,
    logLevel: env.logLevel ?? config.logLevel,
    maxPayloadBytes: config.maxPayloadBytes,
    workerId: config.workerId,
    setup: config.setup,
    alerts: alertRulesSource(config, options.file),
    env,
  };
}
