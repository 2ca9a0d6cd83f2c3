// The public surface of the peer transport.
export type {
  MessageHandler,
  PeerConnectionState,
  PeerStateHandler,
  PeerStats,
  PlainData,
  RequestHandler,
  SnapshotStatusHandler,
  TimerHandle,
  Transport,
  TransportClock,
  TransportErrorCode,
  TransportEvents,
  TransportLogger,
  TransportStats,
  UnreachableHandler,
} from './types.ts';
export { isTransportError, REAL_CLOCK, SILENT_LOGGER, TRANSPORT_ERROR_CODES, TransportError } from './types.ts';
export { TcpTransport } from './tcp/tcp-transport.ts';
export type { PeerAddress, TcpTransportOptions } from './tcp/options.ts';
export { parsePeerAddress } from './tcp/options.ts';
export { PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN } from './tcp/frames.ts';
export { MemoryNetwork } from './memory/memory-network.ts';
export type { DropFilter, MemoryNetworkOptions } from './memory/memory-network.ts';
export { MemoryTransport } from './memory/memory-transport.ts';
export type { MemoryTransportOptions } from './memory/memory-transport.ts';
export { isPlainData } from './codec/plain-data.ts';
