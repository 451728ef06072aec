/**
 * The built-in `command` job runs only the programs `builtins.command.allow` lists, with only the
 * environment the config passes through — checked through a real worker on real stores, with real
 * processes. A refused program would have written a marker file: its absence proves nothing ran.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { builtinJobs } from '../../src/jobs/builtin-jobs.js';
import { CommandAllowList, findOnPath } from '../../src/jobs/command-allow-list.js';
import { storeHarnesses, type OpenedStore } from '../scheduler/store-harness.js';
import { runThroughWorker } from './builtin-worker-run.js';

const node = process.execPath;
/** A Node program that creates `file`: what a refused job would have done had it run. */
const touch = (file: string): string => `require("fs").writeFileSync(${JSON.stringify(file)}, "ran")`;

let dir: string;
let marker: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-allow-'));
  marker = path.join(dir, 'marker');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the command allow-list', () => {
  it('resolves bare names against PATH once, takes absolute paths as written, and refuses anything else', () => {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const tool = path.join(bin, 'nightshift-tool');
    fs.writeFileSync(tool, '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'not-executable'), '#!/bin/sh\n', { mode: 0o644 });
    const list = new CommandAllowList(['nightshift-tool', '/opt/backup/run'], `relative/bin${path.delimiter}${bin}`);
    expect(list.programs).toEqual([
      { written: 'nightshift-tool', path: tool },
      { written: '/opt/backup/run', path: '/opt/backup/run' },
    ]);
    expect(list.find('nightshift-tool')?.path).toBe(tool);
    expect(list.find(tool)?.path).toBe(tool);
    expect(list.find('/opt/backup/run')?.path).toBe('/opt/backup/run');
    // Other spellings of an allowed program are other programs as far as the list is concerned.
    for (const other of ['run', '/opt/backup/../backup/run', './nightshift-tool', `${bin}//nightshift-tool`, 'sh']) expect(list.find(other)).toBeUndefined();
    // Relative PATH entries are never searched; non-executable files are not programs.
    expect(findOnPath('nightshift-tool', `relative${path.delimiter}.`)).toBeNull();
    expect(() => new CommandAllowList(['not-executable'], bin)).toThrow(ConfigError);
    expect(() => new CommandAllowList(['bin/tool'], bin)).toThrow(/builtins\.command\.allow\.0: "bin\/tool" must be an absolute path or a bare program name/);
  });

  it('reports a bare name found nowhere on PATH as a config error naming the entry', () => {
    expect(() => builtinJobs({ command: { allow: ['sh', 'no-such-program-xyz'] } })).toThrow(
      /builtins\.command\.allow\.1: "no-such-program-xyz" is not an executable file in any directory of PATH/,
    );
  });
});

for (const harness of storeHarnesses) {
  describe(`the command job through a worker on ${harness.label}`, () => {
    let opened: OpenedStore;
    beforeEach(async () => {
      opened = await harness.open(Date.now());
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    it('runs an allowed program at the path its entry resolved to', async () => {
      const jobs = builtinJobs({ command: { allow: [node] } });
      const outcome = await runThroughWorker(opened, jobs, 'command', { argv: [node, '-e', `${touch(marker)}; console.log("ok")`] });
      expect(outcome).toMatchObject({ state: 'completed', result: { exitCode: 0, stdout: 'ok\n' } });
      expect(fs.existsSync(marker)).toBe(true);
    });

    it('ends a job naming any other program dead, with what was refused and how to allow it, and spawns nothing', async () => {
      const jobs = builtinJobs({ command: { allow: [node], env: ['PATH'] } });
      const attempts: unknown[] = [
        { argv: ['/bin/sh', '-c', `echo ran > ${marker}`] },
        { argv: ['sh', '-c', `echo ran > ${marker}`] },
        // `node` is allowed by its absolute path only, not by a name PATH would resolve.
        { argv: ['node', '-e', touch(marker)] },
        { argv: [`${path.dirname(node)}/../${path.basename(path.dirname(node))}/${path.basename(node)}`, '-e', touch(marker)] },
        // shell: true runs sh, which is not on the list.
        { argv: [`echo ran > ${marker}`], shell: true },
      ];
      for (const payload of attempts) {
        const outcome = await runThroughWorker(opened, jobs, 'command', payload);
        expect(outcome.state, JSON.stringify(payload)).toBe('dead');
        if (outcome.state !== 'dead') continue;
        expect(outcome.error.message).toMatch(/^refused to run .*not in builtins\.command\.allow \(allowed: .*\); add .* there/);
        expect(outcome.error.message).toContain(node);
        expect(fs.existsSync(marker), JSON.stringify(payload)).toBe(false);
      }
    });

    it('passes only the listed variables of the worker environment, and lets the input set only inputEnv names', async () => {
      process.env.NIGHTSHIFT_TEST_SECRET = 'do-not-leak';
      process.env.NIGHTSHIFT_TEST_SHARED = 'shared-value';
      try {
        const printEnv = [node, '-e', 'process.stdout.write(JSON.stringify(process.env))'];
        const jobs = builtinJobs({ command: { allow: [node], env: ['NIGHTSHIFT_TEST_SHARED', 'NIGHTSHIFT_TEST_UNSET'], inputEnv: ['LEVEL'] } });
        const passed = await runThroughWorker(opened, jobs, 'command', { argv: printEnv, env: { LEVEL: 'full' } });
        expect(passed.state).toBe('completed');
        const env = JSON.parse((passed as { result: { stdout: string } }).result.stdout) as Record<string, string>;
        // Exactly these: nothing else of the worker's environment (its PATH, HOME, secrets…).
        expect(env).toEqual({ NIGHTSHIFT_TEST_SHARED: 'shared-value', LEVEL: 'full' });

        const empty = await runThroughWorker(opened, jobs, 'command', { argv: printEnv, inheritEnv: false });
        expect(JSON.parse((empty as { result: { stdout: string } }).result.stdout)).toEqual({});

        // A variable the config does not let the input set: refused before anything starts.
        const refused = await runThroughWorker(opened, jobs, 'command', { argv: [node, '-e', touch(marker)], env: { LEVEL: 'x', LD_PRELOAD: '/tmp/evil.so' } });
        expect(refused.state).toBe('dead');
        expect((refused as { error: { message: string } }).error.message).toBe(
          'refused to set "LD_PRELOAD" in the program\'s environment: not in builtins.command.inputEnv (allowed: LEVEL); add the name there to allow it',
        );
        expect(fs.existsSync(marker)).toBe(false);
      } finally {
        delete process.env.NIGHTSHIFT_TEST_SECRET;
        delete process.env.NIGHTSHIFT_TEST_SHARED;
      }
    });

    it('runs shell command lines only when sh is allowed', async () => {
      const jobs = builtinJobs({ command: { allow: ['sh'], env: ['PATH'] } });
      const outcome = await runThroughWorker(opened, jobs, 'command', { argv: [`echo shell > ${marker}`], shell: true });
      expect(outcome.state).toBe('completed');
      expect(fs.readFileSync(marker, 'utf8')).toBe('shell\n');
    });
  });
}
