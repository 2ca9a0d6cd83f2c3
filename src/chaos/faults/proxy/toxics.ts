// The toxics of FaultProxy, after Toxiproxy's: each acts on one direction of every connection
// (upstream = client to server, downstream = server to client) and applies to a connection with
// probability `toxicity`, decided once per connection and toxic (as Toxiproxy does).
import { invalidArgument, requireIntegerInRange, requireNumberInRange } from '../errors.ts';

export type Direction = 'upstream' | 'downstream';
export const DIRECTIONS: readonly Direction[] = ['upstream', 'downstream'];

interface ToxicBase {
  /** Unique per proxy; used to remove the toxic. */
  readonly name: string;
  readonly direction: Direction;
  /** Probability in [0, 1] that the toxic applies to a given connection; default 1. */
  readonly toxicity?: number;
}

/** Delays every chunk by latencyMs ± jitterMs (uniform, seeded), never reordering. */
export interface LatencyToxic extends ToxicBase {
  readonly type: 'latency';
  readonly latencyMs: number;
  readonly jitterMs?: number;
}

/** Limits throughput to bytesPerSecond. */
export interface BandwidthToxic extends ToxicBase {
  readonly type: 'bandwidth';
  readonly bytesPerSecond: number;
}

/**
 * Drops every byte (the connection stays open). Dropping bytes of a stream breaks its framing, so
 * when the toxic is removed, connections that lost bytes are reset (unless resetOnRemove: false).
 */
export interface BlackholeToxic extends ToxicBase {
  readonly type: 'blackhole';
  readonly resetOnRemove?: boolean;
}

/** Resets the connection (TCP RST to both ends) timeoutMs after the toxic applies to it. */
export interface ResetPeerToxic extends ToxicBase {
  readonly type: 'reset_peer';
  readonly timeoutMs: number;
}

/** Delays the FIN in this direction by delayMs. */
export interface SlowCloseToxic extends ToxicBase {
  readonly type: 'slow_close';
  readonly delayMs: number;
}

/** Drops data and closes the connection timeoutMs after the toxic applies (0: never closes). */
export interface TimeoutToxic extends ToxicBase {
  readonly type: 'timeout';
  readonly timeoutMs: number;
}

/** Splits data into chunks of averageSizeBytes ± sizeVariationBytes with delayMs between them. */
export interface SlicerToxic extends ToxicBase {
  readonly type: 'slicer';
  readonly averageSizeBytes: number;
  readonly sizeVariationBytes?: number;
  readonly delayMs?: number;
}

/** Closes the connection once `bytes` bytes have passed in this direction. */
export interface LimitDataToxic extends ToxicBase {
  readonly type: 'limit_data';
  readonly bytes: number;
}

export type Toxic =
  | LatencyToxic | BandwidthToxic | BlackholeToxic | ResetPeerToxic
  | SlowCloseToxic | TimeoutToxic | SlicerToxic | LimitDataToxic;

export type ToxicType = Toxic['type'];

const MAX_DELAY_MS = 10 * 60 * 1000;
const MAX_NAME_LENGTH = 200;

/** Throws 'invalid-argument' unless the toxic is well formed; returns it for chaining. */
export function validateToxic(toxic: Toxic): Toxic {
  if (typeof toxic.name !== 'string' || toxic.name.length === 0 || toxic.name.length > MAX_NAME_LENGTH) {
    throw invalidArgument(`toxic name must be 1-${MAX_NAME_LENGTH} characters`);
  }
  if (toxic.direction !== 'upstream' && toxic.direction !== 'downstream') {
    throw invalidArgument(`toxic '${toxic.name}': direction must be 'upstream' or 'downstream', got ${String(toxic.direction)}`);
  }
  if (toxic.toxicity !== undefined) requireNumberInRange(`toxic '${toxic.name}': toxicity`, toxic.toxicity, 0, 1);
  const field = (label: string): string => `toxic '${toxic.name}': ${label}`;
  switch (toxic.type) {
    case 'latency':
      requireNumberInRange(field('latencyMs'), toxic.latencyMs, 0, MAX_DELAY_MS);
      requireNumberInRange(field('jitterMs'), toxic.jitterMs ?? 0, 0, MAX_DELAY_MS);
      break;
    case 'bandwidth':
      requireNumberInRange(field('bytesPerSecond'), toxic.bytesPerSecond, 1, 1e12);
      break;
    case 'blackhole':
      break;
    case 'reset_peer':
    case 'timeout':
      requireNumberInRange(field('timeoutMs'), toxic.timeoutMs, 0, MAX_DELAY_MS);
      break;
    case 'slow_close':
      requireNumberInRange(field('delayMs'), toxic.delayMs, 0, MAX_DELAY_MS);
      break;
    case 'slicer':
      requireIntegerInRange(field('averageSizeBytes'), toxic.averageSizeBytes, 1, 1 << 24);
      requireIntegerInRange(field('sizeVariationBytes'), toxic.sizeVariationBytes ?? 0, 0, toxic.averageSizeBytes - 1);
      requireNumberInRange(field('delayMs'), toxic.delayMs ?? 0, 0, MAX_DELAY_MS);
      break;
    case 'limit_data':
      requireIntegerInRange(field('bytes'), toxic.bytes, 0, Number.MAX_SAFE_INTEGER);
      break;
    default:
      throw invalidArgument(`unknown toxic type ${String((toxic as { type: unknown }).type)}`);
  }
  return toxic;
}
