/**
 * The compiled-config cache and what a command loads: a TypeScript config is compiled once per
 * content, a warm command loads neither the compiler nor a database driver it does not use, an
 * edit to any imported file is seen, and processes starting together share the cache safely.
 * Timings are measured by `npm run bench` (the CLI table), never asserted here.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project, zodUrl } from './cli-harness.js';

/** Writes a loader hook that prints every file module Node loads to stderr, as `LOADED <url>`. */
function writeLoadTracer(project: Project): string[] {
  const hooks = project.write(
    'trace/hooks.mjs',
    `export async function load(url, context, nextLoad) {
  if (url.startsWith('file:')) process.stderr.write('LOADED ' + url + '\\n');
  return nextLoad(url, context);
}
`,
  );
  const register = project.write('trace/register.mjs', `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  return ['--import', pathToFileURL(register).href];
}

/** The packages (node_modules/<name>) among the files a traced run loaded. */
function packagesLoaded(stderr: string): Set<string> {
  const packages = new Set<string>();
  for (const match of stderr.matchAll(/^LOADED file:\/\/.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) packages.add(match[1] as string);
  return packages;
}

function cacheEntries(project: Project): string[] {
  try {
    return readdirSync(join(project.dir, 'node_modules', '.cache', 'nightshift', 'config'));
  } catch {
    return [];
  }
}

/** A project whose config imports its jobs from another TypeScript file, with a node_modules folder for the cache. */
function projectWithJobFile(description: string): Project {
  const project = new Project({
    'node_modules/.keep': '',
    'jobs/hello.ts': jobFile(description),
    'nightshift.config.ts': `import { defineConfig } from 'nightshift';
import { hello } from './jobs/hello.js';
export default defineConfig({ jobs: [hello] });
`,
  });
  return project;
}

function jobFile(description: string): string {
  return `import { defineJob } from 'nightshift';
import { z } from '${zodUrl}';
export const hello = defineJob({
  name: 'hello',
  description: ${JSON.stringify(description)},
  schema: z.object({ who: z.string() }),
  handler: async ({ who }: { who: string }) => 'hello ' + who,
});
`;
}

describe('compiled config cache', () => {
  const projects: Project[] = [];
  const track = (project: Project): Project => (projects.push(project), project);

  beforeAll(() => assertBuilt());
  afterEach(() => {
    for (const project of projects.splice(0)) project.cleanup();
  });

  it('compiles on the first run only; a warm command loads no compiler and only its own store driver', async () => {
    const project = track(new Project({ 'node_modules/.keep': '', 'nightshift.config.ts': fixtureConfig() }));
    const trace = writeLoadTracer(project);
    const cold = await project.run(['list'], {}, trace);
    expect(cold.code).toBe(0);
    expect(packagesLoaded(cold.stderr)).toContain('jiti');
    expect(cacheEntries(project).filter((name) => name.endsWith('.json'))).toHaveLength(1);

    const warm = await project.run(['list'], {}, trace);
    expect(warm.code).toBe(0);
    expect(warm.stdout).toBe(cold.stdout);
    const listed = packagesLoaded(warm.stderr);
    for (const unused of ['jiti', 'pg', 'better-sqlite3']) expect(listed).not.toContain(unused);

    const jobs = await project.run(['jobs'], {}, trace);
    expect(jobs.code).toBe(0);
    const onSqlite = packagesLoaded(jobs.stderr);
    expect(onSqlite).toContain('better-sqlite3');
    expect(onSqlite).not.toContain('pg');
    expect(onSqlite).not.toContain('jiti');
  });

  it('sees an edit to a file the config imports, and to the config itself', async () => {
    const project = track(projectWithJobFile('first version'));
    const first = await project.json<{ jobs: { name: string; description: string }[] }>(['list']);
    expect(first.jobs).toEqual([expect.objectContaining({ name: 'hello', description: 'first version' })]);
    const entries = cacheEntries(project).length;
    expect(entries).toBe(2);

    project.write('jobs/hello.ts', jobFile('second version'));
    const second = await project.json<{ jobs: { description: string }[] }>(['list']);
    expect(second.jobs[0]?.description).toBe('second version');

    project.write(
      'nightshift.config.ts',
      `import { defineConfig } from 'nightshift';
import { hello } from './jobs/hello.js';
export default defineConfig({ jobs: [hello], queues: { default: { concurrency: 3 } } });
`,
    );
    const run = await project.json<{ state: string; result: unknown }>(['run', 'hello', '--input-who', 'cache']);
    expect(run).toMatchObject({ state: 'completed', result: 'hello cache' });
    expect(cacheEntries(project).length).toBe(entries + 2);
  });

  it('serves processes that start at once from an empty cache, leaving whole entries only', async () => {
    const project = track(projectWithJobFile('together'));
    const results = await Promise.all(Array.from({ length: 4 }, () => project.run(['--json', 'list'])));
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual(JSON.parse(results[0]!.stdout));
    }
    expect(cacheEntries(project).sort()).toEqual(cacheEntries(project).filter((name) => /^[0-9a-f]{64}\.json$/.test(name)).sort());
    expect(cacheEntries(project)).toHaveLength(2);
  });

  it('reports a syntax error in an imported file with its file and line, and caches nothing for it', async () => {
    const project = track(projectWithJobFile('broken'));
    project.write('jobs/hello.ts', `import { defineJob } from 'nightshift';\n\nexport const hello = defineJob({ name: 'hello', handler: async () => { return ; }\n`);
    const result = await project.run(['list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/jobs\/hello\.ts:\d+: failed to load/);
    // The config compiled; the broken file did not.
    expect(cacheEntries(project)).toHaveLength(1);
  });

  it('gives each module the library names it reads: a JavaScript job file, a file imported at run time', async () => {
    const project = track(
      new Project({
        'node_modules/.keep': '',
        'jobs/stop.mjs': `import { defineJob, UnrecoverableError } from 'nightshift';
export const stop = defineJob({ name: 'stop', handler: async () => { throw new UnrecoverableError('stop here'); } });
`,
        'jobs/later.ts': `import { defineJob, snooze } from 'nightshift';
export const later = defineJob({ name: 'later', handler: async (): Promise<string> => typeof snooze });
`,
        'nightshift.config.ts': `import { defineConfig } from 'nightshift';
import { stop } from './jobs/stop.mjs';
const { later } = await import('./jobs/later.js');
export default defineConfig({ jobs: [stop, later] });
`,
      }),
    );
    for (let round = 0; round < 2; round++) {
      const later = await project.json<{ state: string; result: unknown }>(['run', 'later']);
      expect(later).toMatchObject({ state: 'completed', result: 'function' });
      const stop = await project.run(['--json', 'run', 'stop']);
      expect(stop.code).toBe(1);
      const { id } = JSON.parse(stop.stdout) as { id: string };
      // The CLI's worker recognises the job file's error class: one library, not two copies.
      const { attempts } = await project.json<{ attempts: { outcome: string; error: { name: string } }[] }>(['job', id]);
      expect(attempts).toEqual([expect.objectContaining({ outcome: 'dead', error: expect.objectContaining({ name: 'UnrecoverableError' }) })]);
      expect(stop.stderr).toContain('"kind":"unrecoverable"');
    }
  });

  it('gives a config that builds its own store exactly that store factory', async () => {
    const project = track(
      new Project({
        'node_modules/.keep': '',
        'nightshift.config.ts': `import { createSqliteStore, defineConfig, defineJob } from 'nightshift';
export default defineConfig({
  jobs: [defineJob({ name: 'noop', handler: async () => null })],
  store: createSqliteStore({ path: './data/own.db' }),
});
`,
      }),
    );
    const trace = writeLoadTracer(project);
    await project.run(['list'], {}, trace);
    const warm = await project.run(['--json', 'migrate'], {}, trace);
    expect(warm.code, warm.stderr).toBe(0);
    expect(JSON.parse(warm.stdout)).toMatchObject({ store: 'sqlite' });
    expect(packagesLoaded(warm.stderr)).not.toContain('pg');
  });
});

const url = postgresUrl();

describe.skipIf(url === null)('compiled config cache on PostgreSQL', () => {
  let project: Project;
  let schema: ReturnType<typeof testSchema>;

  beforeAll(() => {
    assertBuilt();
    schema = testSchema(url!, 'cli_cache');
    project = new Project({ 'node_modules/.keep': '', 'nightshift.config.ts': fixtureConfig({ extra: `store: { postgres: { schema: '${schema.schema}', poolSize: 2 } },` }) });
  });
  afterAll(async () => {
    project.cleanup();
    await schema.drop();
  });

  it('a command on PostgreSQL loads pg and not the SQLite driver', async () => {
    const trace = writeLoadTracer(project);
    const env = { DATABASE_URL: url! };
    expect((await project.run(['jobs'], env, trace)).code).toBe(0);
    const warm = await project.run(['jobs'], env, trace);
    expect(warm.code, warm.stderr).toBe(0);
    const loaded = packagesLoaded(warm.stderr);
    expect(loaded).toContain('pg');
    expect(loaded).not.toContain('better-sqlite3');
    expect(loaded).not.toContain('jiti');
  });
});
