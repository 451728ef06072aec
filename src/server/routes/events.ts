/**
 * `GET /api/events`: the cluster-wide event feed as Server-Sent Events.
 *
 * Each event is sent as `id: <cursor>`, `event: <type>`, `data: <FeedEvent JSON>`. A client that
 * reconnects with `Last-Event-ID` (or `?after=<id>`) gets exactly the events after that id, as
 * long as they are within the pruner's event retention (default 1 hour); when events after its
 * cursor may have been pruned it first gets `event: gap` (no id), as does a cursor beyond the
 * newest event (a store reset or replaced: the stream then goes on from the oldest event kept).
 * A stream whose token is revoked gets `event: unauthorized` and ends. Without a cursor the stream
 * starts at the newest event. Filters: `?type=`, `?queue=`, `?name=` (comma-separated lists, or repeated).
 * A comment line (`: heartbeat`) every 15 s keeps proxies from closing an idle stream.
 *
 * One shared poller per server (`EventHub`) reads the store after the newest id it has, every
 * 250 ms while anyone listens, and fans the events out to every open stream; a new stream with a
 * cursor first catches up from the store on its own, then joins. A stream whose client reads
 * too slowly (over 4 MiB unsent) is closed: it reconnects with its cursor and catches up from the
 * store instead of growing this process's memory. Server shutdown ends every stream first
 * (`preClose`: `onClose` only runs once in-flight requests ended, which a stream never does).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { FEED_EVENT_TYPES, type EventFeedReader, type FeedEvent } from '../../observe/event-feed.js';
import type { EventListFilter } from '../../store/types.js';
import { errorReplySchema, repeatableParam } from '../api-schemas.js';
import { HttpError } from '../http-errors.js';
import type { RouteGuard } from '../route-guard.js';

/** How often the shared poller reads the store while streams are open, ms. */
const POLL_INTERVAL_MS = 250;
/** Time between heartbeat comments, ms. */
const HEARTBEAT_MS = 15_000;
/** Events read per store call. */
const PAGE = 1000;
/** Unsent bytes after which a slow stream is closed (it resumes from its cursor). */
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;
/** Reconnection delay suggested to EventSource clients, ms. */
const RETRY_MS = 2000;
/** How often an open stream's token is checked again, ms (the tokens themselves are read every 5 s). */
const AUTH_RECHECK_MS = 2000;

/** A filter list: comma-separated, repeated (`?type=a&type=b`, as the jobs list takes them), or both. */
const list = (what: string, max: number) =>
  repeatableParam(
    z
      .union([z.string().max(4096), z.array(z.string().max(4096)).max(max)])
      .transform((value, ctx) => {
        const items = [...new Set((Array.isArray(value) ? value : [value]).flatMap((part) => part.split(',')).map((item) => item.trim()).filter((item) => item !== ''))];
        if (items.length === 0) return undefined;
        if (items.length > max) ctx.addIssue({ code: 'custom', message: `at most ${max} values` });
        return items;
      }),
  )
    .optional()
    .describe(`${what}, comma-separated`);

/** Strict, as every query of the API: a mistyped filter (`?tpye=`) is a 400, not a stream of everything. */
export const eventStreamQuerySchema = z.strictObject({
  type: list(`event types (${FEED_EVENT_TYPES.join(', ')})`, FEED_EVENT_TYPES.length).refine(
    (types) => types === undefined || types.every((type) => (FEED_EVENT_TYPES as readonly string[]).includes(type)),
    { message: `unknown event type; known: ${FEED_EVENT_TYPES.join(', ')}` },
  ),
  queue: list('queue names', 100),
  name: list('job names', 100),
  after: z.string().regex(/^\d{1,18}$/, 'a decimal event id').optional().describe('resume after this event id (the `Last-Event-ID` header wins when both are sent)'),
});

/**
 * The request header an EventSource sends when it reconnects, documented and checked here like
 * the query; loose, since a request carries many other headers (validated headers are merged
 * back into the request's, never replace them).
 */
export const eventStreamHeadersSchema = z.looseObject({
  'last-event-id': z
    .string()
    .trim()
    .regex(/^\d{1,18}$/, 'a decimal event id sent by this stream')
    .optional()
    .describe('Last-Event-ID: resume after this event id, as an EventSource does when it reconnects; wins over `?after=`'),
});

/** One open stream. */
interface Subscriber {
  filter: EventListFilter;
  /** Id of the newest event this stream has passed (sent or filtered out). */
  lastId: bigint;
  /** Non-null while catching up from the store: live events wait here. */
  pending: FeedEvent[] | null;
  raw: ServerResponse;
}

function matches(filter: EventListFilter, event: FeedEvent): boolean {
  if (filter.types && !filter.types.includes(event.type)) return false;
  if (filter.queues && (event.queue === null || !filter.queues.includes(event.queue))) return false;
  if (filter.names && (event.jobName === null || !filter.names.includes(event.jobName))) return false;
  return true;
}

function frame(event: FeedEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The shared poller. States: `idle` (no stream, no timer) → (first stream) `polling` (a read
 * every 250 ms) → (last stream gone) `idle`; (close) from any → `closed`, every stream ended.
 */
class EventHub {
  readonly #feed: EventFeedReader;
  readonly #logger: Logger | undefined;
  readonly #subscribers = new Set<Subscriber>();
  #state: 'idle' | 'polling' | 'closed' = 'idle';
  /** The newest id read; null until the first read of bounds. */
  #cursor: bigint | null = null;
  #timer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #reading: Promise<void> | null = null;
  #failing = false;
  /** Goes up at every idle → polling: a read started before going idle must not touch the new cursor. */
  #generation = 0;

  constructor(feed: EventFeedReader, logger: Logger | undefined) {
    this.#feed = feed;
    this.#logger = logger;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Registers a stream; resolves with the id a stream without a cursor starts after. */
  async join(subscriber: Omit<Subscriber, 'lastId'> & { lastId: bigint | null }): Promise<Subscriber> {
    if (this.#cursor === null) {
      const { newestId } = await this.#feed.bounds();
      // Another join may have set it meanwhile; the poller never moves it backwards.
      if (this.#cursor === null) this.#cursor = BigInt(newestId ?? '0');
    }
    const joined = subscriber as Subscriber;
    joined.lastId = subscriber.lastId ?? this.#cursor;
    if (this.#state === 'closed') {
      // Closed while reading the bounds: the stream ends before it starts.
      joined.raw.end();
      return joined;
    }
    this.#subscribers.add(joined);
    if (this.#state === 'idle') {
      this.#state = 'polling';
      this.#generation++;
      this.#arm();
      this.#heartbeat = setInterval(() => {
        for (const stream of this.#subscribers) this.#write(stream, ': heartbeat\n\n');
      }, HEARTBEAT_MS);
    }
    return joined;
  }

  leave(subscriber: Subscriber): void {
    this.#subscribers.delete(subscriber);
    if (this.#subscribers.size === 0 && this.#state === 'polling') this.#idle();
  }

  /** Sends a live or caught-up event to one stream if it is newer than what the stream passed and matches its filter. */
  deliver(subscriber: Subscriber, event: FeedEvent): void {
    const id = BigInt(event.id);
    if (id <= subscriber.lastId) return;
    subscriber.lastId = id;
    if (matches(subscriber.filter, event)) this.#write(subscriber, frame(event));
  }

  /** Writes to a stream; ends it when the client is too far behind. */
  #write(subscriber: Subscriber, text: string): void {
    if (subscriber.raw.writableEnded || subscriber.raw.destroyed) return;
    if (subscriber.raw.writableLength > MAX_UNSENT_BYTES) {
      this.#logger?.warn({ unsent: subscriber.raw.writableLength }, 'event stream client reads too slowly; closing it (it resumes from its cursor)');
      subscriber.raw.end();
      this.leave(subscriber);
      return;
    }
    subscriber.raw.write(text);
  }

  #arm(): void {
    if (this.#state !== 'polling' || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#reading = this.#read().finally(() => {
        this.#reading = null;
        this.#arm();
      });
    }, POLL_INTERVAL_MS);
  }

  async #read(): Promise<void> {
    const generation = this.#generation;
    try {
      for (;;) {
        if (this.#state !== 'polling' || this.#cursor === null) return;
        const page = await this.#feed.list({ afterId: String(this.#cursor), limit: PAGE });
        if (this.#state !== 'polling' || generation !== this.#generation) return;
        for (const event of page) {
          this.#cursor = BigInt(event.id);
          for (const subscriber of this.#subscribers) {
            if (subscriber.pending) subscriber.pending.push(event);
            else this.deliver(subscriber, event);
          }
        }
        if (this.#failing) this.#logger?.info('event streams: the store answers again');
        this.#failing = false;
        if (page.length < PAGE) return;
      }
    } catch (error) {
      if (!this.#failing) this.#logger?.warn({ err: error }, 'event streams: reading the feed failed; trying again');
      this.#failing = true;
    }
  }

  /** No stream left: stop reading, and forget the cursor so the next stream starts at the newest event. */
  #idle(): void {
    this.#state = 'idle';
    this.#cursor = null;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#timer = null;
    this.#heartbeat = null;
  }

  /** Ends every stream and stops polling; the hub accepts no more streams. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#idle();
    this.#state = 'closed';
    for (const subscriber of this.#subscribers) subscriber.raw.end();
    this.#subscribers.clear();
    await this.#reading;
  }
}

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 404: errorReplySchema, 503: errorReplySchema };

export function eventRoutes(app: FastifyInstance, feed: EventFeedReader | undefined, guard: RouteGuard, logger?: Logger): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const hub = feed ? new EventHub(feed, logger) : null;
  if (hub) app.addHook('preClose', async () => hub.close());

  api.get(
    '/events',
    {
      onRequest: guard('read'),
      schema: {
        summary: 'Live job, schedule and queue events of every process on the store (Server-Sent Events)',
        description: [
          'A `text/event-stream`: each event has `id:` (the cursor), `event:` (its type) and `data:` (JSON: id, type, at, queue, jobName, jobId, data).',
          'Resume with the `Last-Event-ID` header or `?after=`; events are kept for the event retention (default 1 hour), and a cursor older than that first gets `event: gap`, as does one beyond the newest event (then every kept event follows).',
          'A stream whose token is revoked gets `event: unauthorized` and ends.',
          'Without a cursor the stream starts at the newest event. A `: heartbeat` comment comes every 15 s.',
        ].join(' '),
        tags: ['events'],
        querystring: eventStreamQuerySchema,
        headers: eventStreamHeadersSchema,
        response: {
          200: { description: 'The event stream (never ends on its own).', content: { 'text/event-stream': { schema: z.string() } } },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      if (!hub) throw new HttpError(404, 'NOT_FOUND', 'the event feed is not served by this process');
      if (hub.closed) throw new HttpError(503, 'SHUTTING_DOWN', 'the server is shutting down');
      // Checked by eventStreamHeadersSchema (a 400 naming last-event-id otherwise).
      const cursor = request.headers['last-event-id'] ?? request.query.after ?? null;
      const filter: EventListFilter = {
        ...(request.query.type ? { types: request.query.type } : {}),
        ...(request.query.queue ? { queues: request.query.queue } : {}),
        ...(request.query.name ? { names: request.query.name } : {}),
      };
      // The token is checked again while the stream is open: one revoked (or a store that has had
      // its first token created since) ends the stream within seconds, as it refuses new requests.
      const stillAllowed = guard('read');
      await stream(hub, feed!, reply, filter, cursor === null ? null : BigInt(cursor), () => stillAllowed(request, reply));
    },
  );
}

/** Runs one stream until the client goes or the server closes. */
async function stream(hub: EventHub, feed: EventFeedReader, reply: FastifyReply, filter: EventListFilter, cursor: bigint | null, recheck: () => Promise<void>): Promise<void> {
  const raw = reply.raw;
  // Joined before the headers go out: once a client has them, no event committed after is missed.
  let subscriber: Subscriber;
  try {
    subscriber = await hub.join({ filter, lastId: cursor, pending: cursor === null ? null : [], raw });
  } catch (error) {
    throw new HttpError(503, 'STORE_UNAVAILABLE', `cannot read the event feed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (raw.destroyed || raw.writableEnded) {
    // The client left (or the server closed) while it joined.
    hub.leave(subscriber);
    reply.hijack();
    return;
  }
  reply.hijack();
  const authTimer = setInterval(() => {
    recheck().catch((error: unknown) => {
      if (raw.writableEnded || raw.destroyed) return;
      const refused = error instanceof HttpError ? { code: error.code, message: error.message } : { code: 'UNAUTHENTICATED', message: 'the token is no longer accepted' };
      raw.write(`event: unauthorized\ndata: ${JSON.stringify({ error: refused })}\n\n`);
      raw.end();
      hub.leave(subscriber);
    });
  }, AUTH_RECHECK_MS);
  authTimer.unref();
  raw.on('close', () => {
    clearInterval(authTimer);
    hub.leave(subscriber);
  });
  raw.writeHead(200, {
    // The headers hooks set on the reply (CORS for a listed origin, cors.ts) go out with the stream's own.
    ...(Object.fromEntries(Object.entries(reply.getHeaders()).filter(([, value]) => value !== undefined)) as OutgoingHttpHeaders),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx buffers responses unless told not to.
    'x-accel-buffering': 'no',
  });
  raw.write(`retry: ${RETRY_MS}\n\n`);
  if (cursor === null) return;
  try {
    const { prunedThroughId, newestId } = await feed.bounds();
    const known = [newestId, prunedThroughId].reduce((max, id) => (id !== null && BigInt(id) > max ? BigInt(id) : max), 0n);
    if (cursor > known) {
      // No event with this id was ever written to this feed: the store was reset or replaced, or
      // the cursor came from another one. Said once, then the stream goes on from the feed's start
      // (every event it still keeps is new to this client) instead of waiting silently forever
      // for ids that will not come.
      raw.write(`event: gap\ndata: ${JSON.stringify({ after: String(cursor), newest: newestId, message: 'this cursor is beyond the newest event of the feed (the store was reset or is another one); going on from the oldest event kept' })}\n\n`);
      subscriber.lastId = 0n;
    } else if (prunedThroughId !== null && cursor < BigInt(prunedThroughId)) {
      raw.write(`event: gap\ndata: ${JSON.stringify({ after: String(cursor), prunedThrough: prunedThroughId, message: 'events after this cursor may have been pruned (older than the event retention)' })}\n\n`);
    }
    // Catch up from the store with this stream's filter; live events meanwhile wait in `pending`.
    for (;;) {
      const page = await feed.list({ afterId: String(subscriber.lastId), limit: PAGE, filter });
      for (const event of page) hub.deliver(subscriber, event);
      if (page.length < PAGE || raw.writableEnded) break;
    }
  } catch (error) {
    reply.log.warn({ err: error }, 'event stream: catching up from the store failed; closing the stream (the client resumes from its cursor)');
    raw.end();
    hub.leave(subscriber);
    return;
  }
  const waiting = subscriber.pending ?? [];
  subscriber.pending = null;
  for (const event of waiting) hub.deliver(subscriber, event);
}
