/**
 * How both stores keep the event feed: one row per append (a batch), not one row per event.
 *
 * A busy worker emits two or three events per job; a row each made the feed the most expensive
 * thing a worker wrote after the jobs themselves (an index entry, a row header and a statement
 * step per event). A batch row holds the append's events as one JSON array, so an append costs
 * one row whatever its size, and the feed's cost on a worker is mostly building that text.
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
import type { EventInsert, EventListFilter, EventRecord } from './types.js';

/** Most events in one stored batch; also the factor between batch ids and event ids. */
export const EVENTS_PER_BATCH = 10_000;

/** A stored batch as the stores read it back. */
export interface StoredEventBatch {
  /** The batch id (a safe integer). */
  id: number;
  at: Date;
  /** Its events as `encodeEventBatch` wrote them. */
  events: string;
}

/** Splits an append into batches of at most `EVENTS_PER_BATCH`, in order. */
export function splitEventBatches(events: readonly EventInsert[]): EventInsert[][] {
  const batches: EventInsert[][] = [];
  for (let start = 0; start < events.length; start += EVENTS_PER_BATCH) batches.push(events.slice(start, start + EVENTS_PER_BATCH));
  return batches;
}

/**
 * JSON strings of the few texts that repeat in every batch (types, queues, job names): quoted
 * once. Bounded so that a stream of distinct values cannot grow it without end.
 */
const quoted = new Map<string, string>();
const MAX_QUOTED = 10_000;
function quote(text: string | null): string {
  if (text === null) return 'null';
  let json = quoted.get(text);
  if (json === undefined) {
    json = JSON.stringify(text);
    if (quoted.size >= MAX_QUOTED) quoted.clear();
    quoted.set(text, json);
  }
  return json;
}
/** Job ids are decimal digits: quoting them needs no escaping. */
const quoteId = (id: string | null): string => (id === null ? 'null' : /^\d+$/.test(id) ? `"${id}"` : JSON.stringify(id));

/**
 * The stored text of one batch: a JSON array of `[type, queue, jobName, jobId, data]`. `data` is
 * the core's serialized JSON object (the Store contract: the core serializes, the store stores),
 * so it goes in as a JSON value, not quoted again — the feed's bulk is these small objects, and
 * quoting them costs as much as writing them. Anything else given as data (not `{…}`) goes in
 * as a string. Either way it reads back as the text given (for a JSON object, as `JSON.stringify`
 * writes it: see `EventInsert.data`).
 */
export function encodeEventBatch(events: readonly EventInsert[]): string {
  let text = '[';
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const data = event.data;
    const raw = data.length >= 2 && data.charCodeAt(0) === 123 && data.charCodeAt(data.length - 1) === 125;
    text += `${i === 0 ? '' : ','}[${quote(event.type)},${quote(event.queue)},${quote(event.jobName)},${quoteId(event.jobId)},${raw ? data : quote(data)}]`;
  }
  return `${text}]`;
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

/**
 * Adds to `out` the events of `batch` after the cursor that pass `filter`, until `out` holds
 * `limit`. Returns false once `out` is full. A batch whose text does not parse, or an entry that
 * is not an array with a type, is skipped: a corrupt row never fails a read.
 */
export function collectEvents(batch: StoredEventBatch, cursor: { batch: number; index: number }, filter: EventListFilter | undefined, limit: number, out: EventRecord[]): boolean {
  let entries: unknown;
  try {
    entries = JSON.parse(batch.events);
  } catch {
    return out.length < limit;
  }
  if (!Array.isArray(entries)) return out.length < limit;
  const first = batch.id === cursor.batch ? cursor.index + 1 : 0;
  for (let index = first; index < entries.length && index < EVENTS_PER_BATCH; index++) {
    const entry: unknown = entries[index];
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue;
    const [type, queue, jobName, jobId] = [entry[0], asText(entry[1]), asText(entry[2]), asText(entry[3])];
    const value: unknown = entry[4];
    if (filter?.types && !filter.types.includes(type)) continue;
    if (filter?.queues && (queue === null || !filter.queues.includes(queue))) continue;
    if (filter?.names && (jobName === null || !filter.names.includes(jobName))) continue;
    const data = typeof value === 'string' ? value : value !== null && typeof value === 'object' ? JSON.stringify(value) : '{}';
    out.push({ id: eventId(batch.id, index), at: batch.at, type, queue, jobName, jobId, data });
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
