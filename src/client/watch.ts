// A watch as an async iterator of events, resumed transparently: after a broken connection, a
// node shutting down or a 'watch-too-slow' cancel it reconnects (rotating endpoints, backoff
// with jitter) with Last-Event-ID = the last revision fully received, so no event is missed or
// repeated. A 'compacted' cancel ends it with a CairnClientError (re-read, then watch again).
import type { Agent, IncomingMessage } from 'node:http';
import type { WireWatchCreated, WireWatchEvent } from '../server/http/api-types.ts';
import { CairnClientError } from './errors.ts';
import { AttemptFailure, openRequest } from './http-attempt.ts';
import { SseParser } from './sse.ts';
import type { SseMessage } from './sse.ts';
import { fromWireKeyValue, keyQuery } from './types.ts';
import type { RangeSelector, WatchEvent } from './types.ts';

export interface WatchOptions extends RangeSelector {
  /** First revision to deliver; omitted or 0: changes after the watch starts. */
  readonly fromRevision?: number;
  readonly prevKv?: boolean;
  /** Server heartbeat/progress interval for this stream. */
  readonly heartbeatMs?: number;
  readonly signal?: AbortSignal;
}

/** What a watch needs from its client. */
export interface WatchHost {
  readonly agent: Agent;
  readonly connectTimeoutMs: number;
  /** Give up after failing to (re)connect for this long. */
  readonly reconnectTimeoutMs: number;
  endpoint(): string;
  rotate(failed: string): void;
  backoffMs(attempt: number): number;
}

const QUEUE_PAUSE_AT = 10_000;
const QUEUE_RESUME_AT = 1000;

export class CairnWatch implements AsyncIterableIterator<WatchEvent> {
  /** Resolves when the first stream is established (the watch is registered on a node). */
  readonly ready: Promise<void>;
  readonly #host: WatchHost;
  readonly #options: WatchOptions;
  readonly #queue: WatchEvent[] = [];
  readonly #waiters: { resolve: (result: IteratorResult<WatchEvent>) => void; reject: (error: Error) => void }[] = [];
  #lastRevision = 0;
  #started = false;
  #closed = false;
  #error: Error | undefined;
  #answer: IncomingMessage | undefined;
  #readyResolve!: () => void;
  #readyReject!: (error: Error) => void;

  constructor(host: WatchHost, options: WatchOptions) {
    this.#host = host;
    this.#options = options;
    this.ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => {});
    options.signal?.addEventListener('abort', () => this.close(), { once: true });
    void this.#run();
  }

  /** Every change up to this revision has been received. */
  get lastRevision(): number {
    return this.#lastRevision;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchEvent> {
    return this;
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const event = this.#queue.shift();
    if (event !== undefined) {
      if (this.#queue.length < QUEUE_RESUME_AT && this.#answer?.isPaused()) this.#answer.resume();
      return Promise.resolve({ value: event, done: false });
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async return(): Promise<IteratorResult<WatchEvent>> {
    this.close();
    return { value: undefined, done: true };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#answer?.destroy();
    this.#readyReject(new CairnClientError('closed', 'the watch was closed'));
    for (const waiter of this.#waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#error = error;
    this.#closed = true;
    this.#answer?.destroy();
    this.#readyReject(error);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  #emit(event: WatchEvent): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) return waiter.resolve({ value: event, done: false });
    this.#queue.push(event);
    if (this.#queue.length >= QUEUE_PAUSE_AT) this.#answer?.pause();
  }

  #path(): string {
    const options = this.#options;
    const parts = ['encoding=base64'];
    for (const name of ['key', 'prefix', 'start', 'end'] as const) {
      const value = options[name];
      if (value !== undefined) parts.push(`${name}=${keyQuery(value)}`);
    }
    if (options.prevKv === true) parts.push('prevKv=true');
    if (options.heartbeatMs !== undefined) parts.push(`heartbeatMs=${options.heartbeatMs}`);
    if (!this.#started && options.fromRevision !== undefined && options.fromRevision > 0) parts.push(`fromRevision=${options.fromRevision}`);
    return `/v1/watch?${parts.join('&')}`;
  }

  async #run(): Promise<void> {
    let failures = 0;
    let failingSince = performance.now();
    while (!this.#closed) {
      const endpoint = this.#host.endpoint();
      try {
        const outcome = await this.#stream(endpoint);
        failures = 0;
        failingSince = performance.now();
        if (outcome === 'rotate') this.#host.rotate(endpoint);
        continue;
      } catch (error) {
        if (this.#closed) return;
        if (error instanceof CairnClientError && error.code !== 'unavailable') return this.#fail(error);
        if (performance.now() - failingSince > this.#host.reconnectTimeoutMs) {
          return this.#fail(new CairnClientError('unavailable', `the watch could not reconnect for ${this.#host.reconnectTimeoutMs} ms: ${(error as Error).message}`, { endpoint }));
        }
        this.#host.rotate(endpoint);
        await new Promise((resolve) => setTimeout(resolve, this.#host.backoffMs(failures++)));
      }
    }
  }

  /** One connection: resolves when the server ends it (reconnect), throws on failures. */
  async #stream(endpoint: string): Promise<'again' | 'rotate'> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.#started) headers['last-event-id'] = String(this.#lastRevision);
    let answer: IncomingMessage;
    try {
      answer = await openRequest({ agent: this.#host.agent, endpoint, method: 'GET', path: this.#path(), headers, timeoutMs: this.#host.connectTimeoutMs });
    } catch (error) {
      throw new CairnClientError('unavailable', (error as AttemptFailure).message, { endpoint });
    }
    if (answer.statusCode !== 200) throw await refusal(answer, endpoint);
    this.#answer = answer;
    answer.socket.setTimeout(0);
    const parser = new SseParser();
    let outcome: 'again' | 'rotate' = 'again';
    answer.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      answer.on('data', (chunk: string) => {
        try {
          for (const message of parser.push(chunk)) {
            const next = this.#message(message, endpoint);
            if (next !== undefined) outcome = next;
          }
        } catch (error) {
          answer.destroy();
          reject(error as Error);
        }
      });
      answer.on('error', () => resolve());
      answer.on('close', () => resolve());
    });
    this.#answer = undefined;
    if (this.#error !== undefined) throw this.#error;
    return outcome;
  }

  /** Handles one server message; returns how to reconnect when it ends the stream. */
  #message(message: SseMessage, endpoint: string): 'again' | 'rotate' | undefined {
    const data = message.data.length === 0 ? {} : JSON.parse(message.data) as Record<string, unknown>;
    if (message.event === 'created') {
      const created = data as unknown as WireWatchCreated;
      if (!this.#started) this.#lastRevision = created.fromRevision - 1;
      this.#started = true;
      this.#readyResolve();
    } else if (message.event === 'put' || message.event === 'delete') {
      const wire = data as unknown as WireWatchEvent;
      const kv = fromWireKeyValue(wire.kv);
      this.#emit({ type: wire.type, kv, revision: kv.modRevision, ...(wire.prevKv === undefined ? {} : { prevKv: fromWireKeyValue(wire.prevKv) }) });
    } else if (message.event === 'cancelled') {
      return this.#cancelled(data, endpoint);
    }
    if (message.id !== undefined && /^[0-9]+$/.test(message.id)) this.#lastRevision = Math.max(this.#lastRevision, Number(message.id));
    return undefined;
  }

  #cancelled(data: Record<string, unknown>, endpoint: string): 'again' | 'rotate' {
    const code = String(data['code']);
    if (code === 'watch-too-slow' || code === 'watch-cancelled') {
      if (typeof data['resumeRevision'] === 'number') this.#lastRevision = Math.min(this.#lastRevision, data['resumeRevision'] - 1);
      return code === 'watch-cancelled' ? 'rotate' : 'again';
    }
    this.#fail(new CairnClientError(code, String(data['message'] ?? code), { endpoint, status: 200, details: data }));
    return 'again';
  }
}

async function refusal(answer: IncomingMessage, endpoint: string): Promise<CairnClientError> {
  const chunks: Buffer[] = [];
  for await (const chunk of answer) chunks.push(chunk as Buffer);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } catch {
    // Not JSON: report the status alone.
  }
  const status = answer.statusCode ?? 0;
  const retryable = status >= 500 || status === 421 || status === 429 || body['retryable'] === true;
  return new CairnClientError(retryable ? 'unavailable' : String(body['code'] ?? `http-${status}`), String(body['message'] ?? `HTTP ${status}`), { status, endpoint, details: body });
}
