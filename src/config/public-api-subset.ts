/**
 * The part of the public API that a config uses, loaded without the rest.
 *
 * A config typically imports `defineConfig`, `defineJob` and an error class from `nightshift`;
 * loading the whole entry point for that would load the worker, the scheduler, the YAML parser
 * and both database drivers into every `nightshift list`. The entry point (index.ts and what it
 * re-exports) is a list of `export { names } from './module.js'` lines, so the module of each
 * name is known from its text: this loads only the modules of the names asked for, plus the
 * modules re-exported whole (`export * from`, the error classes).
 *
 * Any doubt falls back to the whole entry point: a name the text does not list, a line this
 * reader does not understand, a module that fails to load.
 */
import { readFileSync } from 'node:fs';

/** Where each public name comes from, read from the entry point's text. */
interface ExportMap {
  /** Exported name → [module URL, name in that module]. */
  named: Map<string, [string, string]>;
  /** Modules re-exported whole (`export * from`) that re-export nothing themselves. */
  whole: string[];
}

const REEXPORT_NAMES = /^export\s*\{([^}]*)\}\s*from\s*['"]([^'"]+)['"];?\s*$/;
const REEXPORT_ALL = /^export\s*\*\s*from\s*['"]([^'"]+)['"];?\s*$/;

/** Reads the re-exports of a module file; null when it has a line this reader cannot place. */
function readExportMap(url: URL, map: ExportMap, depth = 0): boolean {
  const text = readFileSync(url, 'utf8');
  const lines = text.split('\n').map((line) => line.trim());
  const reexports = lines.filter((line) => line.startsWith('export') && !line.startsWith('export type') && /\bfrom\b/.test(line));
  if (reexports.length === 0) return false;
  for (const line of reexports) {
    const names = REEXPORT_NAMES.exec(line);
    const all = REEXPORT_ALL.exec(line);
    if (names) {
      const from = new URL(names[2] as string, url).href;
      for (const part of (names[1] as string).split(',')) {
        const [local, exported] = part.trim().split(/\s+as\s+/);
        if (!local) continue;
        map.named.set((exported ?? local).trim(), [from, local.trim()]);
      }
    } else if (all) {
      const from = new URL(all[1] as string, url);
      // A module of its own declarations (errors.ts) is loaded whole; one of re-exports is followed.
      if (depth > 4 || !readExportMap(from, map, depth + 1)) map.whole.push(from.href);
    } else {
      throw new Error(`cannot read the re-export ${JSON.stringify(line)}`);
    }
  }
  return true;
}

let exportMap: ExportMap | null | undefined;

function publicExportMap(entry: URL): ExportMap | null {
  if (exportMap === undefined) {
    try {
      const map: ExportMap = { named: new Map(), whole: [] };
      exportMap = readExportMap(entry, map) ? map : null;
    } catch {
      exportMap = null;
    }
  }
  return exportMap;
}

/**
 * The public API as an object holding `names` (and the error classes), or the whole entry point
 * when `names` is null or anything is in doubt. `entry` is the URL of the package's index module.
 */
export async function importPublicApi(entry: URL, names: ReadonlySet<string> | null, importWhole: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const map = names === null ? null : publicExportMap(entry);
  if (map === null || names === null) return importWhole();
  const wanted: [string, [string, string]][] = [];
  for (const name of names) {
    const source = map.named.get(name);
    if (source !== undefined) wanted.push([name, source]);
  }
  try {
    const api: Record<string, unknown> = {};
    for (const module of await Promise.all(map.whole.map((url) => import(url) as Promise<Record<string, unknown>>))) Object.assign(api, module);
    const modules = await Promise.all(wanted.map(([, [url]]) => import(url) as Promise<Record<string, unknown>>));
    wanted.forEach(([name, [, local]], index) => (api[name] = (modules[index] as Record<string, unknown>)[local]));
    // A name used but exported by nothing read here: let the whole entry point decide.
    for (const name of names) if (!(name in api)) return importWhole();
    return api;
  } catch {
    return importWhole();
  }
}
