// The runtime's typed events: what a listener sees when others come and go, as with Node's EventEmitter.
import { describe, expect, it } from 'vitest';
import { NightshiftEvents } from '../../src/observe/events.js';

describe('NightshiftEvents', () => {
  it('calls listeners in the order they were added; off and the returned function remove one registration', () => {
    const events = new NightshiftEvents();
    const seen: string[] = [];
    const a = (): void => void seen.push('a');
    const offB = events.on('queue:paused', () => void seen.push('b'));
    events.on('queue:paused', a);
    events.on('queue:paused', a);
    events.emit('queue:paused', { queue: 'q' });
    expect(seen).toEqual(['b', 'a', 'a']);
    seen.length = 0;
    events.off('queue:paused', a);
    offB();
    events.emit('queue:paused', { queue: 'q' });
    expect(seen).toEqual(['a']);
    events.off('queue:paused', a);
    expect(events.has('queue:paused')).toBe(false);
    events.emit('queue:paused', { queue: 'q' });
    expect(seen).toEqual(['a']);
  });

  it('once runs a listener one time; off with the listener removes it before it ran', () => {
    const events = new NightshiftEvents();
    const seen: string[] = [];
    events.once('queue:resumed', ({ queue }) => void seen.push(queue));
    events.emit('queue:resumed', { queue: 'one' });
    events.emit('queue:resumed', { queue: 'two' });
    expect(seen).toEqual(['one']);
    const listener = ({ queue }: { queue: string }): void => void seen.push(`never ${queue}`);
    events.once('queue:resumed', listener);
    events.off('queue:resumed', listener);
    events.emit('queue:resumed', { queue: 'three' });
    expect(seen).toEqual(['one']);
    expect(events.has('queue:resumed')).toBe(false);
  });

  it('a listener added or removed during an emit takes effect from the next emit', () => {
    const events = new NightshiftEvents();
    const seen: string[] = [];
    const late = (): void => void seen.push('late');
    const second = (): void => void seen.push('second');
    events.on('feed:flushed', () => {
      seen.push('first');
      events.off('feed:flushed', second);
      events.on('feed:flushed', late);
    });
    events.on('feed:flushed', second);
    events.emit('feed:flushed', { count: 1 });
    expect(seen).toEqual(['first', 'second']);
    seen.length = 0;
    events.emit('feed:flushed', { count: 1 });
    expect(seen).toEqual(['first', 'late']);
  });

  it('a throwing listener stops the emit and its error reaches the caller', () => {
    const events = new NightshiftEvents();
    const seen: string[] = [];
    events.on('feed:dropped', () => {
      throw new Error('listener failed');
    });
    events.on('feed:dropped', () => void seen.push('after'));
    expect(() => events.emit('feed:dropped', { count: 3 })).toThrow('listener failed');
    expect(seen).toEqual([]);
  });

  it('waitFor resolves with the first payload that matches and stops listening', async () => {
    const events = new NightshiftEvents();
    const waiting = events.waitFor('feed:flushed', ({ count }) => count > 1, 1000);
    events.emit('feed:flushed', { count: 1 });
    events.emit('feed:flushed', { count: 2 });
    await expect(waiting).resolves.toEqual({ count: 2 });
    expect(events.has('feed:flushed')).toBe(false);
  });
});
