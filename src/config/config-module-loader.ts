/**
 * Loads a config module — TypeScript or JavaScript — and the TypeScript files it imports, without
 * a build step, fast on every run but the first.
 *
 * TypeScript files are compiled by jiti (its Babel transform, in async mode) into a CommonJS-style
 * async function body whose imports are `await jitiImport(specifier)` calls, and the result is kept
 * in the compiled-module cache (config-module-cache.ts) with its imports already resolved. Loading
 * then needs neither jiti nor Babel, which take most of a command's time to load: this module
 * evaluates the cached code itself and only loads jiti to compile a file it has not seen (or
 * changed) and to resolve a specifier only known at run time.
 *
 * How imports are served (the rules jiti applies too):
 * - `nightshift` is the very library this code runs from (the `api` given by the caller), so the
 *   config's jobs and errors are this process's classes: a second copy of the library would make
 *   `instanceof` checks between the CLI and the user's jobs silently fail;
 * - TypeScript files are evaluated here, through the cache, each once per load (cycles see the
 *   exports filled so far, as in CommonJS);
 * - JSON files are parsed; everything else (packages, JavaScript files, Node built-ins) is loaded
 *   by Node's own loader, which shares its module cache with this process — except a JavaScript
 *   file of the app that imports `nightshift` by name, or that Node cannot load as a module (ESM
 *   syntax in a CommonJS package): it is compiled like TypeScript.
 *
 * Only the part of the library that a module reads is loaded before it runs (the caller's `api`):
 * listing jobs then loads neither the worker, nor the scheduler, nor a database driver.
 *
 * Each `loadConfigModule` call evaluates the files afresh (edits between two loads in one process
 * are seen), like jiti with its module cache off.
 */
import { readFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runInThisContext } from 'node:vm';
import { cacheKey, configCacheDir, readCachedModule, writeCachedModule, type CompiledModule } from './config-module-cache.js';

/** A path inside a package folder. */
const IN_NODE_MODULES = /[\\/]node_modules[\\/]/;

/** File extensions compiled as TypeScript. */
const TYPESCRIPT = /\.[cm]?tsx?$/i;

/** The part of jiti this module uses, loaded on first need. */
interface Compiler {
  transform(options: { source: string; filename: string; ts: boolean; jsx?: boolean; async: boolean; interopDefault: boolean; retainLines: boolean }): string;
  esmResolve(id: string, options: { parentURL: string; try: true }): string | undefined;
}

/** The `module` object a compiled module sees, as in CommonJS. */
interface LoadedModule {
  exports: Record<string, unknown>;
  id: string;
  filename: string;
  loaded: boolean;
}

/** A failure to compile a file: its parse error with the line, for the config loader's message. */
export class ConfigModuleSyntaxError extends SyntaxError {
  readonly file: string;
  readonly line: number | undefined;
  constructor(message: string, file: string, line: number | undefined) {
    super(message);
    this.name = 'SyntaxError';
    this.file = file;
    this.line = line;
  }
}

/** What `loadConfigModule` needs from its caller. */
export interface ConfigModuleOptions {
  /**
   * The library's public API as `import … from 'nightshift'` sees it: an object with at least
   * `names` (`defineConfig`, `defineJob`, … as the config's modules read them), or every name when
   * `names` is null (a module passes the namespace around, re-exports it whole, imports it
   * dynamically). A caller can load only what those names need (see public-api-subset.ts). Called
   * as modules load, with the names not provided yet.
   */
  api: (names: ReadonlySet<string> | null) => Promise<Record<string, unknown>>;
}

/** Static imports in compiled code: Babel writes them as `jitiImport("…")` with a string literal. */
const STATIC_IMPORT = /\bjitiImport\(("(?:[^"\\]|\\.)*")\)/g;

/**
 * Loads one config module graph. Everything about it is per call: the modules evaluated, the
 * compiler (when needed), the public API handed to `nightshift` imports.
 */
class ConfigModuleLoad {
  readonly #options: ConfigModuleOptions;
  readonly #cacheDir: string | null;
  readonly #modules = new Map<string, LoadedModule>();
  readonly #compiled = new Map<string, CompiledModule>();
  #compiler: Compiler | null = null;
  /** What `nightshift` imports get: the library's names loaded so far (see `#provideApi`). */
  readonly #api: Record<string, unknown> = Object.defineProperty({}, '__esModule', { value: true });
  #apiComplete = false;

  constructor(file: string, options: ConfigModuleOptions) {
    this.#options = options;
    this.#cacheDir = configCacheDir(file);
  }

  async #loadCompiler(): Promise<Compiler> {
    if (!this.#compiler) {
      const { createJiti } = await import('jiti');
      const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false });
      this.#compiler = {
        transform: (options) => jiti.transform(options),
        esmResolve: (id, options) => jiti.esmResolve(id, options),
      };
    }
    return this.#compiler;
  }

  /** The compiled form of a file: from the cache, else compiled now and cached. */
  async compile(file: string): Promise<CompiledModule> {
    const known = this.#compiled.get(file);
    if (known) return known;
    const source = readFileSync(file, 'utf8');
    const key = cacheKey(file, source);
    let entry = this.#cacheDir === null ? null : readCachedModule(this.#cacheDir, key, { file, source });
    if (entry === null) {
      const compiler = await this.#loadCompiler();
      const code = compiler.transform({
        source: source.startsWith('#!') ? `//${source}` : source,
        filename: file,
        ts: TYPESCRIPT.test(file),
        jsx: /x$/i.test(file),
        async: true,
        interopDefault: true,
        // Keeps every statement on its line, so stacks and error messages point into the source.
        retainLines: true,
      });
      const failure = /^exports\.__JITI_ERROR__ = (.*)$/m.exec(code);
      if (failure) {
        const details = JSON.parse(failure[1] as string) as { line?: number; message?: string };
        throw new ConfigModuleSyntaxError(details.message ?? 'cannot be compiled', file, details.line || undefined);
      }
      const imports: Record<string, string> = {};
      for (const match of code.matchAll(STATIC_IMPORT)) {
        const specifier = JSON.parse(match[1] as string) as string;
        if (specifier === 'nightshift' || isBuiltin(specifier)) continue;
        const resolved = compiler.esmResolve(specifier, { parentURL: pathToFileURL(file).href, try: true });
        if (resolved !== undefined) imports[specifier] = resolved;
      }
      entry = { code, imports };
      if (this.#cacheDir !== null) writeCachedModule(this.#cacheDir, key, entry, { file, source });
    }
    this.#compiled.set(file, entry);
    return entry;
  }

  /**
   * Makes sure the library object handed to `nightshift` imports holds `names` (null: every
   * name), loading what they need. Called before each module that imports `nightshift` runs, with
   * the names that module reads, so every module finds its names whatever order they load in.
   */
  async #provideApi(names: ReadonlySet<string> | null): Promise<void> {
    if (this.#apiComplete) return;
    const missing = names === null ? null : new Set([...names].filter((name) => !(name in this.#api)));
    if (missing !== null && missing.size === 0) return;
    Object.assign(this.#api, await this.#options.api(missing));
    if (missing === null) this.#apiComplete = true;
  }

  /** Resolves an import of `parent` to a file URL, a `node:` built-in, or `nightshift`. */
  async #resolve(specifier: string, parent: string): Promise<string> {
    if (specifier === 'nightshift' || isBuiltin(specifier)) return specifier;
    const known = this.#compiled.get(parent)?.imports[specifier];
    if (known !== undefined) return known;
    if (specifier.startsWith('file:')) return specifier;
    const resolved = (await this.#loadCompiler()).esmResolve(specifier, { parentURL: pathToFileURL(parent).href, try: true });
    if (resolved === undefined) {
      const error = new Error(`Cannot find module '${specifier}' imported from ${parent}`) as Error & { code: string };
      error.code = 'ERR_MODULE_NOT_FOUND';
      throw error;
    }
    return resolved;
  }

  /** `jitiImport(specifier)` of the module `parent`: the imported module's exports. */
  async import(specifier: string, parent: string): Promise<unknown> {
    const target = await this.#resolve(specifier, parent);
    if (target === 'nightshift') return this.#api;
    if (!target.startsWith('file:')) return asInterop((await import(target)) as Record<string, unknown>);
    const path = fileURLToPath(target);
    if (TYPESCRIPT.test(path)) return this.evaluate(path);
    if (extname(path).toLowerCase() === '.json') {
      const data = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      return { ...(typeof data === 'object' && data !== null && !Array.isArray(data) ? data : {}), default: data, __esModule: true };
    }
    // A file of the app (not a package) that imports `nightshift` by name is compiled like the
    // config, so that the name means this library here too, wherever the CLI was started from.
    if (!IN_NODE_MODULES.test(path) && importsLibraryByName(path)) return this.evaluate(path);
    try {
      return asInterop((await import(target)) as Record<string, unknown>);
    } catch (error) {
      // ESM syntax in a file Node loads as CommonJS: compile it like TypeScript, as jiti does.
      if (error instanceof SyntaxError && /import statement outside a module|Unexpected token 'export'/.test(error.message) && !IN_NODE_MODULES.test(path)) {
        return this.evaluate(path);
      }
      throw error;
    }
  }

  /** Evaluates a compiled file once per load and returns its exports (partial while in a cycle). */
  async evaluate(file: string): Promise<Record<string, unknown>> {
    // Imported before it finished evaluating, it is in a cycle (imports run one at a time): like
    // CommonJS, the importer gets the exports filled so far rather than wait for itself.
    const loaded = this.#modules.get(file);
    if (loaded) return loaded.exports;
    const { code } = await this.compile(file);
    if (/jitiImport\(\s*["'`]nightshift["'`]/.test(code)) await this.#provideApi(apiNamesUsed(code));
    const module = { exports: {} as Record<string, unknown>, id: file, filename: file, loaded: false };
    this.#modules.set(file, module);
    // The same wrapper jiti uses, so the compiled code sees the same names and keeps its lines.
    const wrapper = `(async function (exports, require, module, __filename, __dirname, jitiImport, jitiESMResolve) { ${code}\n});`;
    const run = runInThisContext(wrapper, { filename: file }) as (...args: unknown[]) => Promise<void>;
    const jitiImport = (specifier: string): Promise<unknown> => this.import(specifier, file);
    const jitiESMResolve = (specifier: string): string => {
      const known = this.#compiled.get(file)?.imports[specifier];
      if (known !== undefined) return known;
      if (isBuiltin(specifier)) return specifier.startsWith('node:') ? specifier : `node:${specifier}`;
      return pathToFileURL(createRequire(file).resolve(specifier)).href;
    };
    try {
      await run.call(module.exports, module.exports, createRequire(file), module, file, dirname(file), jitiImport, jitiESMResolve);
    } finally {
      module.loaded = true;
    }
    return module.exports;
  }
}

/**
 * The names a compiled module reads from `nightshift`, or null when it uses the module otherwise.
 * Babel compiles `import { a } from 'nightshift'` (and `import * as n`) to a variable bound to
 * `await jitiImport("nightshift")` that is only ever read as `variable.name`; anything else
 * (the variable on its own, a dynamic import, `export *`) may read any name.
 */
function apiNamesUsed(code: string): Set<string> | null {
  const names = new Set<string>();
  const imports = code.match(/jitiImport\(\s*["'`]nightshift["'`]\s*\)/g) ?? [];
  const bindings = [...code.matchAll(/\bvar\s+([\w$]+)\s*=\s*(?:_interopRequire\w*\()?await jitiImport\("nightshift"\)\)?;/g)];
  if (bindings.length !== imports.length) return null;
  for (const binding of bindings) {
    const variable = (binding[1] as string).replace(/\$/g, '\\$');
    const uses = [...code.matchAll(new RegExp(`(?<![\\w$.])${variable}(?![\\w$])(\\.([\\w$]+))?`, 'g'))];
    // The first use is the declaration itself.
    for (const use of uses.slice(1)) {
      if (use[2] === undefined) return null;
      names.add(use[2]);
    }
  }
  return names;
}

/** Whether a JavaScript file's text imports `nightshift` by its package name. */
function importsLibraryByName(file: string): boolean {
  try {
    return /\bfrom\s*['"]nightshift['"]|\bimport\s*\(\s*['"]nightshift['"]\s*\)/.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * A module namespace as Babel's CommonJS interop helpers expect an imported module: flagged
 * `__esModule`, with its named exports, and `default` being the module's default export — for a
 * CommonJS package whose exports were compiled from ESM (`exports.__esModule`), its `default`.
 * Properties are getters, so live bindings stay live.
 */
function asInterop(namespace: Record<string, unknown>): Record<string, unknown> {
  if (namespace.__esModule === true && !Object.prototype.hasOwnProperty.call(namespace, Symbol.toStringTag)) return namespace;
  const result: Record<string, unknown> = {};
  const fallback = namespace.default;
  const transpiled = (typeof fallback === 'object' || typeof fallback === 'function') && fallback !== null && (fallback as { __esModule?: unknown }).__esModule === true;
  // Names a CommonJS module exports that Node could not detect are read from its exports object.
  if ((typeof fallback === 'object' || typeof fallback === 'function') && fallback !== null) {
    for (const key of Object.keys(fallback)) {
      if (key !== 'default') Object.defineProperty(result, key, { enumerable: true, configurable: true, get: () => (fallback as Record<string, unknown>)[key] });
    }
  }
  for (const key of Object.keys(namespace)) {
    if (key !== 'default') Object.defineProperty(result, key, { enumerable: true, configurable: true, get: () => namespace[key] });
  }
  const defaultExport = transpiled ? (fallback as Record<string, unknown>).default : 'default' in namespace ? fallback : namespace;
  Object.defineProperty(result, 'default', { enumerable: true, configurable: true, value: defaultExport });
  Object.defineProperty(result, '__esModule', { value: true });
  return result;
}

/**
 * Loads a config module and returns its exports (the module namespace as `import * as m` would
 * see it). Throws what the module throws, or a `ConfigModuleSyntaxError` for a file that cannot
 * be compiled.
 */
export async function loadConfigModule(file: string, options: ConfigModuleOptions): Promise<Record<string, unknown>> {
  const load = new ConfigModuleLoad(file, options);
  // A JavaScript config is a module Node loads itself, unless it imports `nightshift` by name:
  // then it goes through the compiler too, so that name means this very library.
  if (!TYPESCRIPT.test(file) && !importsLibraryByName(file)) return asInterop((await import(pathToFileURL(file).href)) as Record<string, unknown>);
  return load.evaluate(file);
}
