/** Conformance: the process registry — heartbeats, who counts as live, forgetting the dead. */
import { describe, expect, it } from 'vitest';
import { useStoreFixture, type StoreFactory } from './conformance-fixtures.js';

export function describeProcesses(factory: StoreFactory): void {
  describe('process registry', () => {
    const t = useStoreFixture(factory);

    it('a heartbeat registers a process; later beats update its info and last seen, not its first seen', async () => {
      const start = t.clock.now();
      await t.store.processHeartbeat({ id: 'host-a:101', info: '{"roles":["worker"]}', forgetAfterMs: 3_600_000 });
      t.clock.advance(10_000);
      await t.store.processHeartbeat({ id: 'host-a:101', info: '{"roles":["worker","api"]}', forgetAfterMs: 3_600_000 });
      expect(await t.store.processList({ seenWithinMs: 60_000 })).toEqual([
        { id: 'host-a:101', info: '{"roles":["worker","api"]}', firstSeenAt: new Date(start), lastSeenAt: new Date(start + 10_000) },
      ]);
    });

    it('lists only processes seen within the window, by id; removes on request', async () => {
      await t.store.processHeartbeat({ id: 'b', info: '{}', forgetAfterMs: 3_600_000 });
      t.clock.advance(45_000);
      await t.store.processHeartbeat({ id: 'a', info: '{}', forgetAfterMs: 3_600_000 });
      await t.store.processHeartbeat({ id: 'c', info: '{}', forgetAfterMs: 3_600_000 });
      expect((await t.store.processList({ seenWithinMs: 60_000 })).map((p) => p.id)).toEqual(['a', 'b', 'c']);
      expect((await t.store.processList({ seenWithinMs: 30_000 })).map((p) => p.id)).toEqual(['a', 'c']);
      await t.store.processRemove({ id: 'c' });
      await t.store.processRemove({ id: 'never-there' });
      expect((await t.store.processList({ seenWithinMs: 60_000 })).map((p) => p.id)).toEqual(['a', 'b']);
    });

    it('a beat forgets processes silent for longer than forgetAfterMs, never the one beating', async () => {
      await t.store.processHeartbeat({ id: 'crashed', info: '{}', forgetAfterMs: 60_000 });
      t.clock.advance(120_000);
      await t.store.processHeartbeat({ id: 'alive', info: '{}', forgetAfterMs: 60_000 });
      expect((await t.store.processList({ seenWithinMs: 10_000_000 })).map((p) => p.id)).toEqual(['alive']);
      // A process that comes back after being forgotten starts a new row.
      await t.store.processHeartbeat({ id: 'crashed', info: '{}', forgetAfterMs: 60_000 });
      const back = (await t.store.processList({ seenWithinMs: 1000 })).find((p) => p.id === 'crashed');
      expect(back?.firstSeenAt.getTime()).toBe(t.clock.now());
    });

    it('keeps any text as info, including quotes and non-ASCII', async () => {
      const info = JSON.stringify({ host: 'hôst "quoted"', queues: ['a/b', 'c:d'], emoji: '😀' });
      await t.store.processHeartbeat({ id: 'weird:id/1', info, forgetAfterMs: 60_000 });
      expect((await t.store.processList({ seenWithinMs: 1000 }))[0]?.info).toBe(info);
    });
  });
}
