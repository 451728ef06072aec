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
import { ConfigError, ValidationError, type ValidationIssue } from '../errors.js';
import { builtinNotEnabledHint } from '../jobs/builtin-names.js';
import type { ScheduleInput, ScheduleSource, Store } from '../store/types.js';
import { checkScheduleDefinition, type JobRegistry } from './schedule-definition.js';
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
  return (await parseScheduleFileLocated(text, file, options)).schedules;
}

/** `parseScheduleFile`, with the line of an issue path in the file (for errors found later, by the sync). */
async function parseScheduleFileLocated(text: string, file: string, options: ScheduleFileOptions): Promise<{ schedules: ScheduleInput[]; lineAt: (issuePath: string) => number | undefined }> {
  const { root, lineAt } = parseYamlFile(text, file);
  const entries = root.schedules;
  if (!Array.isArray(entries)) {
    const line = lineAt('schedules') ?? 1;
    throw new ConfigError(
      entries === undefined ? 'no "schedules:" list found (write "schedules: []" to declare none)' : '"schedules" must be a list of schedules',
      { file, line },
    );
  }
  return { schedules: await resolveScheduleEntries(entries, 'file', options, (path) => ({ line: lineAt(path) }), file), lineAt };
}

/** An `UNKNOWN_JOB` error for a built-in job that is off, with how to turn it on; any other error unchanged. */
function withBuiltinHint(error: ValidationError, entry: unknown): ValidationError {
  if (error.code !== 'UNKNOWN_JOB') return error;
  const jobId = typeof entry === 'object' && entry !== null ? (entry as { jobId?: unknown }).jobId : undefined;
  const hint = typeof jobId === 'string' ? builtinNotEnabledHint(jobId) : undefined;
  if (hint === undefined) return error;
  return new ValidationError('UNKNOWN_JOB', `${error.message} (${hint})`, { cause: error, issues: [...error.issues] });
}

/** One problem of a declaration: the error, the field it names, and that field's line when known. */
interface EntryProblem {
  error: ValidationError;
  path: string;
  line: number | undefined;
  entry: number;
}

/**
 * Validates a list of schedule definitions (from YAML or code) into `ScheduleInput`s of `source`,
 * collecting every problem of every entry — each field checked, not only up to the first problem
 * — into one `ConfigError` (with `file`/`line` when `locate` knows them; each listed problem
 * carries its own line, in file order).
 */
export async function resolveScheduleEntries(
  entries: readonly unknown[],
  source: Exclude<ScheduleSource, 'api'>,
  options: ScheduleFileOptions,
  locate: (path: string) => Located = () => ({ line: undefined }),
  file?: string,
): Promise<ScheduleInput[]> {
  const problems: EntryProblem[] = [];
  const resolved: ScheduleInput[] = [];
  const firstIndexOfId = new Map<string, number>();
  const add = (error: ValidationError, entry: number, where: string): void => {
    const path = error.issues[0]?.path ?? where;
    problems.push({ error, path, line: locate(path).line ?? locate(where).line, entry });
  };
  for (const [index, entry] of entries.entries()) {
    const where = `schedules[${index}]`;
    const check = await checkScheduleDefinition(entry, {
      jobs: options.jobs,
      source,
      where,
      ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes }),
    });
    for (const problem of check.problems) add(withBuiltinHint(problem, entry), index, where);
    if (check.id !== null) {
      const first = firstIndexOfId.get(check.id);
      if (first === undefined) {
        firstIndexOfId.set(check.id, index);
      } else {
        const firstLine = locate(`schedules[${first}]`).line;
        const ownId = typeof entry === 'object' && entry !== null && (entry as { id?: unknown }).id !== undefined;
        const path = `${where}.id`;
        const message = `schedule id "${check.id}" is already used by schedules[${first}]${firstLine ? ` (line ${firstLine})` : ''}; ${ownId ? 'give one of them another "id"' : 'give one of them an "id"'}`;
        add(new ValidationError('DUPLICATE_SCHEDULE', `${path}: ${message}`, { issues: [{ path, message: `duplicate schedule id "${check.id}"` }] }), index, where);
      }
    }
    if (check.input !== null && check.problems.length === 0) resolved.push(check.input);
  }
  if (problems.length > 0) throw problemsError(problems, file);
  return resolved;
}

/**
 * One `ConfigError` for every problem of a declaration: a single problem as its message, several
 * as a count and one line each (`line 11: schedules[1].schedule: … (INVALID_CRON)`), in file
 * order. `file`/`line` point at the first; `cause` is the first problem's own error (its code:
 * `INVALID_CRON`, `UNKNOWN_JOB`, `DUPLICATE_SCHEDULE`…); `issues` has one per problem, with its
 * line. Every message starts with the path it names, so a printed error names each once.
 */
function problemsError(unordered: readonly EntryProblem[], file: string | undefined): ConfigError {
  // File order; problems without a line (a code config) keep the order they were found in.
  const problems = [...unordered].sort((a, b) => (a.line !== undefined && b.line !== undefined ? a.line - b.line : a.entry - b.entry));
  const first = problems[0] as EntryProblem;
  const issues: ValidationIssue[] = problems.map((problem) => ({
    path: problem.path,
    message: `${problem.line !== undefined ? `line ${problem.line}: ` : ''}${problem.error.message} (${problem.error.code})`,
  }));
  const entries = new Set(problems.map((problem) => problem.entry)).size;
  const summary =
    problems.length === 1
      ? `${first.error.message} (${first.error.code})`
      : `${problems.length} problems in ${entries === 1 ? '1 schedule' : `${entries} schedules`}:\n  ${issues.map((issue) => issue.message).join('\n  ')}`;
  return new ConfigError(summary, {
    ...(file === undefined ? {} : { file }),
    ...(first.line === undefined ? {} : { line: first.line }),
    cause: first.error,
    issues,
  });
}

/** Reads and validates a schedule file (see `parseScheduleFile`). */
export async function loadScheduleFile(path: string, options: ScheduleFileOptions): Promise<ScheduleInput[]> {
  return (await loadScheduleFileLocated(path, options)).schedules;
}

async function loadScheduleFileLocated(path: string, options: ScheduleFileOptions): ReturnType<typeof parseScheduleFileLocated> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the schedule file: ${error instanceof Error ? error.message : String(error)}`, { file: path, cause: error });
  }
  return parseScheduleFileLocated(text, path, options);
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
  const { schedules, lineAt } = await loadScheduleFileLocated(options.path, options);
  try {
    return await syncSchedules({ store: options.store, schedules, source: 'file', deleteUndeclared: options.deleteUndeclared === true });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    // Issue paths name entries (`schedules[2].id`): every entry was valid, so each is its own index.
    const path = error.issues[0]?.path;
    const line = path === undefined ? undefined : lineAt(path);
    throw new ConfigError(`${error.message} (${error.code})`, { file: options.path, ...(line === undefined ? {} : { line }), cause: error, issues: [...error.issues] });
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
