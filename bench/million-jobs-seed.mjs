// Seeds a store with many jobs in mixed states for the HTTP-1M table, by bulk SQL straight into the
// jobs table (the store's own tables, after its migrations): one INSERT … SELECT per chunk over a
// number series, so a million rows take seconds instead of the minutes enqueueing them would. The
// per-minute activity stats those jobs would have left are then summed from them.
//
// The mix is written once (SEED_MIX) and turned into the same CASE expressions for both stores.
// Job i gets its state, queue and name from three hashes of i with different moduli (1000, 997,
// 991): every state is spread over the whole history, and the three are nearly independent of
// each other. Job i was created at now − (count − i) × 7 days / count, so ids and creation times
// grow together and the newest job is the highest id, as after real enqueues.
import pg from 'pg';
import Database from 'better-sqlite3';

/** Days of history the seeded jobs' creation times cover. */
export const SEED_SPAN_DAYS = 7;

/**
 * The mix: states by share (per mille), queues by share (per mille) with their job names (equal
 * shares within a queue), and the schedule that created a name's jobs.
 */
export const SEED_MIX = {
  states: [
    ['completed', 930],
    ['dead', 20],
    ['cancelled', 10],
    ['available', 20],
    ['scheduled', 10],
    ['retryable', 5],
    ['running', 5],
  ],
  queues: [
    ['default', 450, ['user.sync', 'image.resize', 'search.index']],
    ['email', 250, ['email.welcome', 'email.digest', 'email.invoice']],
    ['reports', 150, ['report.daily', 'report.export']],
    ['webhooks', 120, ['webhook.deliver']],
    ['billing', 25, ['billing.invoice', 'billing.charge']],
    ['maintenance', 5, ['maintenance.vacuum']],
  ],
  schedules: { 'report.daily': 'report-daily', 'maintenance.vacuum': 'nightly-vacuum' },
};

/** Every job of the mix with its queue (the server registers them, as the app that enqueued them would). */
export const SEED_JOBS = SEED_MIX.queues.flatMap(([queue, , names]) => names.map((name) => ({ name, queue })));

/** Rows per INSERT statement (and per transaction). */
const CHUNK = 100_000;

const STATE_BUCKET = '((i * 7919) % 1000)';
const QUEUE_BUCKET = '((i * 104729) % 997)';
const NAME_BUCKET = '((i * 15485863) % 991)';

const quote = (text) => `'${text.replace(/'/g, "''")}'`;

/** CASE over cumulative per-mille shares of a bucket in [0, modulus). */
function shareCase(bucket, modulus, entries) {
  if (entries.length === 1) return entries[0][0];
  let cumulative = 0;
  const arms = entries.map(([value, share], index) => {
    cumulative += share;
    return index === entries.length - 1 ? `ELSE ${value}` : `WHEN ${bucket} < ${Math.round((cumulative * modulus) / 1000)} THEN ${value}`;
  });
  return `CASE ${arms.join(' ')} END`;
}

/** The SELECT of columns shared by both dialects; `t(ms)` turns an integer-ms expression into the store's time type. */
function seedSelect({ series, first, last, count, nowMs, t, sqlite }) {
  for (const value of [first, last, count, nowMs]) if (!Number.isSafeInteger(value)) throw new Error(`seed: ${value} is not an integer`);
  const spanMs = SEED_SPAN_DAYS * 86_400_000;
  const state = shareCase(STATE_BUCKET, 1000, SEED_MIX.states.map(([name, share]) => [quote(name), share]));
  const queue = shareCase(QUEUE_BUCKET, 997, SEED_MIX.queues.map(([name, share]) => [quote(name), share]));
  const name = shareCase(
    QUEUE_BUCKET,
    997,
    SEED_MIX.queues.map(([, share, names]) => [shareCase(NAME_BUCKET, 991, names.map((job) => [quote(job), 1000 / names.length])), share]),
  );
  const schedule = `CASE name ${Object.entries(SEED_MIX.schedules).map(([job, id]) => `WHEN ${quote(job)} THEN ${quote(id)}`).join(' ')} END`;
  const failed = quote(JSON.stringify({ name: 'Error', message: 'upstream answered 503', stack: null, kind: 'error' }));
  const cancelled = quote(JSON.stringify({ name: 'JobCancelled', message: 'cancelled by an operator', stack: null, kind: 'cancelled' }));
  const lastError = `CASE WHEN state IN ('dead', 'retryable') THEN ${failed} WHEN state = 'cancelled' THEN ${cancelled} END`;
  // Numbers are our own integers (checked above), never input: written into the statement.
  const columns = {
    id: 'i',
    name: 'name',
    queue: 'queue',
    payload: `'{"seq":' || i || '}'`,
    state: 'state',
    priority: '0',
    attempt: `CASE WHEN state IN ('completed', 'running', 'retryable') THEN 1 WHEN state = 'dead' THEN 3 ELSE 0 END`,
    max_attempts: '3',
    run_at: t(`CASE state WHEN 'scheduled' THEN ${nowMs} + 86400000 WHEN 'retryable' THEN ${nowMs} + 60000 ELSE created END`),
    created_at: t('created'),
    attempted_at: t(`CASE WHEN state IN ('completed', 'dead', 'running', 'retryable') THEN created + 1000 END`),
    finished_at: t(`CASE WHEN state IN ('completed', 'dead', 'cancelled') THEN created + 2000 END`),
    ...(sqlite ? { attempted_by: `CASE WHEN state <> 'available' AND state <> 'scheduled' AND state <> 'cancelled' THEN 'seed-worker' END` } : { lease_owner: `CASE WHEN state = 'running' THEN 'seed-worker' END` }),
    lease_token: `CASE WHEN state = 'running' THEN 'seed-' || i END`,
    lease_expires_at: t(`CASE WHEN state = 'running' THEN ${nowMs} + 3600000 END`),
    last_error: sqlite ? lastError : `(${lastError})::jsonb`,
    result: `CASE WHEN state = 'completed' THEN '{"ok":true}' END`,
    schedule_id: schedule,
  };
  const mixed = `SELECT i, ${state} AS state, ${queue} AS queue, ${name} AS name, ${nowMs} - ((${count} - i) * ${spanMs}) / ${count} AS created FROM ${series(first, last)}`;
  return {
    columns: Object.keys(columns).join(', '),
    select: `SELECT ${Object.values(columns).join(', ')} FROM (${mixed}) AS mixed`,
  };
}

/**
 * The per-minute activity stats (`/api/stats`, the queues' throughput) those jobs would have left:
 * one row per minute, queue and name, summed from the seeded jobs. Every seeded attempt ran 1 s
 * after a 1 s wait, so both histograms count in the bucket of 1,000 ms (d7/w7, upper bound
 * 1,000 ms in observe/stats-recorder.ts). `minute` is the minute's start in ms.
 * @param {(ms: string) => string} minuteOf  the dialect's integer-ms minute of `created_at`
 */
function statsSeedSql(stats, jobs, minuteOf, truth) {
  const ran = truth(`state IN ('completed', 'dead')`);
  return `INSERT INTO ${stats} (minute, queue, name, enqueued, completed, failed, dead, cancelled, duration_sum_ms, wait_sum_ms, d7, w7)
    SELECT ${minuteOf('created_at')} AS m, queue, name, COUNT(*), SUM(${truth(`state = 'completed'`)}), SUM(${truth(`state IN ('dead', 'retryable')`)}),
      SUM(${truth(`state = 'dead'`)}), SUM(${truth(`state = 'cancelled'`)}), 1000 * SUM(${ran}), 1000 * SUM(${ran}), SUM(${ran}), SUM(${ran})
    FROM ${jobs} GROUP BY m, queue, name`;
}

/**
 * Seeds `count` jobs into a migrated SQLite file. No ANALYZE: the store never runs one, so the
 * planner sees what it would see in production.
 * @returns {Promise<{ ms: number, nowMs: number, statsRows: number | null }>} statsRows: null where the store has no stats table
 */
export async function seedSqlite(path, { count, nowMs, log }) {
  const started = performance.now();
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    for (let first = 1; first <= count; first += CHUNK) {
      const last = Math.min(count, first + CHUNK - 1);
      const { columns, select } = seedSelect({
        series: (a, b) => `(WITH RECURSIVE seq(i) AS (SELECT ${a} UNION ALL SELECT i + 1 FROM seq WHERE i < ${b}) SELECT i FROM seq)`,
        first,
        last,
        count,
        nowMs,
        t: (ms) => ms,
        sqlite: true,
      });
      db.exec(`BEGIN; INSERT INTO nightshift_jobs (${columns}) ${select}; COMMIT;`);
      log(`${last.toLocaleString('en-US')} `);
    }
    // Only where the store has activity stats (schema version 7 on).
    let statsRows = null;
    if (db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'nightshift_stats'`).get()) {
      statsRows = db.prepare(statsSeedSql('nightshift_stats', 'nightshift_jobs', (ms) => `(${ms} / 60000) * 60000`, (condition) => `(${condition})`)).run().changes;
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { ms: performance.now() - started, nowMs, statsRows };
  } finally {
    db.close();
  }
}

/**
 * Seeds `count` jobs into a migrated PostgreSQL schema, then VACUUM ANALYZE: the state autovacuum
 * brings a table of this size to (statistics and the visibility map) soon after a load.
 * @returns {Promise<{ ms: number, nowMs: number, statsRows: number | null }>} statsRows: null where the store has no stats table
 */
export async function seedPostgres(url, schema, { count, nowMs, log }) {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const jobs = `${pg.escapeIdentifier(schema)}.jobs`;
  try {
    for (let first = 1; first <= count; first += CHUNK) {
      const last = Math.min(count, first + CHUNK - 1);
      const { columns, select } = seedSelect({
        series: (a, b) => `generate_series(${a}::bigint, ${b}::bigint) AS s(i)`,
        first,
        last,
        count,
        nowMs,
        t: (ms) => `to_timestamp((${ms})::double precision / 1000)`,
        sqlite: false,
      });
      await client.query(`INSERT INTO ${jobs} (${columns}) ${select}`);
      log(`${last.toLocaleString('en-US')} `);
    }
    // Ids were given explicitly: the next enqueue must come after them.
    await client.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), $2::bigint)`, [jobs, count]);
    await client.query(`VACUUM ANALYZE ${jobs}`);
    // Only where the store has activity stats (schema version 12 on).
    const stats = `${pg.escapeIdentifier(schema)}.stats`;
    let statsRows = null;
    if ((await client.query('SELECT to_regclass($1) AS found', [stats])).rows[0].found !== null) {
      const minuteOf = (column) => `(floor(extract(epoch FROM ${column}) * 1000)::bigint / 60000) * 60000`;
      statsRows = (await client.query(statsSeedSql(stats, jobs, minuteOf, (condition) => `(${condition})::int`))).rowCount;
      await client.query(`VACUUM ANALYZE ${stats}`);
    }
    return { ms: performance.now() - started, nowMs, statsRows };
  } finally {
    await client.end();
  }
}

/** One line describing the mix, for the table's notes. */
export function seedDescription(count) {
  const states = SEED_MIX.states.map(([name, share]) => `${name} ${share / 10} %`).join(', ');
  const queues = SEED_MIX.queues.map(([name, share, names]) => `${name} ${share / 10} % (${names.join(', ')})`).join(', ');
  return `${count.toLocaleString('en-US')} jobs over ${SEED_SPAN_DAYS} days, states spread over the whole history: ${states}; queues: ${queues}; schedules: ${Object.entries(SEED_MIX.schedules)
    .map(([job, id]) => `${id} → ${job}`)
    .join(', ')}`;
}
