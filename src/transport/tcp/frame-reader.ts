// Splits a byte stream into frames: 4-byte big-endian length, then that many payload bytes.
// Every frame is copied into a buffer of its own (decoded binaries then point into the frame
// alone, so one small entry never pins a 64 KiB socket chunk). Lengths are checked against the
// current maximum before anything is kept, and a large frame is not allocated up front on the
// word of its header: its bytes are collected as they actually arrive.
import { FRAME_HEADER_BYTES } from '../codec/msgpack.ts';
import { WireError } from '../codec/wire-reader.ts';

/** Frames up to this size are allocated when their header arrives; larger ones grow with the data. */
const PREALLOCATE_MAX_BYTES = 64 * 1024;

export class FrameReader {
  #maxFrameBytes: number;
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  /** Payload length of the frame being read; -1 while reading a header. */
  #frameLength = -1;
  #frame: Buffer | undefined;
  #chunks: Uint8Array[] = [];
  #filled = 0;
  #failed = false;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Changes the limit for frames whose header has not been read yet (raised after the handshake). */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for the frame in progress. */
  get bufferedBytes(): number {
    return this.#filled;
  }

  /**
   * Feeds a chunk (which must not be modified afterwards; Node's socket chunks never are); calls `onFrame` with each complete payload (a plain Uint8Array) in order.
   * Throws WireError on a bad length; after that the reader refuses further input.
   * `onFrame` may return false to stop reading (the connection is closing).
   */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => boolean | void): void {
    if (this.#failed) throw new WireError('FRAME_MALFORMED', 'the frame reader already failed');
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#frameLength < 0) {
        offset = this.#readHeader(chunk, offset);
        continue;
      }
      offset = this.#readPayload(chunk, offset);
      if (this.#filled === this.#frameLength) {
        const payload = this.#takeFrame();
        if (onFrame(payload) === false) return;
      }
    }
  }

  #readHeader(chunk: Uint8Array, offset: number): number {
    const take = Math.min(FRAME_HEADER_BYTES - this.#headerFilled, chunk.length - offset);
    this.#header.set(chunk.subarray(offset, offset + take), this.#headerFilled);
    this.#headerFilled += take;
    if (this.#headerFilled < FRAME_HEADER_BYTES) return offset + take;
    const length = this.#header.readUInt32BE(0);
    this.#headerFilled = 0;
    if (length === 0) this.#fail('FRAME_MALFORMED', 'empty frame');
    if (length > this.#maxFrameBytes) {
      this.#fail('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the maximum of ${this.#maxFrameBytes}`);
    }
    this.#frameLength = length;
    this.#filled = 0;
    if (length <= PREALLOCATE_MAX_BYTES) this.#frame = Buffer.allocUnsafe(length);
    return offset + take;
  }

  #readPayload(chunk: Uint8Array, offset: number): number {
    const take = Math.min(this.#frameLength - this.#filled, chunk.length - offset);
    if (this.#frame !== undefined) {
      this.#frame.set(chunk.subarray(offset, offset + take), this.#filled);
    } else {
      // Kept by reference until the frame is complete, then copied once by concat.
      this.#chunks.push(chunk.subarray(offset, offset + take));
    }
    this.#filled += take;
    return offset + take;
  }

  #takeFrame(): Uint8Array {
    const frame = this.#frame ?? Buffer.concat(this.#chunks, this.#frameLength);
    this.#frame = undefined;
    this.#chunks = [];
    this.#frameLength = -1;
    this.#filled = 0;
    // A plain Uint8Array view, so msgpack binaries decode as Uint8Array rather than Buffer.
    return new Uint8Array(frame.buffer, frame.byteOffset, frame.length);
  }

  #fail(code: 'FRAME_MALFORMED' | 'FRAME_TOO_LARGE', message: string): never {
    this.#failed = true;
    this.#chunks = [];
    this.#frame = undefined;
    throw new WireError(code, message);
  }
}
