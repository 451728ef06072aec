// The stored text of an event batch: what a store writes reads back as the events given, in
// either format (batches written before the compact format stay readable), and a damaged row
// never fails a read.
import { describe, expect, it } from 'vitest';
import { collectEvents, compressEventBatch, encodeEventBatch, EVENTS_PER_BATCH } from '../../src/store/event-batches.js';
import type { EventInsert, EventRecord } from '../../src/store/types.js';

const at = new Date('2026-03-02T09:00:00.000Z');
const read = (text: string | Uint8Array, cursorIndex = -1, filter?: Parameters<typeof collectEvents>[2]): EventRecord[] => {
  const out: EventRecord[] = [];
  collectEvents({ id: 7, at, events: text }, { batch: 7, index: cursorIndex }, filter, EVENTS_PER_BATCH, out);
  return out;
};
const asRecords = (events: EventInsert[], firstIndex = 0): EventRecord[] =>
  events.map((event, i) => ({ id: String(7 * EVENTS_PER_BATCH + firstIndex + i), at, ...event }));

describe('event batch text', () => {
  const started = '{"attempt":1,"maxAttempts":3,"workerId":"host-1"}';
  const events: EventInsert[] = [
    { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '41', data: started },
    { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '42', data: started },
    { type: 'job:completed', queue: 'mail', jobName: 'send', jobId: '41', data: '{"attempt":1,"durationMs":1.5}' },
    { type: 'schedule:fired', queue: null, jobName: null, jobId: null, data: '{"scheduleId":"nightly","status":"created"}' },
    { type: 'job:cancelled', queue: 'q "quoted" \\ \u2028', jobName: 'name with "quotes" and \u00e9', jobId: '0', data: '{"reason":"</script> \\"x\\""}' },
    { type: 'job:enqueued', queue: 'mail', jobName: 'send', jobId: '9007199254740993', data: 'not an object' },
    { type: 'job:enqueued', queue: 'mail', jobName: 'send', jobId: '007', data: '{}' },
  ];

  it('reads back every event as given, texts, ids and data included, with ids by position', () => {
    expect(read(encodeEventBatch(events))).toEqual(asRecords(events));
  });

  it("reads back each event's queue and name when they change between events of one type, with data repeating across the change", () => {
    const mixed: EventInsert[] = [
      { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '1', data: started },
      { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '2', data: started },
      { type: 'job:started', queue: 'sms', jobName: 'send', jobId: '3', data: started },
      { type: 'job:started', queue: 'sms', jobName: 'notify', jobId: '4', data: started },
      { type: 'job:completed', queue: 'sms', jobName: 'notify', jobId: '4', data: '{"attempt":1,"durationMs":2}' },
      { type: 'job:started', queue: null, jobName: null, jobId: null, data: started },
      { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '5', data: '{"attempt":2,"maxAttempts":3,"workerId":"host-1"}' },
      { type: 'job:started', queue: 'mail', jobName: 'send', jobId: '6', data: started },
      { type: 'job:completed', queue: 'mail', jobName: 'send', jobId: '1', data: '{"attempt":1,"durationMs":2}' },
    ];
    expect(read(encodeEventBatch(mixed))).toEqual(asRecords(mixed));
  });

  it('writes each repeated text once: about a third of the earlier format for a run job', () => {
    const run = Array.from({ length: 1000 }, (_, i) => [
      { type: 'job:started', queue: 'default', jobName: 'user.sync', jobId: String(100_000 + i), data: started },
      { type: 'job:completed', queue: 'default', jobName: 'user.sync', jobId: String(100_000 + i), data: `{"attempt":1,"durationMs":${(i % 50) / 10}}` },
    ]).flat();
    const compact = encodeEventBatch(run);
    const spelledOut = JSON.stringify(run.map((event) => [event.type, event.queue, event.jobName, event.jobId, JSON.parse(event.data)]));
    expect(compact.length).toBeLessThan(spelledOut.length * 0.45);
    expect(read(compact)).toEqual(asRecords(run));
  });

  it('reads batches of the earlier format (a JSON array of spelled-out entries)', () => {
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

  it('starts after the cursor and filters by type, queue and name', () => {
    const text = encodeEventBatch(events);
    expect(read(text, 1).map((event) => event.jobId)).toEqual(['41', null, '0', '9007199254740993', '007']);
    expect(read(text, -1, { types: ['job:started'] }).map((event) => event.jobId)).toEqual(['41', '42']);
    expect(read(text, -1, { queues: ['mail'], names: ['send'], types: ['job:enqueued'] }).map((event) => event.jobId)).toEqual(['9007199254740993', '007']);
  });

  it('reads a packed batch (raw DEFLATE of the text) as the text itself, at a fraction of its size', () => {
    const text = encodeEventBatch(events);
    const packed = compressEventBatch(text);
    expect(read(packed)).toEqual(read(text));
    expect(read(packed, 0, { types: ['job:started'] })).toEqual(asRecords(events).slice(1, 2));
    // A thousand run jobs' events pack to about an eighth of their text.
    const run: EventInsert[] = [];
    for (let i = 0; i < 500; i++) {
      run.push({ type: 'job:started', queue: 'default', jobName: 'bench', jobId: String(1000 + i), data: started });
      run.push({ type: 'job:completed', queue: 'default', jobName: 'bench', jobId: String(1000 + i), data: `{"attempt":1,"durationMs":${(i % 97) / 1000}}` });
    }
    const runText = encodeEventBatch(run);
    expect(compressEventBatch(runText).length).toBeLessThan(runText.length / 5);
  });

  it('skips a packed batch that does not unpack, or unpacks to something else, without failing', () => {
    expect(read(Buffer.from('not deflate at all'))).toEqual([]);
    expect(read(new Uint8Array(0))).toEqual([]);
    expect(read(compressEventBatch('not json'))).toEqual([]);
  });

  it('skips what does not parse or is not an entry, in either format, without failing', () => {
    expect(read('not json')).toEqual([]);
    expect(read('{"v":2,"d":"x","e":[]}')).toEqual([]);
    expect(read('{"v":2,"d":["job:started"],"e":[[0,-1,-1,1,{}],[5,0,0,2,{}],"junk",[0,-1,-1,"3",99]]}').map((event) => [event.id, event.jobId, event.data])).toEqual([
      [String(7 * EVENTS_PER_BATCH), '1', '{}'],
      [String(7 * EVENTS_PER_BATCH + 3), '3', '{}'],
    ]);
    expect(read('[["job:started","q",null,"1",{}],[42],null]').map((event) => event.jobId)).toEqual(['1']);
  });
});
