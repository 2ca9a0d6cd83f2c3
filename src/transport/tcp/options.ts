// Settings of the TCP transport with their defaults, checked once at construction so a bad value
// fails with a message that names it.
import type { NodeId } from '../../core/raft/types.ts';
import { REAL_CLOCK, SILENT_LOGGER, TransportError } from '../types.ts';
import type { TransportClock, TransportLogger } from '../types.ts';
import { MAX_CLUSTER_ID_LENGTH } from './frames.ts';

export interface TcpTransportOptions {
  readonly nodeId: NodeId;
  /** Must be equal on every member; a peer with another id is refused. */
  readonly clusterId: string;
  /** Shared by every member; proves membership in the handshake. Never sent. */
  readonly clusterSecret: string | Uint8Array;
  /** Default '127.0.0.1'. */
  readonly listenHost?: string;
  /** Default 0: an ephemeral port (read it back with `listenAddress()`). */
  readonly listenPort?: number;
  readonly logger?: TransportLogger;
  readonly clock?: TransportClock;
  /** [0, 1); used only for backoff jitter. Default Math.random. */
  readonly random?: () => number;
  /** Largest frame accepted or sent. Default 64 MiB. */
  readonly maxFrameBytes?: number;
  /**
   * A snapshot whose data is larger than this travels in parts of this size (snapshot-parts.ts),
   * to peers of protocol version 2 or later. Default 4 MiB; at most maxFrameBytes - 1 KiB.
   */
  readonly snapshotPartBytes?: number;
  /** The largest snapshot this node accepts in parts (it holds one in memory). Default 16 GiB. */
  readonly maxSnapshotBytes?: number;
  /** Largest frame before the handshake completes. Default 4 KiB. */
  readonly maxHandshakeBytes?: number;
  /** Dial plus handshake, either side. Default 5 s. */
  readonly handshakeTimeoutMs?: number;
  /** Per-peer send queue bound in messages (Raft messages and requests). Default 4096. */
  readonly maxQueueMessages?: number;
  /** Per-peer send queue bound in bytes. An empty queue always admits one frame. Default 16 MiB. */
  readonly maxQueueBytes?: number;
  /** Queued frames are coalesced into socket writes of up to this size. Default 1 MiB. */
  readonly maxBatchBytes?: number;
  /** Reconnect backoff: first delay (with jitter) and cap. Defaults 100 ms and 5 s. */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Requests to one peer waiting for an answer. Default 1024. */
  readonly maxOutstandingRequests?: number;
  /** Requests from one connection being handled at once; more are answered 'TOO_MANY_REQUESTS'. Default 256. */
  readonly maxIncomingRequests?: number;
  /** Open inbound connections, authenticated or not. Default 256. */
  readonly maxInboundConnections?: number;
  /** Entries in one decoded message. Default 1,000,000; keep it above what the core sends. */
  readonly maxEntriesPerMessage?: number;
  /** A refusal or failure logged for a peer is logged again after this long if it persists. Default 10 min. */
  readonly logRepeatQuietMs?: number;
  /** TCP keep-alive initial delay. Default 10 s. */
  readonly keepAliveMs?: number;
  /**
   * A connection whose socket accepts no data for this long while we wait to write is declared
   * dead and redialed (a vanished host would otherwise hold it for the kernel's ~15 min retry
   * time). Keep it above the time one frame (a snapshot part, at most maxFrameBytes for a peer
   * of protocol version 1) takes on the slowest link. Default 30 s.
   */
  readonly writeStallTimeoutMs?: number;
}

export interface ResolvedTcpOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly clusterSecret: Uint8Array;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly logger: TransportLogger;
  readonly clock: TransportClock;
  readonly random: () => number;
  readonly maxFrameBytes: number;
  readonly snapshotPartBytes: number;
  readonly maxSnapshotBytes: number;
  readonly maxHandshakeBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly maxQueueMessages: number;
  readonly maxQueueBytes: number;
  readonly maxBatchBytes: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly maxOutstandingRequests: number;
  readonly maxIncomingRequests: number;
  readonly maxInboundConnections: number;
  readonly maxEntriesPerMessage: number;
  readonly logRepeatQuietMs: number;
  readonly keepAliveMs: number;
  readonly writeStallTimeoutMs: number;
}

const MIB = 1024 * 1024;
/** Room for a snapshot part's frame fields around its bytes. */
const PART_FRAME_OVERHEAD_BYTES = 1024;
/** The length prefix is 32 bits. */
const FRAME_BYTES_CEILING = 0xffff_ffff;

export function resolveTcpOptions(options: TcpTransportOptions): ResolvedTcpOptions {
  if (!Number.isSafeInteger(options.nodeId) || options.nodeId <= 0) invalid('nodeId', 'must be a positive integer');
  if (typeof options.clusterId !== 'string' || options.clusterId.length === 0 || options.clusterId.length > MAX_CLUSTER_ID_LENGTH) {
    invalid('clusterId', `must be a non-empty string of at most ${MAX_CLUSTER_ID_LENGTH} characters`);
  }
  const secret = typeof options.clusterSecret === 'string' ? new TextEncoder().encode(options.clusterSecret) : options.clusterSecret;
  if (!(secret instanceof Uint8Array) || secret.length === 0) invalid('clusterSecret', 'must be a non-empty string or byte array');
  const resolved: ResolvedTcpOptions = {
    nodeId: options.nodeId,
    clusterId: options.clusterId,
    clusterSecret: Uint8Array.from(secret),
    listenHost: options.listenHost ?? '127.0.0.1',
    listenPort: options.listenPort ?? 0,
    logger: options.logger ?? SILENT_LOGGER,
    clock: options.clock ?? REAL_CLOCK,
    random: options.random ?? Math.random,
    maxFrameBytes: options.maxFrameBytes ?? 64 * MIB,
    snapshotPartBytes: options.snapshotPartBytes ?? Math.min(4 * MIB, (options.maxFrameBytes ?? 64 * MIB) - PART_FRAME_OVERHEAD_BYTES),
    maxSnapshotBytes: options.maxSnapshotBytes ?? 16 * 1024 * MIB,
    maxHandshakeBytes: options.maxHandshakeBytes ?? 4096,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
    maxQueueMessages: options.maxQueueMessages ?? 4096,
    maxQueueBytes: options.maxQueueBytes ?? 16 * MIB,
    maxBatchBytes: options.maxBatchBytes ?? MIB,
    backoffInitialMs: options.backoffInitialMs ?? 100,
    backoffMaxMs: options.backoffMaxMs ?? 5000,
    maxOutstandingRequests: options.maxOutstandingRequests ?? 1024,
    maxIncomingRequests: options.maxIncomingRequests ?? 256,
    maxInboundConnections: options.maxInboundConnections ?? 256,
    maxEntriesPerMessage: options.maxEntriesPerMessage ?? 1_000_000,
    logRepeatQuietMs: options.logRepeatQuietMs ?? 10 * 60_000,
    keepAliveMs: options.keepAliveMs ?? 10_000,
    writeStallTimeoutMs: options.writeStallTimeoutMs ?? 30_000,
  };
  checkNumbers(resolved);
  return resolved;
}

function checkNumbers(options: ResolvedTcpOptions): void {
  if (!Number.isInteger(options.listenPort) || options.listenPort < 0 || options.listenPort > 65535) invalid('listenPort', 'must be 0..65535');
  const positive = [
    'maxFrameBytes', 'snapshotPartBytes', 'maxSnapshotBytes', 'maxHandshakeBytes', 'handshakeTimeoutMs', 'maxQueueMessages', 'maxQueueBytes', 'maxBatchBytes',
    'backoffInitialMs', 'backoffMaxMs', 'maxOutstandingRequests', 'maxIncomingRequests', 'maxInboundConnections',
    'maxEntriesPerMessage', 'logRepeatQuietMs', 'keepAliveMs', 'writeStallTimeoutMs',
  ] as const;
  for (const name of positive) {
    const value = options[name];
    if (!Number.isFinite(value) || value <= 0) invalid(name, 'must be a positive number');
  }
  if (options.maxFrameBytes > FRAME_BYTES_CEILING) invalid('maxFrameBytes', `must be at most ${FRAME_BYTES_CEILING}`);
  if (!Number.isSafeInteger(options.snapshotPartBytes) || options.snapshotPartBytes > options.maxFrameBytes - PART_FRAME_OVERHEAD_BYTES) {
    invalid('snapshotPartBytes', `must be an integer of at most maxFrameBytes - ${PART_FRAME_OVERHEAD_BYTES}`);
  }
  if (options.maxHandshakeBytes > options.maxFrameBytes) invalid('maxHandshakeBytes', 'must not exceed maxFrameBytes');
  if (options.backoffMaxMs < options.backoffInitialMs) invalid('backoffMaxMs', 'must be at least backoffInitialMs');
}

function invalid(name: string, problem: string): never {
  throw new TransportError('INVALID_OPTIONS', `transport option ${name} ${problem}`);
}

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses "host:port" or "[ipv6]:port". Throws TransportError 'INVALID_ADDRESS'. */
export function parsePeerAddress(address: string): PeerAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port < 1 || port > 65535) {
    throw new TransportError('INVALID_ADDRESS', `peer address ${JSON.stringify(address)} is not host:port (IPv6 as [addr]:port) with a port 1..65535`);
  }
  return { host: (match[1] ?? match[2])!, port };
}
