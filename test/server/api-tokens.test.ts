// Tokens kept in the store: created with a secret shown once, stored as a digest, accepted by
// every API server of the store, refused within seconds of revocation — on both stores.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiToken, listApiTokens, revokeApiToken } from '../../src/client/api-tokens.js';
import { StateError, ValidationError } from '../../src/errors.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { TOKEN_REFRESH_MS } from '../../src/server/auth.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`API tokens kept in the ${kind.kind} store`, () => {
    let opened: OpenedStore | null = null;
    let nightshift: Nightshift | null = null;
    afterEach(async () => {
      await nightshift?.stop();
      await opened?.cleanup();
      nightshift = null;
      opened = null;
    });

    it('stores only the digest; a created token works at once, a revoked one stops working', async () => {
      opened = await kind.open();
      const { token, view } = await createApiToken(opened.store, { name: 'ci', scope: 'enqueue' });
      expect(token).toMatch(/^nst_[A-Za-z0-9_-]{43}$/);
      const [stored] = await opened.store.tokenList();
      expect(stored?.sha256).toBe(createHash('sha256').update(token).digest('hex'));
      expect(JSON.stringify(await opened.store.tokenList())).not.toContain(token);
      expect(view).toMatchObject({ name: 'ci', scope: 'enqueue', fingerprint: stored!.sha256.slice(0, 12), revokedAt: null });

      nightshift = createNightshift({ store: opened.store, jobs: [], worker: false, http: { port: 0 } });
      await nightshift.start();
      const base = nightshift.httpAddress!;
      const queues = (secret: string | null) => fetch(`${base}/api/queues`, secret ? { headers: { authorization: `Bearer ${secret}` } } : {});
      // A stored token makes the API require one.
      expect((await queues(null)).status).toBe(401);
      expect((await queues(token)).status).toBe(200);
      expect((await fetch(`${base}/api/queues/default/pause`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(403);

      await expect(createApiToken(opened.store, { name: 'ci', scope: 'admin' })).rejects.toBeInstanceOf(StateError);
      await expect(createApiToken(opened.store, { name: '', scope: 'admin' })).rejects.toBeInstanceOf(ValidationError);
      await expect(createApiToken(opened.store, { name: 'x', scope: 'root' as never })).rejects.toBeInstanceOf(ValidationError);

      const revoked = await revokeApiToken(opened.store, 'ci');
      expect(revoked.revokedAt).toBeInstanceOf(Date);
      await expect(revokeApiToken(opened.store, 'ci')).rejects.toBeInstanceOf(StateError);
      // Refused within the refresh interval (a safety net of a few intervals, polled).
      const deadline = Date.now() + 4 * TOKEN_REFRESH_MS;
      let status = (await queues(token)).status;
      while (status === 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        status = (await queues(token)).status;
      }
      expect(status).toBe(401);
      expect((await listApiTokens(opened.store)).map((t) => [t.name, t.revokedAt !== null])).toEqual([['ci', true]]);
    }, 40_000);

    it('an event stream open with a token ends within seconds of its revocation', async () => {
      opened = await kind.open();
      const { token } = await createApiToken(opened.store, { name: 'watcher', scope: 'read' });
      nightshift = createNightshift({ store: opened.store, jobs: [], worker: false, http: { port: 0 } });
      await nightshift.start();
      const response = await fetch(`${nightshift.httpAddress!}/api/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      expect(response.status).toBe(200);
      let text = '';
      const ended = (async () => {
        for await (const chunk of response.body!) text += Buffer.from(chunk as Uint8Array).toString('utf8');
      })();
      await revokeApiToken(opened.store, 'watcher');
      const revokedAt = Date.now();
      // The server ends the stream itself; the test's own limit is only a safety net.
      await Promise.race([ended, new Promise((_, reject) => setTimeout(() => reject(new Error(`stream still open: ${text}`)), 6 * TOKEN_REFRESH_MS))]);
      expect(Date.now() - revokedAt).toBeLessThan(6 * TOKEN_REFRESH_MS);
      expect(text).toContain('event: unauthorized');
      expect(text).toMatch(/data: \{"error":\{"code":"UNAUTHENTICATED"/);
      // And it cannot come back with the same token.
      expect((await fetch(`${nightshift.httpAddress!}/api/events`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    }, 60_000);

    it('a stored token allows listening beyond loopback', async () => {
      opened = await kind.open();
      nightshift = createNightshift({ store: opened.store, jobs: [], worker: false, http: { host: '0.0.0.0', port: 0 } });
      await expect(nightshift.start()).rejects.toThrow(/without an API token/);
      await nightshift.stop();
      await createApiToken(opened.store, { name: 'ops', scope: 'admin' });
      // The refusal is decided before binding: check it with a host that does not exist on this
      // machine's network, so the test never listens beyond loopback.
      const { createApiServer, listenApiServer } = await import('../../src/server/index.js');
      const { activeApiTokens } = await import('../../src/client/api-tokens.js');
      const store = opened.store;
      const app = await createApiServer({ client: createNightshift({ store, jobs: [], worker: false }).client, tokenSource: () => activeApiTokens(store) });
      const error = await listenApiServer(app, { host: '192.0.2.1', port: 0 }).then(
        () => null,
        (e: unknown) => e as Error,
      );
      await app.close();
      // Not the token refusal: the bind itself fails (the address is not this machine's).
      expect(error?.message ?? '').not.toMatch(/without an API token/);
    });
  });
}
