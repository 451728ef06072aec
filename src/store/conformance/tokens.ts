/** Conformance: API tokens — digests stored, one unrevoked token per name, revocation. */
import { describe, expect, it } from 'vitest';
import { useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

const DIGEST_A = 'a'.repeat(64);
const DIGEST_B = 'b'.repeat(64);

export function describeTokens(factory: StoreFactory): void {
  describe('API tokens', () => {
    const t = useStoreFixture(factory);

    it('stores a token digest with its name and scope, and lists every token oldest first', async () => {
      const created = await t.store.tokenInsert({ token: { name: 'ci', scope: 'enqueue', sha256: DIGEST_A } });
      expect(created).toEqual({ name: 'ci', scope: 'enqueue', sha256: DIGEST_A, createdAt: new Date(t.clock.now()), revokedAt: null });
      t.clock.advance(1000);
      await t.store.tokenInsert({ token: { name: 'ops "quoted" 😀', scope: 'admin', sha256: DIGEST_B } });
      expect((await t.store.tokenList()).map((token) => token.name)).toEqual(['ci', 'ops "quoted" 😀']);
    });

    it('refuses a second unrevoked token of the same name; after revoking, the name is free again', async () => {
      await t.store.tokenInsert({ token: { name: 'ci', scope: 'read', sha256: DIGEST_A } });
      expect(await t.store.tokenInsert({ token: { name: 'ci', scope: 'admin', sha256: DIGEST_B } })).toBeNull();
      expect(await t.store.tokenList()).toHaveLength(1);
      t.clock.advance(5000);
      const revoked = await t.store.tokenRevoke({ name: 'ci' });
      expect(revoked).toMatchObject({ name: 'ci', scope: 'read', revokedAt: new Date(t.clock.now()) });
      expect(await t.store.tokenRevoke({ name: 'ci' })).toBeNull();
      expect(await t.store.tokenRevoke({ name: 'never' })).toBeNull();
      expect(await t.store.tokenInsert({ token: { name: 'ci', scope: 'admin', sha256: DIGEST_B } })).toMatchObject({ scope: 'admin', revokedAt: null });
      expect((await t.store.tokenList()).map((token) => [token.name, token.revokedAt === null])).toEqual([
        ['ci', false],
        ['ci', true],
      ]);
    });
  });
}
