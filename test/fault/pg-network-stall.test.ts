/**
 * Fault: the network between a worker process and PostgreSQL black-holes every packet (a TCP
 * proxy on loopback keeps both sockets open and forwards nothing), while jobs are running and
 * being claimed; then traffic flows again.
 *
 * Expected: statements time out instead of waiting forever (retryable errors, no tight loop), the
 * LISTEN connection notices the silence and subscribes again once traffic flows, nothing is lost
 * (every acknowledged enqueue completes, none dead, no innocent re-run), and an enqueue from
 * another connection after recovery wakes the idle worker by NOTIFY alone: its polls are ten
 * minutes apart, so only a notification explains the start.
 *
 * And the narrowest case of the same fault: the partition starts right after a finish was sent,
 * so the finish commits but its answer never arrives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { JobFinishResult } from '../../src/store/types.js';
import { killAll } from '../fixtures/child-workers.js';
import { postgresUrl } from '../support/postgres-server.js';
import { startTcpProxy, targetOf, type TcpProxy } from '../support/tcp-proxy.js';
import {
  allCompleted,
  enqueueWork,
  errorKinds,
  expectEveryJobCompleted,
  FAULT_FULL,
  linesBetween,
  linesSeen,
  logLine,
  openFaultSchema,
  readLedger,
  spawnFaultWorker,
  type FaultSchema,
} from './fixtures/pg-fault-run.js';

const url = postgresUrl();
/**
 * Polls of the worker (and the store's due-job check) this far apart, longer than the test runs:
 * an idle worker that starts a new job at all was woken by a notification.
 */
const POLL_MS = 600_000;
/** Longest wait for the notification's wake-up (it takes milliseconds): a safety net only. */
const NOTIFY_WAIT_MS = 10_000;

describe.skipIf(url === null)('fault: black-holed network between a worker and PostgreSQL', () => {
  let proxy: TcpProxy | null = null;
  let fx: FaultSchema | null = null;
  afterEach(async () => {
    await killAll();
    await proxy?.close();
    await fx?.cleanup();
    proxy = null;
    fx = null;
  });

  it('times out, recovers, loses nothing and listens again', { timeout: 120_000 }, async () => {
    fx = await openFaultSchema(url!, 'fstall');
    proxy = await startTcpProxy(targetOf(url!));
    const worker = spawnFaultWorker({
      NS_PG_URL: proxy.rewrite(url!),
      NS_SCHEMA: fx.schema,
      NS_WORKER_ID: 'stalled',
      NS_POLL_MS: String(POLL_MS),
      NS_CONCURRENCY: '8',
      NS_LEASE_MS: '2000',
      NS_RESCUE_MS: '500',
      NS_QUERY_TIMEOUT_MS: '1000',
      NS_CONNECT_TIMEOUT_MS: '1000',
      NS_LISTEN_CHECK_MS: '300',
    });
    await worker.waitForLine((line) => line.type === 'ready');
    const rounds = FAULT_FULL ? 3 : 1;
    const perRound = FAULT_FULL ? 600 : 150;
    const acknowledged: string[] = [];
    let n = 0;

    for (let round = 0; round < rounds; round++) {
      // Busy: jobs of 20 ms on 8 slots, so at any moment handlers run and claims are in flight.
      const batch = await enqueueWork(fx.client, n, perRound, 20);
      n += perRound;
      acknowledged.push(...batch);
      await linesSeen(worker, 40, (line) => line.type === 'completed' && batch.includes(String(line.id)));

      proxy.setMode('stall');
      const stalledAt = Date.now();
      const lostBefore = linesBetween(worker, logLine('listener connection lost'), 0).length;
      // Enqueues from elsewhere go on during the partition and are acknowledged.
      const during = await enqueueWork(fx.client, n, 50, 20);
      n += 50;
      acknowledged.push(...during);
      // The worker's statements time out rather than hang, and the LISTEN check notices the silence.
      const timedOut = await worker.waitForLine(
        (line) => line.type === 'store-error' && (line.t as number) >= stalledAt && /query timeout|connect timeout/.test(String(line.message)),
      );
      expect(timedOut.retryable).toBe(true);
      // …and its reconnect attempts into the silence give up after the connect timeout, too. The
      // long variant stays silent for several attempts: longer than a lease, so leases expire.
      await linesSeen(worker, lostBefore + (FAULT_FULL ? 5 : 2), logLine('listener connection lost'));
      const reconnectsBefore = linesBetween(worker, logLine('listener reconnected'), 0).length;

      proxy.setMode('pass');
      const resumedAt = Date.now();
      const stallErrors = linesBetween(worker, (line) => line.type === 'store-error', stalledAt, resumedAt);
      console.log(
        `[fault] stall round ${round + 1}: black-holed ${resumedAt - stalledAt} ms with jobs running; ` +
          `worker errors: ${JSON.stringify(errorKinds(stallErrors))}`,
      );
      // No tight loop: a few statements time out per second of silence, not thousands.
      expect(stallErrors.length).toBeLessThan(50 + ((resumedAt - stalledAt) / 1000) * 40);

      await linesSeen(worker, reconnectsBefore + 1, logLine('listener reconnected'));
      await allCompleted(fx.admin, fx.schema, acknowledged);
    }

    // Idle now, LISTEN re-established: a job enqueued from another connection starts by NOTIFY.
    const [probe] = await enqueueWork(fx.client, n, 1, 0);
    const enqueuedAt = Date.now();
    const started = await worker.waitForLine((line) => line.type === 'started' && line.id === probe, NOTIFY_WAIT_MS);
    acknowledged.push(probe!);
    await allCompleted(fx.admin, fx.schema, [probe!]);

    const ledger = await readLedger(fx.admin, fx.schema);
    const summary = expectEveryJobCompleted(ledger, acknowledged, worker);
    console.log(
      `[fault] stall: ${summary.jobs} jobs all completed once (re-run after lost leases: ${summary.rerun}, ` +
        `extra attempts ${JSON.stringify(summary.extraAttempts)}, stale finishes ${worker.lines.filter((line) => line.type === 'stale').length}); ` +
        `after recovery a NOTIFY started a job in ` +
        `${(started.t as number) - enqueuedAt} ms with polls ${POLL_MS} ms apart`,
    );
    expect(worker.process.exitCode).toBeNull();
  });

  /**
   * Claims a job through the proxy, then sends its finish while the server's answers are held:
   * the finish commits, the call times out, and the worker's completer sends it again.
   */
  async function finishWithLostAnswer(): Promise<{ first: unknown; retried: JobFinishResult; id: string }> {
    fx = await openFaultSchema(url!, 'flost');
    proxy = await startTcpProxy(targetOf(url!));
    const store = createPostgresStore({ connectionString: proxy.rewrite(url!), schema: fx.schema, poolSize: 1, listen: false, queryTimeoutMs: 500 });
    try {
      const [id] = await enqueueWork(fx.client, 0, 1, 0);
      const [job] = await store.jobFetch({ queue: 'default', limit: 1, owner: 'lost-answer', leaseMs: 60_000 });
      expect(job?.id).toBe(id);
      const items = [{ id: job!.id, token: job!.lease!.token, finish: { outcome: 'completed' as const, result: '1' } }];
      proxy.setMode('stall-replies');
      const first = await store.jobFinishMany({ items }).catch((error: unknown) => error);
      proxy.setMode('pass');
      const retried = await store.jobFinishMany({ items });
      return { first, retried, id: id! };
    } finally {
      await store.close();
    }
  }

  it('a finish whose answer is lost fails retryably; sent again, the job stays completed once', async () => {
    const { first, retried, id } = await finishWithLostAnswer();
    expect(first).toMatchObject({ name: 'StoreError', retryable: true });
    expect(String(first)).toMatch(/no answer within the query timeout/);
    const ledger = await readLedger(fx!.admin, fx!.schema);
    expect(ledger.outcomes.get(id)).toEqual(['completed']);
    // Today the fence refuses the repeated finish (the row is no longer running under that
    // token): the worker logs a refused write and emits job:stale instead of job:completed.
    console.log(
      `[fault] lost answer: a finish committed while its answer was held; it failed with "${String(first).slice(0, 80)}…", ` +
        `was sent again and got ${JSON.stringify(retried)}; the job is completed once`,
    );
  });

  // The expectation, not met yet (it.fails passes while the store still refuses): a finish sent
  // again under the same token, for a row that this very finish completed, is reported applied,
  // so the worker emits job:completed rather than job:stale for a job that did complete. It needs
  // the finishing token kept in the row (job-statements.ts clears lease_token on finish).
  it.fails('a finish sent again after its answer was lost is reported applied, not stale', async () => {
    const { retried, id } = await finishWithLostAnswer();
    expect(retried).toEqual({ applied: [id], rejected: [] });
  });
});
