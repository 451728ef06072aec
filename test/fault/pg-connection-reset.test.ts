/**
 * Fault: every connection between PostgreSQL and both a worker process and an enqueuing process is
 * reset (TCP RST through a loopback proxy), several times during a busy run.
 *
 * Expected: the worker keeps going (it never exits, and finishes the run), every acknowledged
 * enqueue completes, none is dead, nothing runs again unless its lease was lost (a claim or finish
 * whose answer died with the connection), and an enqueue that failed is retried with the same keys
 * without creating duplicates.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { StoreError } from '../../src/errors.js';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/types.js';
import { killAll } from '../fixtures/child-workers.js';
import { postgresUrl } from '../support/postgres-server.js';
import { startTcpProxy, targetOf, type TcpProxy } from '../support/tcp-proxy.js';
import { faultWork } from './fixtures/pg-fault-jobs.js';
import {
  allCompleted,
  enqueueWork,
  errorKinds,
  expectEveryJobCompleted,
  FAULT_FULL,
  linesSeen,
  openFaultSchema,
  readLedger,
  spawnFaultWorker,
  type FaultSchema,
} from './fixtures/pg-fault-run.js';

const url = postgresUrl();

describe.skipIf(url === null)('fault: connections reset under a busy worker and enqueuer', () => {
  let proxy: TcpProxy | null = null;
  let fx: FaultSchema | null = null;
  let proxied: Store | null = null;
  afterEach(async () => {
    await killAll();
    await proxied?.close();
    await proxy?.close();
    await fx?.cleanup();
    proxy = null;
    fx = null;
    proxied = null;
  });

  it('keeps going through repeated resets and loses nothing', { timeout: 180_000 }, async () => {
    fx = await openFaultSchema(url!, 'freset');
    proxy = await startTcpProxy(targetOf(url!));
    const worker = spawnFaultWorker({
      NS_PG_URL: proxy.rewrite(url!),
      NS_SCHEMA: fx.schema,
      NS_WORKER_ID: 'reset',
      NS_POLL_MS: '200',
      NS_CONCURRENCY: '8',
      NS_LEASE_MS: '1500',
      NS_RESCUE_MS: '300',
      NS_QUERY_TIMEOUT_MS: '2000',
      NS_CONNECT_TIMEOUT_MS: '2000',
    });
    await worker.waitForLine((line) => line.type === 'ready');
    // The enqueuer goes through the proxy too, so resets also hit enqueues in flight.
    proxied = createPostgresStore({ connectionString: proxy.rewrite(url!), schema: fx.schema, poolSize: 2, listen: false, queryTimeoutMs: 2000 });
    const client = createClient({ store: proxied, jobs: [faultWork()] });

    const resets = FAULT_FULL ? 12 : 4;
    const batches = FAULT_FULL ? 150 : 30;
    const batchSize = 10;
    const acknowledged = new Set<string>();
    let enqueueFailures = 0;
    let enqueuing = true;

    // Enqueue in batches with a key per job; a batch that fails (its connection was reset) is sent
    // again with the same keys: an insert that did commit returns the existing jobs instead.
    const total = batches * batchSize;
    // A job's run ends in a `completed` line, or `stale` when its finish committed but the answer
    // died with its connection (the retried finish is then refused by the fence).
    const ended = (line: Record<string, unknown>) => line.type === 'completed' || line.type === 'stale';
    const enqueuer = (async () => {
      for (let batch = 0; batch < batches; batch++) {
        // Keep about three batches waiting, so enqueues are in flight all through the run.
        if (batch >= 3) await linesSeen(worker, (batch - 3) * batchSize, ended, 60_000);
        for (;;) {
          try {
            const ids = await enqueueWork(client, batch * batchSize, batchSize, 10, 'reset');
            for (const id of ids) acknowledged.add(id);
            break;
          } catch (error) {
            expect(error).toBeInstanceOf(StoreError);
            expect(error).toMatchObject({ retryable: true });
            enqueueFailures++;
          }
        }
      }
      enqueuing = false;
    })();

    let connectionsReset = 0;
    for (let round = 1; round <= resets; round++) {
      // A reset after each stretch of progress, so every one lands on a busy worker.
      await linesSeen(worker, Math.floor((round * total) / (resets + 1)), ended, 60_000);
      connectionsReset += proxy.resetAll();
    }
    await enqueuer;
    expect(enqueuing).toBe(false);
    await allCompleted(fx.admin, fx.schema, [...acknowledged], 90_000);

    const ledger = await readLedger(fx.admin, fx.schema);
    const summary = expectEveryJobCompleted(ledger, [...acknowledged], worker);
    // Keys held: one job per enqueued payload, however often a batch was sent again.
    expect(ledger.outcomes.size).toBe(total);
    expect(worker.process.exitCode).toBeNull();
    console.log(
      `[fault] reset: ${resets} rounds reset ${connectionsReset} connections (worker and enqueuer) during ${total} enqueues; ` +
        `${enqueueFailures} enqueue batches failed retryably and were sent again`,
    );
    console.log(
      `[fault] reset: ${summary.jobs} jobs all completed once, none dead (re-run: ${summary.rerun}, extra attempts ` +
        `${JSON.stringify(summary.extraAttempts)}, stale finishes ${worker.lines.filter((line) => line.type === 'stale').length}); ` +
        `worker errors ${JSON.stringify(errorKinds(worker.lines))}`,
    );
    expect(acknowledged.size).toBe(total);
  });
});
