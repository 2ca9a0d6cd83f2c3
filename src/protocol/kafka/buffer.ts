// Primitive reader and writer of the Kafka wire format (big-endian integers, int16/int32 or
// unsigned-varint lengths, zigzag varints for records, tagged fields). The generated codecs in
// generated/ are thin sequences of calls into these two classes.
//
// The reader decodes bytes from the network, so every length is checked against the bytes that
// remain AND a configured maximum before anything is allocated, and errors are KafkaDecodeError
// values that name the field (`ProduceRequest.topicData[0].name: ...`). To name the field without
// building strings on the happy path, the reader keeps a stack of the struct/array positions it is
// in and only formats it when it throws.

import { Buffer } from 'node:buffer';
import { KafkaDecodeError, KafkaEncodeError } from './codec-errors.ts';
import type { KafkaDecodeErrorCode } from './codec-errors.ts';

export interface KafkaDecodeLimits {
  /** Most elements in any one array. */
  readonly arrayElementsMax: number;
  /** Most UTF-8 bytes in one string (Kafka itself never allows more than 32767). */
  readonly stringBytesMax: number;
  /** Most bytes in one `bytes` or `records` field. */
  readonly bytesMax: number;
  /** Most tagged fields in one struct. */
  readonly taggedFieldsMax: number;
}

export const DEFAULT_DECODE_LIMITS: KafkaDecodeLimits = {
  arrayElementsMax: 100_000,
  stringBytesMax: 32_767,
  bytesMax: 100 * 1024 * 1024,
  taggedFieldsMax: 64,
};

/** Kafka's string length prefix is an int16 (and compact strings are held to the same limit). */
const STRING_BYTES_PROTOCOL_MAX = 0x7fff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UUID_BYTES = 16;

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** A path segment: a field name, or an index inside the array named by the segment before it. */
type PathSegment = string | number;

function formatPath(root: string, segments: readonly PathSegment[], field: string): string {
  let path = root;
  for (const segment of segments) path += typeof segment === 'number' ? `[${segment}]` : `.${segment}`;
  return field === '' ? path : `${path}.${field}`;
}

/** Plain Uint8Array view of `bytes` (a Node Buffer's slice() shares memory; Uint8Array's copies). */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class KafkaReader {
  readonly bytes: Uint8Array;
  readonly limits: KafkaDecodeLimits;
  private readonly view: DataView;
  /** Next byte to read. */
  offset: number;
  /** One past the last byte this reader may read (narrowed while decoding a tagged field). */
  private end: number;
  private root = '';
  private readonly path: PathSegment[] = [];

  constructor(bytes: Uint8Array, limits: Partial<KafkaDecodeLimits> = {}, offset = 0, end = bytes.length) {
    this.bytes = plainBytes(bytes);
    this.limits = { ...DEFAULT_DECODE_LIMITS, ...limits };
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Names the message being decoded; error paths start with it. Resets the path stack. */
  startMessage(name: string): void {
    this.root = name;
    this.path.length = 0;
  }

  /** A KafkaDecodeError located at `field` of the current struct ("" = the current position itself). */
  error(code: KafkaDecodeErrorCode, field: string, detail: string): KafkaDecodeError {
    return new KafkaDecodeError(code, formatPath(this.root, this.path, field), detail);
  }

  /** Throws `trailing_bytes` unless everything has been read. */
  expectEnd(): void {
    if (this.offset !== this.end) throw this.error('trailing_bytes', '', `${this.end - this.offset} bytes left after the message`);
  }

  private need(count: number, field: string): number {
    const start = this.offset;
    if (count > this.end - start) throw this.error('truncated', field, `needs ${count} bytes, ${this.end - start} remain`);
    this.offset = start + count;
    return start;
  }

  readInt8(field: string): number {
    return this.view.getInt8(this.need(1, field));
  }

  readBoolean(field: string): boolean {
    return this.view.getInt8(this.need(1, field)) !== 0;
  }

  readInt16(field: string): number {
    return this.view.getInt16(this.need(2, field));
  }

  readUint16(field: string): number {
    return this.view.getUint16(this.need(2, field));
  }

  readInt32(field: string): number {
    return this.view.getInt32(this.need(4, field));
  }

  readUint32(field: string): number {
    return this.view.getUint32(this.need(4, field));
  }

  readInt64(field: string): bigint {
    return this.view.getBigInt64(this.need(8, field));
  }

  readFloat64(field: string): number {
    return this.view.getFloat64(this.need(8, field));
  }

  /** Unsigned LEB128 of at most 5 bytes holding a value below 2^32 (flexible-version lengths). */
  readUnsignedVarint(field: string): number {
    let value = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (this.offset >= this.end) throw this.error('truncated', field, 'varint runs past the end');
      const byte = this.bytes[this.offset++]!;
      if (shift === 28 && byte > 0x0f) throw this.error('invalid_varint', field, 'unsigned varint does not fit in 32 bits');
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw this.error('invalid_varint', field, 'unsigned varint does not fit in 32 bits');
  }

  /** Zigzag varint of a 32-bit signed value (record fields). */
  readVarint(field: string): number {
    const value = this.readUnsignedVarint(field);
    return (value >>> 1) ^ -(value & 1);
  }

  /** Zigzag varint of a 64-bit signed value (record timestamps). */
  readVarlong(field: string): bigint {
    let value = 0n;
    for (let shift = 0n; shift <= 63n; shift += 7n) {
      if (this.offset >= this.end) throw this.error('truncated', field, 'varlong runs past the end');
      const byte = this.bytes[this.offset++]!;
      if (shift === 63n && byte > 0x01) throw this.error('invalid_varint', field, 'varlong does not fit in 64 bits');
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return (value >> 1n) ^ -(value & 1n);
    }
    throw this.error('invalid_varint', field, 'varlong does not fit in 64 bits');
  }

  /** Length prefix of a string/bytes/array: int16 or int32, or unsigned varint N+1 when compact. -1 = null. */
  private readLength(field: string, compact: boolean, wide: boolean): number {
    if (compact) return this.readUnsignedVarint(field) - 1;
    return wide ? this.readInt32(field) : this.readInt16(field);
  }

  /** Validates a length read for `field` before anything of that size is allocated. */
  private checkLength(length: number, max: number, field: string, nullable: boolean): void {
    if (length === -1 && !nullable) throw this.error('unexpected_null', field, 'null is not allowed for this field');
    if (length < -1) throw this.error('negative_length', field, `invalid length ${length}`);
    if (length > this.end - this.offset) {
      throw this.error('length_exceeds_remaining', field, `length ${length} exceeds remaining ${this.end - this.offset} bytes`);
    }
    if (length > max) throw this.error('length_exceeds_limit', field, `length ${length} exceeds the limit of ${max}`);
  }

  private stringMax(): number {
    return Math.min(this.limits.stringBytesMax, STRING_BYTES_PROTOCOL_MAX);
  }

  readString(field: string, compact: boolean): string {
    const length = this.readLength(field, compact, false);
    this.checkLength(length, this.stringMax(), field, false);
    return this.utf8(length);
  }

  readNullableString(field: string, compact: boolean): string | null {
    const length = this.readLength(field, compact, false);
    this.checkLength(length, this.stringMax(), field, true);
    return length === -1 ? null : this.utf8(length);
  }

  private utf8(length: number): string {
    const start = this.offset;
    this.offset += length;
    return utf8Decoder.decode(this.bytes.subarray(start, start + length));
  }

  /** A `bytes` field, copied so it does not keep the whole network buffer alive. */
  readBytes(field: string, compact: boolean): Uint8Array {
    const length = this.readLength(field, compact, true);
    this.checkLength(length, this.limits.bytesMax, field, false);
    return this.copy(length);
  }

  readNullableBytes(field: string, compact: boolean): Uint8Array | null {
    const length = this.readLength(field, compact, true);
    this.checkLength(length, this.limits.bytesMax, field, true);
    return length === -1 ? null : this.copy(length);
  }

  /**
   * A `records` field: a view into the input (no copy — record batches are the bulk of Produce
   * requests). It aliases the input bytes; copy it before keeping it if the input is reused.
   */
  readRecords(field: string, compact: boolean): Uint8Array | null {
    const length = this.readLength(field, compact, true);
    this.checkLength(length, this.limits.bytesMax, field, true);
    if (length === -1) return null;
    return this.bytes.subarray(this.need(length, field), this.offset);
  }

  /** A view of the next `length` raw bytes (no length prefix). */
  readRawBytes(field: string, length: number): Uint8Array {
    return this.bytes.subarray(this.need(length, field), this.offset);
  }

  private copy(length: number): Uint8Array {
    const start = this.offset;
    this.offset += length;
    return this.bytes.slice(start, start + length);
  }

  readUuid(field: string): Uint8Array {
    const start = this.need(UUID_BYTES, field);
    return this.bytes.slice(start, start + UUID_BYTES);
  }

  /**
   * An array of `readElement()` results. `elementBytesMin` is the fewest bytes one element can
   * take on the wire, so a count that cannot fit in the remaining bytes fails before allocating.
   */
  readArray<T>(field: string, compact: boolean, elementBytesMin: number, readElement: () => T): T[] {
    const length = this.readArrayLength(field, compact, elementBytesMin, false);
    return this.readElements(field, length, readElement);
  }

  readNullableArray<T>(field: string, compact: boolean, elementBytesMin: number, readElement: () => T): T[] | null {
    const length = this.readArrayLength(field, compact, elementBytesMin, true);
    return length === -1 ? null : this.readElements(field, length, readElement);
  }

  private readArrayLength(field: string, compact: boolean, elementBytesMin: number, nullable: boolean): number {
    const length = this.readLength(field, compact, true);
    if (length === -1 && !nullable) throw this.error('unexpected_null', field, 'null is not allowed for this array');
    if (length < -1) throw this.error('negative_length', field, `invalid array length ${length}`);
    if (length > this.limits.arrayElementsMax) {
      throw this.error('length_exceeds_limit', field, `array length ${length} exceeds the limit of ${this.limits.arrayElementsMax}`);
    }
    const remaining = this.end - this.offset;
    if (length * elementBytesMin > remaining) {
      throw this.error('length_exceeds_remaining', field, `array length ${length} needs at least ${length * elementBytesMin} bytes, ${remaining} remain`);
    }
    return length;
  }

  private readElements<T>(field: string, length: number, readElement: () => T): T[] {
    const elements: T[] = [];
    const depth = this.path.push(field, 0);
    for (let index = 0; index < length; index++) {
      this.path[depth - 1] = index;
      elements.push(readElement());
    }
    this.path.length = depth - 2;
    return elements;
  }

  /** A nested struct field; `field` becomes part of the error path while it is read. */
  readStruct<T>(field: string, readValue: () => T): T {
    const depth = this.path.push(field);
    const value = readValue();
    this.path.length = depth - 1;
    return value;
  }

  /**
   * The tagged-field section that ends every struct in flexible versions. `readKnown(tag)` reads
   * a tag it knows and returns true, or returns false to skip it; unknown tags are skipped. While
   * a known tag is read the reader cannot go past the size its header announced.
   */
  readTaggedFields(readKnown?: (tag: number) => boolean): void {
    const count = this.readUnsignedVarint('taggedFields');
    if (count > this.limits.taggedFieldsMax) {
      throw this.error('too_many_tagged_fields', 'taggedFields', `${count} tagged fields exceed the limit of ${this.limits.taggedFieldsMax}`);
    }
    if (count * 2 > this.end - this.offset) {
      throw this.error('length_exceeds_remaining', 'taggedFields', `${count} tagged fields cannot fit in ${this.end - this.offset} bytes`);
    }
    for (let index = 0; index < count; index++) {
      const tag = this.readUnsignedVarint('taggedFields');
      const size = this.readUnsignedVarint('taggedFields');
      this.checkLength(size, this.end - this.offset, `taggedFields[${tag}]`, false);
      const end = this.offset + size;
      if (readKnown !== undefined) this.readTag(tag, size, readKnown);
      this.offset = end;
    }
  }

  private readTag(tag: number, size: number, readKnown: (tag: number) => boolean): void {
    const start = this.offset;
    const outerEnd = this.end;
    this.end = start + size;
    try {
      if (readKnown(tag) && this.offset !== this.end) {
        throw this.error('tagged_field_size_mismatch', `taggedFields[${tag}]`, `used ${this.offset - start} of its ${size} bytes`);
      }
    } finally {
      this.end = outerEnd;
    }
  }
}

/** A tagged field to write: the generated code lists the ones that differ from their default. */
export interface TaggedFieldWriter {
  readonly tag: number;
  readonly field: string;
  readonly write: (writer: KafkaWriter) => void;
}

export class KafkaWriter {
  private buffer: Uint8Array;
  private view: DataView;
  /** Number of bytes written so far. */
  offset = 0;
  private root = '';
  private readonly path: PathSegment[] = [];

  constructor(capacity = 256) {
    this.buffer = new Uint8Array(capacity);
    this.view = new DataView(this.buffer.buffer);
  }

  /** Names the message being encoded; error paths start with it. */
  startMessage(name: string): void {
    this.root = name;
    this.path.length = 0;
  }

  /** The bytes written so far (a view: valid until the writer is written to again). */
  toBytes(): Uint8Array {
    return this.buffer.subarray(0, this.offset);
  }

  error(code: KafkaEncodeError['code'], field: string, detail: string): KafkaEncodeError {
    return new KafkaEncodeError(code, formatPath(this.root, this.path, field), detail);
  }

  /** The error for a non-default value in a field that `version` lacks and Kafka marks non-ignorable. */
  fieldNotInVersion(field: string, version: number): KafkaEncodeError {
    return this.error('field_not_in_version', field, `has a non-default value, but version ${version} cannot carry it`);
  }

  /**
   * Makes room for `count` more bytes and returns where they start. It may replace the buffer and
   * the view, so call it before reading `this.view` (not inside `this.view.setX(this.ensure(...))`).
   */
  private ensure(count: number): number {
    const start = this.offset;
    const needed = start + count;
    if (needed > this.buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, start));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    this.offset = needed;
    return start;
  }

  private checkInteger(field: string, value: number, min: number, max: number): void {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw this.error('value_out_of_range', field, `${value} is not an integer in [${min}, ${max}]`);
    }
  }

  writeInt8(field: string, value: number): void {
    this.checkInteger(field, value, -0x80, 0x7f);
    const position = this.ensure(1);
    this.view.setInt8(position, value);
  }

  writeBoolean(_field: string, value: boolean): void {
    const position = this.ensure(1);
    this.view.setInt8(position, value ? 1 : 0);
  }

  writeInt16(field: string, value: number): void {
    this.checkInteger(field, value, -0x8000, 0x7fff);
    const position = this.ensure(2);
    this.view.setInt16(position, value);
  }

  writeUint16(field: string, value: number): void {
    this.checkInteger(field, value, 0, 0xffff);
    const position = this.ensure(2);
    this.view.setUint16(position, value);
  }

  writeInt32(field: string, value: number): void {
    this.checkInteger(field, value, -0x80000000, 0x7fffffff);
    const position = this.ensure(4);
    this.view.setInt32(position, value);
  }

  writeUint32(field: string, value: number): void {
    this.checkInteger(field, value, 0, 0xffffffff);
    const position = this.ensure(4);
    this.view.setUint32(position, value);
  }

  writeInt64(field: string, value: bigint): void {
    if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) {
      throw this.error('value_out_of_range', field, `${String(value)} is not a bigint in the int64 range`);
    }
    const position = this.ensure(8);
    this.view.setBigInt64(position, value);
  }

  writeFloat64(_field: string, value: number): void {
    const position = this.ensure(8);
    this.view.setFloat64(position, value);
  }

  /** Unsigned LEB128 of a value in [0, 2^32). */
  writeUnsignedVarint(value: number): void {
    let remaining = value;
    const start = this.ensure(remaining < 0x80 ? 1 : 5);
    let position = start;
    while (remaining >= 0x80) {
      this.buffer[position++] = (remaining & 0x7f) | 0x80;
      remaining >>>= 7;
    }
    this.buffer[position++] = remaining;
    this.offset = position;
  }

  writeVarint(field: string, value: number): void {
    this.checkInteger(field, value, -0x80000000, 0x7fffffff);
    this.writeUnsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  writeVarlong(field: string, value: bigint): void {
    if (value < INT64_MIN || value > INT64_MAX) throw this.error('value_out_of_range', field, `${value} is outside the int64 range`);
    let remaining = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    let position = this.ensure(10);
    while (remaining >= 0x80n) {
      this.buffer[position++] = Number(remaining & 0x7fn) | 0x80;
      remaining >>= 7n;
    }
    this.buffer[position++] = Number(remaining);
    this.offset = position;
  }

  private writeLength(field: string, compact: boolean, wide: boolean, length: number): void {
    if (compact) {
      this.writeUnsignedVarint(length + 1);
    } else if (wide) {
      this.writeInt32(field, length);
    } else {
      this.writeInt16(field, length);
    }
  }

  /** Takes `| null` so version-dependent nullability type-checks; null throws `null_not_allowed`. */
  writeString(field: string, compact: boolean, value: string | null): void {
    if (value === null || value === undefined) throw this.error('null_not_allowed', field, 'null is not allowed at this version');
    const length = Buffer.byteLength(value, 'utf8');
    if (length > STRING_BYTES_PROTOCOL_MAX) throw this.error('too_long', field, `string of ${length} bytes exceeds ${STRING_BYTES_PROTOCOL_MAX}`);
    this.writeLength(field, compact, false, length);
    const start = this.ensure(length);
    utf8Encoder.encodeInto(value, this.buffer.subarray(start, start + length));
  }

  writeNullableString(field: string, compact: boolean, value: string | null): void {
    if (value === null) this.writeLength(field, compact, false, -1);
    else this.writeString(field, compact, value);
  }

  writeBytes(field: string, compact: boolean, value: Uint8Array | null): void {
    if (value === null || value === undefined) throw this.error('null_not_allowed', field, 'null is not allowed at this version');
    this.writeLength(field, compact, true, value.length);
    this.writeRawBytes(value);
  }

  writeNullableBytes(field: string, compact: boolean, value: Uint8Array | null): void {
    if (value === null) this.writeLength(field, compact, true, -1);
    else this.writeBytes(field, compact, value);
  }

  writeRawBytes(value: Uint8Array): void {
    const start = this.ensure(value.length);
    this.buffer.set(value, start);
  }

  writeUuid(field: string, value: Uint8Array): void {
    if (!(value instanceof Uint8Array) || value.length !== UUID_BYTES) throw this.error('invalid_uuid', field, 'a uuid must be 16 bytes');
    this.writeRawBytes(value);
  }

  writeArray<T>(field: string, compact: boolean, values: readonly T[] | null, writeElement: (value: T) => void): void {
    if (values === null || values === undefined) throw this.error('null_not_allowed', field, 'null is not allowed at this version');
    this.writeLength(field, compact, true, values.length);
    const depth = this.path.push(field, 0);
    for (let index = 0; index < values.length; index++) {
      this.path[depth - 1] = index;
      writeElement(values[index]!);
    }
    this.path.length = depth - 2;
  }

  writeNullableArray<T>(field: string, compact: boolean, values: readonly T[] | null, writeElement: (value: T) => void): void {
    if (values === null) this.writeLength(field, compact, true, -1);
    else this.writeArray(field, compact, values, writeElement);
  }

  writeStruct<T>(field: string, value: T, writeValue: (value: T) => void): void {
    const depth = this.path.push(field);
    writeValue(value);
    this.path.length = depth - 1;
  }

  /** The tagged-field section of a flexible struct: count, then tag, size and data per field, by tag. */
  writeTaggedFields(fields: readonly TaggedFieldWriter[]): void {
    this.writeUnsignedVarint(fields.length);
    for (const { tag, field, write } of [...fields].sort((left, right) => left.tag - right.tag)) {
      const inner = new KafkaWriter(64);
      inner.root = formatPath(this.root, this.path, field);
      write(inner);
      this.writeUnsignedVarint(tag);
      this.writeUnsignedVarint(inner.offset);
      this.writeRawBytes(inner.toBytes());
    }
  }

  /** Reserves an int32 to fill in later (frame sizes); returns its position. */
  reserveInt32(): number {
    return this.ensure(4);
  }

  patchInt32(position: number, value: number): void {
    this.view.setInt32(position, value);
  }
}

/** True when `value` is the all-zero uuid (Kafka's Uuid.ZERO_UUID, the default of uuid fields). */
export function isZeroUuid(value: Uint8Array): boolean {
  return value.every((byte) => byte === 0);
}
