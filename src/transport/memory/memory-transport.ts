// The Transport of a node on a MemoryNetwork: the same contract as the TCP transport (ordered,
// lossy, bounded, unreachable reports, request/response with timeouts and fail-fast), with the
// network deciding reachability. Raft messages go through the real wire codec by default, and
// request payloads always do, so tests catch what would not survive the wire.
import type { Message, NodeId } from '../../core/raft/types.ts';
import { decodeMessageWire, DEFAULT_MESSAGE_LIMITS, encodeMessageWire, estimateMessageBytes } from '../codec/message-wire.ts';
import { packValue, unpackValue } from '../codec/msgpack.ts';
import { isPlainData, plainDataProblem } from '../codec/plain-data.ts';
import { PendingRequests } from '../pending-requests.ts';
import { TransportError } from '../types.ts';
import type {
  MessageHandler,
  PeerConnectionState,
  PeerStateHandler,
  PeerStats,
  PlainData,
  RequestHandler,
  SnapshotStatusHandler,
  Transport,
  TransportStats,
  UnreachableHandler,
} from '../types.ts';
import type { Envelope, MemoryNetwork } from './memory-network.ts';

export interface MemoryTransportOptions {
  /** Requests to one peer waiting for an answer. Default 1024. */
  readonly maxOutstandingRequests?: number;
}

interface MemoryPeer {
  address: string;
  state: PeerConnectionState;
  unreachableReported: boolean;
  readonly requests: PendingRequests;
}

interface Counters {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  messagesDropped: number;
}

export class MemoryTransport implements Transport {
  readonly localId: NodeId;
  readonly #network: MemoryNetwork;
  readonly #maxOutstandingRequests: number;
  readonly #peers = new Map<NodeId, MemoryPeer>();
  readonly #counters = new Map<NodeId, Counters>();
  #state: 'new' | 'started' | 'stopped' = 'new';
  #onMessage: MessageHandler = () => {};
  #onUnreachable: UnreachableHandler = () => {};
  #onSnapshotStatus: SnapshotStatusHandler = () => {};
  #onPeerState: PeerStateHandler = () => {};
  #onRequest: RequestHandler | undefined;

  constructor(network: MemoryNetwork, nodeId: NodeId, options: MemoryTransportOptions = {}) {
    if (!Number.isSafeInteger(nodeId) || nodeId <= 0) throw new TransportError('INVALID_OPTIONS', `node id ${nodeId} is not a positive integer`);
    this.localId = nodeId;
    this.#network = network;
    this.#maxOutstandingRequests = options.maxOutstandingRequests ?? 1024;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new TransportError('INVALID_OPTIONS', `start() called on a transport that is ${this.#state}`);
    this.#state = 'started';
    this.#network.attach(this);
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#network.detach(this);
    for (const peer of this.#peers.values()) {
      peer.requests.rejectAll(() => new TransportError('TRANSPORT_STOPPED', 'the transport stopped'));
    }
  }

  send(message: Message): void {
    if (this.#state !== 'started') return;
    const peer = this.#peers.get(message.to);
    // Like TCP: without an address of our own, we may still answer a peer connected to us.
    const answerable = peer !== undefined || this.#network.dials(message.to, this.localId);
    if (!answerable || !this.#network.isLinkUp(this.localId, message.to)) {
      this.#drop(message, peer);
      return;
    }
    const wire = this.#network.encodeMessages ? packValue(encodeMessageWire(message)) : undefined;
    if (!this.#network.enqueue({ kind: 'message', from: this.localId, to: message.to, message, wire })) {
      this.#drop(message, peer);
      return;
    }
    if (peer !== undefined) peer.unreachableReported = false;
    const counters = this.#countersOf(message.to);
    counters.messagesSent++;
    counters.bytesSent += wire?.length ?? estimateMessageBytes(message);
    if (message.type === 'snapshot') this.#onSnapshotStatus(message.to, 'delivered');
  }

  #drop(message: Message, peer: MemoryPeer | undefined): void {
    if (peer !== undefined) this.#countersOf(message.to).messagesDropped++;
    if (message.type === 'snapshot') this.#onSnapshotStatus(message.to, 'failed');
    if (peer?.unreachableReported === true) return;
    if (peer !== undefined) peer.unreachableReported = true;
    this.#onUnreachable(message.to);
  }

  /** Whether this transport has an address for `peerId` (so, over TCP, it would connect to it). @internal */
  hasPeer(peerId: NodeId): boolean {
    return this.#state === 'started' && this.#peers.has(peerId);
  }

  setPeer(peerId: NodeId, address: string): void {
    if (!Number.isSafeInteger(peerId) || peerId <= 0 || peerId === this.localId) {
      throw new TransportError('INVALID_PEER', `peer id ${peerId} is not a valid id of another node`);
    }
    const existing = this.#peers.get(peerId);
    if (existing !== undefined) {
      existing.address = address;
      return;
    }
    const requests = new PendingRequests(peerId, this.#network.clock, this.#maxOutstandingRequests);
    this.#peers.set(peerId, { address, state: 'disconnected', unreachableReported: false, requests });
    this.refreshPeerStates();
  }

  removePeer(peerId: NodeId): void {
    const peer = this.#peers.get(peerId);
    if (peer === undefined) return;
    this.#peers.delete(peerId);
    this.#counters.delete(peerId);
    peer.requests.rejectAll(() => new TransportError('PEER_REMOVED', `node ${peerId} was removed`, { peerId }));
  }

  request(peerId: NodeId, payload: PlainData, timeoutMs: number): Promise<PlainData> {
    if (this.#state !== 'started') return Promise.reject(new TransportError('TRANSPORT_STOPPED', 'the transport is not running'));
    const peer = this.#peers.get(peerId);
    if (peer === undefined) return Promise.reject(new TransportError('PEER_UNKNOWN', `no address is known for node ${peerId}`, { peerId }));
    if (!this.#network.isLinkUp(this.localId, peerId)) {
      return Promise.reject(new TransportError('PEER_UNREACHABLE', `node ${peerId} is not reachable`, { peerId }));
    }
    const problem = plainDataProblem(payload, true);
    if (problem !== undefined) {
      return Promise.reject(new TransportError('ENCODE_FAILED', `request payload is not plain data: ${problem}`, { peerId }));
    }
    let registered: { requestId: number; promise: Promise<PlainData> };
    try {
      registered = peer.requests.add(timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    const envelope: Envelope = { kind: 'request', from: this.localId, to: peerId, requestId: registered.requestId, payload: packValue(payload) };
    if (!this.#network.enqueue(envelope)) {
      peer.requests.reject(registered.requestId, new TransportError('QUEUE_FULL', `the queue to node ${peerId} is full; retry later`, { peerId }));
    }
    return registered.promise;
  }

  onMessage(handler: MessageHandler): void {
    this.#onMessage = handler;
  }
  onUnreachable(handler: UnreachableHandler): void {
    this.#onUnreachable = handler;
  }
  onSnapshotStatus(handler: SnapshotStatusHandler): void {
    this.#onSnapshotStatus = handler;
  }
  onPeerState(handler: PeerStateHandler): void {
    this.#onPeerState = handler;
  }
  onRequest(handler: RequestHandler): void {
    this.#onRequest = handler;
  }

  stats(): TransportStats {
    const ids = new Set<NodeId>([...this.#peers.keys(), ...this.#counters.keys()]);
    const peers = [...ids].sort((a, b) => a - b).map((peerId) => this.#peerStats(peerId));
    return { localId: this.localId, peers, inboundConnections: 0, connectionsRejected: 0 };
  }

  #peerStats(peerId: NodeId): PeerStats {
    const peer = this.#peers.get(peerId);
    return {
      peerId,
      address: peer?.address,
      state: peer?.state ?? 'disconnected',
      inboundConnected: this.#network.isLinkUp(peerId, this.localId),
      ...this.#countersOf(peerId),
      queueDepthMessages: 0,
      queueDepthBytes: 0,
      requestsOutstanding: peer?.requests.size ?? 0,
      connectAttempts: 0,
      connectionsEstablished: 0,
      lastError: undefined,
    };
  }

  #countersOf(peerId: NodeId): Counters {
    let counters = this.#counters.get(peerId);
    if (counters === undefined) {
      counters = { messagesSent: 0, bytesSent: 0, messagesReceived: 0, bytesReceived: 0, messagesDropped: 0 };
      this.#counters.set(peerId, counters);
    }
    return counters;
  }

  // ---- called by the network ----

  /** @internal Re-reads reachability: lost links fail their requests and report unreachable. */
  refreshPeerStates(): void {
    for (const [peerId, peer] of this.#peers) {
      const state: PeerConnectionState = this.#network.isLinkUp(this.localId, peerId) ? 'connected' : 'disconnected';
      if (state === peer.state) continue;
      peer.state = state;
      if (state === 'connected') peer.unreachableReported = false;
      if (state === 'disconnected') {
        peer.requests.rejectAll(() => new TransportError('CONNECTION_CLOSED', `the link to node ${peerId} went down`, { peerId }));
        if (this.#state === 'started' && !peer.unreachableReported) {
          peer.unreachableReported = true;
          this.#onUnreachable(peerId);
        }
      }
      if (this.#state === 'started') this.#onPeerState(peerId, state);
    }
  }

  /** @internal */
  receive(envelope: Envelope): void {
    if (this.#state !== 'started') return;
    if (envelope.kind === 'message') this.#receiveMessage(envelope.from, envelope.message, envelope.wire);
    else if (envelope.kind === 'request') this.#receiveRequest(envelope.from, envelope.requestId, envelope.payload);
    else this.#receiveResponse(envelope);
  }

  #receiveMessage(from: NodeId, message: Message, wire: Uint8Array | undefined): void {
    const counters = this.#countersOf(from);
    counters.messagesReceived++;
    counters.bytesReceived += wire?.length ?? estimateMessageBytes(message);
    if (wire === undefined) {
      this.#onMessage(message);
      return;
    }
    const view = new Uint8Array(wire.buffer, wire.byteOffset, wire.length);
    this.#onMessage(decodeMessageWire(unpackValue(view), { from, to: this.localId }, DEFAULT_MESSAGE_LIMITS));
  }

  #receiveRequest(from: NodeId, requestId: number, payload: Uint8Array): void {
    const respond = (response: PlainData | undefined, error: { code: string; message: string } | undefined): void => {
      if (this.#state !== 'started') return;
      const bytes = response === undefined ? undefined : packValue(response);
      this.#network.enqueue({ kind: 'response', from: this.localId, to: from, requestId, payload: bytes, error });
    };
    const handler = this.#onRequest;
    if (handler === undefined) {
      respond(undefined, { code: 'NO_REQUEST_HANDLER', message: 'this node does not answer requests yet' });
      return;
    }
    let answer: Promise<PlainData>;
    try {
      answer = handler(decodePayload(payload), from);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (response) => {
        const problem = plainDataProblem(response, true);
        if (problem === undefined) respond(response, undefined);
        else respond(undefined, { code: 'ENCODE_FAILED', message: `the response is not plain data: ${problem}` });
      },
      (error: unknown) => respond(undefined, describeError(error)),
    );
  }

  #receiveResponse(envelope: Extract<Envelope, { kind: 'response' }>): void {
    const peer = this.#peers.get(envelope.from);
    if (peer === undefined) return;
    if (envelope.error !== undefined || envelope.payload === undefined) {
      const error = envelope.error ?? { code: 'REMOTE_ERROR', message: 'empty response' };
      const remote = new TransportError('REMOTE_ERROR', `node ${envelope.from} failed the request: ${error.message}`, { peerId: envelope.from, remoteCode: error.code });
      peer.requests.reject(envelope.requestId, remote);
      return;
    }
    peer.requests.resolve(envelope.requestId, decodePayload(envelope.payload));
  }
}

function decodePayload(bytes: Uint8Array): PlainData {
  const value = unpackValue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  if (!isPlainData(value)) throw new TransportError('MESSAGE_INVALID', 'payload is not plain data');
  return value;
}

function describeError(error: unknown): { code: string; message: string } {
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'REMOTE_ERROR';
  return { code, message: error instanceof Error ? error.message : String(error) };
}
