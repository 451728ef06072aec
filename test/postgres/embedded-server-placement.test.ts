// The private PostgreSQL server of the test suite starts where a newcomer's checkout is: as root
// (PostgreSQL then runs as the postgres OS user), with the packages in a 0700 folder that user
// cannot enter, and the temporary folder private too. It used to fail with EACCES.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  copyEmbeddedPackages,
  findEmbeddedPackages,
  reachableBy,
  serverAccount,
  startEmbeddedPostgres,
  type EmbeddedPostgresServer,
} from '../support/postgres-server.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe.skipIf(!isRoot || os.platform() !== 'linux')('embedded PostgreSQL from a folder the postgres user cannot enter', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('runs the server from a copy it can reach, with its data outside the private temporary folder', async () => {
    // A "checkout" in a 0700 folder, as `mktemp -d` makes them, holding the packages.
    const checkout = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-private-'));
    cleanups.push(() => fs.rmSync(checkout, { recursive: true, force: true }));
    expect(fs.statSync(checkout).mode & 0o777).toBe(0o700);
    const packages = copyEmbeddedPackages(findEmbeddedPackages(), path.join(checkout, 'node_modules'));
    const binary = path.join(packages.platformDir, 'native', 'bin', 'postgres');
    // The premise: where it is installed, the server's user cannot run it.
    expect(reachableBy(serverAccount(), binary)).toBe(false);

    // The temporary folder is private too (TMPDIR inside the 0700 folder).
    const savedTmpdir = process.env.TMPDIR;
    process.env.TMPDIR = fs.mkdtempSync(path.join(checkout, 'tmp-'));
    cleanups.push(() => {
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
    });

    const server: EmbeddedPostgresServer = await startEmbeddedPostgres({ wrapperDir: packages.wrapperDir });
    cleanups.push(() => server.destroy());
    expect(server.dataDir.startsWith(checkout)).toBe(false);
    expect(reachableBy(serverAccount(), server.dataDir)).toBe(true);

    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
    await client.end();
    expect(rows).toEqual([{ user: 'postgres' }]);

    await server.destroy();
    // Everything it laid out, copies included, is gone with it.
    expect(fs.existsSync(path.dirname(server.dataDir))).toBe(false);
  });
});
