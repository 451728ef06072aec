// When the HTTP API cannot listen, the CLI says why with the error's code and what to do, as it
// does for its own errors: a real port held by this test, a real `nightshift serve` process.
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project } from './cli-harness.js';

describe('nightshift serve: an address it cannot listen on', () => {
  let project: Project | null = null;
  let holder: net.Server | null = null;
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    project?.cleanup();
    project = null;
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
    holder = null;
  });

  it('a port another process holds: exit 1, the code and what to do', async () => {
    holder = net.createServer();
    const port = await new Promise<number>((resolve) => holder!.listen(0, '127.0.0.1', () => resolve((holder!.address() as net.AddressInfo).port)));
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
    const result = await project.run(['serve', '--http', `127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error [EADDRINUSE]: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
    expect(result.stderr).toContain('another process listens on that address: stop it, or pick another port (--http host:port, NIGHTSHIFT_HTTP)');
  });
});
