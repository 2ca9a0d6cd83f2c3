// The one msgpack configuration both ends of a peer link use. Plain arrays, maps, strings,
// numbers and binary only: no record structures (they would make both ends depend on shared
// state), no structured-clone or "more types" extensions. Integers above 2^32 arrive as numbers;
// the validators reject anything that is not a safe integer.
import { Packr, RESERVE_START_SPACE, Unpackr } from 'msgpackr';

/** Bytes reserved in front of every packed value for the frame's length prefix. */
export const FRAME_HEADER_BYTES = 4;

const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  encodeUndefinedAsNil: true,
  useFloat32: 0,
});

// copyBuffers stays off: decoded binaries are views into the frame's own buffer (the frame
// reader copies every frame into a dedicated buffer), which avoids one allocation per entry
// (a fresh small Uint8Array costs microseconds) without pinning socket chunks.
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'number',
  structuredClone: false,
  moreTypes: false,
});

/**
 * msgpackr packs into a shared buffer that grows up to 4x a large value and is then replaced,
 * when full, by one of the same size: after one snapshot every later refill would be huge. So a
 * large result is copied out to a buffer of its exact size (the queue holds nothing larger than
 * the frame) and msgpackr gets a fresh small buffer.
 */
const LARGE_VALUE_BYTES = 256 * 1024;
const FRESH_BUFFER_BYTES = 64 * 1024;

function afterPack(packed: Buffer): Buffer {
  if (packed.length <= LARGE_VALUE_BYTES) return packed;
  const exact = Buffer.allocUnsafeSlow(packed.length);
  packed.copy(exact);
  packr.useBuffer(Buffer.allocUnsafeSlow(FRESH_BUFFER_BYTES));
  return exact;
}

/** msgpackr starts a value in a fresh buffer unless this much room is left (see its pack()). */
const MSGPACKR_START_ROOM_BYTES = 0x800;

/**
 * Packs `value` into one complete frame: a 4-byte big-endian payload length, then the payload.
 * The returned buffer is never reused by later calls, so it may sit in a queue.
 *
 * `payloadBytesAtMost`: an upper bound of the packed size, if the caller knows one. A large
 * value then gets a buffer of its own of that size, packed once and returned without a copy.
 * Without it msgpackr grows its buffer as it goes, each time allocating up to 4x the value and
 * copying what it has; under Kafka produce that was 3 bytes allocated for each byte a leader
 * sent, and its garbage collector ran 9 full collections a second.
 */
export function packFrame(value: unknown, payloadBytesAtMost = 0): Buffer {
  const frame = payloadBytesAtMost > LARGE_VALUE_BYTES
    ? packIntoOwnBuffer(value, payloadBytesAtMost)
    : afterPack(packr.pack(value, RESERVE_START_SPACE | FRAME_HEADER_BYTES));
  frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 0);
  return frame;
}

function packIntoOwnBuffer(value: unknown, payloadBytesAtMost: number): Buffer {
  const own = Buffer.allocUnsafeSlow(FRAME_HEADER_BYTES + payloadBytesAtMost + MSGPACKR_START_ROOM_BYTES);
  packr.useBuffer(own);
  let packed: Buffer;
  try {
    packed = packr.pack(value, RESERVE_START_SPACE | FRAME_HEADER_BYTES);
  } finally {
    packr.useBuffer(Buffer.allocUnsafeSlow(FRESH_BUFFER_BYTES));
  }
  // A bound that was not one: msgpackr grew into a buffer of its own making, which afterPack trims.
  return packed.buffer === own.buffer ? packed : afterPack(packed);
}

/** Packs `value` without a header (used where no framing is needed: the memory transport). */
export function packValue(value: unknown): Uint8Array {
  return afterPack(packr.pack(value));
}

/**
 * Unpacks one msgpack value that must fill `payload` exactly. Throws on malformed input.
 * Pass a plain Uint8Array (not a Buffer) so decoded binaries are plain Uint8Arrays.
 */
export function unpackValue(payload: Uint8Array): unknown {
  return unpackr.unpack(payload);
}
