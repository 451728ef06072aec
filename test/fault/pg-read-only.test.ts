/**
 * Fault: PostgreSQL turns read-only under a busy worker, as when a failover leaves clients on a
 * standby or a demoted primary: `ALTER DATABASE … SET default_transaction_read_only = on` on a
 * database of this test's own, and every session on it terminated (the setting applies to new
 * sessions; the pool reconnects into read-only ones). Later the database becomes writable again
 * and the sessions are terminated once more (clients reaching the new primary).
 *
 * Expected: writes fail with a clear, retryable error (SQLSTATE 25006), the worker does not spin
 * (claims and log lines during the window stay within a bound), the finishes of jobs that were
 * running are kept and retried rather than dropped (those jobs complete on their first attempt,
 * long before their leases could expire), and once writable everything completes, none dead.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll } from '../fixtures/child-workers.js';
import { postgresUrl } from '../support/postgres-server.js';
import {
  allCompleted,
  enqueueWork,
  errorKinds,
  expectEveryJobCompleted,
  FAULT_FULL,
  linesBetween,
  linesSeen,
  openFaultSchema,
  readLedger,
  spawnFaultWorker,
  type FaultSchema,
} from './fixtures/pg-fault-run.js';

const url = postgresUrl();
const POLL_MS = 200;

/** `url` pointing at database `name`. */
function onDatabase(base: string, name: string): string {
  const parsed = new URL(base);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

describe.skipIf(url === null)('fault: the database turns read-only under a busy worker', () => {
  let admin: pg.Client | null = null;
  let database: string | null = null;
  let fx: FaultSchema | null = null;
  afterEach(async () => {
    await killAll();
    // The schema goes with the database (which may still be read-only if the test failed).
    await fx?.cleanup({ drop: false });
    if (admin && database) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    await admin?.end();
    admin = null;
    database = null;
    fx = null;
  });

  /** Ends every session on the test's database but the test's observer: what a failover does to clients. */
  async function terminateSessions(): Promise<number> {
    const { rowCount } = await admin!.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> 'nightshift-fault-admin'`,
      [database],
    );
    return rowCount ?? 0;
  }

  it('refuses writes clearly, does not spin, keeps finishes, and recovers', { timeout: 120_000 }, async () => {
    // A database of our own: default_transaction_read_only is set per database, and would
    // otherwise break every other test running against the server.
    admin = new pg.Client({ connectionString: url! });
    admin.on('error', () => undefined);
    await admin.connect();
    database = `ns_fault_ro_${process.pid}_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    const dbUrl = onDatabase(url!, database);
    fx = await openFaultSchema(dbUrl, 'fro');

    const worker = spawnFaultWorker({
      NS_PG_URL: dbUrl,
      NS_SCHEMA: fx.schema,
      NS_WORKER_ID: 'read-only',
      NS_POLL_MS: String(POLL_MS),
      NS_CONCURRENCY: '4',
      // Far longer than the read-only window: a job completes on its first attempt only if its
      // finish was kept and written after the window, not dropped and rescued at lease expiry.
      NS_LEASE_MS: '60000',
      NS_RESCUE_MS: '500',
    });
    await worker.waitForLine((line) => line.type === 'ready');
    const total = FAULT_FULL ? 400 : 40;
    const acknowledged = await enqueueWork(fx.client, 0, total, 100);
    await linesSeen(worker, 8, (line) => line.type === 'completed');

    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} SET default_transaction_read_only = on`);
    const readOnlyAt = Date.now();
    const killed = await terminateSessions();
    // Jobs claimed when writes stopped: none of them can be finished until the database is writable.
    const { rows } = await fx.admin.query<{ id: string }>(`SELECT id::text AS id FROM ${pg.escapeIdentifier(fx.schema)}.jobs WHERE state = 'running'`);
    const running = new Set(rows.map((row) => row.id));

    // The refusal is clear and retryable: SQLSTATE 25006, a message that says what is going on.
    const readOnly = (line: Record<string, unknown>) => line.type === 'store-error' && /code 25006/.test(String(line.message));
    const refused = await worker.waitForLine(readOnly);
    expect(refused.retryable).toBe(true);
    expect(String(refused.message)).toMatch(/read-only/);
    // Stay read-only long enough to see the loops settle: several refused finish retries (the
    // completer backs off) and rescue passes (one per interval).
    await linesSeen(worker, 4, (line) => readOnly(line) && line.during === 'finish', 30_000);
    await linesSeen(worker, 4, (line) => readOnly(line) && line.during === 'rescue', 30_000);
    const writableAt = Date.now();
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} RESET default_transaction_read_only`);
    await terminateSessions();

    const windowMs = writableAt - readOnlyAt;
    const inWindow = linesBetween(worker, () => true, readOnlyAt, writableAt);
    const claims = inWindow.filter((line) => line.type === 'store-error' && String(line.during).startsWith('fetch:')).length;
    const errors = inWindow.filter((line) => line.type === 'store-error').length;
    const logLines = inWindow.filter((line) => typeof line.msg === 'string').length;
    console.log(
      `[fault] read-only: database read-only for ${windowMs} ms (${killed} sessions terminated), ${running.size} jobs running; ` +
        `in the window ${claims} failed claims, ${logLines} log lines, errors ${JSON.stringify(errorKinds(inWindow))}`,
    );
    // No tight loop: about one claim per poll (triggers add a few), not one per event-loop turn.
    expect(claims).toBeLessThan(20 + 3 * (windowMs / POLL_MS));
    expect(errors).toBeLessThan(40 + 8 * (windowMs / POLL_MS));
    expect(logLines).toBeLessThan(40 + 8 * (windowMs / POLL_MS));

    await allCompleted(fx.admin, fx.schema, acknowledged, 60_000);
    const ledger = await readLedger(fx.admin, fx.schema);
    const summary = expectEveryJobCompleted(ledger, acknowledged, worker);
    // Finishes retried, not dropped: the jobs that were running when writes stopped completed on
    // their first attempt (a dropped finish would have left them running until the lease expired).
    expect(running.size).toBeGreaterThan(0);
    for (const id of running) expect(ledger.outcomes.get(id), `job ${id} running at the switch`).toEqual(['completed']);
    console.log(
      `[fault] read-only: writable again; ${summary.jobs} jobs all completed once, none dead; the ${running.size} running at the switch ` +
        `completed on their first attempt (extra attempts ${JSON.stringify(summary.extraAttempts)})`,
    );
  });
});
