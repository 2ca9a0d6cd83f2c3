// Snapshots larger than one frame. A snapshot built from a node's state holds the whole state
// (192 MB after a minute of Kafka produce here), while a frame is bounded (maxFrameBytes, 64 MiB
// by default): sent as one frame, such a snapshot was dropped as oversized, again on every retry,
// and a node restarted with an empty disk never caught up. Now its data travels as parts of
// snapshotPartBytes each, one frame per part, in order on the peer's one connection, followed by
// the snapshot message itself with empty data; the receiver joins the parts and hands the runtime
// the whole message. Parts are encoded one at a time as the socket drains (OutgoingSnapshot), so
// the sender holds one part beyond the snapshot it was given. The receiver bounds the total it
// collects (maxSnapshotBytes) and refuses parts out of order.
import type { Message } from '../../core/raft/types.ts';
import { reject } from '../codec/wire-reader.ts';
import { encodeRaft, encodeSnapshotPart } from './frames.ts';
import type { SnapshotPartFrame } from './frames.ts';

const NO_DATA = new Uint8Array(0);

/** One snapshot message on its way out in parts: the data's parts, then the message. */
export class OutgoingSnapshot {
  readonly #message: Message;
  readonly #data: Uint8Array;
  readonly #partBytes: number;
  #offset = 0;
  #finished = false;

  constructor(message: Message, partBytes: number) {
    this.#message = message;
    this.#data = message.snapshot!.data;
    this.#partBytes = partBytes;
  }

  /** Whether a frame of it was taken: a connection lost after that cannot carry the rest. */
  get started(): boolean {
    return this.#offset > 0 || this.#finished;
  }

  /** Whether the last frame (the message) was taken. */
  get finished(): boolean {
    return this.#finished;
  }

  /** The next frame to send; call only while not finished. */
  nextFrame(): Buffer {
    const data = this.#data;
    if (this.#offset < data.byteLength) {
      const end = Math.min(data.byteLength, this.#offset + this.#partBytes);
      const frame = encodeSnapshotPart(data.byteLength, this.#offset, data.subarray(this.#offset, end));
      this.#offset = end;
      return frame;
    }
    this.#finished = true;
    const snapshot = this.#message.snapshot!;
    return encodeRaft({ ...this.#message, snapshot: { metadata: snapshot.metadata, data: NO_DATA } });
  }
}

/** Joins the parts arriving on one connection into the snapshot message that follows them. */
export class SnapshotAssembler {
  readonly #maxSnapshotBytes: number;
  #parts: Uint8Array[] = [];
  #totalBytes = 0;
  #filled = 0;

  constructor(maxSnapshotBytes: number) {
    this.#maxSnapshotBytes = maxSnapshotBytes;
  }

  /** Bytes collected for the snapshot in progress. */
  get bufferedBytes(): number {
    return this.#filled;
  }

  /** Takes one part. Throws WireError for a part that does not continue the data in order. */
  add(part: SnapshotPartFrame): void {
    if (part.offset === 0) this.#begin(part.totalBytes);
    else if (this.#parts.length === 0 || part.totalBytes !== this.#totalBytes || part.offset !== this.#filled) {
      reject('FRAME_MALFORMED', `snapshot part at offset ${part.offset} of ${part.totalBytes} bytes does not continue the ${this.#filled} of ${this.#totalBytes} bytes received`);
    }
    const length = part.bytes.byteLength;
    if (length === 0 || this.#filled + length > this.#totalBytes) {
      reject('FRAME_MALFORMED', `snapshot part of ${length} bytes at offset ${part.offset} does not fit a snapshot of ${this.#totalBytes} bytes`);
    }
    this.#parts.push(part.bytes);
    this.#filled += length;
  }

  /**
   * The message with its data joined from the parts, or the message as it is when no parts came
   * before it (a snapshot small enough for one frame). Throws WireError if parts are missing.
   */
  complete(message: Message): Message {
    if (message.type !== 'snapshot' || this.#parts.length === 0) return message;
    const snapshot = message.snapshot!;
    if (this.#filled !== this.#totalBytes || snapshot.data.byteLength !== 0) {
      reject('FRAME_MALFORMED', `snapshot message after ${this.#filled} of its ${this.#totalBytes} bytes of data`);
    }
    const joined = Buffer.concat(this.#parts, this.#totalBytes);
    this.#reset();
    // A plain Uint8Array, like every binary a frame decodes to.
    const data = new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
    return { ...message, snapshot: { metadata: snapshot.metadata, data } };
  }

  #begin(totalBytes: number): void {
    this.#reset();
    if (totalBytes > this.#maxSnapshotBytes) {
      reject('FRAME_TOO_LARGE', `a snapshot of ${totalBytes} bytes exceeds this node's maximum of ${this.#maxSnapshotBytes} (maxSnapshotBytes)`);
    }
    this.#totalBytes = totalBytes;
  }

  #reset(): void {
    this.#parts = [];
    this.#totalBytes = 0;
    this.#filled = 0;
  }
}
