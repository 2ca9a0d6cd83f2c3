// One client connection: a bounded frame decoder, requests handled as they arrive (several may be
// in flight: clients pipeline), responses written strictly in request order, a limit on requests
// in flight per connection and in total (reading pauses beyond them), and a close with one log line
// for input that cannot be trusted or answered. Nothing a client sends can throw out of here.
import type { Socket } from 'node:net';
import { KafkaFrameDecoder, decodeRequestFrame } from '../../protocol/kafka/index.ts';
import type { DecodedRequest } from '../../protocol/kafka/index.ts';
import type { BrokerCore } from './broker-core.ts';
import { dispatch } from './dispatch.ts';
import type { DispatchOutcome } from './dispatch.ts';
import type { RequestContext } from './handlers/context.ts';

/** What a connection shares with the broker: the core and the global in-flight budget. */
export interface ConnectionHost {
  readonly core: BrokerCore;
  /** Takes a request's share of the global budget; false when it is spent (the connection pauses). */
  acquire(frameBytes: number): boolean;
  release(frameBytes: number): void;
  /** Called when the global budget frees up, for connections waiting on it. */
  onCapacity(listener: () => void): () => void;
  closed(connection: KafkaConnection): void;
}

interface Slot {
  outcome: DispatchOutcome | undefined;
}

let nextConnectionId = 1;

export class KafkaConnection {
  readonly id = nextConnectionId++;
  readonly #socket: Socket;
  readonly #host: ConnectionHost;
  readonly #decoder: KafkaFrameDecoder;
  readonly #remote: string;
  /** Frames read but not yet started (waiting for in-flight capacity). */
  readonly #backlog: Uint8Array[] = [];
  /** Started requests, oldest first; answered from the head only. */
  readonly #slots: Slot[] = [];
  #tail: Promise<unknown> = Promise.resolve();
  #paused = false;
  #closed = false;
  #stopCapacity: (() => void) | undefined;

  constructor(socket: Socket, host: ConnectionHost) {
    this.#socket = socket;
    this.#host = host;
    const { limits } = host.core.options;
    this.#decoder = new KafkaFrameDecoder(limits.frameBytesMax);
    this.#remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleConnectionMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('timeout', () => {
      if (this.#slots.length === 0 && this.#backlog.length === 0) this.close('idle for longer than the idle connection limit', 'debug');
    });
    socket.on('drain', () => this.#updateReading());
    socket.on('error', (error) => this.close(`socket error: ${error.message}`, 'debug'));
    socket.on('close', () => this.#onClosed());
  }

  get inFlight(): number {
    return this.#slots.length + this.#backlog.length;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    let frames: Uint8Array[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.close(`unreadable frame: ${(error as Error).message}`, 'warn');
      return;
    }
    for (const frame of frames) this.#backlog.push(frame);
    this.#drainBacklog();
  }

  /** Starts backlogged requests while the per-connection and global budgets allow. */
  #drainBacklog(): void {
    const perConnectionMax = this.#host.core.options.limits.inFlightRequestsPerConnectionMax;
    while (!this.#closed && this.#backlog.length > 0 && this.#slots.length < perConnectionMax) {
      const frame = this.#backlog[0]!;
      if (!this.#host.acquire(frame.length)) {
        this.#waitForCapacity();
        break;
      }
      this.#backlog.shift();
      this.#start(frame);
    }
    this.#updateReading();
  }

  #waitForCapacity(): void {
    if (this.#stopCapacity !== undefined) return;
    this.#stopCapacity = this.#host.onCapacity(() => {
      this.#stopCapacity?.();
      this.#stopCapacity = undefined;
      this.#drainBacklog();
    });
  }

  #start(frame: Uint8Array): void {
    let decoded: DecodedRequest;
    try {
      decoded = decodeRequestFrame(frame, this.#host.core.options.limits.decode);
    } catch (error) {
      this.#host.release(frame.length);
      this.close(`unreadable request header: ${(error as Error).message}`, 'warn');
      return;
    }
    const slot: Slot = { outcome: undefined };
    this.#slots.push(slot);
    dispatch(this.#context(decoded), decoded).then(
      (outcome) => {
        slot.outcome = outcome;
      },
      (error: unknown) => {
        // A bug of ours (a handler threw, a response did not encode): lose this connection, not the process.
        const failure = error as Error;
        this.#host.core.options.logger.error({ remote: this.#remote, apiKey: decoded.header.requestApiKey, apiVersion: decoded.header.requestApiVersion, error: failure.message, stack: failure.stack },
          'the Kafka broker failed to handle a request; closing the connection');
        slot.outcome = { kind: 'close', reason: 'internal error' };
      },
    ).finally(() => this.#settled(frame.length));
  }

  /** A request finished: give its budget back and write what can be written. Never throws (it runs detached). */
  #settled(frameBytes: number): void {
    this.#host.release(frameBytes);
    try {
      this.#flush();
    } catch (error) {
      this.#host.core.options.logger.error({ remote: this.#remote, error: (error as Error).message, stack: (error as Error).stack }, 'the Kafka broker failed to write a response; closing the connection');
      this.close('internal error');
    }
  }

  #context(decoded: DecodedRequest): RequestContext {
    return {
      core: this.#host.core,
      version: decoded.header.requestApiVersion,
      clientId: decoded.header.clientId ?? '',
      clientHost: this.#socket.remoteAddress ?? '',
      inOrder: <T>(step: () => T | Promise<T>): Promise<T> => {
        const run = this.#tail.then(step);
        this.#tail = run.then(() => undefined, () => undefined);
        return run;
      },
    };
  }

  /** Writes every finished response at the head of the queue, in request order. */
  #flush(): void {
    while (!this.#closed && this.#slots.length > 0 && this.#slots[0]!.outcome !== undefined) {
      const outcome = this.#slots.shift()!.outcome!;
      if (outcome.kind === 'close') {
        this.close(outcome.reason, outcome.reason === 'internal error' ? 'debug' : 'warn');
        return;
      }
      if (outcome.kind === 'respond') this.#socket.write(outcome.frame);
    }
    this.#drainBacklog();
  }

  /** Reads only while this connection has room and its responses are being taken by the client. */
  #updateReading(): void {
    if (this.#closed) return;
    const full = this.#backlog.length > 0 || this.#slots.length >= this.#host.core.options.limits.inFlightRequestsPerConnectionMax;
    const shouldPause = full || this.#socket.writableNeedDrain;
    if (shouldPause && !this.#paused) this.#socket.pause();
    else if (!shouldPause && this.#paused) this.#socket.resume();
    this.#paused = shouldPause;
  }

  /** Closes the connection (idempotent); `level` of the one log line that says why. */
  close(reason: string, level: 'debug' | 'warn' = 'debug'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.core.options.logger[level]({ remote: this.#remote, reason }, 'closing a Kafka connection');
    this.#socket.destroy();
    this.#onClosed();
  }

  #onClosed(): void {
    this.#closed = true;
    this.#stopCapacity?.();
    this.#stopCapacity = undefined;
    this.#backlog.length = 0;
    this.#host.closed(this);
  }
}
