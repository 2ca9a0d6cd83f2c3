// What the outbound links and inbound connections of one TcpTransport share: settings, logging,
// per-peer counters and the way back to the runtime's handlers.
import type { Message, NodeId } from '../../core/raft/types.ts';
import type { MessageLimits } from '../codec/message-wire.ts';
import type { RepeatFilter } from '../repeat-filter.ts';
import type { PeerConnectionState, RequestHandler } from '../types.ts';
import type { ResolvedTcpOptions } from './options.ts';

/** Mutable per-peer counters, shared by the peer's outbound link and inbound connection. */
export interface PeerCounters {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  messagesDropped: number;
  connectAttempts: number;
  connectionsEstablished: number;
}

export function newPeerCounters(): PeerCounters {
  return {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    messagesDropped: 0,
    connectAttempts: 0,
    connectionsEstablished: 0,
  };
}

export interface TcpContext {
  readonly options: ResolvedTcpOptions;
  readonly limits: MessageLimits;
  /** Suppresses repeated log lines per peer and reason. */
  readonly repeats: RepeatFilter;
  counters(peerId: NodeId): PeerCounters;
  emitMessage(message: Message): void;
  emitUnreachable(peerId: NodeId): void;
  emitSnapshotStatus(peerId: NodeId, status: 'delivered' | 'failed'): void;
  emitPeerState(peerId: NodeId, state: PeerConnectionState): void;
  requestHandler(): RequestHandler | undefined;
  /** A connection was closed for a protocol violation or refused in the handshake. */
  countRejectedConnection(): void;
}
