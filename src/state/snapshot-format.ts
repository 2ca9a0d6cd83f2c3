// The state snapshot byte format, written and read in bounded chunks:
//   magic "CAIRNSS1"
//   per table, in name order: 0x01, name length (u8), name; then per entry in key order:
//     0x02, key length (u32 BE), value length (u32 BE), key, value
//   0x03 (end), then the CRC-32C of everything before it (u32 BE).
// Memory is bounded by the chunk size plus the largest entry, on both sides.
import { crc32c } from '../util/crc32c.ts';
import type { OrderedStore } from './store.ts';

const MAGIC = Buffer.from('CAIRNSS1');
const TABLE = 1;
const ENTRY = 2;
const END = 3;

/** The store's tables as snapshot bytes, in chunks of about `maxChunkBytes`. */
export function* snapshotChunks(store: OrderedStore, maxChunkBytes: number): Generator<Uint8Array> {
  let parts: Buffer[] = [MAGIC];
  let size = MAGIC.length;
  let crc = 0;
  const take = (): Buffer => {
    const chunk = Buffer.concat(parts, size);
    crc = crc32c(chunk, crc);
    parts = [];
    size = 0;
    return chunk;
  };
  for (const name of store.tableNames) {
    const nameBytes = Buffer.from(name, 'utf8');
    parts.push(Buffer.from([TABLE, nameBytes.length]), nameBytes);
    size += 2 + nameBytes.length;
    for (const { key, value } of store.range(name)) {
      const header = Buffer.alloc(9);
      header[0] = ENTRY;
      header.writeUInt32BE(key.length, 1);
      header.writeUInt32BE(value.length, 5);
      parts.push(header, Buffer.from(key), Buffer.from(value));
      size += 9 + key.length + value.length;
      if (size >= maxChunkBytes) yield take();
    }
  }
  parts.push(Buffer.from([END]));
  size += 1;
  const last = take();
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(crc >>> 0, 0);
  yield Buffer.concat([last, trailer]);
}

export interface SnapshotSink {
  table(name: string): void;
  entry(key: Buffer, value: Buffer): void;
}

/**
 * Parses snapshot bytes chunk by chunk, handing tables and entries to `sink` as they complete.
 * The checksum is only known at the end: callers apply the entries inside a write transaction
 * and let finish()'s exception roll it back. Errors name what is wrong; they are corruption or
 * a version mismatch, never something to skip.
 */
export class SnapshotParser {
  readonly #sink: SnapshotSink;
  #pending: Buffer = Buffer.alloc(0);
  /** The last 4 bytes seen: the trailer, if the stream ends here; excluded from the CRC so far. */
  #held: Buffer = Buffer.alloc(0);
  #crc = 0;
  #offset = 0;
  #sawMagic = false;
  #sawEnd = false;
  #inTable = false;

  constructor(sink: SnapshotSink) {
    this.#sink = sink;
  }

  push(chunk: Uint8Array): void {
    const data = Buffer.concat([this.#held, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)]);
    const confirmed = data.subarray(0, Math.max(0, data.length - 4));
    this.#held = Buffer.from(data.subarray(confirmed.length));
    if (confirmed.length === 0) return;
    this.#crc = crc32c(confirmed, this.#crc);
    this.#pending = this.#pending.length === 0 ? Buffer.from(confirmed) : Buffer.concat([this.#pending, confirmed]);
    this.#parse();
  }

  finish(): void {
    if (!this.#sawMagic) throw new Error('state snapshot: not a Cairn state snapshot (bad magic)');
    if (!this.#sawEnd || this.#pending.length > 0 || this.#held.length !== 4) {
      throw new Error(`state snapshot: truncated or malformed near offset ${this.#offset}`);
    }
    if (this.#held.readUInt32BE(0) !== this.#crc >>> 0) throw new Error('state snapshot: checksum mismatch (the snapshot is corrupt)');
  }

  #parse(): void {
    let position = 0;
    const bytes = this.#pending;
    if (!this.#sawMagic) {
      if (bytes.length < MAGIC.length) return;
      if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('state snapshot: not a Cairn state snapshot (bad magic)');
      this.#sawMagic = true;
      position = MAGIC.length;
    }
    for (;;) {
      const consumed = this.#record(bytes, position);
      if (consumed === 0) break;
      position += consumed;
    }
    this.#offset += position;
    this.#pending = position === 0 ? bytes : Buffer.from(bytes.subarray(position));
  }

  /** Parses one record at `position`; returns its length, or 0 if it is not complete yet. */
  #record(bytes: Buffer, position: number): number {
    if (position >= bytes.length) return 0;
    if (this.#sawEnd) throw new Error(`state snapshot: data after the end marker at offset ${this.#offset + position}`);
    const type = bytes[position]!;
    if (type === END) {
      this.#sawEnd = true;
      return 1;
    }
    if (type === TABLE) {
      if (position + 2 > bytes.length) return 0;
      const length = bytes[position + 1]!;
      if (position + 2 + length > bytes.length) return 0;
      this.#inTable = true;
      this.#sink.table(bytes.toString('utf8', position + 2, position + 2 + length));
      return 2 + length;
    }
    if (type === ENTRY && this.#inTable) {
      if (position + 9 > bytes.length) return 0;
      const keyLength = bytes.readUInt32BE(position + 1);
      // No store holds an empty key: a zero length is damage, found here rather than by the store
      // (the checksum is only checked at the end).
      if (keyLength === 0) throw new Error(`state snapshot: malformed record (an entry with an empty key) at offset ${this.#offset + position}`);
      const valueLength = bytes.readUInt32BE(position + 5);
      const end = position + 9 + keyLength + valueLength;
      if (end > bytes.length) return 0;
      this.#sink.entry(bytes.subarray(position + 9, position + 9 + keyLength), bytes.subarray(position + 9 + keyLength, end));
      return end - position;
    }
    throw new Error(`state snapshot: malformed record (type ${type}) at offset ${this.#offset + position}`);
  }
}
