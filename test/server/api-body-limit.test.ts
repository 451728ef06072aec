// The API's body limit follows the runtime's payload limit: a payload the runtime accepts is not
// refused by the HTTP layer first. Real HTTP over loopback, a real SQLite store.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const blob = defineJob({ name: 'blob', schema: z.object({ text: z.string() }), handler: () => undefined });

describe.skipIf(!STORE_KINDS[0]!.available)('HTTP body limit and maxPayloadBytes', () => {
  let opened: OpenedStore | null = null;
  let nightshift: Nightshift | null = null;
  afterEach(async () => {
    await nightshift?.stop();
    await opened?.cleanup();
    nightshift = null;
    opened = null;
  });

  const post = (base: string, bytes: number) =>
    fetch(`${base}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'blob', data: { text: 'x'.repeat(bytes) } }) });

  it('a maxPayloadBytes above 1 MiB raises the body limit with it; the payload limit still decides', async () => {
    opened = await STORE_KINDS[0]!.open();
    nightshift = createNightshift({ store: opened.store, jobs: [blob], worker: false, maxPayloadBytes: 2 * 1024 * 1024, http: { port: 0 } });
    await nightshift.start();
    const base = nightshift.httpAddress!;
    expect((await post(base, 1_500_000)).status).toBe(201);
    const tooLarge = await post(base, 2 * 1024 * 1024 + 10);
    expect([400, 413]).toContain(tooLarge.status);
    expect((await opened.store.jobStats()).totals.available).toBe(1);
  });

  it('without it, the default limit (1 MiB and room for the envelope) applies', async () => {
    opened = await STORE_KINDS[0]!.open();
    nightshift = createNightshift({ store: opened.store, jobs: [blob], worker: false, http: { port: 0 } });
    await nightshift.start();
    expect((await post(nightshift.httpAddress!, 1_500_000)).status).toBe(413);
  });
});
