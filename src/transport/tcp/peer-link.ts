// The outbound side towards one peer: a single TCP connection (so Raft messages keep their
// order), the bounded send queue feeding it, coalesced writes that respect socket backpressure,
// the dialer's half of the handshake, reconnection with backoff, and the requests this node sent
// to the peer. Requests travel on this same connection behind the messages queued before them,
// and their responses come back on it; when it drops, its requests fail at once.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Message, NodeId } from '../../core/raft/types.ts';
import { WireError } from '../codec/wire-reader.ts';
import { plainDataProblem } from '../codec/plain-data.ts';
import { PendingRequests } from '../pending-requests.ts';
import { TransportError } from '../types.ts';
import type { PeerConnectionState, PlainData, TimerHandle, TransportErrorCode } from '../types.ts';
import { backoffDelayMs } from './backoff.ts';
import type { TcpContext } from './context.ts';
import { FrameReader } from './frame-reader.ts';
import {
  decodeFrame,
  encodeHello,
  encodeProof,
  encodeRaft,
  encodeRequest,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  SNAPSHOT_PARTS_VERSION,
} from './frames.ts';
import type { Frame } from './frames.ts';
import { computeProof, newNonce, proofMatches } from './handshake.ts';
import type { Transcript } from './handshake.ts';
import type { PeerAddress } from './options.ts';
import { parsePeerAddress } from './options.ts';
import { SendQueue } from './send-queue.ts';
import type { QueuedFrame } from './send-queue.ts';
import { OutgoingSnapshot } from './snapshot-parts.ts';

type Phase = 'dialing' | 'hello-sent' | 'proof-sent' | 'open';
/** How a connection ended, which decides the log level and the next state. */
type FailureKind = 'network' | 'refused' | 'protocol';

export class PeerLink {
  readonly peerId: NodeId;
  readonly #context: TcpContext;
  #address: string;
  #parsedAddress: PeerAddress;
  #state: PeerConnectionState = 'connecting';
  #socket: Socket | undefined;
  #reader: FrameReader | undefined;
  #phase: Phase = 'dialing';
  #dialerNonce: Uint8Array = new Uint8Array(0);
  #transcript: Transcript | undefined;
  #handshakeTimer: TimerHandle | undefined;
  #reconnectTimer: TimerHandle | undefined;
  #writeStallTimer: TimerHandle | undefined;
  /** Consecutive failed attempts; reset by a successful handshake. */
  #failures = 0;
  readonly #queue: SendQueue;
  readonly #requests: PendingRequests;
  #flushScheduled = false;
  #waitingForDrain = false;
  #unreachableReported = false;
  #started = false;
  #closed = false;
  #lastError: { code: string; message: string } | undefined;
  /**
   * The protocol version of the last connection to this peer (the newest until one is made):
   * snapshots go in parts only to peers that read them.
   */
  #peerVersion = PROTOCOL_VERSION_MAX;

  constructor(peerId: NodeId, address: string, context: TcpContext) {
    this.peerId = peerId;
    this.#context = context;
    this.#address = address;
    this.#parsedAddress = parsePeerAddress(address);
    const options = context.options;
    this.#queue = new SendQueue(options.maxQueueMessages, options.maxQueueBytes);
    this.#requests = new PendingRequests(peerId, options.clock, options.maxOutstandingRequests);
  }

  get address(): string {
    return this.#address;
  }

  get state(): PeerConnectionState {
    return this.#state;
  }

  get lastError(): { code: string; message: string } | undefined {
    return this.#lastError;
  }

  get queueDepthMessages(): number {
    return this.#queue.count;
  }

  get queueDepthBytes(): number {
    return this.#queue.bytes;
  }

  get requestsOutstanding(): number {
    return this.#requests.size;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
  }

  /** Points the link at a new address: the current connection (if any) is replaced at once. */
  setAddress(address: string): void {
    if (address === this.#address) return;
    this.#parsedAddress = parsePeerAddress(address);
    this.#address = address;
    if (!this.#started || this.#closed) return;
    this.#context.options.logger.info({ peerId: this.peerId, address }, 'peer address changed; reconnecting');
    this.#endConnection('CONNECTION_CLOSED', `the address of node ${this.peerId} changed`);
    this.#context.options.clock.clearTimer(this.#reconnectTimer);
    this.#failures = 0;
    this.#connect();
  }

  /**
   * The peer has just connected to us, so it is up again: if we are waiting out a backoff after
   * failing to reach it, dial now. Without this, a peer restarted after a long outage stayed
   * unreachable in this direction for up to the backoff cap (5 s) although it was reachable,
   * and Raft answers sent to it were lost: one leader failover took 1.4 s instead of 0.5 s
   * because a vote could not be granted back. A peer that refused us keeps its slow retry.
   */
  peerConnectedToUs(): void {
    if (!this.#started || this.#closed || this.#state !== 'disconnected' || this.#reconnectTimer === undefined) return;
    this.#context.options.clock.clearTimer(this.#reconnectTimer);
    this.#failures = 0;
    this.#connect();
  }

  /** Stops for good: the peer was removed or the transport stops. */
  close(code: 'PEER_REMOVED' | 'TRANSPORT_STOPPED', reportDrops: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    const message = code === 'PEER_REMOVED' ? `node ${this.peerId} was removed` : 'the transport stopped';
    this.#endConnection(code, message);
    this.#context.options.clock.clearTimer(this.#reconnectTimer);
    this.#requests.rejectAll(() => new TransportError(code, message, { peerId: this.peerId }));
    const dropped = this.#queue.remove(() => true);
    if (!reportDrops) return;
    for (const item of dropped) if (item.isSnapshot) this.#context.emitSnapshotStatus(this.peerId, 'failed');
  }

  // ---- sending ----

  send(message: Message): void {
    if (this.#closed) return;
    const partBytes = this.#context.options.snapshotPartBytes;
    if (message.type === 'snapshot' && message.snapshot!.data.byteLength > partBytes && this.#peerVersion >= SNAPSHOT_PARTS_VERSION) {
      this.#sendInParts(message, partBytes);
      return;
    }
    const frame = encodeRaft(message);
    const isSnapshot = message.type === 'snapshot';
    if (frame.length - 4 > this.#context.options.maxFrameBytes) {
      this.#logOversized(message, frame.length);
      this.#drop(isSnapshot);
      return;
    }
    if (!this.#queue.admits(frame.length)) {
      this.#drop(isSnapshot);
      return;
    }
    this.#queue.push({ frame, isMessage: true, isSnapshot, requestId: 0 });
    this.#unreachableReported = false;
    this.#scheduleFlush();
  }

  /** A snapshot larger than a part: queued as one item whose frames are encoded as they leave. */
  #sendInParts(message: Message, partBytes: number): void {
    if (!this.#queue.admits(partBytes)) {
      this.#drop(true);
      return;
    }
    const parts = { snapshot: new OutgoingSnapshot(message, partBytes), partBytes };
    this.#queue.push({ frame: Buffer.alloc(0), parts, isMessage: true, isSnapshot: true, requestId: 0 });
    this.#unreachableReported = false;
    this.#scheduleFlush();
  }

  request(payload: PlainData, timeoutMs: number): Promise<PlainData> {
    if (this.#closed) return Promise.reject(new TransportError('TRANSPORT_STOPPED', 'the link is closed', { peerId: this.peerId }));
    if (this.#state === 'disconnected' || this.#state === 'refused') {
      const why = this.#lastError === undefined ? '' : `: ${this.#lastError.message}`;
      return Promise.reject(new TransportError('PEER_UNREACHABLE', `node ${this.peerId} is not reachable${why}`, { peerId: this.peerId }));
    }
    const problem = plainDataProblem(payload, true);
    if (problem !== undefined) {
      return Promise.reject(new TransportError('ENCODE_FAILED', `request payload is not plain data: ${problem}`, { peerId: this.peerId }));
    }
    let registered: { requestId: number; promise: Promise<PlainData> };
    try {
      registered = this.#requests.add(timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#enqueueRequest(registered.requestId, payload);
    return registered.promise;
  }

  #enqueueRequest(requestId: number, payload: PlainData): void {
    const frame = encodeRequest(requestId, payload);
    const maxFrameBytes = this.#context.options.maxFrameBytes;
    if (frame.length - 4 > maxFrameBytes) {
      this.#failRequest(requestId, 'FRAME_TOO_LARGE', `request of ${frame.length} bytes exceeds maxFrameBytes ${maxFrameBytes}`);
    } else if (!this.#queue.admits(frame.length)) {
      this.#failRequest(requestId, 'QUEUE_FULL', `the send queue to node ${this.peerId} is full; retry later`);
    } else {
      this.#queue.push({ frame, isMessage: false, isSnapshot: false, requestId });
      this.#scheduleFlush();
    }
  }

  #failRequest(requestId: number, code: TransportErrorCode, message: string): void {
    this.#requests.reject(requestId, new TransportError(code, message, { peerId: this.peerId }));
  }

  #logOversized(message: Message, bytes: number): void {
    const maxFrameBytes = this.#context.options.maxFrameBytes;
    const fields = { peerId: this.peerId, type: message.type, bytes, maxFrameBytes, code: 'FRAME_TOO_LARGE' };
    const text = 'dropping a message larger than maxFrameBytes; raise maxFrameBytes on every node or lower the message size';
    if (this.#context.repeats.shouldLog(`oversized:${this.peerId}`, message.type)) this.#context.options.logger.error(fields, text);
    else this.#context.options.logger.debug(fields, text);
  }

  #drop(isSnapshot: boolean): void {
    this.#context.counters(this.peerId).messagesDropped++;
    if (isSnapshot) this.#context.emitSnapshotStatus(this.peerId, 'failed');
    this.#reportUnreachable();
  }

  #reportUnreachable(): void {
    if (this.#unreachableReported) return;
    this.#unreachableReported = true;
    this.#context.emitUnreachable(this.peerId);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#phase !== 'open' || this.#waitingForDrain) return;
    this.#flushScheduled = true;
    // One write per turn: everything sent in the current synchronous run leaves together.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const socket = this.#socket;
    if (socket === undefined || this.#phase !== 'open') return;
    const keep = (item: QueuedFrame): boolean => item.requestId === 0 || this.#requests.has(item.requestId);
    while (this.#queue.count > 0 && !this.#waitingForDrain) {
      const batch = this.#queue.takeBatch(this.#context.options.maxBatchBytes, keep);
      if (batch.frames.length === 0) continue;
      const data = batch.frames.length === 1 ? batch.frames[0]! : Buffer.concat(batch.frames, batch.bytes);
      const counters = this.#context.counters(this.peerId);
      counters.messagesSent += batch.messages;
      counters.bytesSent += batch.bytes;
      const written = socket.write(data, batch.snapshots === 0 ? undefined : this.#snapshotCallback(batch.snapshots));
      if (!written) this.#waitForDrain();
    }
  }

  /** Backpressure: queue (up to the bound) until the socket drains, but not forever. */
  #waitForDrain(): void {
    this.#waitingForDrain = true;
    const timeoutMs = this.#context.options.writeStallTimeoutMs;
    this.#writeStallTimer = this.#context.options.clock.setTimer(() => {
      this.#fail('PEER_UNREACHABLE', `node ${this.peerId} at ${this.#address} accepted no data for ${timeoutMs} ms`, 'network', 'WRITE_STALLED');
    }, timeoutMs);
  }

  #snapshotCallback(snapshots: number): (error?: Error | null) => void {
    return (error) => {
      for (let i = 0; i < snapshots; i++) this.#context.emitSnapshotStatus(this.peerId, error ? 'failed' : 'delivered');
    };
  }

  // ---- connecting ----

  #connect(): void {
    this.#reconnectTimer = undefined;
    if (this.#closed) return;
    const options = this.#context.options;
    this.#context.counters(this.peerId).connectAttempts++;
    this.#setState('connecting');
    const socket = connect({ host: this.#parsedAddress.host, port: this.#parsedAddress.port });
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#reader = new FrameReader(options.maxHandshakeBytes);
    this.#phase = 'dialing';
    this.#handshakeTimer = options.clock.setTimer(() => {
      this.#fail('HANDSHAKE_TIMEOUT', `no handshake with node ${this.peerId} at ${this.#address} within ${options.handshakeTimeoutMs} ms`, 'network');
    }, options.handshakeTimeoutMs);
    socket.on('connect', () => this.#onConnect(socket));
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('drain', () => this.#onDrain(socket));
    socket.on('error', (error: NodeJS.ErrnoException) => this.#onSocketGone(socket, error));
    socket.on('close', () => this.#onSocketGone(socket, undefined));
  }

  #onConnect(socket: Socket): void {
    if (socket !== this.#socket) return;
    const options = this.#context.options;
    socket.setKeepAlive(true, options.keepAliveMs);
    this.#dialerNonce = newNonce();
    socket.write(encodeHello({
      versionMin: PROTOCOL_VERSION_MIN,
      versionMax: PROTOCOL_VERSION_MAX,
      clusterId: options.clusterId,
      from: options.nodeId,
      to: this.peerId,
      nonce: this.#dialerNonce,
    }));
    this.#phase = 'hello-sent';
  }

  #onDrain(socket: Socket): void {
    if (socket !== this.#socket) return;
    this.#context.options.clock.clearTimer(this.#writeStallTimer);
    this.#waitingForDrain = false;
    this.#flush();
  }

  #onSocketGone(socket: Socket, error: NodeJS.ErrnoException | undefined): void {
    if (socket !== this.#socket) return;
    if (error === undefined) {
      this.#fail('CONNECTION_CLOSED', `node ${this.peerId} at ${this.#address} closed the connection`, 'network');
    } else {
      const reason = error.code ?? error.message;
      this.#fail('PEER_UNREACHABLE', `cannot reach node ${this.peerId} at ${this.#address}: ${reason}`, 'network', reason);
    }
  }

  #onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.#socket || this.#reader === undefined) return;
    try {
      this.#reader.push(chunk, (payload) => this.#onFrame(socket, payload));
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.#fail(error.code, `closing the connection to node ${this.peerId}: ${error.message}`, 'protocol');
    }
  }

  /** Returns false once the socket is no longer ours, which stops the reader. */
  #onFrame(socket: Socket, payload: Uint8Array): boolean {
    if (socket !== this.#socket) return false;
    const options = this.#context.options;
    const frame = decodeFrame(payload, { peerId: this.peerId, localId: options.nodeId, limits: this.#context.limits });
    if (frame.kind === 'refused') {
      const code = frame.code;
      this.#fail(code, `node ${this.peerId} at ${this.#address} refused the connection: ${frame.message}`, this.#phase === 'open' ? 'protocol' : 'refused');
    } else if (this.#phase === 'hello-sent' && frame.kind === 'challenge') {
      this.#answerChallenge(socket, frame.version, frame.nonce);
    } else if (this.#phase === 'proof-sent' && frame.kind === 'welcome') {
      this.#checkWelcome(frame.proof);
    } else if (this.#phase === 'open' && (frame.kind === 'response' || frame.kind === 'error-response')) {
      this.#onResponse(frame, payload.length);
    } else if (this.#phase === 'open' && frame.kind === 'raft') {
      // The peer does not know our address yet (a lagging member, a newcomer) and answers on the
      // connection we opened; decodeFrame checked that it comes from this peer and is for us.
      const counters = this.#context.counters(this.peerId);
      counters.messagesReceived++;
      counters.bytesReceived += payload.length + 4;
      this.#context.emitMessage(frame.message);
    } else {
      this.#fail('FRAME_MALFORMED', `unexpected ${frame.kind} frame from node ${this.peerId} during ${this.#phase}`, 'protocol');
    }
    return socket === this.#socket;
  }

  #answerChallenge(socket: Socket, version: number, listenerNonce: Uint8Array): void {
    const options = this.#context.options;
    if (version < PROTOCOL_VERSION_MIN || version > PROTOCOL_VERSION_MAX) {
      this.#fail('HANDSHAKE_VERSION_UNSUPPORTED', `node ${this.peerId} chose protocol version ${version}, which this node does not speak`, 'refused');
      return;
    }
    this.#transcript = {
      version,
      clusterId: options.clusterId,
      dialerId: options.nodeId,
      listenerId: this.peerId,
      dialerNonce: this.#dialerNonce,
      listenerNonce,
    };
    socket.write(encodeProof(computeProof(options.clusterSecret, 'dialer', this.#transcript)));
    this.#phase = 'proof-sent';
  }

  #checkWelcome(proof: Uint8Array): void {
    const expected = computeProof(this.#context.options.clusterSecret, 'listener', this.#transcript!);
    if (!proofMatches(expected, proof)) {
      this.#fail('HANDSHAKE_AUTH_FAILED', `node ${this.peerId} at ${this.#address} failed authentication: its cluster secret differs`, 'refused');
      return;
    }
    this.#established();
  }

  #established(): void {
    const options = this.#context.options;
    options.clock.clearTimer(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#phase = 'open';
    this.#peerVersion = this.#transcript!.version;
    this.#failPartsTheVersionCannotRead();
    this.#failures = 0;
    this.#lastError = undefined;
    this.#unreachableReported = false;
    this.#reader!.setMaxFrameBytes(options.maxFrameBytes);
    this.#context.counters(this.peerId).connectionsEstablished++;
    const recovered = this.#context.repeats.clear(this.#repeatKey());
    options.logger.info({ peerId: this.peerId, address: this.#address, recovered }, 'connected to peer');
    this.#setState('connected');
    this.#scheduleFlush();
  }

  /** Snapshots queued in parts before we knew that this peer reads only whole ones: sent again whole. */
  #failPartsTheVersionCannotRead(): void {
    if (this.#peerVersion >= SNAPSHOT_PARTS_VERSION) return;
    const unreadable = this.#queue.remove((item) => item.parts !== undefined);
    for (const _item of unreadable) this.#context.emitSnapshotStatus(this.peerId, 'failed');
  }

  #onResponse(frame: Extract<Frame, { kind: 'response' | 'error-response' }>, bytes: number): void {
    this.#context.counters(this.peerId).bytesReceived += bytes + 4;
    if (frame.kind === 'response') {
      this.#requests.resolve(frame.requestId, frame.payload);
    } else {
      const error = new TransportError('REMOTE_ERROR', `node ${this.peerId} failed the request: ${frame.message}`, { peerId: this.peerId, remoteCode: frame.code });
      this.#requests.reject(frame.requestId, error);
    }
  }

  // ---- failing ----

  /**
   * Ends the current connection and schedules the next attempt. `logReason` groups repeated
   * failures for the log (default: the code), so a peer that stays down is logged once.
   */
  #fail(code: string, message: string, kind: FailureKind, logReason: string = code): void {
    if (this.#socket === undefined) return;
    if (kind !== 'network') this.#context.countRejectedConnection();
    this.#lastError = { code, message };
    this.#endConnection(kind === 'refused' ? 'PEER_UNREACHABLE' : undefined, message);
    this.#logFailure(code, message, kind, logReason);
    if (this.#closed) return;
    this.#failures++;
    this.#setState(kind === 'refused' ? 'refused' : 'disconnected');
    const delayMs = backoffDelayMs(this.#failures, {
      initialMs: this.#context.options.backoffInitialMs,
      maxMs: this.#context.options.backoffMaxMs,
    }, this.#context.options.random);
    this.#reconnectTimer = this.#context.options.clock.setTimer(() => this.#connect(), delayMs);
  }

  /** Closes the socket and fails the requests that depended on it. */
  #endConnection(requestCode: TransportErrorCode | undefined, message: string): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    const wasOpen = this.#phase === 'open';
    this.#socket = undefined;
    this.#reader = undefined;
    this.#phase = 'dialing';
    this.#waitingForDrain = false;
    this.#context.options.clock.clearTimer(this.#handshakeTimer);
    this.#context.options.clock.clearTimer(this.#writeStallTimer);
    this.#handshakeTimer = undefined;
    socket.destroy();
    const code = requestCode ?? (wasOpen ? 'CONNECTION_CLOSED' : 'PEER_UNREACHABLE');
    this.#requests.rejectAll(() => new TransportError(code, message, { peerId: this.peerId }));
    this.#queue.remove((item) => !item.isMessage);
    // A snapshot partly written cannot be continued on another connection (the receiver starts
    // afresh): it failed, and the leader sends it again.
    const broken = this.#queue.remove((item) => item.parts?.snapshot.started === true);
    for (const _item of broken) this.#context.emitSnapshotStatus(this.peerId, 'failed');
    // Messages written to the lost connection may never arrive: the leader must probe again.
    if (wasOpen) this.#reportUnreachable();
  }

  #logFailure(code: string, message: string, kind: FailureKind, logReason: string): void {
    const logger = this.#context.options.logger;
    const fields = { peerId: this.peerId, address: this.#address, code };
    if (!this.#context.repeats.shouldLog(this.#repeatKey(), logReason)) {
      logger.debug(fields, message);
    } else if (kind === 'network') {
      logger.info(fields, message);
    } else {
      logger.warn(fields, message);
    }
  }

  #repeatKey(): string {
    return `out:${this.peerId}`;
  }

  #setState(state: PeerConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#context.emitPeerState(this.peerId, state);
  }
}
