/**
 * How both stores keep the event feed: one row per append (a batch), not one row per event.
 *
 * A busy worker emits two or three events per job; a row each made the feed the most expensive
 * thing a worker wrote after the jobs themselves (an index entry, a row header and a statement
 * step per event). A batch row holds up to `EVENTS_PER_BATCH` events as bytes (format 3, below),
 * so an append costs one row whatever its size. The batch is built by the writer as the events
 * happen (`EventBatchBuilder`) and handed to the store ready to keep (`EventBatch`): a store
 * only stores it, and reads it back with `collectEvents`.
 *
 * Ids. An event's id is `batchId × EVENTS_PER_BATCH + its index in the batch`: still a decimal
 * string that grows with commit order (batch ids do, by each store's own rule), so cursors,
 * `Last-Event-ID` and the pruned-through mark work as before. Ids are not contiguous between
 * batches; nothing relies on that.
 *
 * Reading decodes the batches after the cursor's batch and filters in the process: the filters
 * are few and cheap, and a reader follows the head of the feed, where batches are few.
 * Pruning deletes whole batches (see `pickPrunable`).
 *
 * Formats. Batches written by earlier versions still read: format 1 (a JSON array of spelled-out
 * entries) and format 2 (a JSON object with a dictionary of texts), each as text or, on SQLite,
 * packed with raw DEFLATE. Only format 3 is written.
 */
import { inflateRawSync } from 'node:zlib';
import { ValidationError } from '../errors.js';
import type { EventBatch, EventInsert, EventListFilter, EventRecord } from './types.js';

/** Most events in one stored batch; also the factor between batch ids and event ids. */
export const EVENTS_PER_BATCH = 10_000;


/** A stored batch as the stores read it back. */
export interface StoredEventBatch {
  /** The batch id (a safe integer). */
  id: number;
  at: Date;
  /** Its bytes (format 3, or format 1/2 text packed with DEFLATE), or its text (formats 1 and 2). */
  events: string | Uint8Array;
}

/**
 * Whether `batch` is a batch a store may keep: a count from 1 to `EVENTS_PER_BATCH` and bytes
 * that start as format 3 does.
 */
export function isEventBatch(batch: unknown): batch is EventBatch {
  if (batch === null || typeof batch !== 'object') return false;
  const { count, bytes } = batch as { count?: unknown; bytes?: unknown };
  return (
    typeof count === 'number' && Number.isInteger(count) && count >= 1 && count <= EVENTS_PER_BATCH && bytes instanceof Uint8Array && bytes.length > 2 && bytes[0] === MAGIC && bytes[1] === FORMAT
  );
}

/**
 * What both stores check before writing an append: every element a batch (`isEventBatch`), else
 * a `ValidationError` and nothing written, so a caller's mistake never becomes a row no reader
 * can use.
 */
export function checkEventBatches(batches: unknown): asserts batches is readonly EventBatch[] {
  if (!Array.isArray(batches)) throw new ValidationError('INVALID_OPTION', 'eventAppend: `batches` must be an array of event batches');
  batches.forEach((batch, index) => {
    if (!isEventBatch(batch)) {
      throw new ValidationError('INVALID_OPTION', `eventAppend: batches[${index}] is not an event batch: build batches with EventBatchBuilder or encodeEvents (1 to ${EVENTS_PER_BATCH} events each)`, {
        issues: [{ path: `batches.${index}`, message: 'not an event batch' }],
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Format 3
//
// Why bytes, built as events happen: the feed is most of what a busy worker does besides its
// jobs, and a run job leaves two events. Format 2 was JSON text the writer built per event
// (`job:completed`'s data), encoded per batch and, on SQLite, packed with DEFLATE: 15–20 ms of
// the main thread per 20 000 no-op jobs, some 4–5 % of their drain. Here a run event is a few
// bytes appended to a buffer, with no text and no object made for it (about 5 ms for the same
// jobs), and the bytes are small enough (about 5 per run event) to store as they are.
//
// Layout: byte 0 is MAGIC (0x4E), which no raw DEFLATE stream starts with (its block type bits
// would be the reserved 11), so packed batches of format 1 and 2 stay told apart; byte 1 is the
// format, 3. Then operations until the end:
// - 0x80 DEF, varint byte length, UTF-8: the next text of the batch's dictionary (index 0, 1, …).
// - 0x81 DEF of a text that is not well-formed UTF-16 (a lone surrogate): its JSON string literal.
// - 0x00–0x1F an event. Bits 0–1, its data kind: 0 text (a dictionary index: the data as given),
//   1 started (varints attempt and maxAttempts, a dictionary index for the worker id: the data
//   `{"attempt":…,"maxAttempts":…,"workerId":…}`), 2 completed (varints attempt and the duration
//   in whole microseconds: `{"attempt":…,"durationMs":…}`, the milliseconds as JSON prints them).
//   Bit 2: a head follows (varints type, queue + 1 and job name + 1, dictionary indexes, 0 for
//   null); else the head is the previous event's of the same data kind. Bits 3–4, the job id:
//   0 null, 1 a number (a zigzag varint: the difference from the previous numbered id of the
//   batch, which starts at 0), 2 a text (a dictionary index). The id comes after the head, the
//   data fields last.
// Varints are unsigned LEB128 of safe integers (up to 8 bytes).

const MAGIC = 0x4e;
const FORMAT = 3;
const OP_DEF = 0x80;
const OP_DEF_JSON = 0x81;
const KIND_TEXT = 0;
const KIND_STARTED = 1;
const KIND_COMPLETED = 2;
const HAS_HEAD = 4;
const ID_NUMBER = 8;
const ID_TEXT = 16;
/** Most bytes an event takes besides the texts it defines: its operation and seven varints. */
const MAX_EVENT_BYTES = 1 + 7 * 8;
/** Durations up to this many microseconds (~68 years) are written as a number; longer ones as text. */
const MAX_MICROS = 2_147_483_647_000;

/**
 * `us` microseconds as milliseconds the way `JSON.stringify(us / 1000)` prints them, for
 * 0 ≤ us < MAX_MICROS, built from integers (printing a fraction is several times slower).
 */
function microsAsMillisText(us: number): string {
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  if (frac === 0) return `${whole}`;
  if (frac % 100 === 0) return `${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** The number of a job id of 1 to 15 digits without a leading zero (a double holds it exactly), else -1. */
function idNumber(id: string): number {
  const length = id.length;
  if (length === 0 || length > 15) return -1;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9 || (digit === 0 && i === 0 && length > 1)) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const isCount = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;
const utf8 = new TextEncoder();

/**
 * Builds one batch in format 3 as events arrive. `add` takes any event; `addStarted` and
 * `addCompleted` take a run's numbers and write the same data their text would be, in a few
 * bytes (anything they cannot write as numbers goes as text). `seal` hands the batch over and
 * starts the next one.
 */
export class EventBatchBuilder {
  #bytes = new Uint8Array(16_384);
  #length = 2;
  #count = 0;
  #texts = new Map<string, number>();
  #previousId = 0;
  /** The worker id of the last started event and its dictionary index, when that index is one byte. */
  #worker: string | null = null;
  #workerIndex = 0;
  /** Per data kind, the head of its previous event (type, queue, job name), as texts. */
  readonly #heads: ({ type: string; queue: string | null; jobName: string | null } | null)[] = [null, null, null];

  constructor() {
    this.#bytes[0] = MAGIC;
    this.#bytes[1] = FORMAT;
  }

  /** Events in the batch so far. */
  get count(): number {
    return this.#count;
  }

  /** Any event; its data as given. */
  add(type: string, queue: string | null, jobName: string | null, jobId: string | null, data: string): void {
    const textIndex = this.#text(data);
    this.#event(KIND_TEXT, type, queue, jobName, jobId);
    this.#varint(textIndex);
  }

  /** `{"attempt":attempt,"maxAttempts":maxAttempts,"workerId":workerId}`. */
  addStarted(type: string, queue: string | null, jobName: string | null, jobId: string | null, attempt: number, maxAttempts: number, workerId: string): void {
    // The common case in a few steps: the head and worker of the previous started event, small
    // counts, an id a little above the previous one. The code runs for every job, and most of a
    // short-lived worker's jobs run it before the engine has compiled it; everything else is in
    // a method of its own, so that what the engine compiles (and a drain waits for) stays small.
    if (
      workerId === this.#worker &&
      this.#sameHead(KIND_STARTED, type, queue, jobName) &&
      jobId !== null &&
      (attempt & 0x7f) === attempt &&
      (maxAttempts & 0x7f) === maxAttempts &&
      this.#length + 8 <= this.#bytes.length
    ) {
      const delta = idNumber(jobId) - this.#previousId;
      if (delta >= 0 && delta < 64) {
        const bytes = this.#bytes;
        let at = this.#length;
        this.#previousId += delta;
        bytes[at++] = KIND_STARTED | ID_NUMBER;
        bytes[at++] = delta * 2;
        bytes[at++] = attempt;
        bytes[at++] = maxAttempts;
        bytes[at++] = this.#workerIndex;
        this.#length = at;
        this.#count++;
        return;
      }
    }
    this.#addStartedInFull(type, queue, jobName, jobId, attempt, maxAttempts, workerId);
  }

  #addStartedInFull(type: string, queue: string | null, jobName: string | null, jobId: string | null, attempt: number, maxAttempts: number, workerId: string): void {
    if (!isCount(attempt) || !isCount(maxAttempts)) {
      this.add(type, queue, jobName, jobId, `{"attempt":${JSON.stringify(attempt)},"maxAttempts":${JSON.stringify(maxAttempts)},"workerId":${JSON.stringify(workerId)}}`);
      return;
    }
    const worker = this.#text(workerId);
    if (worker < 0x80) {
      this.#worker = workerId;
      this.#workerIndex = worker;
    }
    this.#event(KIND_STARTED, type, queue, jobName, jobId);
    this.#varint(attempt);
    this.#varint(maxAttempts);
    this.#varint(worker);
  }

  /** `{"attempt":attempt,"durationMs":…}`, the duration rounded to the microsecond (null when not finite). */
  addCompleted(type: string, queue: string | null, jobName: string | null, jobId: string | null, attempt: number, durationMs: number): void {
    const us = Math.round(durationMs * 1000);
    // The common case in a few steps, as in addStarted.
    if (
      this.#sameHead(KIND_COMPLETED, type, queue, jobName) &&
      jobId !== null &&
      (attempt & 0x7f) === attempt &&
      us >= 0 &&
      us < 0x200000 &&
      this.#length + 8 <= this.#bytes.length
    ) {
      const id = idNumber(jobId);
      const delta = id - this.#previousId;
      if (id >= 0 && delta > -32 && delta < 32) {
        const bytes = this.#bytes;
        let at = this.#length;
        this.#previousId = id;
        bytes[at++] = KIND_COMPLETED | ID_NUMBER;
        bytes[at++] = delta >= 0 ? delta * 2 : -delta * 2 - 1;
        bytes[at++] = attempt;
        // `us` in one to three varint bytes.
        if (us < 0x80) bytes[at++] = us;
        else if (us < 0x4000) {
          bytes[at++] = (us & 0x7f) | 0x80;
          bytes[at++] = us >>> 7;
        } else {
          bytes[at++] = (us & 0x7f) | 0x80;
          bytes[at++] = ((us >>> 7) & 0x7f) | 0x80;
          bytes[at++] = us >>> 14;
        }
        this.#length = at;
        this.#count++;
        return;
      }
    }
    this.#addCompletedInFull(type, queue, jobName, jobId, attempt, durationMs, us);
  }

  #addCompletedInFull(type: string, queue: string | null, jobName: string | null, jobId: string | null, attempt: number, durationMs: number, us: number): void {
    if (!isCount(attempt) || !(us >= 0 && us < MAX_MICROS)) {
      const duration = Number.isFinite(durationMs) ? us / 1000 : null;
      this.add(type, queue, jobName, jobId, `{"attempt":${JSON.stringify(attempt)},"durationMs":${JSON.stringify(duration)}}`);
      return;
    }
    this.#event(KIND_COMPLETED, type, queue, jobName, jobId);
    this.#varint(attempt);
    this.#varint(us);
  }

  /** The batch so far (null when empty); the builder starts a new one. */
  seal(): EventBatch | null {
    if (this.#count === 0) return null;
    const batch = { count: this.#count, bytes: this.#bytes.slice(0, this.#length) };
    this.#length = 2;
    this.#count = 0;
    this.#texts.clear();
    this.#previousId = 0;
    this.#worker = null;
    this.#heads.fill(null);
    return batch;
  }

  /**
   * Writes an event's operation, head and id, and makes room for its data fields: after it, up
   * to three varints go in without a check. Texts the event needs are defined before it.
   */
  #event(kind: number, type: string, queue: string | null, jobName: string | null, jobId: string | null): void {
    const sameHead = this.#sameHead(kind, type, queue, jobName);
    let typeIndex = 0;
    let queueIndex = 0;
    let nameIndex = 0;
    if (!sameHead) {
      typeIndex = this.#text(type);
      queueIndex = queue === null ? 0 : this.#text(queue) + 1;
      nameIndex = jobName === null ? 0 : this.#text(jobName) + 1;
      this.#heads[kind] = { type, queue, jobName };
    }
    let idBits = 0;
    let idValue = 0;
    if (jobId !== null) {
      const number = idNumber(jobId);
      if (number >= 0) {
        const delta = number - this.#previousId;
        this.#previousId = number;
        idBits = ID_NUMBER;
        idValue = delta >= 0 ? delta * 2 : -delta * 2 - 1;
      } else {
        idBits = ID_TEXT;
        idValue = this.#text(jobId);
      }
    }
    // An event's operation, head, id and data: at most 1 + 8 × 7 bytes.
    if (this.#length + MAX_EVENT_BYTES > this.#bytes.length) this.#room(MAX_EVENT_BYTES);
    this.#bytes[this.#length++] = kind | (sameHead ? 0 : HAS_HEAD) | idBits;
    if (!sameHead) {
      this.#varint(typeIndex);
      this.#varint(queueIndex);
      this.#varint(nameIndex);
    }
    if (idBits !== 0) this.#varint(idValue);
    this.#count++;
  }

  /** Whether the previous event of data kind `kind` had this head (then the next one may leave it out). */
  #sameHead(kind: number, type: string, queue: string | null, jobName: string | null): boolean {
    const head = this.#heads[kind];
    return head != null && head.type === type && head.queue === queue && head.jobName === jobName;
  }

  /** The dictionary index of `text`, defining it first when the batch has not had it. */
  #text(text: string): number {
    const known = this.#texts.get(text);
    if (known !== undefined) return known;
    const index = this.#texts.size;
    this.#texts.set(text, index);
    const wellFormed = text.isWellFormed();
    const encoded = utf8.encode(wellFormed ? text : JSON.stringify(text));
    this.#room(1 + 8 + encoded.length);
    this.#bytes[this.#length++] = wellFormed ? OP_DEF : OP_DEF_JSON;
    this.#varint(encoded.length);
    this.#bytes.set(encoded, this.#length);
    this.#length += encoded.length;
    return index;
  }

  /** Writes `value` (a safe non-negative integer) where room was made for it. */
  #varint(value: number): void {
    const bytes = this.#bytes;
    if (value < 0x80) {
      bytes[this.#length++] = value;
      return;
    }
    let at = this.#length;
    while (value >= 0x80) {
      bytes[at++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    bytes[at++] = value;
    this.#length = at;
  }

  #room(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < this.#length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}

/** `events` as batches ready to store, at most `EVENTS_PER_BATCH` each, in order. */
export function encodeEvents(events: readonly EventInsert[]): EventBatch[] {
  const batches: EventBatch[] = [];
  const builder = new EventBatchBuilder();
  for (const event of events) {
    builder.add(event.type, event.queue, event.jobName, event.jobId, event.data);
    if (builder.count === EVENTS_PER_BATCH) batches.push(builder.seal()!);
  }
  const last = builder.seal();
  if (last !== null) batches.push(last);
  return batches;
}

/** The events of a format 3 batch, in order, up to the first operation that does not read (a damaged row). */
export function decodeEventBatch(bytes: Uint8Array): EventInsert[] {
  const events: EventInsert[] = [];
  if (bytes.length < 2 || bytes[0] !== MAGIC || bytes[1] !== FORMAT) return events;
  const texts: string[] = [];
  const heads: ({ type: string; queue: string | null; jobName: string | null } | null)[] = [null, null, null];
  const decoder = new TextDecoder();
  let at = 2;
  let previousId = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (at >= bytes.length) throw new RangeError('truncated');
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new RangeError('varint too long');
  };
  const text = (index: number): string => {
    const value = texts[index];
    if (value === undefined) throw new RangeError('no such text');
    return value;
  };
  try {
    while (at < bytes.length) {
      const op = bytes[at++]!;
      if (op === OP_DEF || op === OP_DEF_JSON) {
        const length = varint();
        if (at + length > bytes.length) throw new RangeError('truncated');
        const raw = decoder.decode(bytes.subarray(at, at + length));
        at += length;
        const value: unknown = op === OP_DEF ? raw : JSON.parse(raw);
        if (typeof value !== 'string') throw new RangeError('not a text');
        texts.push(value);
        continue;
      }
      if (op > 0x1f) throw new RangeError('unknown operation');
      const kind = op & 3;
      if (kind > KIND_COMPLETED) throw new RangeError('unknown data kind');
      let head = heads[kind];
      if (op & HAS_HEAD) {
        const type = text(varint());
        const queue = varint();
        const name = varint();
        head = { type, queue: queue === 0 ? null : text(queue - 1), jobName: name === 0 ? null : text(name - 1) };
        heads[kind] = head;
      }
      if (!head) throw new RangeError('no head');
      let jobId: string | null = null;
      const idBits = op & (ID_NUMBER | ID_TEXT);
      if (idBits === ID_NUMBER) {
        const zigzag = varint();
        previousId += zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
        jobId = String(previousId);
      } else if (idBits === ID_TEXT) jobId = text(varint());
      else if (idBits !== 0) throw new RangeError('unknown id kind');
      let data: string;
      if (kind === KIND_TEXT) data = text(varint());
      else if (kind === KIND_STARTED) {
        const attempt = varint();
        const maxAttempts = varint();
        data = `{"attempt":${attempt},"maxAttempts":${maxAttempts},"workerId":${JSON.stringify(text(varint()))}}`;
      } else {
        const attempt = varint();
        const us = varint();
        data = `{"attempt":${attempt},"durationMs":${microsAsMillisText(us)}}`;
      }
      events.push({ type: head.type, queue: head.queue, jobName: head.jobName, jobId, data });
    }
  } catch {
    // A damaged row: what read before it stands.
  }
  return events;
}

// ---------------------------------------------------------------------------------------------
// Reading, every format

/** The text of a stored batch of format 1 or 2, unpacked when packed; null when a packed batch does not unpack. */
function batchText(stored: string | Uint8Array): string | null {
  if (typeof stored === 'string') return stored;
  try {
    return inflateRawSync(stored).toString('utf8');
  } catch {
    return null;
  }
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

/** The entries of a stored batch text, format 1 or 2, decoded lazily; null when it does not parse. */
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

/** The entries of a stored batch of any format; null when it does not read at all. */
function storedEntries(stored: string | Uint8Array): { length: number; at(index: number): DecodedEntry } | null {
  if (typeof stored !== 'string' && stored.length >= 2 && stored[0] === MAGIC) {
    const events = decodeEventBatch(stored);
    return { length: events.length, at: (index) => events[index] ?? null };
  }
  const text = batchText(stored);
  return text === null ? null : batchEntries(text);
}

/**
 * Adds to `out` the events of `batch` after the cursor that pass `filter`, until `out` holds
 * `limit`. Returns false once `out` is full. A batch that does not read, an entry that is not an
 * entry with a type, or a format 3 batch's events after its first damaged byte, are skipped: a
 * corrupt row never fails a read.
 */
export function collectEvents(batch: StoredEventBatch, cursor: { batch: number; index: number }, filter: EventListFilter | undefined, limit: number, out: EventRecord[]): boolean {
  const entries = storedEntries(batch.events);
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
