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

/**
 * Packs `value` into one complete frame: a 4-byte big-endian payload length, then the payload.
 * The returned buffer is never reused by later calls, so it may sit in a queue.
 */
export function packFrame(value: unknown): Buffer {
  const frame = afterPack(packr.pack(value, RESERVE_START_SPACE | FRAME_HEADER_BYTES));
  frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 0);
  return frame;
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
