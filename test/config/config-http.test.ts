// The config file's `http` section (the HTTP API of `serve` and `daemon`): what validation accepts
// and refuses, how it merges with the flags and the environment, and the PostgreSQL schema name
// checked with the store's own rule.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseListenAddress, parseListenHost, readEnv } from '../../src/config/env.js';
import { cliHttpOptions, configListenAddress, DEFAULT_HTTP_PORT } from '../../src/config/http-config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { loadSchemaNameCheck, validateConfig } from '../../src/config/validate-config.js';
import { ConfigError } from '../../src/errors.js';
import { httpListenOf } from '../../src/cli/http-listen.js';
import { schemaNames } from '../../src/store/postgres/schema-name.js';

const digest = createHash('sha256').update('nst_a-random-token-of-some-length', 'utf8').digest('hex');

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A config file in a directory of its own (Node caches a JavaScript module by its path). */
function configFile(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-http-config-'));
  dirs.push(dir);
  const file = join(dir, 'nightshift.config.mjs');
  writeFileSync(file, text);
  return { dir, file };
}

function issuesOf(value: unknown): Record<string, string> {
  try {
    validateConfig(value, '/app/nightshift.config.ts');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('INVALID_CONFIG');
    return Object.fromEntries((error as ConfigError).issues.map((issue) => [issue.path, issue.message]));
  }
  throw new Error('validateConfig accepted an invalid config');
}

describe('the config http section', () => {
  it('accepts every setting, and takes an IPv6 host with or without brackets', () => {
    const http = {
      host: '0.0.0.0',
      port: 0,
      insecure: false,
      allowedOrigins: ['https://ops.example.com', 'http://localhost:3000'],
      allowedHosts: ['jobs.internal', 'Nightshift.Local', '[fd00::1]'],
      bodyLimitBytes: 4_194_304,
      closeGraceMs: 0,
      authFailureLimit: 20,
      tokens: [{ name: 'ci', sha256: digest, scope: 'enqueue' as const }],
    };
    expect(validateConfig({ jobs: [], http }).http).toEqual(http);
    expect(validateConfig({ jobs: [], http: {} }).http).toEqual({});
    expect(validateConfig({ jobs: [], http: { host: '[::1]', port: 65_535 } }).http).toEqual({ host: '::1', port: 65_535 });
    expect(validateConfig({ jobs: [], http: { host: '::1' } }).http).toEqual({ host: '::1' });
  });

  it('refuses invalid values, naming each field, the file and what is expected', () => {
    const issues = issuesOf({
      jobs: [],
      http: {
        host: 'not a host',
        port: 70_000,
        insecure: 'yes',
        allowedOrigins: ['https://ops.example.com/', 'ops.example.com', 'https://Ops.Example.com', 42],
        allowedHosts: ['jobs.internal:8080', 'http://x'],
        bodyLimitBytes: 0,
        closeGraceMs: -1,
        authFailureLimit: 1.5,
        tokens: [{ name: 'plain', token: 'nst_secret-in-the-file', scope: 'admin' }, { name: 'upper', sha256: digest.toUpperCase(), scope: 'root' }],
        allowOrigins: [],
      },
    });
    expect(issues).toMatchObject({
      'http.host': expect.stringContaining('must be a host name or IP address to listen on'),
      'http.port': 'must be ≤ 65535',
      'http.insecure': 'must be true or false',
      'http.allowedOrigins.0': expect.stringContaining('did you mean "https://ops.example.com"?'),
      'http.allowedOrigins.1': expect.stringContaining('must be an origin as browsers send it: scheme://host[:port]'),
      'http.allowedOrigins.2': expect.stringContaining('did you mean "https://ops.example.com"?'),
      'http.allowedOrigins.3': expect.stringContaining('got 42'),
      'http.allowedHosts.0': expect.stringContaining('must be a host name without port'),
      'http.allowedHosts.1': expect.stringContaining('must be a host name without port'),
      'http.bodyLimitBytes': 'must be an integer ≥ 1 (bytes)',
      'http.closeGraceMs': 'must be an integer ≥ 0 (ms)',
      'http.authFailureLimit': 'must be an integer ≥ 1',
      'http.tokens.0.token': expect.stringContaining('a token in plain text does not belong in a config file'),
      'http.tokens.0.sha256': 'is required (string)',
      'http.tokens.1.sha256': expect.stringContaining('64 lowercase hex characters'),
      'http.tokens.1.scope': 'must be one of read, enqueue, admin',
      http: 'unknown option "allowOrigins"',
    });
    expect(issuesOf({ jobs: [], http: 8080 })).toEqual({ http: expect.stringContaining('must be { host, port, insecure, allowedOrigins') });
    expect(issuesOf({ jobs: [], http: { port: -1 } })).toEqual({ 'http.port': 'must be an integer ≥ 0' });
  });

  it('is part of the resolved config, read from the file', async () => {
    const valid = configFile("export default { jobs: [], http: { host: '[::1]', port: 0, allowedOrigins: ['https://ops.example.com'] } };\n");
    const config = await loadConfig({ cwd: valid.dir, env: {} });
    expect(config.http).toEqual({ host: '::1', port: 0, allowedOrigins: ['https://ops.example.com'] });
    const invalid = configFile("export default { jobs: [], http: { allowedOrigins: ['https://ops.example.com/'] } };\n");
    const error = await loadConfig({ cwd: invalid.dir, env: {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(invalid.file);
    expect((error as ConfigError).message).toContain(`${invalid.file}: invalid configuration: http.allowedOrigins.0: must be an origin`);
  });
});

describe('where the API listens and with what', () => {
  const env = (vars: Record<string, string>) => readEnv(vars);

  it('takes the address from the flag, else NIGHTSHIFT_HTTP, else HEALTH_CHECK_PORT, else the config, else the default', () => {
    const fromConfig = configListenAddress({ host: '::1', port: 7001 });
    expect(fromConfig).toEqual({ host: '::1', port: 7001 });
    expect(httpListenOf('127.0.0.1:7004', env({ NIGHTSHIFT_HTTP: '7003', HEALTH_CHECK_PORT: '7002' }), fromConfig)).toEqual({ host: '127.0.0.1', port: 7004 });
    expect(httpListenOf(undefined, env({ NIGHTSHIFT_HTTP: '7003', HEALTH_CHECK_PORT: '7002' }), fromConfig)).toEqual({ port: 7003 });
    // The address is one setting: HEALTH_CHECK_PORT's port comes with its host (127.0.0.1), not the config's.
    expect(httpListenOf(undefined, env({ HEALTH_CHECK_PORT: '7002' }), fromConfig)).toEqual({ port: 7002 });
    expect(httpListenOf(undefined, env({}), fromConfig)).toEqual({ host: '::1', port: 7001 });
    // A section without port or host: 127.0.0.1:8080, as for `serve`; no section: no API (daemon).
    expect(configListenAddress({ allowedOrigins: [] })).toEqual({ port: DEFAULT_HTTP_PORT });
    expect(configListenAddress(undefined)).toBeNull();
    expect(httpListenOf(undefined, env({}), configListenAddress(undefined))).toBeNull();
  });

  it('adds the config’s other settings wherever it listens; --insecure or the config’s insecure', () => {
    const http = { port: 7001, insecure: true, allowedOrigins: ['https://ops.example.com'], allowedHosts: ['jobs.internal'], bodyLimitBytes: 2048, closeGraceMs: 100, authFailureLimit: 3, tokens: [{ name: 'ci', sha256: digest, scope: 'read' as const }] };
    expect(cliHttpOptions({ port: 7003 }, http, { scheduleFile: '/app/schedules.yaml' })).toEqual({
      port: 7003,
      insecure: true,
      allowedOrigins: ['https://ops.example.com'],
      allowedHosts: ['jobs.internal'],
      bodyLimitBytes: 2048,
      closeGraceMs: 100,
      authFailureLimit: 3,
      tokens: [{ name: 'ci', sha256: digest, scope: 'read' }],
      scheduleFile: '/app/schedules.yaml',
    });
    expect(cliHttpOptions({ port: 1 }, undefined)).toEqual({ port: 1, insecure: false });
    expect(cliHttpOptions({ port: 1 }, undefined, { insecure: true }).insecure).toBe(true);
    expect(cliHttpOptions({ port: 1 }, { insecure: false }, { insecure: true }).insecure).toBe(true);
    expect(cliHttpOptions({ port: 1 }, { insecure: true }, { insecure: false }).insecure).toBe(true);
  });

  it('reads a host as --http, NIGHTSHIFT_HTTP and the config take it', () => {
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListenAddress('0.0.0.0:65536')).toHaveProperty('problem');
    expect(parseListenHost('localhost')).toBe('localhost');
    expect(parseListenHost(' 10.0.0.5 ')).toBe('10.0.0.5');
    expect(parseListenHost('::ffff:127.0.0.1')).toBe('::ffff:127.0.0.1');
    expect(parseListenHost('[::1]')).toBe('::1');
    expect(parseListenHost('[nope]')).toBeNull();
    expect(parseListenHost('127.0.0.1:8080')).toBeNull();
    expect(parseListenHost('http://localhost')).toBeNull();
  });
});

describe('the PostgreSQL schema name', () => {
  const fifty = 'a'.repeat(50);
  const fortyEight = 'a'.repeat(48);

  it('is checked with the store’s rule, message included', async () => {
    const schemaNameCheck = await loadSchemaNameCheck();
    expect(schemaNameCheck(fortyEight)).toBeNull();
    expect(() => schemaNames(fifty)).toThrow();
    expect(schemaNameCheck(fifty)).toContain('use 1–48 characters');
    for (const schema of ['nightshift', '_x', fortyEight, fifty, 'Drop Table', '9lives', '']) {
      const storeAccepts = (() => {
        try {
          schemaNames(schema);
          return true;
        } catch {
          return false;
        }
      })();
      expect(schemaNameCheck(schema) === null, schema).toBe(storeAccepts);
    }
    const issues = (() => {
      try {
        validateConfig({ jobs: [], store: { postgres: { schema: fifty } } }, '/app/nightshift.config.ts', { schemaNameCheck });
      } catch (error) {
        return (error as ConfigError).issues;
      }
      return [];
    })();
    expect(issues).toEqual([{ path: 'store.postgres.schema', message: expect.stringContaining(`schema "${fifty}" is not accepted; use 1–48 characters`) }]);
    expect(validateConfig({ jobs: [], store: { postgres: { schema: fortyEight } } }, undefined, { schemaNameCheck }).store).toEqual({ postgres: { schema: fortyEight } });
  });

  it('refuses a 50-character name when the config file is loaded, naming the file and field', async () => {
    const tooLong = configFile(`export default { jobs: [], store: { postgres: { connectionString: 'postgres://127.0.0.1/x', schema: '${fifty}' } } };\n`);
    const error = await loadConfig({ cwd: tooLong.dir, env: {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('INVALID_CONFIG');
    expect((error as ConfigError).message).toContain(`${tooLong.file}: invalid configuration: store.postgres.schema: schema "${fifty}" is not accepted; use 1–48 characters`);
    const longest = configFile(`export default { jobs: [], store: { postgres: { connectionString: 'postgres://127.0.0.1/x', schema: '${fortyEight}' } } };\n`);
    expect((await loadConfig({ cwd: longest.dir, env: {} })).store).toEqual({ postgres: { connectionString: 'postgres://127.0.0.1/x', schema: fortyEight } });
  });
});
