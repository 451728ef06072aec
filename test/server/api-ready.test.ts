// /ready tells an orchestrator the truth: 503 while PostgreSQL cannot be reached (cut here by a
// proxy that resets every connection) and during shutdown, 200 again after.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/types.js';
import { gate } from '../fixtures/sqlite-runtime.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';
import { startTcpProxy, targetOf, type TcpProxy } from '../support/tcp-proxy.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const url = postgresUrl();

async function ready(base: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const response = await fetch(`${base}/ready`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
}

describe.skipIf(url === null)('/ready while PostgreSQL is unreachable', () => {
  let proxy: TcpProxy | null = null;
  let store: Store | null = null;
  let nightshift: Nightshift | null = null;
  let drop: (() => Promise<void>) | null = null;
  afterEach(async () => {
    proxy?.setMode('pass');
    await nightshift?.stop();
    await store?.close();
    await proxy?.close();
    await drop?.();
  });

  it('answers 503 with the reason while the store cannot be reached, 200 once it can', async () => {
    const schema = testSchema(url!, 'ready');
    drop = schema.drop;
    proxy = await startTcpProxy(targetOf(url!));
    store = createPostgresStore({ connectionString: proxy.rewrite(url!), schema: schema.schema, poolSize: 2, connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    nightshift = createNightshift({ store, jobs: [], worker: false, http: { port: 0 } });
    await nightshift.start();
    const base = nightshift.httpAddress!;
    expect((await ready(base)).status).toBe(200);
    proxy.setMode('reset');
    proxy.resetAll();
    const down = await ready(base);
    expect(down.status).toBe(503);
    expect(down.body.reason).toMatch(/the store does not answer/);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    proxy.setMode('pass');
    let back = await ready(base);
    for (let i = 0; i < 50 && back.status !== 200; i++) back = await ready(base);
    expect(back.status).toBe(200);
    console.log(`[fault] postgres: connections to the server reset by a proxy; observed: /ready 503 "${down.body.reason?.slice(0, 80)}", /health 200, /ready 200 after`);
  });
});

describe.skipIf(!STORE_KINDS[0]!.available)('/ready during shutdown', () => {
  let opened: OpenedStore | null = null;
  afterEach(async () => {
    await opened?.cleanup();
  });

  it('answers 503 while running jobs finish, and the server closes last', async () => {
    opened = await STORE_KINDS[0]!.open();
    const release = gate();
    const slow = defineJob({ name: 'slow', schema: z.object({}), handler: () => release.promise });
    const nightshift = createNightshift({ store: opened.store, jobs: [slow], http: { port: 0 }, shutdownTimeoutMs: 10_000 });
    const started = nightshift.events.waitFor('job:started');
    await nightshift.start();
    const base = nightshift.httpAddress!;
    await nightshift.enqueue(slow, {});
    await started;
    expect((await ready(base)).status).toBe(200);
    const stopping = nightshift.stop();
    const during = await ready(base);
    expect(during).toEqual({ status: 503, body: { status: 'unavailable', reason: 'shutting down' } });
    release.open();
    await stopping;
    await expect(fetch(`${base}/ready`)).rejects.toThrow();
  });
});
