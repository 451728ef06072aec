/**
 * YAML schedule files:
 *
 * ```yaml
 * schedules:
 *   - jobId: daily.questmaster
 *     schedule: "0 9 * * *"
 *     enabled: true
 *     timezone: "America/New_York"   # optional, default UTC
 *     description: "Daily quest unlocking"
 *     input: { orgId: "default-org" }
 * ```
 *
 * Each entry is a `ScheduleDefinition` (schedule-definition.ts). Every entry is checked before
 * anything is written, and all problems are reported together in one `ConfigError` whose `file`
 * and `line` point at the first one (each listed problem carries its own line). Other top-level
 * keys are left to their own readers (`builtins:`: the config loader, load-config.ts).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import { ConfigError, NightshiftError, ValidationError, type ValidationIssue } from '../errors.js';
import { builtinNotEnabledHint } from '../jobs/builtin-names.js';
import type { ScheduleInput, ScheduleSource, Store } from '../store/types.js';
import { resolveScheduleDefinition, type JobRegistry } from './schedule-definition.js';
import { syncSchedules, type ScheduleSyncResult } from './schedule-sync.js';

/**
 * The YAML parser, loaded on the first file parsed: the config loader imports this module for
 * every command, and most commands of most apps read no YAML (its CommonJS build loads
 * synchronously; nothing else in the library uses the package).
 */
let yamlModule: typeof import('yaml') | null = null;
function yaml(): typeof import('yaml') {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yamlModule;
}

/** Largest YAML alias expansion accepted (guards against "billion laughs" files). */
const MAX_ALIAS_COUNT = 100;

/** Options shared by the schedule-file functions. */
export interface ScheduleFileOptions {
  jobs: JobRegistry;
  /** Largest serialized input, bytes; default 1 MiB. */
  maxPayloadBytes?: number;
}

interface Located {
  /** 1-based line, or undefined when unknown. */
  line: number | undefined;
}

function lineOf(document: Document, lineCounter: LineCounter, path: (string | number)[]): number | undefined {
  const { isMap, isNode, isScalar } = yaml();
  // The deepest node that exists on the path: a missing field points at its entry.
  for (let depth = path.length; depth > 0; depth--) {
    // A field is where its key is: a block value (`builtins:` then its settings) starts a line later.
    const parent: unknown = depth === 1 ? document.contents : document.getIn(path.slice(0, depth - 1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === path[depth - 1]);
      if (pair !== undefined && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
    }
    const node: unknown = document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Maps an issue path like `schedules[2].input.orgId` to the YAML path `['schedules', 2, 'input', 'orgId']`. */
function yamlPath(issuePath: string): (string | number)[] {
  const path: (string | number)[] = [];
  for (const part of issuePath.split('.')) {
    const match = /^([^[]*)\[(\d+)\]$/.exec(part);
    if (match) {
      if (match[1]) path.push(match[1]);
      path.push(Number(match[2]));
    } else if (part !== '') {
      path.push(/^\d+$/.test(part) ? Number(part) : part);
    }
  }
  return path;
}

function codeOf(error: unknown): string {
  return error instanceof NightshiftError ? error.code : 'ERROR';
}

/** A parsed YAML config file: its top-level mapping, and where things are in it. */
export interface ParsedYamlFile {
  root: Record<string, unknown>;
  /** The 1-based line of an issue path (`schedules[2].input.orgId`, `builtins.command.allow.1`), when known. */
  lineAt(issuePath: string): number | undefined;
}

/**
 * Parses YAML text whose top level must be a mapping (`file` names it in errors). Throws a
 * `ConfigError` with the line of a syntax error, or of a top level that is not a mapping.
 */
export function parseYamlFile(text: string, file: string, expected = 'a mapping with a "schedules:" list'): ParsedYamlFile {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const syntax = document.errors[0];
  if (syntax !== undefined) {
    const line = syntax.linePos?.[0]?.line ?? lineCounter.linePos(syntax.pos[0]).line;
    // An unquoted `*/15 * * * *` or `@daily` is YAML syntax (an alias, a reserved character).
    const hint = /alias|reserved character/i.test(syntax.message) ? ' (quote cron expressions: schedule: "*/15 * * * *")' : '';
    throw new ConfigError(`invalid YAML: ${syntax.message.split('\n')[0]}${hint}`, { file, ...(line === undefined ? {} : { line }), cause: syntax });
  }
  let root: unknown;
  try {
    root = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    throw new ConfigError(`cannot read YAML: ${error instanceof Error ? error.message : String(error)}`, { file, cause: error });
  }
  if (root === null || root === undefined || typeof root !== 'object' || Array.isArray(root)) {
    throw new ConfigError(`expected ${expected} at the top level`, { file, line: 1 });
  }
  return { root: root as Record<string, unknown>, lineAt: (issuePath) => lineOf(document, lineCounter, yamlPath(issuePath)) };
}

/**
 * Parses and validates a schedule file's text. `file` names it in errors. Returns the schedules to
 * store (source `file`), or throws one `ConfigError` listing every problem; its `cause` is the
 * first problem's own error (with its code: `INVALID_CRON`, `UNKNOWN_JOB`, `DUPLICATE_SCHEDULE`…).
 * Other top-level keys are read elsewhere (`builtins:` by the config loader).
 */
export async function parseScheduleFile(text: string, file: string, options: ScheduleFileOptions): Promise<ScheduleInput[]> {
  const { root, lineAt } = parseYamlFile(text, file);
  const entries = root.schedules;
  if (!Array.isArray(entries)) {
    const line = lineAt('schedules') ?? 1;
    throw new ConfigError(
      entries === undefined ? 'no "schedules:" list found (write "schedules: []" to declare none)' : '"schedules" must be a list of schedules',
      { file, line },
    );
  }
  return resolveScheduleEntries(entries, 'file', options, (path) => ({ line: lineAt(path) }), file);
}

/** An `UNKNOWN_JOB` error for a built-in job that is off, with how to turn it on; any other error unchanged. */
function withBuiltinHint(error: unknown, entry: unknown): unknown {
  if (!(error instanceof ValidationError) || error.code !== 'UNKNOWN_JOB') return error;
  const jobId = typeof entry === 'object' && entry !== null ? (entry as { jobId?: unknown }).jobId : undefined;
  const hint = typeof jobId === 'string' ? builtinNotEnabledHint(jobId) : undefined;
  if (hint === undefined) return error;
  return new ValidationError('UNKNOWN_JOB', `${error.message} (${hint})`, { cause: error, issues: [...error.issues] });
}

/**
 * Validates a list of schedule definitions (from YAML or code) into `ScheduleInput`s of `source`,
 * collecting every problem into one `ConfigError` (with `file`/`line` when `locate` knows them).
 */
export async function resolveScheduleEntries(
  entries: readonly unknown[],
  source: Exclude<ScheduleSource, 'api'>,
  options: ScheduleFileOptions,
  locate: (path: string) => Located = () => ({ line: undefined }),
  file?: string,
): Promise<ScheduleInput[]> {
  const problems: { error: unknown; path: string; line: number | undefined }[] = [];
  const resolved: ScheduleInput[] = [];
  const firstIndexOfId = new Map<string, number>();
  for (const [index, entry] of entries.entries()) {
    const where = `schedules[${index}]`;
    try {
      const input = await resolveScheduleDefinition(entry, {
        jobs: options.jobs,
        source,
        where,
        ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes }),
      });
      const first = firstIndexOfId.get(input.id);
      if (first !== undefined) {
        const firstLine = locate(`schedules[${first}]`).line;
        throw new ValidationError('DUPLICATE_SCHEDULE', `${where}: schedule id "${input.id}" is already used by schedules[${first}]${firstLine ? ` (line ${firstLine})` : ''}; give one of them an "id"`, {
          issues: [{ path: `${where}.id`, message: `duplicate schedule id "${input.id}"` }],
        });
      }
      firstIndexOfId.set(input.id, index);
      resolved.push(input);
    } catch (caught) {
      const error = withBuiltinHint(caught, entry);
      const issuePath = error instanceof NightshiftError && error.issues[0] ? error.issues[0].path : where;
      problems.push({ error, path: issuePath, line: locate(issuePath).line ?? locate(where).line });
    }
  }
  if (problems.length > 0) {
    const first = problems[0] as (typeof problems)[number];
    const issues: ValidationIssue[] = problems.map((problem) => ({
      path: problem.path,
      message: `${problem.line !== undefined ? `line ${problem.line}: ` : ''}${problem.error instanceof Error ? problem.error.message : String(problem.error)} (${codeOf(problem.error)})`,
    }));
    const summary = problems.length === 1 ? (issues[0] as ValidationIssue).message.replace(/^line \d+: /, '') : `${problems.length} invalid schedules:\n  ${issues.map((issue) => issue.message).join('\n  ')}`;
    throw new ConfigError(summary, {
      ...(file === undefined ? {} : { file }),
      ...(first.line === undefined ? {} : { line: first.line }),
      cause: first.error,
      issues,
    });
  }
  return resolved;
}

/** Reads and validates a schedule file (see `parseScheduleFile`). */
export async function loadScheduleFile(path: string, options: ScheduleFileOptions): Promise<ScheduleInput[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the schedule file: ${error instanceof Error ? error.message : String(error)}`, { file: path, cause: error });
  }
  return parseScheduleFile(text, path, options);
}

/** Options of the sync functions: see `SyncSchedulesOptions.deleteUndeclared`. */
export interface ScheduleSyncFileOptions extends ScheduleFileOptions {
  store: Store;
  /**
   * Delete stored schedules of the same source that the declaration does not list; default
   * false: they are kept and reported in `undeclared`, since another schedule file on the same
   * store may declare them (schedule-sync.ts).
   */
  deleteUndeclared?: boolean;
}

/**
 * Daemon start: validates the schedule file, then makes the store's file-managed schedules match
 * it (see schedule-sync.ts). Nothing is written when any entry is invalid.
 */
export async function syncScheduleFile(options: ScheduleSyncFileOptions & { path: string }): Promise<ScheduleSyncResult> {
  const schedules = await loadScheduleFile(options.path, options);
  try {
    return await syncSchedules({ store: options.store, schedules, source: 'file', deleteUndeclared: options.deleteUndeclared === true });
  } catch (error) {
    if (error instanceof ValidationError) throw new ConfigError(`${error.message} (${error.code})`, { file: options.path, cause: error, issues: [...error.issues] });
    throw error;
  }
}

/**
 * Same as `syncScheduleFile` for schedules listed in code (the config's `schedules: [...]`),
 * stored with source `code`.
 */
export async function syncScheduleDefinitions(options: ScheduleSyncFileOptions & { schedules: readonly unknown[] }): Promise<ScheduleSyncResult> {
  const schedules = await resolveScheduleEntries(options.schedules, 'code', options);
  return syncSchedules({ store: options.store, schedules, source: 'code', deleteUndeclared: options.deleteUndeclared === true });
}
