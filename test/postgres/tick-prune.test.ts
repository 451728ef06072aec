// PostgreSQL-specific tick retention: a claim that waits on the very row a prune is deleting must
// still be refused once that prune commits (the conformance suite cannot stage that interleaving).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestClock } from '../../src/store/conformance/test-clock.js';
import { schemaNames } from '../../src/store/postgres/schema-name.js';
import { tickStatements } from '../../src/store/postgres/tick-statements.js';
import type { Store } from '../../src/store/types.js';
import { postgresUrl } from '../support/postgres-server.js';
import { jobInput, pgFixture, waitUntil } from './pg-test-fixtures.js';

const url = postgresUrl();
const DAY_MS = 24 * 3600_000;

describe.skipIf(url === null)('postgres tick pruning', () => {
  let fx: ReturnType<typeof pgFixture>;
  beforeEach(() => {
    fx = pgFixture(url!, 'ticks');
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('a claim blocked on a tick row that a prune deletes is refused when the prune commits', async () => {
    const clock = new TestClock();
    const store: Store = fx.open({ clock: clock.fn, listen: false });
    await store.migrate();
    await store.scheduleUpsertMany({
      schedules: [{ id: 's', jobName: 'pg.test', cron: '* * * * *', timezone: 'UTC', enabled: true, description: null, input: '{}', catchUp: 0, overlap: 'allow', source: 'code', jobOptions: null }],
    });
    const base = clock.now();
    const claim = (fireAtMs: number) =>
      store.scheduleTickClaim({ scheduleId: 's', fireAt: new Date(fireAtMs), nextRunAt: null, job: jobInput({ scheduleId: 's' }), status: 'enqueued' });
    expect(await claim(base)).not.toBeNull();
    expect(await claim(base + 60_000)).not.toBeNull();
    clock.advance(8 * DAY_MS);

    // The prune runs in an open transaction: the tick at `base` is deleted but not yet committed.
    const pruner = await fx.client();
    await pruner.query('BEGIN');
    const { rows } = await pruner.query<{ deleted: number }>(tickStatements(schemaNames(fx.schema)).prune.text, [new Date(clock.now() - 7 * DAY_MS), 100]);
    expect(rows[0]?.deleted).toBe(1);

    // A stale scheduler claims `base` again: its INSERT waits for the prune's transaction.
    const late = claim(base);
    const admin = await fx.client();
    await waitUntil(async () => {
      const blocked = await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = 'nightshift' AND wait_event_type = 'Lock' AND query LIKE '%schedule_ticks%'`,
      );
      return blocked.rows.length > 0;
    }, 'the claim to wait on the pruned row');
    await pruner.query('COMMIT');

    expect(await late).toBeNull();
    expect((await store.jobList({ filter: { scheduleId: 's' } })).jobs).toHaveLength(2);
    expect((await store.scheduleTickList({ scheduleId: 's', limit: 10 })).map((tick) => tick.fireAt.getTime())).toEqual([base + 60_000]);
  });
});
