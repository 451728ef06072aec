/**
 * Which programs the built-in `command` job may start: `builtins.command.allow`.
 *
 * An entry is an absolute path (`/usr/local/bin/backup`), taken as written, or a bare program name
 * (`pg_dump`), resolved against `PATH` once, when the config loads: a name found nowhere is a
 * config error, and a `PATH` changed later changes nothing. A job's `argv[0]` must be an entry as
 * written or the absolute path it resolved to (compared as strings: `/usr/bin/../bin/pg_dump` is
 * not `/usr/bin/pg_dump`), and the job always starts that resolved path.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, normalize } from 'node:path';
import { ConfigError, type ValidationIssue } from '../errors.js';

/** One allowed program. */
export interface AllowedProgram {
  /** The entry as written in the config. */
  readonly written: string;
  /** The absolute path started for it. */
  readonly path: string;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where `name` is found on `searchPath` (a `PATH` value), or null. Relative and empty `PATH`
 * entries (which mean "the working directory") are skipped: a program is never picked from
 * wherever the worker happens to run.
 */
export function findOnPath(name: string, searchPath: string): string | null {
  for (const dir of searchPath.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/** Whether `entry` has an allowed shape: an absolute path, or a bare name without any `/`. */
export function isProgramEntry(entry: string): boolean {
  return entry.length > 0 && !entry.includes('\0') && (isAbsolute(entry) || !entry.includes('/'));
}

/** The parsed and resolved `builtins.command.allow` list. */
export class CommandAllowList {
  readonly programs: readonly AllowedProgram[];

  /**
   * Resolves the entries; throws a `ConfigError` listing every entry that is malformed or not
   * found on `searchPath` (default: this process's `PATH`).
   */
  constructor(allow: readonly string[], searchPath: string = process.env.PATH ?? '') {
    const issues: ValidationIssue[] = [];
    const programs: AllowedProgram[] = [];
    allow.forEach((written, index) => {
      const path = `builtins.command.allow.${index}`;
      if (!isProgramEntry(written)) {
        issues.push({ path, message: `"${written}" must be an absolute path or a bare program name (looked up in PATH)` });
      } else if (isAbsolute(written)) {
        programs.push({ written, path: normalize(written) });
      } else {
        const found = findOnPath(written, searchPath);
        if (found === null) issues.push({ path, message: `"${written}" is not an executable file in any directory of PATH (${searchPath || 'empty'}); install it or write its absolute path` });
        else programs.push({ written, path: found });
      }
    });
    if (issues.length > 0) {
      throw new ConfigError(`invalid configuration: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { issues });
    }
    this.programs = programs;
  }

  /** The allowed program `argv0` names, or undefined. */
  find(argv0: string): AllowedProgram | undefined {
    return this.programs.find((program) => program.written === argv0 || program.path === argv0);
  }

  /** The entries as written, for messages. */
  describe(): string {
    return this.programs.map((program) => (program.written === program.path ? program.path : `${program.written} (${program.path})`)).join(', ');
  }
}
