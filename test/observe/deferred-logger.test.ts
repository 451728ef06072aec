// The logger a short CLI command hands to its store and client: built on first use, so a command
// that logs nothing never loads the logging library; once used, it logs like the logger it defers to.
// Run in a child process: whether pino is loaded is a per-process fact.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, repoRoot } from '../cli/cli-harness.js';

const loggerUrl = pathToFileURL(join(repoRoot, 'dist', 'observe', 'logger.js')).href;

function runChild(script: string): { stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return { stdout: result.stdout, stderr: result.stderr };
}

const prelude = `
  import { createRequire } from 'node:module';
  import { createLogger, deferredLogger } from ${JSON.stringify(loggerUrl)};
  const pinoLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => /[\\\\/]node_modules[\\\\/]pino[\\\\/]/.test(file));
  let built = 0;
  const make = () => { built++; return createLogger({ format: 'json', level: 'info' }); };
`;

describe('deferredLogger', () => {
  beforeAll(() => assertBuilt());

  it('builds nothing and loads no logging library until it is used, children included', () => {
    const { stdout } = runChild(`${prelude}
      const log = deferredLogger(make);
      const child = log.child({ component: 'store' });
      const grandchild = child.child({ queue: 'email' });
      console.log(JSON.stringify({ built, pinoLoaded: pinoLoaded() }));
    `);
    expect(JSON.parse(stdout)).toEqual({ built: 0, pinoLoaded: false });
  });

  it('once used, logs through the real logger with every binding, built once', () => {
    const { stdout, stderr } = runChild(`${prelude}
      const log = deferredLogger(make);
      const child = log.child({ component: 'store' });
      const grandchild = child.child({ queue: 'email' });
      grandchild.warn({ jobId: '7' }, 'lost connection');
      log.info('ready');
      const enabled = log.isLevelEnabled('debug');
      console.log(JSON.stringify({ built, pinoLoaded: pinoLoaded(), level: log.level, enabled }));
      // The destination writes asynchronously: flush it before the process ends.
      await new Promise((resolve) => log.flush(resolve));
    `);
    expect(JSON.parse(stdout)).toEqual({ built: 1, pinoLoaded: true, level: 'info', enabled: false });
    const lines = stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 40, component: 'store', queue: 'email', jobId: '7', msg: 'lost connection', name: 'nightshift' });
    expect(lines[1]).toMatchObject({ level: 30, msg: 'ready' });
    expect(lines[1]).not.toHaveProperty('component');
  });

  it('passes child options through (a child at its own level)', () => {
    const { stderr } = runChild(`${prelude}
      const log = deferredLogger(make);
      const quiet = log.child({ component: 'api' }, { level: 'warn' });
      quiet.info('not shown');
      quiet.warn('shown');
      await new Promise((resolve) => quiet.flush(resolve));
    `);
    const lines = stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.msg)).toEqual(['shown']);
  });
});
