// The listening side of one accepted connection: the listener's half of the handshake, then
// validated Raft messages to the runtime and requests to the request handler, whose answers go
// back on this connection. Anything malformed closes this connection (never the process) with
// one log line per peer and reason.
import type { Socket } from 'node:net';
import type { Message, NodeId } from '../../core/raft/types.ts';
import { plainDataProblem } from '../codec/plain-data.ts';
import { WireError } from '../codec/wire-reader.ts';
import type { PlainData, TimerHandle, TransportErrorCode } from '../types.ts';
import type { TcpContext } from './context.ts';
import { FrameReader } from './frame-reader.ts';
import { decodeFrame, encodeChallenge, encodeErrorResponse, encodeRaft, encodeRefused, encodeResponse, encodeWelcome } from './frames.ts';
import type { Frame, HelloFrame } from './frames.ts';
import { checkHello, computeProof, newNonce, proofMatches } from './handshake.ts';
import type { Transcript } from './handshake.ts';
import { SnapshotAssembler } from './snapshot-parts.ts';

type Phase = 'hello' | 'proof' | 'open' | 'closed';

export interface InboundHost {
  readonly context: TcpContext;
  /** The handshake succeeded: the host may now close an older connection of the same peer. */
  authenticated(connection: InboundConnection): void;
  /** The socket closed (for whatever reason). */
  closed(connection: InboundConnection): void;
}

/** After a refusal the socket is ended gracefully; this bounds how long a silent peer may keep it. */
const REFUSAL_LINGER_MS = 1000;

export class InboundConnection {
  readonly #socket: Socket;
  readonly #host: InboundHost;
  readonly #context: TcpContext;
  readonly #reader: FrameReader;
  readonly remoteHost: string;
  #phase: Phase = 'hello';
  #peerId: NodeId = 0;
  #transcript: Transcript | undefined;
  #handshakeTimer: TimerHandle | undefined;
  #activeRequests = 0;
  /** Joins the parts of a snapshot sent in parts (protocol version 2). */
  readonly #snapshotParts: SnapshotAssembler;

  constructor(socket: Socket, host: InboundHost) {
    this.#socket = socket;
    this.#host = host;
    this.#context = host.context;
    const options = this.#context.options;
    this.#reader = new FrameReader(options.maxHandshakeBytes);
    this.#snapshotParts = new SnapshotAssembler(options.maxSnapshotBytes);
    this.remoteHost = socket.remoteAddress ?? 'unknown';
    socket.setNoDelay(true);
    socket.setKeepAlive(true, options.keepAliveMs);
    this.#handshakeTimer = options.clock.setTimer(() => {
      this.#reject('HANDSHAKE_TIMEOUT', `no handshake within ${options.handshakeTimeoutMs} ms`);
    }, options.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => {
      this.#phase = 'closed';
      this.#context.options.clock.clearTimer(this.#handshakeTimer);
      this.#host.closed(this);
    });
  }

  /** The authenticated peer, 0 until the handshake completes. */
  get peerId(): NodeId {
    return this.#peerId;
  }

  get isOpen(): boolean {
    return this.#phase === 'open';
  }

  /** Closes at once (the host learns of it through the socket's 'close'). */
  close(): void {
    this.#phase = 'closed';
    this.#context.options.clock.clearTimer(this.#handshakeTimer);
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#phase === 'closed') return;
    try {
      this.#reader.push(chunk, (payload) => this.#onFrame(payload));
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.#reject(error.code, error.message);
    }
  }

  #onFrame(payload: Uint8Array): boolean {
    if (this.#phase === 'closed') return false;
    const context = this.#context;
    const frame = decodeFrame(payload, { peerId: this.#peerId, localId: context.options.nodeId, limits: context.limits });
    if (this.#phase === 'open') {
      this.#onOpenFrame(frame, payload.length);
    } else if (this.#phase === 'hello' && frame.kind === 'hello') {
      this.#onHello(frame);
    } else if (this.#phase === 'proof' && frame.kind === 'proof') {
      this.#onProof(frame.proof);
    } else {
      this.#reject('HANDSHAKE_MALFORMED', `unexpected ${frame.kind} frame during the handshake`);
    }
    return this.isOpen || this.#phase === 'proof';
  }

  #onHello(hello: HelloFrame): void {
    const options = this.#context.options;
    const verdict = checkHello(hello, { clusterId: options.clusterId, nodeId: options.nodeId });
    if (!verdict.ok) {
      this.#reject(verdict.code, verdict.message, hello.from);
      return;
    }
    const listenerNonce = newNonce();
    this.#transcript = {
      version: verdict.version,
      clusterId: options.clusterId,
      dialerId: hello.from,
      listenerId: options.nodeId,
      dialerNonce: hello.nonce,
      listenerNonce,
    };
    this.#socket.write(encodeChallenge(verdict.version, listenerNonce));
    this.#phase = 'proof';
  }

  #onProof(proof: Uint8Array): void {
    const options = this.#context.options;
    const transcript = this.#transcript!;
    if (!proofMatches(computeProof(options.clusterSecret, 'dialer', transcript), proof)) {
      this.#reject('HANDSHAKE_AUTH_FAILED', 'authentication failed: the cluster secrets differ', transcript.dialerId);
      return;
    }
    this.#socket.write(encodeWelcome(computeProof(options.clusterSecret, 'listener', transcript)));
    options.clock.clearTimer(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#peerId = transcript.dialerId;
    this.#phase = 'open';
    this.#reader.setMaxFrameBytes(options.maxFrameBytes);
    const recovered = this.#context.repeats.clear(this.#repeatKey(this.#peerId));
    options.logger[recovered ? 'info' : 'debug']({ peerId: this.#peerId, remoteHost: this.remoteHost }, 'peer connected');
    this.#host.authenticated(this);
  }

  #onOpenFrame(frame: Frame, bytes: number): void {
    const counters = this.#context.counters(this.#peerId);
    counters.bytesReceived += bytes + 4;
    if (frame.kind === 'raft') {
      counters.messagesReceived++;
      this.#context.emitMessage(this.#snapshotParts.complete(frame.message));
    } else if (frame.kind === 'snapshot-part') {
      this.#snapshotParts.add(frame);
    } else if (frame.kind === 'request') {
      this.#onRequest(frame.requestId, frame.payload);
    } else {
      this.#reject('FRAME_MALFORMED', `unexpected ${frame.kind} frame on an open connection`);
    }
  }

  // ---- requests ----

  #onRequest(requestId: number, payload: PlainData): void {
    const handler = this.#context.requestHandler();
    if (handler === undefined) {
      this.#write(encodeErrorResponse(requestId, 'NO_REQUEST_HANDLER', 'this node does not answer requests yet'));
      return;
    }
    if (this.#activeRequests >= this.#context.options.maxIncomingRequests) {
      this.#write(encodeErrorResponse(requestId, 'TOO_MANY_REQUESTS', 'too many requests in progress on this connection; retry later'));
      return;
    }
    this.#activeRequests++;
    let answer: Promise<PlainData>;
    try {
      answer = handler(payload, this.#peerId);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (response) => this.#respond(requestId, response),
      (error: unknown) => this.#respondError(requestId, error),
    ).finally(() => this.#activeRequests--);
  }

  #respond(requestId: number, response: PlainData): void {
    if (this.#phase !== 'open') return;
    const problem = plainDataProblem(response, true);
    if (problem !== undefined) {
      this.#write(encodeErrorResponse(requestId, 'ENCODE_FAILED', `the response is not plain data: ${problem}`));
      return;
    }
    const frame = encodeResponse(requestId, response);
    if (frame.length - 4 > this.#context.options.maxFrameBytes) {
      this.#write(encodeErrorResponse(requestId, 'FRAME_TOO_LARGE', `the response of ${frame.length} bytes exceeds maxFrameBytes`));
      return;
    }
    this.#write(frame);
  }

  #respondError(requestId: number, error: unknown): void {
    if (this.#phase !== 'open') return;
    const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'REMOTE_ERROR';
    const message = error instanceof Error ? error.message : String(error);
    this.#write(encodeErrorResponse(requestId, code, message));
  }

  /**
   * Sends a Raft message back over this connection, for a peer whose address this node does not
   * know. Bounded by the socket's buffered bytes: returns false (dropped) when the peer does not
   * keep up or the connection is not open.
   */
  sendRaft(message: Message): boolean {
    if (this.#phase !== 'open' || this.#socket.writableLength > this.#context.options.maxQueueBytes) return false;
    const frame = encodeRaft(message);
    if (frame.length > this.#context.options.maxFrameBytes + 4) return false;
    this.#context.counters(this.#peerId).messagesSent++;
    this.#write(frame);
    return true;
  }

  #write(frame: Buffer): void {
    if (this.#phase === 'closed') return;
    this.#context.counters(this.#peerId).bytesSent += frame.length;
    this.#socket.write(frame);
  }

  // ---- refusing ----

  /** Refuses or closes for a protocol reason: tells the peer why, logs once per peer and reason. */
  #reject(code: TransportErrorCode, message: string, claimedPeerId: NodeId = this.#peerId): void {
    if (this.#phase === 'closed') return;
    this.#context.countRejectedConnection();
    const key = claimedPeerId > 0 ? this.#repeatKey(claimedPeerId) : `in:${this.remoteHost}`;
    const fields = { peerId: claimedPeerId || undefined, remoteHost: this.remoteHost, code };
    const logger = this.#context.options.logger;
    const text = `refused or closed a connection from ${claimedPeerId > 0 ? `node ${claimedPeerId}` : this.remoteHost}: ${message}`;
    if (this.#context.repeats.shouldLog(key, code)) logger.warn(fields, text);
    else logger.debug(fields, text);
    const socket = this.#socket;
    this.#phase = 'closed';
    this.#context.options.clock.clearTimer(this.#handshakeTimer);
    socket.end(encodeRefused(code, message));
    const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  }

  #repeatKey(peerId: NodeId): string {
    return `in:${peerId}`;
  }
}
