// Little-endian binary encoding helpers for the WAL and snapshot files. Integers up to 2^53 - 1
// (JavaScript's safe range) are stored in 8 bytes; a decoder never reads past its buffer.

const TWO_POW_32 = 0x1_0000_0000;

export class BinaryWriter {
  private bytes: Uint8Array;
  private view: DataView;
  length = 0;

  /** Writes into `into` when given (from its first byte; it grows into a new array if too small). */
  constructor(initialCapacity = 256, into?: Uint8Array) {
    this.bytes = into ?? new Uint8Array(initialCapacity);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  private reserve(count: number): void {
    if (this.length + count <= this.bytes.byteLength) return;
    const grown = new Uint8Array(Math.max(this.bytes.byteLength * 2, this.length + count));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  uint8(value: number): this {
    this.reserve(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
    return this;
  }

  uint32(value: number): this {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
    return this;
  }

  /** A non-negative safe integer in 8 bytes. */
  uint53(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value} is not a non-negative safe integer`);
    this.reserve(8);
    this.view.setUint32(this.length, value % TWO_POW_32, true);
    this.view.setUint32(this.length + 4, Math.floor(value / TWO_POW_32), true);
    this.length += 8;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.reserve(bytes.byteLength);
    this.bytes.set(bytes, this.length);
    this.length += bytes.byteLength;
    return this;
  }

  /** A length-prefixed byte string. */
  blob(bytes: Uint8Array): this {
    return this.uint32(bytes.byteLength).raw(bytes);
  }

  /** A count-prefixed list of safe integers. */
  uint53List(values: readonly number[]): this {
    this.uint32(values.length);
    for (const value of values) this.uint53(value);
    return this;
  }

  /** Overwrites 4 bytes already written (a field whose value is known only later, like a checksum). */
  patchUint32(position: number, value: number): this {
    if (position + 4 > this.length) throw new RangeError(`patching bytes ${position}..${position + 4} beyond the ${this.length} written`);
    this.view.setUint32(position, value, true);
    return this;
  }

  /** The bytes written so far (a view; copy before writing more if it must be kept). */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/**
 * One buffer lent out again and again, for writes that complete before the next begins (the WAL's):
 * a large write then allocates nothing. On this project's machine allocating (and collecting) a
 * fresh buffer of several hundred KiB per WAL write was a visible part of a node's CPU under Kafka
 * produce. Requests above `maxBytes` get an array of their own, so the buffer kept stays bounded.
 */
export class ScratchBuffer {
  readonly #maxBytes: number;
  #bytes = new Uint8Array(0);

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** `size` bytes of unspecified content, valid until the next take(). */
  take(size: number): Uint8Array {
    if (size > this.#maxBytes) return new Uint8Array(size);
    if (this.#bytes.byteLength < size) this.#bytes = new Uint8Array(Math.min(this.#maxBytes, Math.max(size, 2 * this.#bytes.byteLength)));
    return this.#bytes.subarray(0, size);
  }
}

/** Thrown by BinaryReader on malformed input; callers turn it into their own error. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

export class BinaryReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  position: number;

  constructor(bytes: Uint8Array, position = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.position = position;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.position;
  }

  private need(count: number, what: string): void {
    if (count > this.remaining) throw new DecodeError(`${what} needs ${count} bytes, ${this.remaining} remain`);
  }

  uint8(): number {
    this.need(1, 'uint8');
    return this.view.getUint8(this.position++);
  }

  uint32(): number {
    this.need(4, 'uint32');
    const value = this.view.getUint32(this.position, true);
    this.position += 4;
    return value;
  }

  uint53(): number {
    this.need(8, 'uint64');
    const low = this.view.getUint32(this.position, true);
    const high = this.view.getUint32(this.position + 4, true);
    if (high >= 0x20_0000) throw new DecodeError(`an integer beyond 2^53 at byte ${this.position}`);
    this.position += 8;
    return high * TWO_POW_32 + low;
  }

  /** A copy, so the result does not keep the (possibly large) source buffer alive. */
  raw(count: number): Uint8Array {
    this.need(count, 'bytes');
    const bytes = this.bytes.slice(this.position, this.position + count);
    this.position += count;
    return bytes;
  }

  blob(maxBytes: number): Uint8Array {
    const length = this.uint32();
    if (length > maxBytes) throw new DecodeError(`a byte string of ${length} bytes exceeds the limit of ${maxBytes}`);
    return this.raw(length);
  }

  uint53List(maxCount: number): number[] {
    const count = this.uint32();
    if (count > maxCount) throw new DecodeError(`a list of ${count} items exceeds the limit of ${maxCount}`);
    this.need(count * 8, 'list');
    const values: number[] = [];
    for (let item = 0; item < count; item++) values.push(this.uint53());
    return values;
  }

  expectEnd(what: string): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.remaining} unexpected bytes after ${what}`);
  }
}
