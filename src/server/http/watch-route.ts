// GET /v1/watch: changes to a key, a prefix or a range as Server-Sent Events.
//
//   event: created   data: {watchId, nodeId, fromRevision, currentRevision}     (once, first)
//   event: put|delete data: {type, kv, prevKv?}      the last event of a revision carries `id: <revision>`
//   event: progress  data: {revision}  id: <revision>  everything up to `revision` was delivered
//   event: cancelled data: {code, message, compactRevision?, resumeRevision?}  (then the stream ends)
//   `: heartbeat` comments keep proxies from closing an idle stream.
//
// Resuming: the `id` of a message is a revision whose changes have all been sent, so a client that
// reconnects with `Last-Event-ID: N` (EventSource does it by itself) continues at N + 1 with no
// gap and no duplicate. Flow control: when the socket buffer is full the hub pauses this watch
// and buffers (bounded); a client that stays too slow gets `cancelled` with 'watch-too-slow' and
// the revision to resume from.
import type { ServerResponse } from 'node:http';
import type { KeyRange } from '../../state/kv/commands.ts';
import type { KvEvent } from '../../state/kv/kv-reader.ts';
import type { Watch, WatchNotice } from '../../state/kv/watch-hub.ts';
import type { WireEncoding, WireWatchCreated, WireWatchEvent } from './api-types.ts';
import { allowQuery, queryFlag, queryInteger } from './body.ts';
import { bytesFromQuery, keyValueToWire } from './codec.ts';
import { badRequest, fromKvError } from './errors.ts';
import { encodingOf, orThrow, requireRunning } from './route-helpers.ts';
import type { RequestContext, Route } from './router.ts';

export function watchRoutes(): Route[] {
  return [{ method: 'GET', path: '/v1/watch', handler: watch }];
}

function watchRange(context: RequestContext, encoding: WireEncoding): KeyRange {
  const { query } = context;
  const given = ['key', 'prefix', 'start'].filter((name) => query.has(name));
  if (given.length !== 1) throw badRequest('bad-request', 'a watch needs exactly one of ?key, ?prefix or ?start (with an optional ?end)');
  const bytes = (name: string): Uint8Array => orThrow(bytesFromQuery(query.get(name)!, encoding, name));
  if (query.has('end') && given[0] !== 'start') throw badRequest('bad-request', '?end goes with ?start');
  if (given[0] === 'key') return { key: bytes('key') };
  if (given[0] === 'prefix') return { prefix: bytes('prefix') };
  return query.has('end') && query.get('end') !== '' ? { start: bytes('start'), end: bytes('end') } : { start: bytes('start') };
}

/** Where to start: after Last-Event-ID when reconnecting, else ?fromRevision (0/absent = from now on). */
function startRevision(context: RequestContext): number {
  const lastEventId = context.request.headers['last-event-id'];
  if (typeof lastEventId === 'string' && lastEventId.length > 0) {
    if (!/^[0-9]{1,16}$/.test(lastEventId) || !Number.isSafeInteger(Number(lastEventId))) throw badRequest('bad-request', 'Last-Event-ID must be a revision number');
    return Number(lastEventId) + 1;
  }
  return queryInteger(context.query, 'fromRevision', 0) ?? 0;
}

function sse(event: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** One message per event; the last event of each revision carries the revision as its id. */
function eventsChunk(events: readonly KvEvent[], encoding: WireEncoding): { text: string; lastId: number | undefined } {
  let text = '';
  let lastId: number | undefined;
  events.forEach((event, index) => {
    const revision = event.kv.modRevision;
    const lastOfRevision = index === events.length - 1 || events[index + 1]!.kv.modRevision !== revision;
    const wire: WireWatchEvent = event.prevKv === undefined
      ? { type: event.type, kv: keyValueToWire(event.kv, encoding) }
      : { type: event.type, kv: keyValueToWire(event.kv, encoding), prevKv: keyValueToWire(event.prevKv, encoding) };
    text += sse(event.type, wire, lastOfRevision ? revision : undefined);
    if (lastOfRevision) lastId = revision;
  });
  return { text, lastId };
}

async function watch(context: RequestContext): Promise<'streamed'> {
  allowQuery(context.query, ['key', 'prefix', 'start', 'end', 'fromRevision', 'prevKv', 'encoding', 'heartbeatMs']);
  const parts = requireRunning(context.host);
  const encoding = encodingOf(context);
  const range = watchRange(context, encoding);
  const fromRevision = startRevision(context);
  const prevKv = queryFlag(context.query, 'prevKv');
  const heartbeatMs = queryInteger(context.query, 'heartbeatMs', 100, 300_000) ?? context.host.settings.watchHeartbeatMs;
  const stream = new WatchStream(context.response, encoding, context.host.settings.watchBufferBytes);
  const created = parts.watches.watch({ range, fromRevision, prevKv }, (notice) => stream.deliver(notice));
  if ('code' in created) throw fromKvError(created);
  stream.open(created, {
    watchId: created.id, nodeId: context.host.nodeId(), fromRevision: created.nextRevision(), currentRevision: parts.kv.currentRevision(),
  }, heartbeatMs);
  const unregister = context.onShutdown(() => stream.cancel('watch-cancelled', 'the node is shutting down; resume the watch on another node'));
  context.response.once('close', () => {
    unregister();
    stream.closed();
  });
  context.request.socket.setTimeout(0);
  return 'streamed';
}

class WatchStream {
  readonly #response: ServerResponse;
  readonly #encoding: WireEncoding;
  readonly #bufferBytes: number;
  #watch: Watch | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastId = 0;
  #paused = false;
  #ended = false;

  constructor(response: ServerResponse, encoding: WireEncoding, bufferBytes: number) {
    this.#response = response;
    this.#encoding = encoding;
    this.#bufferBytes = bufferBytes;
  }

  open(watch: Watch, created: WireWatchCreated, heartbeatMs: number): void {
    this.#watch = watch;
    this.#lastId = created.fromRevision - 1;
    this.#response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    this.#response.write(`retry: 1000\n\n${sse('created', created)}`);
    this.#response.on('drain', () => {
      if (!this.#paused || this.#ended) return;
      this.#paused = false;
      this.#watch?.resume();
    });
    this.#timer = setInterval(() => this.#heartbeat(), heartbeatMs);
  }

  /** The hub's listener: false asks it to pause (and buffer) until the socket drains. */
  deliver(notice: WatchNotice): boolean {
    if (this.#ended) return true;
    if (notice.type === 'cancelled') {
      const { code, message, ...details } = notice.error;
      this.#end(sse('cancelled', { code, message, ...details }));
      return true;
    }
    const { text, lastId } = eventsChunk(notice.events, this.#encoding);
    if (lastId !== undefined) this.#lastId = lastId;
    const accepted = this.#response.write(text) && this.#response.writableLength < this.#bufferBytes;
    if (!accepted) this.#paused = true;
    return accepted;
  }

  /** Every `heartbeatMs`: progress when the watch moved past what was sent, else a comment. */
  #heartbeat(): void {
    if (this.#ended || this.#paused || this.#watch === undefined) return;
    const delivered = this.#watch.nextRevision() - 1;
    if (delivered > this.#lastId) {
      this.#lastId = delivered;
      this.#response.write(sse('progress', { revision: delivered }, delivered));
    } else {
      this.#response.write(': heartbeat\n\n');
    }
  }

  cancel(code: string, message: string): void {
    if (this.#ended) return;
    // What was written, not the hub's position: a paused watch may hold events not sent yet.
    const resumeRevision = this.#lastId + 1;
    this.#watch?.cancel();
    this.#end(sse('cancelled', { code, message, resumeRevision }));
  }

  #end(text: string): void {
    this.#ended = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#response.end(text);
  }

  /** The client went away (or the stream ended): release the watch. */
  closed(): void {
    this.#ended = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#watch?.cancel();
  }
}
