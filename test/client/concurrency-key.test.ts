// Per-key concurrency at enqueue, on SQLite and PostgreSQL: the key a job runs under comes from
// its definition's rule (a payload field or a function) or the enqueue's option, and every bad
// input is refused before the store, with nothing stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, type Client } from '../../src/client/client.js';
import { ValidationError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

const sync = defineJob({ name: 'org.sync', queue: 'sync', schema: z.object({ orgId: z.union([z.string(), z.number()]).optional(), n: z.number().optional() }), concurrencyKey: 'orgId', handler: () => undefined });
const agent = defineJob<{ user: { id: string } }>({ name: 'agent.run', queue: 'agents', concurrencyKey: (payload) => payload.user.id, perKey: 2, handler: () => undefined });
const plain = defineJob({ name: 'plain', handler: () => undefined });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`concurrency keys at enqueue, on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let client: Client;
    beforeEach(async () => {
      opened = await kind.open();
      client = createClient({ store: opened.store, jobs: [sync, agent, plain] });
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    const stored = async () => (await opened.store.jobList({ limit: 100 })).jobs;

    it('takes the key from the payload field, a function, or the option; the limit from perKey', async () => {
      const byField = await client.enqueue(sync, { orgId: 'acme' });
      const byNumber = await client.enqueue(sync, { orgId: 42 });
      const byFunction = await client.enqueue(agent, { user: { id: 'u7' } });
      const byOption = await client.enqueue(sync, { n: 1 }, { concurrencyKey: 'override' });
      const unkeyed = await client.enqueue(plain, {});
      expect([byField, byNumber, byFunction, byOption, unkeyed].map((r) => r.job.concurrencyKey)).toEqual(['acme', '42', 'u7', 'override', null]);
      expect((await client.get(byFunction.job.id)).concurrencyKey).toBe('u7');
      const many = await client.enqueueMany(sync, [{ orgId: 'a' }, { orgId: 'b' }]);
      expect(many.map((r) => r.job.concurrencyKey)).toEqual(['a', 'b']);
      // The limit travels with the job: two of the agent's key may run at once, one of sync's.
      await client.enqueue(agent, { user: { id: 'u7' } });
      await client.enqueue(agent, { user: { id: 'u7' } });
      const agents = await opened.store.jobFetch({ queue: 'agents', limit: 10, owner: 'w', leaseMs: 60_000, perKeyConcurrency: true });
      expect(agents).toHaveLength(2);
    });

    it('refuses a missing, empty, non-string or oversized key, and a key option for a job without a rule, storing nothing', async () => {
      const refusals: [() => Promise<unknown>, string, RegExp][] = [
        [() => client.enqueue(sync, { n: 1 }), 'INVALID_PAYLOAD', /concurrency key \(payload field "orgId"\).*got nothing \(the field is missing\)/],
        [() => client.enqueue(sync, { orgId: '' }), 'INVALID_PAYLOAD', /1 to 256 characters/],
        [() => client.enqueue(sync, { orgId: 'x'.repeat(257) }), 'INVALID_PAYLOAD', /got 257 characters/],
        [() => client.enqueue('org.sync', { orgId: { nested: true } }), 'INVALID_PAYLOAD', /./],
        [() => client.enqueue(sync, { orgId: 'ok' }, { concurrencyKey: { no: 1 } as never }), 'INVALID_PAYLOAD', /the concurrencyKey option.*got object/],
        [() => client.enqueue(sync, { orgId: 'bad\u0000nul' }), 'INVALID_PAYLOAD', /./],
        [() => client.enqueue(agent, { user: {} } as never), 'INVALID_PAYLOAD', /the concurrency key \(the concurrencyKey function\).*got undefined/],
        [() => client.enqueue(agent, null as never), 'INVALID_PAYLOAD', /concurrencyKey function threw/],
        [() => client.enqueue(plain, {}, { concurrencyKey: 'k' }), 'INVALID_OPTION', /only for jobs defined with a concurrencyKey rule/],
        [() => client.enqueueMany(sync, [{ orgId: 'a' }, { n: 2 }]), 'INVALID_PAYLOAD', /^item 1: /],
      ];
      for (const [attempt, code, message] of refusals) {
        const error = await attempt().then(
          () => null,
          (thrown: unknown) => thrown,
        );
        expect(error, String(message)).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).code).toBe(code);
        expect((error as ValidationError).message).toMatch(message);
      }
      expect(await stored()).toEqual([]);
    });
  });
}

describe('per-key rate limits at enqueue', () => {
  it('stores the key and limit from the payload or rateKey, and refuses a missing key or a rateKey for a job without one', async () => {
    const { openTempStore } = await import('../fixtures/sqlite-runtime.js');
    const temp = await openTempStore();
    try {
      const llm = defineJob<{ orgId?: string }>({ name: 'llm.call', rateLimit: { max: 3, perMs: 60_000, key: 'orgId' }, handler: () => undefined });
      const client = createClient({ store: temp.store, jobs: [llm, plain] });
      await client.enqueue(llm, { orgId: 'acme' });
      await client.enqueue(llm, {}, { rateKey: 'beta' });
      const claimed = await temp.store.jobFetch({ queue: 'default', limit: 10, owner: 'w', leaseMs: 60_000, perKeyRate: true });
      expect(claimed).toHaveLength(2);
      await expect(client.enqueue(llm, {})).rejects.toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringContaining('the rate key (payload field "orgId")') });
      await expect(client.enqueue(plain, {}, { rateKey: 'x' })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('rateKey is only for jobs defined with a per-key rateLimit') });
      expect((await temp.store.jobList({ limit: 10 })).jobs).toHaveLength(2);
    } finally {
      await temp.cleanup();
    }
  });

  it('defineJob refuses a rateLimit without a key, or with bad numbers', () => {
    expect(() => defineJob({ name: 'a', rateLimit: { max: 3, perMs: 1000 } as never, handler: () => undefined })).toThrow(/rateLimit.key is required on a job/);
    expect(() => defineJob({ name: 'a', rateLimit: { max: 0, perMs: 1000, key: 'k' }, handler: () => undefined })).toThrow(/rateLimit.max must be an integer from 1/);
    expect(() => defineJob({ name: 'a', rateLimit: { max: 1, perMs: 1.5, key: 'k' }, handler: () => undefined })).toThrow(/rateLimit.perMs must be a whole number of ms/);
  });
});

describe('defineJob: per-key options', () => {
  it('refuses a perKey that is not an integer ≥ 1, a perKey without a key, and a key that is neither a field nor a function', () => {
    const attempts: [() => unknown, RegExp][] = [
      [() => defineJob({ name: 'a', concurrencyKey: 'orgId', perKey: 0, handler: () => undefined }), /perKey must be an integer from 1/],
      [() => defineJob({ name: 'a', concurrencyKey: 'orgId', perKey: -1, handler: () => undefined }), /perKey must be an integer from 1/],
      [() => defineJob({ name: 'a', concurrencyKey: 'orgId', perKey: 1.5, handler: () => undefined }), /perKey must be an integer from 1/],
      [() => defineJob({ name: 'a', perKey: 2, handler: () => undefined }), /perKey needs a concurrencyKey/],
      [() => defineJob({ name: 'a', concurrencyKey: '', handler: () => undefined }), /must name a payload field/],
      [() => defineJob({ name: 'a', concurrencyKey: 5 as never, handler: () => undefined }), /payload field name or a function/],
    ];
    for (const [attempt, message] of attempts) expect(attempt).toThrow(message);
    expect(defineJob({ name: 'a', concurrencyKey: 'orgId', handler: () => undefined }).perKey).toEqual({ key: 'orgId', perKey: 1 });
    expect(defineJob({ name: 'b', handler: () => undefined }).perKey).toBeNull();
  });
});
