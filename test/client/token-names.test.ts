// Token names follow the rule of every other name when a token is created; a token stored under
// another name (by an earlier version) can still be revoked. On both stores.
import { afterEach, describe, expect, it } from 'vitest';
import { createApiToken, listApiTokens, revokeApiToken } from '../../src/client/api-tokens.js';
import { ValidationError } from '../../src/errors.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`token names on ${kind.kind}`, () => {
    let opened: OpenedStore | null = null;
    afterEach(async () => {
      await opened?.cleanup();
      opened = null;
    });

    it('refuses hostile names at creation, naming the rule; stores nothing', async () => {
      opened = await kind.open();
      for (const name of ['a"b/../', '../etc', ' ci', 'ci token', 'ci\n', '-ci', 'x'.repeat(129)]) {
        const error = await createApiToken(opened.store, { name, scope: 'read' }).catch((caught: unknown) => caught);
        expect(error, JSON.stringify(name)).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).code, JSON.stringify(name)).toMatch(/^INVALID_(NAME|OPTION)$/);
        expect((error as ValidationError).message).toContain('token name');
      }
      expect(await listApiTokens(opened.store)).toEqual([]);
      for (const name of ['ci', 'deploy.bot-2', 'team:ops/ci_1']) {
        expect((await createApiToken(opened.store, { name, scope: 'read' })).view.name).toBe(name);
      }
    });

    it('revokes a token stored under a name the rule would refuse now', async () => {
      opened = await kind.open();
      await opened.store.tokenInsert({ token: { name: 'old "token"', scope: 'read', sha256: 'a'.repeat(64) } });
      expect((await revokeApiToken(opened.store, 'old "token"')).revokedAt).toBeInstanceOf(Date);
    });
  });
}
