/**
 * Metrics count from start() without loading prom-client: a worker whose metrics nobody reads
 * never loads it. The first read of the registry loads it and serves every count made before,
 * with Node's process metrics. Run in a fresh child process on a real SQLite file, so that what
 * "loaded" means is not blurred by other tests in the same process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { assertBuilt, childEnv, distIndexUrl, zodUrl } from '../cli/cli-harness.js';

const run = promisify(execFile);

const SCRIPT = `
import { createRequire } from 'node:module';
import { createNightshift, createSqliteStore, defineJob } from ${JSON.stringify(distIndexUrl)};
import { z } from ${JSON.stringify(zodUrl)};

const promClientLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/node_modules/prom-client/'));
const ping = defineJob({ name: 'ping', queue: 'q', schema: z.object({ n: z.number() }), handler: () => undefined });
const store = createSqliteStore({ path: process.env.DB_PATH });
const app = createNightshift({ store, jobs: [ping], metrics: true, pollIntervalMs: 20 });
await app.start();
const done = new Promise((resolve) => {
  let completed = 0;
  app.events.on('job:completed', () => { if (++completed === 5) resolve(); });
});
for (let n = 0; n < 5; n++) await app.client.enqueue(ping, { n });
await done;
const afterRuns = promClientLoaded();
const text = await app.metrics.text();
const afterRead = promClientLoaded();
await app.stop();
await store.close();
process.stdout.write(JSON.stringify({ afterRuns, afterRead, text }));
`;

let dir: string | null = null;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

describe('metrics without a reader', () => {
  beforeAll(() => assertBuilt());

  it('count without prom-client, which loads on the first read and serves every earlier count', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ns-metrics-lazy-'));
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', SCRIPT], { env: childEnv({ DB_PATH: join(dir, 'db.sqlite') }), timeout: 60_000 });
    const result = JSON.parse(stdout) as { afterRuns: boolean; afterRead: boolean; text: string };
    expect(result.afterRuns).toBe(false);
    expect(result.afterRead).toBe(true);

    type Family = { name: string; metrics: { labels?: Record<string, string>; value?: string; count?: string }[] };
    const families = new Map((parsePrometheusTextFormat(result.text) as Family[]).map((family) => [family.name, family]));
    const value = (name: string, labels: Record<string, string>) =>
      families.get(name)?.metrics.find((metric) => Object.entries(labels).every(([key, v]) => metric.labels?.[key] === v));
    expect(value('nightshift_jobs_completed_total', { queue: 'q', job: 'ping' })?.value).toBe('5');
    // This parser drops a histogram's labels: its series are read from the text.
    const count = (name: string, labels: string) => Number(new RegExp(`^${name}_count\\{${labels}\\} (\\d+)$`, 'm').exec(result.text)?.[1]);
    expect(count('nightshift_job_duration_seconds', 'queue="q",job="ping"')).toBe(5);
    expect(count('nightshift_job_wait_seconds', 'queue="q",job="ping"')).toBe(5);
    // Store calls made before the registry existed are there too (five inserts at least).
    expect(count('nightshift_store_call_duration_seconds', 'method="jobInsertMany",outcome="ok"')).toBeGreaterThanOrEqual(5);
    // Node's process metrics start with the registry.
    expect(families.get('nightshift_process_process_cpu_user_seconds_total')?.metrics[0]?.value).toMatch(/^[0-9.e-]+$/);
    expect(families.has('nightshift_process_nodejs_heap_size_used_bytes')).toBe(true);
  });
});
