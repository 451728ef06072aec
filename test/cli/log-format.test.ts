// Logs as a person at a terminal sees them (pretty lines) and as a machine reads them (JSON lines):
// chosen by --log-format, LOG_FORMAT, or whether stderr is a terminal. Errors keep their class,
// code, message and cause either way; stacks only at debug.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cliPath, fixtureConfig, Project, repoRoot } from './cli-harness.js';

const greet = ['run', 'greet', '--input', '{"who":"logs"}'];
const loggerUrl = pathToFileURL(join(repoRoot, 'dist', 'observe', 'logger.js')).href;
const errorsUrl = pathToFileURL(join(repoRoot, 'dist', 'errors.js')).href;

/** Logs one line and one error (with a cause) through createLogger in a child process; its stderr. */
function logInChild(options: { format: 'pretty' | 'json'; level: string }): string {
  const script = `
    import { createLogger } from ${JSON.stringify(loggerUrl)};
    import { StoreError } from ${JSON.stringify(errorsUrl)};
    const log = createLogger(${JSON.stringify(options)});
    log.info({ jobId: '7' }, 'started');
    const cause = Object.assign(new Error('Connection terminated \\x1b[31mred\\x1b[0m'), { code: 'ECONNRESET' });
    log.error({ err: new StoreError('claim failed', { retryable: true, cause }) }, 'worker error during claim');
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  expect(result.status, result.stderr).toBe(0);
  return result.stderr;
}

describe('log formats', () => {
  let project: Project | null = null;
  beforeAll(() => assertBuilt());
  afterEach(() => {
    project?.cleanup();
    project = null;
  });

  it('pretty: one line per entry, the error as class, code and message with its cause, escaped', () => {
    const text = logInChild({ format: 'pretty', level: 'info' });
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: started \{"jobId":"7"\}$/m);
    expect(text).toMatch(/^\[[\d:.]+\] ERROR: worker error during claim/m);
    expect(text).toContain('err: StoreError STORE_UNAVAILABLE (retryable): claim failed');
    expect(text).toContain('caused by Error ECONNRESET: Connection terminated \\x1b[31mred\\x1b[0m');
    expect(text).not.toContain('\x1b');
    expect(text).not.toMatch(/^\s+at /m);
    // At debug the stacks follow their error.
    expect(logInChild({ format: 'pretty', level: 'debug' })).toMatch(/claim failed\n\s+at /);
  });

  it('json: the same error serialized (log-errors.ts), one JSON object per line', () => {
    const lines = logInChild({ format: 'json', level: 'info' })
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ level: 30, msg: 'started', jobId: '7' });
    expect(lines[1]?.err).toEqual({
      type: 'StoreError',
      message: 'claim failed',
      code: 'STORE_UNAVAILABLE',
      retryable: true,
      cause: { type: 'Error', message: 'Connection terminated \u001b[31mred\u001b[0m', code: 'ECONNRESET' },
    });
  });

  it('the CLI: JSON into a pipe, pretty with --log-format pretty or LOG_FORMAT=pretty, the option winning', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const piped = await project.run(greet);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toContain('"msg":"worker started"');

    const pretty = await project.run(['--log-format', 'pretty', ...greet], { NO_COLOR: '1' });
    expect(pretty.code).toBe(0);
    expect(pretty.stderr).toMatch(/^\[[\d:.]+\] INFO: worker started/m);
    expect(pretty.stderr).not.toContain('{"level"');

    const fromEnv = await project.run(greet, { LOG_FORMAT: 'pretty', NO_COLOR: '1' });
    expect(fromEnv.stderr).toMatch(/INFO: worker started/);
    const optionWins = await project.run(['--log-format', 'json', ...greet], { LOG_FORMAT: 'pretty' });
    expect(optionWins.stderr).toContain('"msg":"worker started"');

    const wrong = await project.run(['--log-format', 'xml', ...greet]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("Allowed choices are pretty, json");
    const wrongEnv = await project.run(greet, { LOG_FORMAT: 'xml' });
    expect(wrongEnv.code).toBe(1);
    expect(wrongEnv.stderr).toContain('LOG_FORMAT: must be one of pretty, json, got "xml"');
  });

  it.skipIf(spawnSync('script', ['--version']).status !== 0)('the CLI on a terminal: pretty and coloured without being asked', () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    // `script` runs the command on a pseudo-terminal: stderr is a TTY there, as in a shell.
    const command = [process.execPath, cliPath, ...greet].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
    const env = { ...process.env };
    for (const key of ['LOG_FORMAT', 'LOG_LEVEL', 'NO_COLOR', 'NODE_OPTIONS', 'NIGHTSHIFT_DB', 'DATABASE_URL', 'NIGHTSHIFT_STORE']) delete env[key];
    const result = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: project.dir, env, encoding: 'utf8' });
    expect(result.status, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/INFO.*: .*worker started/);
    expect(result.stdout).toContain('\x1b[');
    expect(result.stdout).not.toContain('{"level"');
  });
});
