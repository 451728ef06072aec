// The stored form of an event batch: what the writer builds reads back as the events given, in
// every format (batches written by earlier versions stay readable), and a damaged row never
// fails a read.
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { checkEventBatches, collectEvents, decodeEventBatch, encodeEvents, EventBatchBuilder, EVENTS_PER_BATCH, isEventBatch } from '../../src/store/event-batches.js';
import type { EventInsert, EventRecord } from '../../src/store/types.js';

const at = new Date('2026-03-02T09:00:00.000Z');
const read = (stored: string | Uint8Array, cursorIndex = -1, filter?: Parameters<typeof collectEvents>[2]): EventRecord[] => {
  const out: EventRecord[] = [];
  collectEvents({ id: 7, at, events: stored }, { batch: 7, index: cursorIndex }, filter, EVENTS_PER_BATCH, out);
  return out;
};
const asRecords = (events: EventInsert[], firstIndex = 0): EventRecord[] => events.map((event, i) => ({ id: String(7 * EVENTS_PER_BATCH + firstIndex + i), at, ...event }));
const only = (events: EventInsert[]): Uint8Array => {
  const batches = encodeEvents(events);
  expect(batches).toHaveLength(1);
  expect(batches[0]!.count).toBe(events.length);
  return batches[0]!.bytes;
};

const started = '{"attempt":1,"maxAttempts":3,"workerId":"host-1"}';
const events: EventInsert[] = [
  { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '41', data: started },
  { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '42', data: started },
  { type: 'job:completed', queue: 'mail', jobName: 'send', jobId: '41', data: '{"attempt":1,"durationMs":1.5}' },
  { type: 'schedule:fired', queue: null, jobName: null, jobId: null, data: '{"scheduleId":"nightly","status":"created"}' },
  { type: 'job:cancelled', queue: 'q "quoted" \\ \u2028 😀', jobName: 'name with "quotes" and \u00e9', jobId: '0', data: '{"reason":"</script> \\"x\\""}' },
  { type: 'job:enqueued', queue: 'mail', jobName: 'send', jobId: '9007199254740993', data: 'not an object' },
  { type: 'job:enqueued', queue: 'mail', jobName: 'send', jobId: '007', data: '{}' },
  { type: 'job:enqueued', queue: 'mail', jobName: 'send', jobId: '9223372036854775807', data: '{}' },
  { type: 'job:enqueued', queue: 'lone \ud800 surrogate', jobName: 'x\udfffy', jobId: 'id \udc00', data: '"\ud83d"' },
  { type: 'job:enqueued', queue: '', jobName: '', jobId: '', data: '' },
];

describe('event batches (format 3)', () => {
  it('reads back every event as given: texts of any kind, ids of any form, data as given', () => {
    expect(read(only(events))).toEqual(asRecords(events));
  });

  it('reads back ids that go down, jump, repeat and mix with texts', () => {
    const ids = ['5', '3', '3', '999999999999999', '1', 'x', '1000000000000000', '2', null, '12'];
    const list = ids.map((jobId): EventInsert => ({ type: 'job:completed', queue: 'q', jobName: 'n', jobId, data: '{}' }));
    expect(read(only(list)).map((event) => event.jobId)).toEqual(ids);
  });

  it("writes a run's started and completed events as the text their JSON would be, and anything it cannot write as numbers as text", () => {
    const builder = new EventBatchBuilder();
    const expected: EventInsert[] = [];
    const run = (queue: string | null, jobName: string | null, jobId: string | null, attempt: number, maxAttempts: number, workerId: string, durationMs: number): void => {
      builder.addStarted('job:started', queue, jobName, jobId, attempt, maxAttempts, workerId);
      builder.addCompleted('job:completed', queue, jobName, jobId, attempt, durationMs);
      expected.push({ type: 'job:started', queue, jobName, jobId, data: JSON.stringify({ attempt, maxAttempts, workerId }) });
      expected.push({ type: 'job:completed', queue, jobName, jobId, data: JSON.stringify({ attempt, durationMs: Number.isFinite(durationMs) ? Math.round(durationMs * 1000) / 1000 : null }) });
    };
    run('mail', 'send', '1', 1, 3, 'w-1', 0.0625);
    run('mail', 'send', '2', 1, 3, 'w-1', 12);
    run('sms', 'send', '3', 2, 3, 'w-1', 1234.5678);
    run('sms', 'notify', '4', 2, 5, 'w-"2" \ud800', 0);
    run(null, null, null, 1, 5, 'w-2', Number.NaN);
    run('mail', 'send', 'text-id', 1, Number.POSITIVE_INFINITY, 'w-1', 1e15);
    run('mail', 'send', '5', -1, 3, 'w-1', -2.5);
    run('mail', 'send', '6', 1.5, 2 ** 60, 'w-1', 7);
    // Any event between them keeps its own head, and theirs stay theirs.
    builder.add('job:failed', 'other', 'thing', '7', '{"attempt":1}');
    expected.push({ type: 'job:failed', queue: 'other', jobName: 'thing', jobId: '7', data: '{"attempt":1}' });
    run('mail', 'send', '8', 1, 3, 'w-1', 3.25);
    const batch = builder.seal()!;
    expect(batch.count).toBe(expected.length);
    expect(read(batch.bytes)).toEqual(asRecords(expected));
    // The builder starts over after a seal: nothing carries into the next batch.
    expect(builder.seal()).toBeNull();
    builder.addStarted('job:started', 'mail', 'send', '9', 1, 3, 'w-1');
    expect(read(builder.seal()!.bytes)).toEqual(asRecords([{ type: 'job:started', queue: 'mail', jobName: 'send', jobId: '9', data: '{"attempt":1,"maxAttempts":3,"workerId":"w-1"}' }]));
  });

  it('reads back any mix of run events, whatever their ids, counts, workers and heads do from one event to the next', () => {
    // A fixed pseudo-random walk: ids that step, jump and go back, counts and durations small and
    // large, heads and workers that change now and then.
    let seed = 11;
    const next = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const builder = new EventBatchBuilder();
    const expected: EventInsert[] = [];
    let id = 1000;
    for (let i = 0; i < 5000; i++) {
      const step = [1, 1, 1, 2, -1, 63, 64, -31, -32, 100_000, -500][next(11)]!;
      id = Math.max(1, id + step);
      const jobId = next(50) === 0 ? `k-${id}` : String(id);
      const queue = ['a', 'b'][next(20) === 0 ? 1 : 0]!;
      const attempt = [1, 1, 2, 127, 128, 300][next(6)]!;
      const maxAttempts = [3, 3, 127, 128, 1000][next(5)]!;
      const workerId = next(30) === 0 ? 'w-2' : 'w-1';
      const us = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 5_000_000_000][next(9)]!;
      builder.addStarted('job:started', queue, 'n', jobId, attempt, maxAttempts, workerId);
      builder.addCompleted('job:completed', queue, 'n', jobId, attempt, us / 1000);
      expected.push({ type: 'job:started', queue, jobName: 'n', jobId, data: JSON.stringify({ attempt, maxAttempts, workerId }) });
      expected.push({ type: 'job:completed', queue, jobName: 'n', jobId, data: JSON.stringify({ attempt, durationMs: us / 1000 }) });
    }
    expect(decodeEventBatch(builder.seal()!.bytes)).toEqual(expected);
  });

  it("keeps a thousand run jobs' events in under eight bytes each", () => {
    const builder = new EventBatchBuilder();
    for (let i = 0; i < 1000; i++) {
      builder.addStarted('job:started', 'default', 'user.sync', String(100_000 + i), 1, 3, 'host-1:4242:ab12');
      builder.addCompleted('job:completed', 'default', 'user.sync', String(100_000 + i), 1, (i % 50) / 10 + 0.123);
    }
    const batch = builder.seal()!;
    expect(batch.count).toBe(2000);
    expect(batch.bytes.length).toBeLessThan(2000 * 8);
    expect(read(batch.bytes)).toHaveLength(2000);
  });

  it('splits more than EVENTS_PER_BATCH events into batches, in order', () => {
    const many = Array.from({ length: EVENTS_PER_BATCH * 2 + 3 }, (_, i): EventInsert => ({ type: 'queue:paused', queue: `q${i}`, jobName: null, jobId: null, data: '{}' }));
    const batches = encodeEvents(many);
    expect(batches.map((batch) => batch.count)).toEqual([EVENTS_PER_BATCH, EVENTS_PER_BATCH, 3]);
    expect(batches.flatMap((batch) => decodeEventBatch(batch.bytes))).toEqual(many);
    expect(encodeEvents([])).toEqual([]);
  });

  it('starts after the cursor and filters by type, queue and name', () => {
    const bytes = only(events);
    expect(read(bytes, 1).map((event) => event.jobId)).toEqual(['41', null, '0', '9007199254740993', '007', '9223372036854775807', 'id \udc00', '']);
    expect(read(bytes, -1, { types: ['job:started'] }).map((event) => event.jobId)).toEqual(['41', '42']);
    expect(read(bytes, -1, { queues: ['mail'], names: ['send'], types: ['job:enqueued'] }).map((event) => event.jobId)).toEqual(['9007199254740993', '007', '9223372036854775807']);
  });

  it('reads the events before the first damaged byte, and never fails', () => {
    const bytes = only(events);
    // Cut anywhere: a prefix of the events, never more, never an error.
    for (let length = 0; length <= bytes.length; length++) {
      const decoded = decodeEventBatch(bytes.subarray(0, length));
      expect(events.slice(0, decoded.length)).toEqual(decoded);
    }
    expect(decodeEventBatch(bytes)).toEqual(events);
    // An unknown operation, a text never defined, an event with no head: the events before it stand.
    const two = only(events.slice(0, 2));
    expect(decodeEventBatch(Uint8Array.from([...two, 0x40]))).toEqual(events.slice(0, 2));
    expect(decodeEventBatch(Uint8Array.from([0x4e, 3, 0x04 | 0x08, 9, 0, 0, 2, 0]))).toEqual([]);
    expect(decodeEventBatch(Uint8Array.from([0x4e, 3, 0x01, 0]))).toEqual([]);
    expect(decodeEventBatch(Uint8Array.from([0x4e, 3, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toEqual([]);
    expect(decodeEventBatch(Uint8Array.from([0x4e, 3, 0x81, 1, 0x31]))).toEqual([]);
    // Any bytes at all.
    let seed = 7;
    for (let round = 0; round < 2000; round++) {
      const noise = Uint8Array.from({ length: 2 + (round % 40) }, (_, i) => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return i === 0 ? 0x4e : i === 1 ? 3 : seed % 256;
      });
      expect(() => read(noise)).not.toThrow();
    }
  });

  it('accepts only batches as a store would keep them', () => {
    const [batch] = encodeEvents(events);
    expect(isEventBatch(batch)).toBe(true);
    for (const wrong of [
      null,
      'text',
      { count: 0, bytes: batch!.bytes },
      { count: EVENTS_PER_BATCH + 1, bytes: batch!.bytes },
      { count: 1.5, bytes: batch!.bytes },
      { count: 1, bytes: Buffer.from('{"v":2}') },
      { count: 1, bytes: Uint8Array.from([0x4e, 3]) },
      { count: 1, bytes: [0x4e, 3, 0] },
    ]) {
      expect(isEventBatch(wrong)).toBe(false);
      expect(() => checkEventBatches([batch, wrong])).toThrow(ValidationError);
      expect(() => checkEventBatches([batch, wrong])).toThrow(/batches\[1\] is not an event batch/);
    }
    expect(() => checkEventBatches('x')).toThrow(/must be an array/);
    expect(() => checkEventBatches([])).not.toThrow();
  });
});

describe('event batches of earlier formats', () => {
  it('reads format 2 (a JSON object with a dictionary of texts), as text and packed', () => {
    const text = JSON.stringify({
      v: 2,
      d: ['job:started', 'mail', 'send', started, 'job:completed'],
      e: [
        [0, 1, 2, 41, JSON.parse(started)],
        [0, 1, 2, '9007199254740993', 3],
        [4, -1, -1, null, 'a text'],
      ],
    });
    const expected = asRecords([
      { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '41', data: started },
      { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '9007199254740993', data: started },
      { type: 'job:completed', queue: null, jobName: null, jobId: null, data: 'a text' },
    ]);
    expect(read(text)).toEqual(expected);
    expect(read(deflateRawSync(text))).toEqual(expected);
    expect(read(deflateRawSync(text), 0, { types: ['job:started'] })).toEqual(expected.slice(1, 2));
  });

  it('reads format 1 (a JSON array of spelled-out entries)', () => {
    const earlier = JSON.stringify([
      ['job:started', 'mail', 'send', '41', JSON.parse(started)],
      ['queue:paused', 'mail', null, null, {}],
      ['job:enqueued', 'mail', 'send', '43', 'a text'],
    ]);
    expect(read(earlier)).toEqual([
      { id: String(7 * EVENTS_PER_BATCH), at, type: 'job:started', queue: 'mail', jobName: 'send', jobId: '41', data: started },
      { id: String(7 * EVENTS_PER_BATCH + 1), at, type: 'queue:paused', queue: 'mail', jobName: null, jobId: null, data: '{}' },
      { id: String(7 * EVENTS_PER_BATCH + 2), at, type: 'job:enqueued', queue: 'mail', jobName: 'send', jobId: '43', data: 'a text' },
    ]);
  });

  it('skips what does not unpack, parse or is not an entry, without failing', () => {
    expect(read(Buffer.from('not deflate at all'))).toEqual([]);
    expect(read(new Uint8Array(0))).toEqual([]);
    expect(read(deflateRawSync('not json'))).toEqual([]);
    expect(read('not json')).toEqual([]);
    expect(read('{"v":2,"d":"x","e":[]}')).toEqual([]);
    expect(read('{"v":2,"d":["job:started"],"e":[[0,-1,-1,1,{}],[5,0,0,2,{}],"junk",[0,-1,-1,"3",99]]}').map((event) => [event.id, event.jobId, event.data])).toEqual([
      [String(7 * EVENTS_PER_BATCH), '1', '{}'],
      [String(7 * EVENTS_PER_BATCH + 3), '3', '{}'],
    ]);
    expect(read('[["job:started","q",null,"1",{}],[42],null]').map((event) => event.jobId)).toEqual(['1']);
  });
});
