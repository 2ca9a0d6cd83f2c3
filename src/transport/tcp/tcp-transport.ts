// The TCP peer transport. Between two nodes there are two connections, one per direction: each
// node dials every configured peer and sends its Raft messages and requests on that connection
// only (so its messages to a peer keep their order), and receives the peer's messages on the
// connection the peer dialed. Responses to requests return on the requester's connection.
// A newer authenticated connection from a peer replaces the older one, whose deliveries stop
// before the newer one's start, so order holds across reconnects too.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Message, NodeId } from '../../core/raft/types.ts';
import type { MessageLimits } from '../codec/message-wire.ts';
import { RepeatFilter } from '../repeat-filter.ts';
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
import { newPeerCounters } from './context.ts';
import type { PeerCounters, TcpContext } from './context.ts';
import { InboundConnection } from './inbound-connection.ts';
import type { InboundHost } from './inbound-connection.ts';
import { parsePeerAddress, resolveTcpOptions } from './options.ts';
import type { ResolvedTcpOptions, TcpTransportOptions } from './options.ts';
import { PeerLink } from './peer-link.ts';

export class TcpTransport implements Transport {
  readonly #options: ResolvedTcpOptions;
  readonly #context: TcpContext;
  readonly #inboundHost: InboundHost;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #counters = new Map<NodeId, PeerCounters>();
  readonly #inbound = new Set<InboundConnection>();
  readonly #inboundByPeer = new Map<NodeId, InboundConnection>();
  #server: Server | undefined;
  #listenAddress: { host: string; port: number } | undefined;
  #state: 'new' | 'starting' | 'started' | 'stopped' = 'new';
  #stopping: Promise<void> | undefined;
  #connectionsRejected = 0;
  #onMessage: MessageHandler = () => {};
  #onUnreachable: UnreachableHandler = () => {};
  #onSnapshotStatus: SnapshotStatusHandler = () => {};
  #onPeerState: PeerStateHandler = () => {};
  #onRequest: RequestHandler | undefined;

  constructor(options: TcpTransportOptions) {
    this.#options = resolveTcpOptions(options);
    this.#context = this.#makeContext();
    this.#inboundHost = {
      context: this.#context,
      authenticated: (connection) => this.#inboundAuthenticated(connection),
      closed: (connection) => this.#inboundClosed(connection),
    };
  }

  get localId(): NodeId {
    return this.#options.nodeId;
  }

  /** Where the listener is bound (after start()); the port is the real one when 0 was asked. */
  listenAddress(): { host: string; port: number } | undefined {
    return this.#listenAddress;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new TransportError('INVALID_OPTIONS', `start() called on a transport that is ${this.#state}`);
    this.#state = 'starting';
    const server = createServer((socket) => this.#onConnection(socket));
    this.#server = server;
    try {
      await listen(server, this.#options.listenHost, this.#options.listenPort);
    } catch (error) {
      this.#state = 'stopped';
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new TransportError('LISTEN_FAILED', `cannot listen for peers on ${this.#options.listenHost}:${this.#options.listenPort}: ${reason}`);
    }
    const bound = server.address();
    if (bound !== null && typeof bound === 'object') this.#listenAddress = { host: bound.address, port: bound.port };
    server.on('error', (error) => this.#options.logger.error({ err: error }, 'peer listener failed'));
    if (this.#isStopped()) {
      // stop() ran while we were binding: it could not close the server yet.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return;
    }
    this.#state = 'started';
    this.#options.logger.info({ nodeId: this.localId, address: this.#listenAddress }, 'peer transport listening');
    for (const link of this.#links.values()) link.start();
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopped';
    for (const link of this.#links.values()) link.close('TRANSPORT_STOPPED', false);
    for (const connection of this.#inbound) connection.close();
    const server = this.#server;
    if (server !== undefined && server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  send(message: Message): void {
    if (this.#state === 'stopped') return;
    const link = this.#links.get(message.to);
    if (link !== undefined) {
      link.send(message);
      return;
    }
    // No address, but the peer is connected to us: answer on its connection.
    if (this.#inboundByPeer.get(message.to)?.sendRaft(message) === true) return;
    this.#options.logger.debug({ peerId: message.to, type: message.type }, 'dropping a message to a peer without an address');
    if (message.type === 'snapshot') this.#onSnapshotStatus(message.to, 'failed');
    this.#onUnreachable(message.to);
  }

  setPeer(peerId: NodeId, address: string): void {
    if (!Number.isSafeInteger(peerId) || peerId <= 0 || peerId === this.localId) {
      throw new TransportError('INVALID_PEER', `peer id ${peerId} is not a valid id of another node`);
    }
    parsePeerAddress(address);
    if (this.#state === 'stopped') return;
    const existing = this.#links.get(peerId);
    if (existing !== undefined) {
      existing.setAddress(address);
      return;
    }
    const link = new PeerLink(peerId, address, this.#context);
    this.#links.set(peerId, link);
    if (this.#state === 'started') link.start();
  }

  removePeer(peerId: NodeId): void {
    const link = this.#links.get(peerId);
    if (link === undefined) return;
    this.#links.delete(peerId);
    link.close('PEER_REMOVED', true);
    if (!this.#inboundByPeer.has(peerId)) this.#counters.delete(peerId);
  }

  request(peerId: NodeId, payload: PlainData, timeoutMs: number): Promise<PlainData> {
    if (this.#state === 'stopped') return Promise.reject(new TransportError('TRANSPORT_STOPPED', 'the transport is stopped'));
    const link = this.#links.get(peerId);
    if (link === undefined) {
      return Promise.reject(new TransportError('PEER_UNKNOWN', `no address is known for node ${peerId}`, { peerId }));
    }
    return link.request(payload, timeoutMs);
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
    const ids = new Set<NodeId>([...this.#links.keys(), ...this.#counters.keys(), ...this.#inboundByPeer.keys()]);
    const peers = [...ids].sort((a, b) => a - b).map((peerId) => this.#peerStats(peerId));
    return { localId: this.localId, peers, inboundConnections: this.#inbound.size, connectionsRejected: this.#connectionsRejected };
  }

  #peerStats(peerId: NodeId): PeerStats {
    const link = this.#links.get(peerId);
    const counters = this.#counters.get(peerId) ?? newPeerCounters();
    return {
      peerId,
      address: link?.address,
      state: link?.state ?? 'disconnected',
      inboundConnected: this.#inboundByPeer.has(peerId),
      ...counters,
      queueDepthMessages: link?.queueDepthMessages ?? 0,
      queueDepthBytes: link?.queueDepthBytes ?? 0,
      requestsOutstanding: link?.requestsOutstanding ?? 0,
      lastError: link?.lastError,
    };
  }

  #isStopped(): boolean {
    return this.#state === 'stopped';
  }

  #makeContext(): TcpContext {
    const limits: MessageLimits = { maxEntriesPerMessage: this.#options.maxEntriesPerMessage };
    return {
      options: this.#options,
      limits,
      repeats: new RepeatFilter(this.#options.clock, this.#options.logRepeatQuietMs),
      counters: (peerId) => this.#countersOf(peerId),
      emitMessage: (message) => {
        if (this.#state !== 'stopped') this.#onMessage(message);
      },
      emitUnreachable: (peerId) => {
        if (this.#state !== 'stopped') this.#onUnreachable(peerId);
      },
      emitSnapshotStatus: (peerId, status) => {
        if (this.#state !== 'stopped') this.#onSnapshotStatus(peerId, status);
      },
      emitPeerState: (peerId, state: PeerConnectionState) => {
        if (this.#state !== 'stopped') this.#onPeerState(peerId, state);
      },
      requestHandler: () => this.#onRequest,
      countRejectedConnection: () => {
        this.#connectionsRejected++;
      },
    };
  }

  #countersOf(peerId: NodeId): PeerCounters {
    let counters = this.#counters.get(peerId);
    if (counters === undefined) {
      counters = newPeerCounters();
      this.#counters.set(peerId, counters);
    }
    return counters;
  }

  #onConnection(socket: Socket): void {
    if (this.#state === 'stopped') {
      socket.destroy();
      return;
    }
    if (this.#inbound.size >= this.#options.maxInboundConnections) {
      if (this.#context.repeats.shouldLog('in:limit', 'TOO_MANY_CONNECTIONS')) {
        this.#options.logger.warn({ maxInboundConnections: this.#options.maxInboundConnections }, 'refusing peer connections: too many are open');
      }
      this.#connectionsRejected++;
      socket.destroy();
      return;
    }
    socket.on('error', () => {}); // the connection object handles errors; this guards the gap
    this.#inbound.add(new InboundConnection(socket, this.#inboundHost));
  }

  #inboundAuthenticated(connection: InboundConnection): void {
    const previous = this.#inboundByPeer.get(connection.peerId);
    this.#inboundByPeer.set(connection.peerId, connection);
    this.#links.get(connection.peerId)?.peerConnectedToUs();
    if (previous !== undefined && previous !== connection) {
      this.#options.logger.debug({ peerId: connection.peerId }, 'a newer connection from the peer replaces the older one');
      previous.close();
    }
  }

  #inboundClosed(connection: InboundConnection): void {
    this.#inbound.delete(connection);
    if (connection.peerId > 0 && this.#inboundByPeer.get(connection.peerId) === connection) {
      this.#inboundByPeer.delete(connection.peerId);
    }
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
