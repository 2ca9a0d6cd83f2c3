// The peer transport as the runtime sees it: fire-and-forget Raft messages (ordered per peer,
// lossy when a peer is down or slow), a small request/response facility for forwarding client
// requests to the leader, membership-driven peer addresses, and counters for status and metrics.
// Implementations: tcp/ (real sockets) and memory/ (tests). Both pass transport/testing/conformance.ts.
import type { Message, NodeId } from '../core/raft/types.ts';

/**
 * What a request or a response may carry: msgpack-able plain data. Objects must be plain
 * (`{}` literals); `undefined` inside objects and arrays arrives as `null`.
 */
export type PlainData =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | readonly PlainData[]
  | { readonly [key: string]: PlainData };

/** Connection state of the outbound link to a configured peer. */
export type PeerConnectionState =
  /** Dialing or handshaking. Messages queue (up to the bound). */
  | 'connecting'
  /** Handshake done; messages flow. */
  | 'connected'
  /** The last attempt failed (refused connection, timeout, closed); waiting to retry. */
  | 'disconnected'
  /** The peer answered but refused us (wrong secret, cluster id, node id or version); retrying slowly. */
  | 'refused';

export type MessageHandler = (message: Message) => void;
export type UnreachableHandler = (peerId: NodeId) => void;
/**
 * 'delivered': the snapshot message was written completely to the connection (like etcd's
 * SnapshotFinish; the follower's answer still decides). 'failed': it was dropped (like SnapshotFailure).
 */
export type SnapshotStatusHandler = (peerId: NodeId, status: 'delivered' | 'failed') => void;
export type PeerStateHandler = (peerId: NodeId, state: PeerConnectionState) => void;
/** Answers a request from `from`. A rejection is sent back as a TransportError 'REMOTE_ERROR'. */
export type RequestHandler = (payload: PlainData, from: NodeId) => Promise<PlainData>;

/**
 * The events a transport reports. Each `on*` method of Transport replaces the previous handler
 * of that kind. Handlers are called synchronously from the transport's I/O callbacks; a handler
 * that throws is a programmer error and is not caught.
 */
export interface TransportEvents {
  /** A validated Raft message addressed to this node (`to === localId`, `from` authenticated). */
  message: MessageHandler;
  /**
   * A message to this peer was dropped (queue full, unknown peer, peer removed) or the
   * connection to it was lost with messages possibly in flight. Reported at most once per peer
   * until a message is accepted or delivered again, so the runtime may call
   * `rawNode.reportUnreachable(peerId)` every time without flooding.
   */
  unreachable: UnreachableHandler;
  /** The fate of a message of type 'snapshot' (see SnapshotStatusHandler). */
  snapshotStatus: SnapshotStatusHandler;
  /** The outbound link to a peer changed state. */
  peerState: PeerStateHandler;
}

export interface PeerStats {
  readonly peerId: NodeId;
  /** The configured address; undefined for a peer known only from its inbound connection. */
  readonly address: string | undefined;
  /** Outbound link state; 'disconnected' for a peer known only from its inbound connection. */
  readonly state: PeerConnectionState;
  /** Whether the peer currently has an authenticated connection to us. */
  readonly inboundConnected: boolean;
  readonly messagesSent: number;
  readonly bytesSent: number;
  readonly messagesReceived: number;
  readonly bytesReceived: number;
  /** Raft messages dropped (queue full, peer removed, no address). */
  readonly messagesDropped: number;
  readonly queueDepthMessages: number;
  readonly queueDepthBytes: number;
  readonly requestsOutstanding: number;
  readonly connectAttempts: number;
  readonly connectionsEstablished: number;
  /** Why the link last failed or was refused; cleared on a successful handshake. */
  readonly lastError: { readonly code: string; readonly message: string } | undefined;
}

export interface TransportStats {
  readonly localId: NodeId;
  /** Sorted by peer id. */
  readonly peers: readonly PeerStats[];
  /** Inbound connections currently open (authenticated or still handshaking). */
  readonly inboundConnections: number;
  /** Connections closed because of a malformed, oversized or invalid frame or handshake. */
  readonly connectionsRejected: number;
}

export interface Transport {
  readonly localId: NodeId;
  /** Starts listening (tcp) or joins the network (memory). Dialing configured peers begins here. */
  start(): Promise<void>;
  /** Closes everything: listener, sockets, timers. Pending requests reject with 'TRANSPORT_STOPPED'. Idempotent. */
  stop(): Promise<void>;
  /**
   * Queues a Raft message for `message.to`. Never blocks, never throws for a down, slow or
   * unknown peer: the message is dropped and `unreachable` is reported instead. Messages to one
   * peer leave in the order of the calls.
   */
  send(message: Message): void;
  /** Adds a peer or changes its address (the link reconnects; queued messages are kept). Throws 'INVALID_ADDRESS' / 'INVALID_PEER'. */
  setPeer(peerId: NodeId, address: string): void;
  /** Forgets a peer: closes its link, drops its queue, rejects its requests with 'PEER_REMOVED'. */
  removePeer(peerId: NodeId): void;
  /**
   * Sends `payload` to the peer's request handler and resolves with its answer. Rejects with a
   * TransportError: 'REQUEST_TIMEOUT', 'CONNECTION_CLOSED' (fails fast when the link drops),
   * 'PEER_UNREACHABLE' (link known down), 'PEER_UNKNOWN', 'TOO_MANY_REQUESTS', 'QUEUE_FULL',
   * 'FRAME_TOO_LARGE', 'ENCODE_FAILED', 'REMOTE_ERROR', 'TRANSPORT_STOPPED'.
   */
  request(peerId: NodeId, payload: PlainData, timeoutMs: number): Promise<PlainData>;
  onMessage(handler: MessageHandler): void;
  onUnreachable(handler: UnreachableHandler): void;
  onSnapshotStatus(handler: SnapshotStatusHandler): void;
  onPeerState(handler: PeerStateHandler): void;
  onRequest(handler: RequestHandler): void;
  stats(): TransportStats;
}

/** The pino subset the transport logs through. */
export interface TransportLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const SILENT_LOGGER: TransportLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export type TimerHandle = unknown;

/** Time and timers, injected so tests can drive backoff and timeouts. */
export interface TransportClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export const REAL_CLOCK: TransportClock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const TRANSPORT_ERROR_CODES = [
  'TRANSPORT_STOPPED',
  'INVALID_OPTIONS',
  'INVALID_ADDRESS',
  'INVALID_PEER',
  'LISTEN_FAILED',
  'PEER_UNKNOWN',
  'PEER_REMOVED',
  'PEER_UNREACHABLE',
  'QUEUE_FULL',
  'TOO_MANY_REQUESTS',
  'REQUEST_TIMEOUT',
  'CONNECTION_CLOSED',
  'REMOTE_ERROR',
  'NO_REQUEST_HANDLER',
  'ENCODE_FAILED',
  'FRAME_TOO_LARGE',
  'FRAME_MALFORMED',
  'MESSAGE_INVALID',
  'MESSAGE_WRONG_SENDER',
  'HANDSHAKE_MALFORMED',
  'HANDSHAKE_TIMEOUT',
  'HANDSHAKE_VERSION_UNSUPPORTED',
  'HANDSHAKE_CLUSTER_MISMATCH',
  'HANDSHAKE_WRONG_NODE',
  'HANDSHAKE_AUTH_FAILED',
  'TOO_MANY_CONNECTIONS',
] as const;

export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

export class TransportError extends Error {
  override name = 'TransportError';
  readonly code: TransportErrorCode;
  readonly peerId: NodeId | undefined;
  /** For 'REMOTE_ERROR': the `code` of the error the remote handler rejected with, if it had one. */
  readonly remoteCode: string | undefined;

  constructor(code: TransportErrorCode, message: string, details: { peerId?: NodeId; remoteCode?: string } = {}) {
    super(message);
    this.code = code;
    this.peerId = details.peerId;
    this.remoteCode = details.remoteCode;
  }
}

export function isTransportError(error: unknown, code?: TransportErrorCode): error is TransportError {
  return error instanceof TransportError && (code === undefined || error.code === code);
}
