/**
 * The on-disk cache of compiled config modules: a TypeScript config and every TypeScript file it
 * imports are compiled once (by jiti, which is slow to load) and then read back by content.
 *
 * - Keyed by content: an entry's name is a hash of the cache format, the file's path and its
 *   source text, so editing a file (or a file it imports: each has its own entry) makes a new
 *   entry. An entry also holds the path and text it was compiled from, and is read only when both
 *   are the file's now, so a stale entry is never read whatever the hash. Old entries are left
 *   behind; they are small and the cache is a cache (delete the folder at any time).
 * - Safe when processes write at once: an entry is written to a file of its own (pid and random
 *   suffix) and renamed into place, which replaces atomically; a reader sees a whole entry or none,
 *   and two writers of one key write the same text.
 * - Where: `node_modules/.cache/nightshift/config` of the nearest `node_modules` folder above the
 *   config file (where build tools keep their caches, ignored by git), else (none, or not
 *   writable) a folder of this user in the OS temp dir. A temp folder that another user could
 *   have written is not used, since an entry is code that runs: the cache is then off.
 */
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Changes whenever the shape of an entry or the way code is compiled changes, so entries written
 * by another version are never read as this one's.
 */
const CACHE_FORMAT = 'nightshift-config-module-v2';

/** A compiled module as cached. */
export interface CompiledModule {
  /** The module compiled to a CommonJS-style async function body (jiti's output in async mode). */
  code: string;
  /**
   * The static import specifiers of the module, resolved when it was compiled: specifier → file
   * URL. Bare specifiers (packages) resolve with the ESM conditions from the module's own folder.
   */
  imports: Record<string, string>;
}

/** What an entry was compiled from: it is used only for this very file and text. */
export interface CompiledFrom {
  /** Absolute path of the source file. */
  file: string;
  /** Its text when it was compiled. */
  source: string;
}

/** The cache folder for a config file, or null when no safe one can be had (the cache is then off). */
export function configCacheDir(configFile: string): string | null {
  for (let dir = dirname(configFile); ; dir = dirname(dir)) {
    const modules = join(dir, 'node_modules');
    if (existsSync(modules)) {
      const cache = join(modules, '.cache', 'nightshift', 'config');
      try {
        // A node_modules this user cannot write (an image built by root, run as another user)
        // would make every run compile again: use the temp folder instead.
        mkdirSync(cache, { recursive: true });
        accessSync(cache, constants.W_OK);
        return cache;
      } catch {
        break;
      }
    }
    if (dirname(dir) === dir) break;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  const dir = join(tmpdir(), `nightshift-config-cache-${uid ?? 'user'}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = lstatSync(dir);
    // Only a real folder of ours that nobody else can write into.
    if (!stat.isDirectory() || (uid !== null && stat.uid !== uid) || (stat.mode & 0o022) !== 0) return null;
    return dir;
  } catch {
    return null;
  }
}

/**
 * The entry key of a file's source text: 64 hex digits hashed from the cache format, the path and
 * the text — eight 32-bit FNV-1a lanes, each started from its own offset and finished with
 * MurmurHash3's mixer. Not a cryptographic hash, and it need not be: an entry is only read for the
 * path and text it holds (`readCachedModule`), so two texts of one key cost a compile, never a
 * wrong module. (node:crypto's SHA-256 would do, but loading node:crypto takes ~8 ms, as long as
 * the rest of reading a cached config.)
 */
export function cacheKey(file: string, source: string): string {
  const text = `${CACHE_FORMAT}\0${file}\0${source}`;
  let key = '';
  for (let lane = 1; lane <= 8; lane++) {
    let hash = (0x811c9dc5 ^ Math.imul(lane, 0x9e3779b9)) >>> 0;
    for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    key += ((hash ^ (hash >>> 16)) >>> 0).toString(16).padStart(8, '0');
  }
  return key;
}

/**
 * Reads an entry; null when missing, unreadable, or compiled from another path or text (then it
 * is compiled again).
 */
export function readCachedModule(dir: string, key: string, from: CompiledFrom): CompiledModule | null {
  try {
    const entry = JSON.parse(readFileSync(join(dir, `${key}.json`), 'utf8')) as Partial<CompiledModule & CompiledFrom>;
    if (entry.file !== from.file || entry.source !== from.source) return null;
    if (typeof entry.code !== 'string' || typeof entry.imports !== 'object' || entry.imports === null) return null;
    return { code: entry.code, imports: entry.imports };
  } catch {
    return null;
  }
}

/**
 * Writes an entry atomically (write a private file, rename it into place). A cache that cannot
 * be written (read-only file system, full disk) only costs the next run a compile.
 */
export function writeCachedModule(dir: string, key: string, entry: CompiledModule, from: CompiledFrom): void {
  // The suffix only keeps two writers of one process apart; the pid keeps processes apart.
  const temp = join(dir, `.${key}.${process.pid}.${Math.random().toString(16).slice(2, 10)}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(temp, JSON.stringify({ file: from.file, source: from.source, code: entry.code, imports: entry.imports }));
    renameSync(temp, join(dir, `${key}.json`));
  } catch {
    rmSync(temp, { force: true });
  }
}
