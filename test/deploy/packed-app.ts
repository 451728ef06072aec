/**
 * An app folder as a deployment has it: this package as `npm pack` publishes it (only its
 * `files`), unpacked into the app's node_modules/nightshift, next to the app's own files.
 *
 * The package's dependencies are not downloaded again: each one its package.json declares is
 * linked from this checkout's node_modules. A real `npm install` of the tarball takes ~10 s even
 * from the cache, and minutes where better-sqlite3 compiles from source; linking keeps the test in
 * `npm test` and still fails on what a deployment would: a file missing from the package, a
 * runtime import that is not a declared dependency (it resolves from the app's node_modules,
 * where only declared ones are).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface PackedApp {
  /** The app folder (what the image's WORKDIR /app holds). */
  dir: string;
  /** Files of the packed package, relative to node_modules/nightshift. */
  packedFiles: readonly string[];
  /** The packed package.json. */
  manifest: { bin?: Record<string, string>; dependencies?: Record<string, string> };
  cleanup(): void;
}

/** Packs this repository and lays out an app folder with `files` (name → text) around it. */
export function createPackedApp(files: Record<string, string>): PackedApp {
  const root = mkdtempSync(join(tmpdir(), 'nightshift-packed-'));
  try {
    // --ignore-scripts: `prepare` would build again; the tests run on the built dist.
    const output = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [packed] = JSON.parse(output) as { filename: string; files: { path: string }[] }[];
    if (!packed) throw new Error(`npm pack printed no package: ${output}`);
    const dir = join(root, 'app');
    const installed = join(dir, 'node_modules', 'nightshift');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(root, packed.filename), '-C', installed, '--strip-components=1']);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackedApp['manifest'];
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const target = join(dir, 'node_modules', name);
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(realpathSync(join(repoRoot, 'node_modules', name)), target, 'dir');
    }
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return { dir, packedFiles: packed.files.map((file) => file.path), manifest, cleanup: () => rmSync(root, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

/** One instruction of a Dockerfile: its keyword (upper case), its arguments, its stage (0-based). */
export interface DockerInstruction {
  keyword: string;
  args: string;
  stage: number;
}

/**
 * Reads a Dockerfile's instructions: comments and blank lines dropped, continuation lines
 * (ending in a backslash) joined, each instruction numbered by the FROM stage it belongs to.
 */
export function parseDockerfile(text: string): DockerInstruction[] {
  const instructions: DockerInstruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const match = /^(\S+)\s*(.*)$/.exec(pending) as RegExpExecArray;
    const keyword = (match[1] as string).toUpperCase();
    if (keyword === 'FROM') stage++;
    instructions.push({ keyword, args: match[2] as string, stage });
    pending = '';
  }
  return instructions;
}

/** The argv of an exec-form (JSON array) instruction; throws for the shell form. */
export function execForm(args: string): string[] {
  const argv: unknown = args.trim().startsWith('[') ? JSON.parse(args) : null;
  if (!Array.isArray(argv) || !argv.every((part) => typeof part === 'string')) {
    throw new Error(`not in exec form (a JSON array): ${args}`);
  }
  return argv as string[];
}
