// The address the API says it listens on is the one it was bound to: the host as asked (a name, or
// every interface) with the port it got, in the runtime's `httpAddress`, in its log line, and in the
// log of `nightshift serve` — not the first address the server happens to list, which would tell
// an operator checking exposure `127.0.0.1` for a socket bound more widely. Only loopback hosts are
// bound here: the tests never listen beyond this machine.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { freePort } from '../support/postgres-server.js';
import { assertBuilt, fixtureConfig, Project, waitFor, type RunningCli } from '../cli/cli-harness.js';

describe.skipIf(!STORE_KINDS[0]!.available)('the address the API reports', () => {
  let opened: OpenedStore | null = null;
  let nightshift: Nightshift | null = null;
  let project: Project | null = null;
  let running: RunningCli | null = null;
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await running?.stop();
    project?.cleanup();
    await nightshift?.stop();
    await opened?.cleanup();
    running = null;
    project = null;
    nightshift = null;
    opened = null;
  });

  it('is the host asked for, with the port bound: a name, an IPv6 address, an IPv4 address', async () => {
    opened = await STORE_KINDS[0]!.open();
    for (const [host, shown] of [
      ['localhost', 'localhost'],
      ['::1', '[::1]'],
      ['127.0.0.1', '127.0.0.1'],
    ] as const) {
      const lines: { msg?: string; address?: string }[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString('utf8')) as { msg?: string });
          done();
        },
      });
      nightshift = createNightshift({ store: opened.store, jobs: [], worker: false, logger: pino({ level: 'info' }, sink), http: { host, port: 0 } });
      await nightshift.start();
      const port = new URL(nightshift.httpAddress!).port;
      expect(Number(port), host).toBeGreaterThan(0);
      expect(nightshift.httpAddress, host).toBe(`http://${shown}:${port}`);
      expect(lines.find((line) => line.msg === 'HTTP API listening')?.address, host).toBe(`http://${shown}:${port}`);
      expect((await fetch(`${nightshift.httpAddress!}/health`)).status, host).toBe(200);
      await nightshift.stop();
      nightshift = null;
    }
  });

  it('nightshift serve logs the host it was given', async () => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const port = await freePort();
    running = project.spawn(['serve', '--http', `localhost:${port}`]);
    const cli = running;
    await waitFor('the API to be ready', async () => (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200);
    const ready = await waitFor('the ready line', () => `${cli.stdout}\n${cli.stderr}`.split('\n').find((line) => line.includes('API server ready')));
    expect(ready).toContain(`http://localhost:${port}`);
    expect(ready).not.toContain('127.0.0.1');
  });
});
