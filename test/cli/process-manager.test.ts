/**
 * The daemon under a process manager: Docker, systemd and PM2 stop a service by sending SIGTERM to
 * the process they started, then kill it after a grace period. That process must be the daemon
 * itself: `npx nightshift daemon` is npm's process, which exits on SIGTERM and leaves the daemon
 * running (then killed hard, or orphaned). These tests start the daemon each way the README
 * documents, in a project where the package is installed as npm installs it, and check that
 * SIGTERM reaches it: it finishes its running job, exits 0, and no process is left behind.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, childEnv, cliPath, Project, repoRoot, RunningCli, waitFor } from './cli-harness.js';

/** Processes whose working directory is `dir` (Linux /proc), other than `except`. */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === dir) pids.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

/** A project with the package installed the way npm installs it: node_modules/nightshift and its bin link. */
function installedProject(): Project {
  const project = new Project({
    'nightshift.config.ts': `import { defineConfig, defineJob } from 'nightshift';
export const slow = defineJob({
  name: 'slow',
  handler: async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    return 'finished';
  },
});
export default defineConfig({ jobs: [slow], shutdownTimeoutMs: 20000 });
`,
  });
  project.write('node_modules/.bin/.keep', '');
  symlinkSync(repoRoot, join(project.dir, 'node_modules', 'nightshift'));
  symlinkSync('../nightshift/dist/cli/main.js', join(project.dir, 'node_modules', '.bin', 'nightshift'));
  // npm makes a bin's target executable when it links it.
  chmodSync(cliPath, 0o755);
  return project;
}

const ways: { name: string; command: string; args: string[] }[] = [
  // Docker `CMD ["./node_modules/.bin/nightshift", "daemon"]`, systemd `ExecStart=`, PM2 with a script path.
  { name: './node_modules/.bin/nightshift daemon', command: './node_modules/.bin/nightshift', args: ['daemon'] },
  // `exec` in a start script (or Docker's shell form): the shell becomes the daemon.
  { name: "sh -c 'exec ./node_modules/.bin/nightshift daemon'", command: 'sh', args: ['-c', 'exec ./node_modules/.bin/nightshift daemon'] },
  // node and the script path, as PM2 and systemd are often given it.
  { name: 'node node_modules/nightshift/dist/cli/main.js daemon', command: process.execPath, args: ['node_modules/nightshift/dist/cli/main.js', 'daemon'] },
];

describe.skipIf(!existsSync('/proc/self/cwd'))('the daemon under a process manager', () => {
  let project: Project | null = null;
  let daemon: RunningCli | null = null;

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    project?.cleanup();
    project = null;
  });

  for (const way of ways) {
    it(`started as ${way.name}, SIGTERM stops it gracefully: the running job finishes, exit 0, nothing left`, async () => {
      project = installedProject();
      const job = await project.json<{ id: string }>(['enqueue', 'slow']);
      const child = spawn(way.command, way.args, { cwd: project.dir, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
      const running = new RunningCli(child);
      daemon = running;
      await waitFor('the slow job to start', async () => (await project!.json<{ job: { state: string } }>(['job', job.id])).job.state === 'running');
      // The process the manager started is the daemon itself, not a wrapper around it.
      expect(processesIn(project.dir)).toEqual([child.pid]);

      running.kill('SIGTERM');
      const exit = await running.exited;
      expect(exit.code, exit.stderr).toBe(0);
      expect(exit.stderr).toContain('shutting down gracefully');
      expect(exit.stderr).toContain('daemon stopped');
      expect((await project.json<{ job: { state: string; result: unknown } }>(['job', job.id])).job).toMatchObject({ state: 'completed', result: 'finished' });
      expect(processesIn(project.dir)).toEqual([]);
    });
  }
});
