/**
 * How both stores keep the event feed: one row per append (a batch), not one row per event.
 *
 * A busy worker emits two or three events per job; a row each made the feed the most expensive
 * thing a worker wrote after the jobs themselves (an index entry, a row header and a statement
 * step per event). A batch row holds the append's events as one JSON text (`encodeEventBatch`),
 * so an append costs one row whatever its size, and the feed's cost on a worker is mostly
 * building that text and writing its bytes (on SQLite packed: `compressEventBatch`).
 *
 * Ids. An event's id is `batchId × EVENTS_PER_BATCH + its index in the batch`: still a decimal
 * string that grows with commit order (batch ids do, by each store's own rule), so cursors,
 * `Last-Event-ID` and the pruned-through mark work as before. An append of more events than
 * `EVENTS_PER_BATCH` is stored as several batches in one transaction. Ids are no longer
 * contiguous between batches; nothing relies on that.
 *
 * Reading decodes the batches after the cursor's batch and filters in the process: the filters
 * are few and cheap, and a reader follows the head of the feed, where batches are few.
 * Pruning deletes whole batches (see `pickPrunable`).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { EventInsert, EventListFilter, EventRecord } from './types.js';

/** Most events in one stored batch; also the factor between batch ids and event ids. */
export const EVENTS_PER_BATCH = 10_000;

/** A stored batch as the stores read it back. */
export interface StoredEventBatch {
  /** The batch id (a safe integer). */
  id: number;
  at: Date;
  /** Its events as `encodeEventBatch` wrote them, or as `compressEventBatch` packed that text. */
  events: string | Uint8Array;
}

/**
 * A batch's text packed for storage: raw DEFLATE (RFC 1951), level 1, about an eighth of the
 * text (a thousand events of run jobs: ~33 KB of text, ~4 KB packed) for ~0.1 µs per event.
 *
 * Why SQLite stores batches packed: a batch of text spans nine overflow pages, each new to the
 * file, and while the WAL is busy every checkpoint copies them back into the database on top of
 * the jobs' few hot pages. Draining 80 000 no-op jobs its own process had just enqueued, a worker
 * ran 24 % slower with the feed on than off when the batches were text, 4 % when packed (an
 * empty text: also 4 %); starting from an empty WAL, text and packed both cost 6–8 %. It also
 * keeps the feed's hour of events an eighth of the size. PostgreSQL compresses long values
 * itself (TOAST), so it stores the text.
 */
export function compressEventBatch(text: string): Buffer {
  return deflateRawSync(text, { level: 1, memLevel: 9 });
}

/** The text of a stored batch, unpacked when packed; null when a packed batch does not unpack. */
function batchText(stored: string | Uint8Array): string | null {
  if (typeof stored === 'string') return stored;
  try {
    return inflateRawSync(stored).toString('utf8');
  } catch {
    return null;
  }
}

/** Splits an append into batches of at most `EVENTS_PER_BATCH`, in order. */
export function splitEventBatches(events: readonly EventInsert[]): EventInsert[][] {
  const batches: EventInsert[][] = [];
  for (let start = 0; start < events.length; start += EVENTS_PER_BATCH) batches.push(events.slice(start, start + EVENTS_PER_BATCH));
  return batches;
}

/** Job ids are decimal digits: written as JSON numbers when a double holds them exactly. */
const SAFE_ID = /^(0|[1-9]\d{0,14})$/;

/**
 * The stored text of one batch (format 2): one JSON object,
 * `{"v":2,"d":[texts…],"e":[[type, queue, jobName, jobId, data]…]}`. Type, queue and job name
 * are indexes into `d`, the batch's texts, each written once; a job id is a JSON number (a text
 * when it is not a plain decimal a double holds); `data` is the index in `d` of a data text that
 * repeats the previous data of its event type (a worker's `job:started` data is the same for
 * most of its jobs), else the core's serialized JSON object written as a JSON value, not quoted
 * again, or the text given when it is not `{…}`. Null type, queue or name: -1.
 *
 * Why: the feed's rows are most of what a busy worker writes besides the jobs themselves, and on
 * SQLite what a write costs follows its bytes (WAL pages, checkpoints). Format 1, a JSON array
 * of `[type, queue, jobName, jobId, data]` with every text spelled out, took about 170 bytes per
 * run job (started and completed); this one about a third of that. Batches of format 1 written
 * before still read (see `collectEvents`).
 */
export function encodeEventBatch(events: readonly EventInsert[]): string {
  const texts = new Map<string, number>();
  const dictionary: string[] = [];
  const indexOf = (text: string | null): number => {
    if (text === null) return -1;
    let index = texts.get(text);
    if (index === undefined) {
      index = dictionary.length;
      dictionary.push(text);
      texts.set(text, index);
    }
    return index;
  };
  // Per event type, what its previous event had: its data text (a data text equal to the
  // previous one of the same type, as a worker's job:started data is for most of its jobs, goes
  // to the dictionary from its second time on: one string comparison per event, no hashing of
  // the many texts that occur once, job:completed's), and its queue and job name with the
  // entry's head written for them (`[type,queue,name,`): a worker's events of one type mostly
  // share both, so the head is reused without looking the texts up again.
  const previous = new Map<string, { data: string; index: number; queue: string | null; jobName: string | null; head: string }>();
  let entries = '';
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const data = event.data;
    const id = event.jobId;
    const idText = id === null ? 'null' : SAFE_ID.test(id) ? id : JSON.stringify(id);
    let last = previous.get(event.type);
    let dataText: string | undefined;
    if (last === undefined) {
      last = { data, index: -1, queue: event.queue, jobName: event.jobName, head: `[${indexOf(event.type)},${indexOf(event.queue)},${indexOf(event.jobName)},` };
      previous.set(event.type, last);
    } else {
      if (last.queue !== event.queue || last.jobName !== event.jobName) {
        last.queue = event.queue;
        last.jobName = event.jobName;
        last.head = `[${indexOf(event.type)},${indexOf(event.queue)},${indexOf(event.jobName)},`;
      }
      if (last.data === data) {
        if (last.index < 0) last.index = indexOf(data);
        dataText = String(last.index);
      } else {
        last.data = data;
        last.index = texts.get(data) ?? -1;
      }
    }
    if (dataText === undefined) {
      if (data.length >= 2 && data.charCodeAt(0) === 123 && data.charCodeAt(data.length - 1) === 125) dataText = data;
      else dataText = JSON.stringify(data);
    }
    entries += `${i === 0 ? '' : ','}${last.head}${idText},${dataText}]`;
  }
  return `{"v":2,"d":${JSON.stringify(dictionary)},"e":[${entries}]}`;
}

/**
 * Where a cursor points: the batch it is in and its index there. Anything that is not a
 * non-negative decimal a double holds exactly reads from the start.
 */
export function eventCursor(afterId: string): { batch: number; index: number } {
  const after = /^\d{1,16}$/.test(afterId) ? Number(afterId) : 0;
  if (!Number.isSafeInteger(after)) return { batch: 0, index: -1 };
  if (after === 0) return { batch: 0, index: -1 };
  return { batch: Math.floor(after / EVENTS_PER_BATCH), index: after % EVENTS_PER_BATCH };
}

/** The id of event `index` of batch `batchId`. */
export function eventId(batchId: number, index: number): string {
  return String(batchId * EVENTS_PER_BATCH + index);
}

const asText = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** One entry of a batch, decoded to texts: null when it is not an entry with a type. */
type DecodedEntry = { type: string; queue: string | null; jobName: string | null; jobId: string | null; data: string } | null;

/** The entries of a stored batch text, of either format, decoded lazily; null when it does not parse. */
function batchEntries(stored: string): { length: number; at(index: number): DecodedEntry } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return null;
  }
  const dataText = (value: unknown): string => (typeof value === 'string' ? value : value !== null && typeof value === 'object' ? JSON.stringify(value) : '{}');
  if (Array.isArray(parsed)) {
    // Format 1: [type, queue, jobName, jobId, data] with the texts spelled out.
    return {
      length: parsed.length,
      at(index) {
        const entry: unknown = parsed[index];
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') return null;
        return { type: entry[0], queue: asText(entry[1]), jobName: asText(entry[2]), jobId: asText(entry[3]), data: dataText(entry[4]) };
      },
    };
  }
  if (parsed === null || typeof parsed !== 'object') return null;
  const { d, e } = parsed as { d?: unknown; e?: unknown };
  if (!Array.isArray(d) || !Array.isArray(e)) return null;
  const text = (value: unknown): string | null => (typeof value === 'number' && value >= 0 ? asText(d[value]) : null);
  return {
    length: e.length,
    at(index) {
      const entry: unknown = e[index];
      if (!Array.isArray(entry)) return null;
      const type = text(entry[0]);
      if (type === null) return null;
      const id: unknown = entry[3];
      const data: unknown = entry[4];
      return {
        type,
        queue: text(entry[1]),
        jobName: text(entry[2]),
        jobId: typeof id === 'number' ? String(id) : asText(id),
        data: typeof data === 'number' ? (text(data) ?? '{}') : dataText(data),
      };
    },
  };
}

/**
 * Adds to `out` the events of `batch` after the cursor that pass `filter`, until `out` holds
 * `limit`. Returns false once `out` is full. A batch whose text does not parse, or an entry that
 * is not an entry with a type, is skipped: a corrupt row never fails a read.
 */
export function collectEvents(batch: StoredEventBatch, cursor: { batch: number; index: number }, filter: EventListFilter | undefined, limit: number, out: EventRecord[]): boolean {
  const text = batchText(batch.events);
  const entries = text === null ? null : batchEntries(text);
  if (entries === null) return out.length < limit;
  const first = batch.id === cursor.batch ? cursor.index + 1 : 0;
  for (let index = first; index < entries.length && index < EVENTS_PER_BATCH; index++) {
    const entry = entries.at(index);
    if (entry === null) continue;
    if (filter?.types && !filter.types.includes(entry.type)) continue;
    if (filter?.queues && (entry.queue === null || !filter.queues.includes(entry.queue))) continue;
    if (filter?.names && (entry.jobName === null || !filter.names.includes(entry.jobName))) continue;
    out.push({ id: eventId(batch.id, index), at: batch.at, ...entry });
    if (out.length >= limit) return false;
  }
  return true;
}

/**
 * Which of the oldest prunable batches (ids and event counts, oldest first) one prune deletes:
 * whole batches while their events add up to at most `limit`, and always the first, so that a
 * batch larger than `limit` is not kept forever.
 */
export function pickPrunable(candidates: readonly { id: number; count: number }[], limit: number): { ids: number[]; events: number; lastId: string | null } {
  const ids: number[] = [];
  let events = 0;
  let lastId: string | null = null;
  for (const candidate of candidates) {
    if (ids.length > 0 && events + candidate.count > limit) break;
    ids.push(candidate.id);
    events += candidate.count;
    lastId = eventId(candidate.id, Math.max(0, candidate.count - 1));
  }
  return { ids, events, lastId };
}
