// One proxied TCP connection: the accepted client socket, the socket dialed to the upstream, and
// a DirectionPipe per direction. Each pipe is one sequential loop over a bounded queue of chunks,
// so bytes leave in the order they arrived whatever the toxics do (latency gives each chunk a
// release time that never goes backwards), and a full queue pauses the source socket, so a slow
// or stalled direction pushes back on the sender instead of growing memory.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SeededRandom } from '../../../util/random.ts';
import type { FaultLogger } from '../logger.ts';
import type { BandwidthToxic, Direction, LatencyToxic, LimitDataToxic, SlicerToxic, SlowCloseToxic, Toxic } from './toxics.ts';

export interface ConnectionContext {
  readonly random: SeededRandom;
  readonly maxBufferedBytes: number;
  readonly logger: FaultLogger;
  /** The proxy's toxics, in the order they were added. */
  toxics(): Iterable<Toxic>;
  countBytes(direction: Direction, forwarded: number, dropped: number): void;
  /** Reports the bytes a pipe holds, for the proxy's high-water mark. */
  observeQueuedBytes(bytes: number): void;
  closed(connection: ProxyConnection): void;
}

interface ToxicState {
  readonly applies: boolean;
  timer?: ReturnType<typeof setTimeout>;
  /** Bytes passed through this toxic (limit_data). */
  bytes: number;
}

interface QueueItem {
  readonly data: Buffer | undefined; // undefined marks the end of the stream (FIN)
  readonly arrivalMs: number;
}

// Bandwidth-limited writes are cut into pieces of at most this share of a second of traffic, so
// the rate is smooth rather than one large burst followed by a long pause.
const BANDWIDTH_SLICES_PER_SECOND = 20;

function isDropping(toxic: Toxic): boolean {
  return toxic.type === 'blackhole' || toxic.type === 'timeout';
}

export class ProxyConnection {
  readonly id: number;
  readonly client: Socket;
  readonly upstream: Socket;
  readonly context: ConnectionContext;
  readonly #abort = new AbortController();
  readonly #states = new Map<string, ToxicState>();
  readonly pipes: Readonly<Record<Direction, DirectionPipe>>;
  #closedSockets = 0;

  constructor(id: number, client: Socket, upstream: Socket, context: ConnectionContext) {
    this.id = id;
    this.client = client;
    this.upstream = upstream;
    this.context = context;
    // Rejects on the socket's error or on close, which the pipe turns into a reset of the client.
    const upstreamReady = upstream.connecting ? once(upstream, 'connect', { signal: this.signal }).then(() => {}) : Promise.resolve();
    upstreamReady.catch(() => {});
    this.pipes = {
      upstream: new DirectionPipe(this, 'upstream', client, upstream, upstreamReady),
      downstream: new DirectionPipe(this, 'downstream', upstream, client, Promise.resolve()),
    };
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      socket.on('error', (error: NodeJS.ErrnoException) => this.destroy(`socket error ${error.code ?? error.message}`, true));
      socket.on('close', () => {
        if (++this.#closedSockets === 2) this.destroy('closed', false);
      });
    }
    for (const toxic of context.toxics()) this.applyToxic(toxic);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get isClosed(): boolean {
    return this.#abort.signal.aborted;
  }

  /** The toxics that apply to this connection in `direction`, in order. */
  toxicsFor(direction: Direction): Toxic[] {
    const result: Toxic[] = [];
    for (const toxic of this.context.toxics()) {
      if (toxic.direction === direction && this.#states.get(toxic.name)?.applies === true) result.push(toxic);
    }
    return result;
  }

  stateOf(name: string): ToxicState | undefined {
    return this.#states.get(name);
  }

  /** Rolls the toxic's toxicity for this connection and starts its timer, if it has one. */
  applyToxic(toxic: Toxic): void {
    const applies = (toxic.toxicity ?? 1) >= 1 || this.context.random.chance(toxic.toxicity ?? 1);
    const state: ToxicState = { applies, bytes: 0 };
    this.#states.set(toxic.name, state);
    if (!applies) return;
    if (toxic.type === 'reset_peer') {
      state.timer = setTimeout(() => this.destroy(`toxic ${toxic.name}: reset_peer`, true), toxic.timeoutMs);
    } else if (toxic.type === 'timeout' && toxic.timeoutMs > 0) {
      state.timer = setTimeout(() => this.destroy(`toxic ${toxic.name}: timeout`, false), toxic.timeoutMs);
    }
  }

  /** Forgets the toxic; a connection whose stream lost bytes to it is reset (its framing is broken). */
  removeToxic(toxic: Toxic): void {
    const state = this.#states.get(toxic.name);
    this.#states.delete(toxic.name);
    if (state?.timer !== undefined) clearTimeout(state.timer);
    if (state?.applies !== true || !isDropping(toxic)) return;
    const pipe = this.pipes[toxic.direction];
    const stillDropping = this.toxicsFor(toxic.direction).some(isDropping);
    const resetOnRemove = toxic.type !== 'blackhole' || toxic.resetOnRemove !== false;
    if (!stillDropping && pipe.droppedBytes > 0 && resetOnRemove) {
      this.destroy(`stream lost ${pipe.droppedBytes} bytes to toxic ${toxic.name}`, true);
    }
  }

  /** Closes both sockets (with a TCP reset when `reset`); idempotent. */
  destroy(reason: string, reset: boolean): void {
    if (this.isClosed) return;
    this.#abort.abort();
    for (const state of this.#states.values()) if (state.timer !== undefined) clearTimeout(state.timer);
    for (const socket of [this.client, this.upstream]) {
      if (socket.destroyed) continue;
      if (!reset) {
        socket.destroy();
        continue;
      }
      try {
        socket.resetAndDestroy();
      } catch {
        socket.destroy();
      }
    }
    this.context.logger.debug({ connection: this.id, reason, reset }, 'proxy connection closed');
    this.context.closed(this);
  }

  /** Waits `ms`; false if the connection closed meanwhile. */
  async wait(ms: number): Promise<boolean> {
    if (ms <= 0) return !this.isClosed;
    try {
      await sleep(ms, undefined, { signal: this.signal });
      return true;
    } catch {
      return false;
    }
  }
}

export class DirectionPipe {
  readonly direction: Direction;
  readonly #connection: ProxyConnection;
  readonly #source: Socket;
  readonly #destination: Socket;
  readonly #ready: Promise<void>;
  readonly #queue: QueueItem[] = [];
  #queuedBytes = 0;
  #pumping = false;
  #paused = false;
  #lastReleaseMs = 0;
  #bandwidthNextMs = 0;
  droppedBytes = 0;
  forwardedBytes = 0;

  constructor(connection: ProxyConnection, direction: Direction, source: Socket, destination: Socket, ready: Promise<void>) {
    this.#connection = connection;
    this.direction = direction;
    this.#source = source;
    this.#destination = destination;
    this.#ready = ready;
    source.on('data', (chunk: Buffer) => this.#push(chunk));
    source.on('end', () => this.#push(undefined));
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  #push(data: Buffer | undefined): void {
    this.#queue.push({ data, arrivalMs: performance.now() });
    if (data !== undefined) {
      this.#queuedBytes += data.length;
      this.#connection.context.observeQueuedBytes(this.#queuedBytes);
      if (this.#queuedBytes >= this.#connection.context.maxBufferedBytes && !this.#paused) {
        this.#paused = true;
        this.#source.pause();
      }
    }
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      await this.#ready;
      while (this.#queue.length > 0 && !this.#connection.isClosed) {
        const item = this.#queue[0]!;
        if (item.data === undefined) {
          await this.#deliverEnd();
          this.#queue.shift();
          continue;
        }
        await this.#deliver(item.data, item.arrivalMs);
        this.#queue.shift();
        this.#queuedBytes -= item.data.length;
        if (this.#paused && this.#queuedBytes <= this.#connection.context.maxBufferedBytes / 2) {
          this.#paused = false;
          this.#source.resume();
        }
      }
    } catch (error) {
      this.#connection.destroy(`${this.direction} pipe failed: ${(error as Error).message}`, true);
    } finally {
      this.#pumping = false;
    }
  }

  #drop(bytes: number): void {
    this.droppedBytes += bytes;
    this.#connection.context.countBytes(this.direction, 0, bytes);
  }

  async #deliver(data: Buffer, arrivalMs: number): Promise<void> {
    const connection = this.#connection;
    let toxics = connection.toxicsFor(this.direction);
    if (toxics.some(isDropping)) return this.#drop(data.length);
    const latencyMs = this.#latencyOf(toxics);
    if (latencyMs > 0 || this.#lastReleaseMs > 0) {
      const releaseMs = Math.max(this.#lastReleaseMs, arrivalMs + latencyMs);
      this.#lastReleaseMs = releaseMs;
      if (!(await connection.wait(releaseMs - performance.now()))) return;
      toxics = connection.toxicsFor(this.direction);
      if (toxics.some(isDropping)) return this.#drop(data.length);
    }
    const allowed = this.#allowedByLimits(toxics, data.length);
    const payload = allowed < data.length ? data.subarray(0, allowed) : data;
    if (payload.length > 0) await this.#writeShaped(payload, toxics);
    if (allowed < data.length || this.#limitReached(toxics)) {
      connection.destroy(`limit_data reached in ${this.direction}`, false);
    }
  }

  #latencyOf(toxics: readonly Toxic[]): number {
    let total = 0;
    for (const toxic of toxics) {
      if (toxic.type !== 'latency') continue;
      const latency = toxic as LatencyToxic;
      const jitterMs = latency.jitterMs ?? 0;
      total += Math.max(0, latency.latencyMs + (jitterMs > 0 ? (this.#connection.context.random.next() * 2 - 1) * jitterMs : 0));
    }
    return total;
  }

  /** How many of `length` bytes may pass before a limit_data toxic closes the connection. */
  #allowedByLimits(toxics: readonly Toxic[], length: number): number {
    let allowed = length;
    for (const toxic of toxics) {
      if (toxic.type !== 'limit_data') continue;
      const state = this.#connection.stateOf(toxic.name)!;
      allowed = Math.min(allowed, Math.max(0, (toxic as LimitDataToxic).bytes - state.bytes));
    }
    for (const toxic of toxics) if (toxic.type === 'limit_data') this.#connection.stateOf(toxic.name)!.bytes += allowed;
    return allowed;
  }

  #limitReached(toxics: readonly Toxic[]): boolean {
    return toxics.some((toxic) => toxic.type === 'limit_data' && this.#connection.stateOf(toxic.name)!.bytes >= toxic.bytes);
  }

  async #writeShaped(data: Buffer, toxics: readonly Toxic[]): Promise<void> {
    const slicer = toxics.find((toxic): toxic is SlicerToxic => toxic.type === 'slicer');
    const rates = toxics.filter((toxic): toxic is BandwidthToxic => toxic.type === 'bandwidth').map((toxic) => toxic.bytesPerSecond);
    const bytesPerSecond = rates.length > 0 ? Math.min(...rates) : undefined;
    const pieces = slicer === undefined ? [data] : this.#slice(data, slicer);
    for (let index = 0; index < pieces.length; index++) {
      if (index > 0 && slicer !== undefined && !(await this.#connection.wait(slicer.delayMs ?? 0))) return;
      if (bytesPerSecond === undefined) {
        if (!(await this.#write(pieces[index]!))) return;
        continue;
      }
      if (!(await this.#writeAtRate(pieces[index]!, bytesPerSecond))) return;
    }
  }

  #slice(data: Buffer, slicer: SlicerToxic): Buffer[] {
    const pieces: Buffer[] = [];
    const variation = slicer.sizeVariationBytes ?? 0;
    for (let offset = 0; offset < data.length;) {
      const size = slicer.averageSizeBytes + (variation > 0 ? this.#connection.context.random.int(-variation, variation) : 0);
      pieces.push(data.subarray(offset, offset + size));
      offset += size;
    }
    return pieces;
  }

  async #writeAtRate(data: Buffer, bytesPerSecond: number): Promise<boolean> {
    const sliceBytes = Math.max(1, Math.floor(bytesPerSecond / BANDWIDTH_SLICES_PER_SECOND));
    for (let offset = 0; offset < data.length; offset += sliceBytes) {
      const piece = data.subarray(offset, offset + sliceBytes);
      const now = performance.now();
      const startMs = Math.max(now, this.#bandwidthNextMs);
      this.#bandwidthNextMs = startMs + (piece.length * 1000) / bytesPerSecond;
      if (!(await this.#connection.wait(startMs - now))) return false;
      if (!(await this.#write(piece))) return false;
    }
    return true;
  }

  async #write(piece: Buffer): Promise<boolean> {
    const connection = this.#connection;
    if (connection.isClosed || this.#destination.destroyed || this.#destination.writableEnded) return false;
    this.forwardedBytes += piece.length;
    connection.context.countBytes(this.direction, piece.length, 0);
    if (this.#destination.write(piece)) return true;
    try {
      await once(this.#destination, 'drain', { signal: connection.signal });
      return true;
    } catch {
      return false;
    }
  }

  async #deliverEnd(): Promise<void> {
    const toxics = this.#connection.toxicsFor(this.direction);
    // A dropping direction swallows the FIN too; the connection is reset when the toxic goes.
    if (toxics.some(isDropping)) {
      this.droppedBytes++;
      return;
    }
    let delayMs = 0;
    for (const toxic of toxics) if (toxic.type === 'slow_close') delayMs = Math.max(delayMs, (toxic as SlowCloseToxic).delayMs);
    if (!(await this.#connection.wait(delayMs))) return;
    if (!this.#destination.destroyed) this.#destination.end();
  }
}
