import { z } from 'zod';
import { ConfigError, type ValidationIssue } from '../errors.js';
import { MAX_INT32 } from '../job/input-bounds.js';
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../job/names.js';
import { builtinJobsConfigSchema, type BuiltinJobsConfig } from '../jobs/builtin-config.js';
import { MIN_TICK_RETENTION_MS } from '../maintenance/pruner.js';
import { LOG_LEVELS } from '../observe/logger.js';
import { scheduleDefinitionSchema } from '../scheduler/schedule-definition.js';
import type { NightshiftConfig, StoreConfig } from './define-config.js';
import { parseListenHost } from './env.js';
import { HTTP_PORT_BOUNDS, parseDuration, PRUNE_INTERVAL_BOUNDS, RETENTION_BOUNDS, SETTING_BOUNDS, type IntegerBounds } from './setting-rules.js';

/*
 * Shape checks for a configuration object, with zod. Every problem is reported with its dotted
 * path (`queues.email.concurrency`), all at once, so a user fixes a file in one pass instead of
 * one error per run.
 */

const NAME_RULE = `1-${NAME_MAX_LENGTH} characters from A-Z a-z 0-9 _ - . : /, starting with a letter or digit`;
const isName = (value: string): boolean => value.length > 0 && value.length <= NAME_MAX_LENGTH && NAME_PATTERN.test(value);
const name = z.string().refine(isName, `must be ${NAME_RULE}`);

/** An integer ≥ `min`; `unit` (e.g. `ms`) appears in the message. */
const integer = (min: number, unit = '') => {
  const expected = `must be an integer ≥ ${min}${unit ? ` (${unit})` : ''}`;
  return z.number({ error: expected }).int(expected).min(min, expected);
};
const positiveInt = (unit = '') => integer(1, unit);
/** An integer inside `bounds` (setting-rules.ts: the bounds the environment variables use too). */
const bounded = (bounds: IntegerBounds) => integer(bounds.min, bounds.unit).max(bounds.max, `must be ≤ ${bounds.max}${bounds.unit ? ` (${bounds.unit})` : ''}`);

/** A `Duration` (ms, or `30s`, `12h`, `7d`…) inside `bounds`, turned into ms. */
const duration = (bounds: IntegerBounds) =>
  z.unknown().transform((value, ctx) => {
    const parsed = parseDuration(value, bounds);
    if ('ms' in parsed) return parsed.ms;
    ctx.addIssue({ code: 'custom', message: `${parsed.problem}, got ${JSON.stringify(value)}` });
    return z.NEVER;
  });

const pruneSettings = z.strictObject({
  completed: duration(RETENTION_BOUNDS).optional(),
  cancelled: duration(RETENTION_BOUNDS).optional(),
  dead: duration(RETENTION_BOUNDS).optional(),
  ticks: duration({ ...RETENTION_BOUNDS, min: MIN_TICK_RETENTION_MS }).optional(),
  interval: duration(PRUNE_INTERVAL_BOUNDS).optional(),
});

/** What `prune` holds once validated: `false`, or each set time in ms. */
export type ValidatedPrune = false | { completed?: number; cancelled?: number; dead?: number; ticks?: number; interval?: number };

/**
 * `prune:` — `false`, or `{ completed, cancelled, dead, ticks, interval }` as durations — checked
 * the same way in the code config and in a YAML schedule file; the durations come out in ms.
 */
const pruneConfigSchema = z.unknown().transform((value, ctx): ValidatedPrune => {
  if (value === false) return false;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'must be false (no pruning) or { completed, cancelled, dead, ticks, interval } with durations like 7d, 12h, 30m or ms' });
    return z.NEVER;
  }
  const result = pruneSettings.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path: issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part)), message: describeIssue(issue) });
  return z.NEVER;
});

const pollIntervalSchema = bounded(SETTING_BOUNDS.pollIntervalMs);

const jobDefinition = z.custom<NightshiftConfig['jobs'][number]>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { queue?: unknown }).queue === 'string' &&
    typeof (value as { handler?: unknown }).handler === 'function',
  { error: 'must be a job created with defineJob() (an object with name, queue and handler)' },
);

const queueConfig = z.strictObject({
  concurrency: bounded(SETTING_BOUNDS.concurrency).optional(),
  timeoutMs: bounded(SETTING_BOUNDS.timeoutMs).optional(),
  prefetch: integer(0).max(10_000, 'must be ≤ 10000').optional(),
  globalConcurrency: integer(1).max(1_000_000, 'must be ≤ 1000000').optional(),
  rateLimit: z
    .strictObject({
      max: integer(1).max(1_000_000, 'must be ≤ 1000000'),
      perMs: integer(1, 'ms').max(86_400_000, 'must be ≤ 86400000 (a day)'),
    })
    .optional(),
  keep: z
    .strictObject({ completed: duration(RETENTION_BOUNDS).optional(), cancelled: duration(RETENTION_BOUNDS).optional(), dead: duration(RETENTION_BOUNDS).optional() })
    .optional(),
  keepResult: duration(RETENTION_BOUNDS).optional(),
});

const sqliteConfig = z.strictObject({
  sqlite: z.strictObject({
    path: z.string().min(1, 'must not be empty').optional(),
    busyTimeoutMs: integer(0, 'ms').optional(),
  }),
});

const postgresConfig = z.strictObject({
  postgres: z.strictObject({
    connectionString: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
    // Only the type here: the name rule is the store's own (`SchemaNameCheck`), so that a name
    // this accepts is one the store accepts.
    schema: z.string({ error: 'must be a string' }).optional(),
    poolSize: positiveInt().max(1000, 'must be ≤ 1000').optional(),
    listen: z.boolean().optional(),
  }),
});

/**
 * Whether a PostgreSQL schema name is accepted: null when it is, else what is wrong with it.
 * `validateConfig` checks `store.postgres.schema` with it when given one (`loadConfig` does).
 */
export type SchemaNameCheck = (schema: string) => string | null;

/**
 * The store's schema-name rule (store/postgres/schema-name.ts), its message included: the config
 * and the store accept the very same names. That module loads the pg driver (some 35 ms), so it is
 * loaded only for a config that names a schema, not by every command of a SQLite deployment.
 * Without the check, `validateConfig` lets any string through to the store, which refuses it when
 * it opens (naming the schema, not the file).
 */
export async function loadSchemaNameCheck(): Promise<SchemaNameCheck> {
  const { schemaNames } = await import('../store/postgres/schema-name.js');
  return (schema) => {
    try {
      schemaNames(schema);
      return null;
    } catch (error) {
      return (error instanceof Error ? error.message : String(error)).replace(/^postgres store: /, '');
    }
  };
}

/** Whether a config object names a PostgreSQL schema (so that `loadSchemaNameCheck` is needed). */
export function namesPostgresSchema(value: unknown): boolean {
  const store = typeof value === 'object' && value !== null ? (value as { store?: unknown }).store : undefined;
  const postgres = typeof store === 'object' && store !== null ? (store as { postgres?: unknown }).postgres : undefined;
  return typeof postgres === 'object' && postgres !== null && typeof (postgres as { schema?: unknown }).schema === 'string';
}

/** An origin as browsers send it in `Origin`: scheme, host and the port when not the default. */
const origin = z.unknown().superRefine((value, ctx) => {
  const expected = 'must be an origin as browsers send it: scheme://host[:port], without path or trailing slash (e.g. https://ops.example.com)';
  let parsed: URL | null = null;
  try {
    parsed = typeof value === 'string' ? new URL(value) : null;
  } catch {
    parsed = null;
  }
  if (parsed !== null && (parsed.protocol === 'http:' || parsed.protocol === 'https:')) {
    if (parsed.origin === value) return;
    // The server compares origins as text: `https://Ops.example.com/` would never match.
    ctx.addIssue({ code: 'custom', message: `${expected}; got ${JSON.stringify(value)}, did you mean ${JSON.stringify(parsed.origin)}?` });
    return;
  }
  ctx.addIssue({ code: 'custom', message: `${expected}, got ${JSON.stringify(value)}` });
});

/** A host name as the `Host` header carries it, without the port (an IPv6 address in brackets). */
const allowedHost = z
  .string({ error: 'must be a host name without port (e.g. jobs.internal)' })
  .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?)$/, 'must be a host name without port, as in the Host header (e.g. jobs.internal, or [fd00::1] for an IPv6 address)');

const TOKEN_SCOPES = ['read', 'enqueue', 'admin'] as const;

/** A token of `http.tokens`: its digest, never the token (see `HttpTokenConfig`). */
const httpToken = z.strictObject(
  {
    name,
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the token\'s SHA-256 digest: 64 lowercase hex characters (printf %s "$TOKEN" | sha256sum)'),
    scope: z.enum(TOKEN_SCOPES, { error: `must be one of ${TOKEN_SCOPES.join(', ')}` }),
    // Named so that its message can say where a token belongs instead of "unknown option".
    token: z
      .unknown()
      .superRefine((_value, ctx) => {
        ctx.addIssue({
          code: 'custom',
          message: 'a token in plain text does not belong in a config file: give its SHA-256 digest as sha256 (printf %s "$TOKEN" | sha256sum), or use `nightshift tokens create` or NIGHTSHIFT_API_TOKEN',
        });
      })
      .optional(),
  },
  { error: 'must be { name, sha256, scope }' },
);

const HTTP_SHAPE = '{ host, port, insecure, allowedOrigins, allowedHosts, bodyLimitBytes, closeGraceMs, authFailureLimit, tokens }';

/** `http:` — the HTTP API of `serve` and `daemon` (`HttpConfig`). */
const httpConfig = z.strictObject(
  {
    host: z
      .unknown()
      .transform((value, ctx) => {
        const host = typeof value === 'string' ? parseListenHost(value) : null;
        if (host !== null) return host;
        ctx.addIssue({ code: 'custom', message: `must be a host name or IP address to listen on (127.0.0.1, ::1, 0.0.0.0, localhost), got ${JSON.stringify(value)}` });
        return z.NEVER;
      })
      .optional(),
    port: bounded(HTTP_PORT_BOUNDS).optional(),
    insecure: z.boolean({ error: 'must be true or false' }).optional(),
    allowedOrigins: z.array(origin, { error: 'must be a list of origins (e.g. [\'https://ops.example.com\'])' }).optional(),
    allowedHosts: z.array(allowedHost, { error: 'must be a list of host names (e.g. [\'jobs.internal\'])' }).optional(),
    bodyLimitBytes: bounded({ min: 1, max: MAX_INT32, unit: 'bytes' }).optional(),
    closeGraceMs: bounded({ min: 0, max: MAX_INT32, unit: 'ms' }).optional(),
    authFailureLimit: integer(1).max(1_000_000, 'must be ≤ 1000000').optional(),
    tokens: z.array(httpToken, { error: 'must be a list of { name, sha256, scope }' }).optional(),
  },
  { error: `must be ${HTTP_SHAPE}` },
);

// zod skips refinements of a value once part of it failed; checks that must always run (unique
// job names, queue names, the store's schema-name rule) live in `crossFieldIssues`, and the
// store check sits on an `unknown` field, which never fails first. Every problem is reported in
// one pass.
const configSchema = z.strictObject({
  jobs: z.array(jobDefinition, { error: 'must be a list of job definitions (defineJob(...))' }),
  queues: z.record(z.string(), queueConfig, { error: 'must be an object of queue settings by queue name' }).optional(),
  store: z
    .unknown()
    .superRefine((store, ctx) => {
      if (store === undefined) return;
      for (const issue of storeIssues(store)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    })
    .optional(),
  schedules: z
    .unknown()
    .superRefine((schedules, ctx) => {
      if (schedules === undefined) return;
      for (const issue of scheduleIssues(schedules)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    })
    .optional(),
  builtins: builtinJobsConfigSchema.optional(),
  http: httpConfig.optional(),
  // Only the shape here: the rules themselves are checked where alerting is loaded (the daemon,
  // `serve`, `alerts …`), so that other commands do not load the rule schema.
  alerts: z
    .unknown()
    .superRefine((alerts, ctx) => {
      if (alerts === undefined) return;
      const isPath = typeof alerts === 'string' && alerts.trim() !== '';
      const isRules = typeof alerts === 'object' && alerts !== null && !Array.isArray(alerts);
      if (!isPath && !isRules) ctx.addIssue({ code: 'custom', message: 'must be a path to an alerts YAML file, or the rules ({ settings, jobFailures, queueHealth, performance, schedules })' });
    })
    .optional(),
  prune: pruneConfigSchema.optional(),
  pollIntervalMs: pollIntervalSchema.optional(),
  leaseMs: integer(1000, 'ms').optional(),
  shutdownTimeoutMs: bounded(SETTING_BOUNDS.shutdownTimeoutMs).optional(),
  logLevel: z.enum(LOG_LEVELS as [string, ...string[]], { error: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  maxPayloadBytes: positiveInt('bytes').optional(),
  workerId: name.optional(),
  setup: z.custom<NonNullable<NightshiftConfig['setup']>>((value) => typeof value === 'function', { error: 'must be a function' }).optional(),
});

function crossFieldIssues(value: Record<string, unknown>, schemaNameCheck: SchemaNameCheck | undefined): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (schemaNameCheck !== undefined && namesPostgresSchema(value)) {
    const schema = ((value.store as { postgres: { schema: string } }).postgres).schema;
    const problem = schemaNameCheck(schema);
    if (problem !== null) issues.push({ path: 'store.postgres.schema', message: problem });
  }
  if (Array.isArray(value.jobs)) {
    // Job names must be unique: the CLI and the worker look jobs up by name.
    const seen = new Map<string, number>();
    value.jobs.forEach((job: unknown, index) => {
      const jobName = typeof job === 'object' && job !== null ? (job as { name?: unknown }).name : undefined;
      if (typeof jobName !== 'string') return;
      const first = seen.get(jobName);
      if (first !== undefined) issues.push({ path: `jobs.${index}`, message: `duplicate job name "${jobName}" (also jobs.${first})` });
      else seen.set(jobName, index);
    });
  }
  if (typeof value.queues === 'object' && value.queues !== null) {
    for (const queue of Object.keys(value.queues)) {
      if (!isName(queue)) issues.push({ path: `queues.${queue}`, message: `queue name must be ${NAME_RULE}` });
    }
  }
  return issues;
}

/** Whether `value` looks like a Store instance rather than store settings. */
export function isStoreInstance(value: unknown): value is import('../store/types.js').Store {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['migrate', 'close', 'jobInsertMany', 'jobFetch', 'jobFinishMany'].every((method) => typeof candidate[method] === 'function');
}

// A zod union would report the failures of every branch; picking the branch by its key gives
// messages about the settings the user actually wrote.
function storeIssues(store: unknown): { path: (string | number)[]; message: string }[] {
  if (isStoreInstance(store)) return [];
  const shape = 'must be { sqlite: { path } }, { postgres: { connectionString, schema, poolSize, listen } } or a Store instance';
  if (typeof store !== 'object' || store === null || Array.isArray(store)) return [{ path: [], message: shape }];
  const schema = 'sqlite' in store ? sqliteConfig : 'postgres' in store ? postgresConfig : null;
  if (!schema) return [{ path: [], message: shape }];
  const result = schema.safeParse(store);
  if (result.success) return [];
  return result.error.issues.map((issue) => ({ path: issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part)), message: describeIssue(issue) }));
}

// Same reason as for the store: a union would hide which entry and field is wrong. Entries are
// checked with the scheduler's own schema (one shape for YAML and code); cron, time zone and job
// names are checked when the schedules are synced, against the jobs that are then known.
function scheduleIssues(schedules: unknown): { path: (string | number)[]; message: string }[] {
  const shape = 'must be a YAML file path or a list of schedules';
  if (typeof schedules === 'string') return schedules.length > 0 ? [] : [{ path: [], message: `${shape} (got an empty string)` }];
  if (!Array.isArray(schedules)) return [{ path: [], message: shape }];
  return schedules.flatMap((entry: unknown, index) => {
    const result = scheduleDefinitionSchema.safeParse(entry);
    if (result.success) return [];
    return result.error.issues.map((issue) => ({
      path: [index, ...issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part))],
      message: describeIssue(issue),
    }));
  });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return `is required (${issue.expected})`;
  if (issue.code === 'unrecognized_keys') return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
  return issue.message;
}

/** Turns zod issues into Nightshift's `{ path, message }` issues. */
function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: describeIssue(issue) }));
}

/** Formats issues as `path: message; path: message` for error messages. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => `${issue.path || '(config)'}: ${issue.message}`).join('; ');
}

/**
 * Checks a configuration object. Returns it typed, or throws a `ConfigError` naming `file` and
 * listing every problem (also available as `error.issues`). `schemaNameCheck` (see
 * `loadSchemaNameCheck`) checks `store.postgres.schema`; without it only its type is checked.
 */
export function validateConfig(value: unknown, file?: string, options: { schemaNameCheck?: SchemaNameCheck } = {}): NightshiftConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(
      `the configuration must be an object (export default defineConfig({ jobs: [...] })), got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
      file === undefined ? {} : { file },
    );
  }
  const result = configSchema.safeParse(value);
  const extra = crossFieldIssues(value as Record<string, unknown>, options.schemaNameCheck);
  if (!result.success || extra.length > 0) {
    const issues = [...(result.success ? [] : toIssues(result.error)), ...extra];
    throw new ConfigError(`invalid configuration: ${formatIssues(issues)}`, file === undefined ? { issues } : { file, issues });
  }
  return { ...result.data, store: result.data.store as StoreConfig | undefined } as NightshiftConfig;
}

/** The keys of a YAML schedule file that hold settings (besides `schedules:`), each checked by the code config's own rule. */
const FILE_SETTINGS = {
  builtins: builtinJobsConfigSchema,
  prune: pruneConfigSchema,
  pollIntervalMs: pollIntervalSchema,
} as const;

/** What each settings key of a YAML schedule file holds once validated. */
export interface FileSettings {
  builtins: BuiltinJobsConfig;
  prune: ValidatedPrune;
  pollIntervalMs: number;
}

/**
 * Checks one settings key of a YAML schedule file (`builtins:`, `prune:`, `pollIntervalMs:`) with
 * the same rules as the code config's. Throws a `ConfigError` naming `file` and the line of the
 * first problem (each listed problem carries its own line).
 */
export function validateFileSetting<K extends keyof FileSettings>(
  key: K,
  value: unknown,
  file: string,
  lineAt: (issuePath: string) => number | undefined,
): FileSettings[K] {
  const result = FILE_SETTINGS[key].safeParse(value);
  if (result.success) return result.data as FileSettings[K];
  const issues = toIssues(result.error).map((issue) => {
    const path = issue.path === '' ? key : `${key}.${issue.path}`;
    const line = lineAt(path);
    return { path, message: `${line === undefined ? '' : `line ${line}: `}${issue.message}` };
  });
  const line = lineAt((issues[0] as ValidationIssue).path);
  throw new ConfigError(`invalid configuration: ${formatIssues(issues)}`, { file, ...(line === undefined ? {} : { line }), issues });
}

/** Checks the `builtins:` key of a YAML schedule file (see `validateFileSetting`). */
export function validateFileBuiltins(value: unknown, file: string, lineAt: (issuePath: string) => number | undefined): BuiltinJobsConfig {
  return validateFileSetting('builtins', value, file, lineAt);
}
