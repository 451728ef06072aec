// Stopping the API never waits forever on a client: a request still in flight after the grace
// period has its connection cut.
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const ping = defineJob({ name: 'ping', handler: () => undefined });

describe('HTTP API shutdown', () => {
  let opened: OpenedStore;
  let nightshift: Nightshift;
  afterEach(async () => {
    await opened.cleanup();
  });

  it('cuts a request that never finishes its body once the grace period is over', async () => {
    opened = await STORE_KINDS[0]!.open();
    nightshift = createNightshift({ store: opened.store, jobs: [ping], worker: false, http: { port: 0, closeGraceMs: 300 } });
    await nightshift.start();
    const { hostname, port } = new URL(nightshift.httpAddress!);
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Headers promise 100 bytes of body; only 10 come.
    socket.write(`POST /api/jobs HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"name":"p`);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the server start reading the request
    const started = Date.now();
    await nightshift.stop();
    const took = Date.now() - started;
    await closed;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(10_000);
    expect(socket.destroyed).toBe(true);
    expect((await opened.store.jobStats()).totals.available).toBe(0);
  });
});
