// Kafka record batches (magic v2), the payload of Produce requests and Fetch responses.
//
// The broker validates a batch and assigns offsets by rewriting baseOffset in place; it never
// decompresses or re-encodes records, so gzip, snappy, lz4 and zstd batches all pass through byte
// for byte. This works because the CRC-32C covers only attributes..end: baseOffset, batchLength,
// partitionLeaderEpoch and magic are outside it. Decoding and building records (optionally gzip or
// zstd, the codecs Node ships) is here for tools and tests.
//
// Layout (61-byte header): baseOffset i64 | batchLength i32 (bytes after this field) |
// partitionLeaderEpoch i32 | magic i8 = 2 | crc u32 | attributes i16 | lastOffsetDelta i32 |
// baseTimestamp i64 | maxTimestamp i64 | producerId i64 | producerEpoch i16 | baseSequence i32 |
// recordsCount i32 | records...

import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { crc32c } from '../../util/crc32c.ts';
import { DEFAULT_DECODE_LIMITS, KafkaReader, KafkaWriter } from './buffer.ts';
import type { KafkaDecodeLimits } from './buffer.ts';
import { KafkaDecodeError } from './codec-errors.ts';

export const RECORD_BATCH_HEADER_BYTES = 61;
/** baseOffset (8) + batchLength (4): the bytes before what batchLength counts. */
const LOG_OVERHEAD_BYTES = 12;
const OFFSET = {
  baseOffset: 0, batchLength: 8, partitionLeaderEpoch: 12, magic: 16, crc: 17, attributes: 21, lastOffsetDelta: 23,
  baseTimestamp: 27, maxTimestamp: 35, producerId: 43, producerEpoch: 51, baseSequence: 53, recordsCount: 57,
} as const;
const MAGIC_V2 = 2;
/** Fewest bytes one record takes: length, attributes, timestampDelta, offsetDelta, key, value, header count. */
const RECORD_BYTES_MIN = 7;

export const COMPRESSION = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionName = keyof typeof COMPRESSION;
const COMPRESSION_NAMES: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const ATTRIBUTE = { compressionMask: 0x07, logAppendTime: 0x08, transactional: 0x10, control: 0x20 } as const;

export interface RecordBatchHeader {
  readonly baseOffset: bigint;
  readonly batchLength: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
  readonly compression: CompressionName;
  /** Timestamps were set by the broker (LogAppendTime) rather than the producer (CreateTime). */
  readonly logAppendTime: boolean;
  readonly transactional: boolean;
  readonly control: boolean;
}

/** One batch inside a records blob. */
export interface RecordBatchView {
  readonly header: RecordBatchHeader;
  /** Position of the batch in the blob it was read from. */
  readonly position: number;
  /** The whole batch (header and records), a view into the blob. */
  readonly bytes: Uint8Array;
}

export interface ReadRecordBatchesOptions {
  /** Most batches in one blob (Produce v3+ carries exactly one per partition). */
  readonly batchesMax?: number;
  /**
   * Ignore an incomplete batch at the end (a Fetch response may be cut at its byte limit);
   * false (the default, right for Produce) makes it an error.
   */
  readonly allowTruncatedTail?: boolean;
}

const DEFAULT_BATCHES_MAX = 1_000;

function error(code: KafkaDecodeError['code'], position: number, detail: string): KafkaDecodeError {
  return new KafkaDecodeError(code, `RecordBatch@${position}`, detail);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Validates every batch of a records blob (magic, length, CRC-32C, counts, compression). */
export function readRecordBatches(records: Uint8Array, options: ReadRecordBatchesOptions = {}): RecordBatchView[] {
  const batchesMax = options.batchesMax ?? DEFAULT_BATCHES_MAX;
  const batches: RecordBatchView[] = [];
  let position = 0;
  while (position < records.length) {
    if (options.allowTruncatedTail && isTruncated(records, position)) break;
    if (batches.length >= batchesMax) throw error('record_batch_too_many', position, `more than ${batchesMax} batches in one records field`);
    const header = validateRecordBatch(records, position);
    const size = LOG_OVERHEAD_BYTES + header.batchLength;
    batches.push({ header, position, bytes: records.subarray(position, position + size) });
    position += size;
  }
  return batches;
}

function isTruncated(records: Uint8Array, position: number): boolean {
  const remaining = records.length - position;
  if (remaining < LOG_OVERHEAD_BYTES) return true;
  return LOG_OVERHEAD_BYTES + viewOf(records).getInt32(position + OFFSET.batchLength) > remaining;
}

/** Validates the batch at `position` of `records` and returns its header; throws KafkaDecodeError (CORRUPT_MESSAGE). */
export function validateRecordBatch(records: Uint8Array, position = 0): RecordBatchHeader {
  const remaining = records.length - position;
  if (remaining < RECORD_BATCH_HEADER_BYTES) {
    throw error('record_batch_length', position, `${remaining} bytes cannot hold a ${RECORD_BATCH_HEADER_BYTES}-byte batch header`);
  }
  const view = viewOf(records);
  const magic = view.getInt8(position + OFFSET.magic);
  if (magic !== MAGIC_V2) throw error('record_batch_magic', position, `magic ${magic} is not supported (only record batch v2)`);
  const batchLength = view.getInt32(position + OFFSET.batchLength);
  if (batchLength < RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES || LOG_OVERHEAD_BYTES + batchLength > remaining) {
    throw error('record_batch_length', position, `batchLength ${batchLength} does not fit the ${remaining} bytes available`);
  }
  const end = position + LOG_OVERHEAD_BYTES + batchLength;
  const crc = view.getUint32(position + OFFSET.crc);
  const computed = crc32c(records.subarray(position + OFFSET.attributes, end));
  if (crc !== computed) throw error('record_batch_crc', position, `CRC-32C ${hex(computed)} does not match the stored ${hex(crc)}`);
  const header = readHeader(view, position, batchLength, crc);
  checkCounts(header, position);
  return header;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function readHeader(view: DataView, position: number, batchLength: number, crc: number): RecordBatchHeader {
  const attributes = view.getInt16(position + OFFSET.attributes);
  const compressionCode = attributes & ATTRIBUTE.compressionMask;
  const compression = COMPRESSION_NAMES[compressionCode];
  if (compression === undefined) throw error('record_batch_compression', position, `unknown compression type ${compressionCode}`);
  return {
    baseOffset: view.getBigInt64(position + OFFSET.baseOffset),
    batchLength,
    partitionLeaderEpoch: view.getInt32(position + OFFSET.partitionLeaderEpoch),
    magic: MAGIC_V2,
    crc,
    attributes,
    lastOffsetDelta: view.getInt32(position + OFFSET.lastOffsetDelta),
    baseTimestamp: view.getBigInt64(position + OFFSET.baseTimestamp),
    maxTimestamp: view.getBigInt64(position + OFFSET.maxTimestamp),
    producerId: view.getBigInt64(position + OFFSET.producerId),
    producerEpoch: view.getInt16(position + OFFSET.producerEpoch),
    baseSequence: view.getInt32(position + OFFSET.baseSequence),
    recordsCount: view.getInt32(position + OFFSET.recordsCount),
    compression,
    logAppendTime: (attributes & ATTRIBUTE.logAppendTime) !== 0,
    transactional: (attributes & ATTRIBUTE.transactional) !== 0,
    control: (attributes & ATTRIBUTE.control) !== 0,
  };
}

function checkCounts(header: RecordBatchHeader, position: number): void {
  if (header.recordsCount <= 0 || header.lastOffsetDelta + 1 !== header.recordsCount) {
    throw error('record_batch_records_count', position, `recordsCount ${header.recordsCount} with lastOffsetDelta ${header.lastOffsetDelta} (must be lastOffsetDelta + 1 > 0)`);
  }
  // Uncompressed records take at least RECORD_BYTES_MIN bytes each; a larger count is a lie.
  const recordsBytes = LOG_OVERHEAD_BYTES + header.batchLength - RECORD_BATCH_HEADER_BYTES;
  if (header.compression === 'none' && header.recordsCount * RECORD_BYTES_MIN > recordsBytes) {
    throw error('record_batch_records_count', position, `${header.recordsCount} records cannot fit in ${recordsBytes} bytes`);
  }
}

/** Assigns offsets: overwrites baseOffset of the batch at `position` in place. The CRC stays valid. */
export function setBaseOffset(records: Uint8Array, position: number, baseOffset: bigint): void {
  viewOf(records).setBigInt64(position + OFFSET.baseOffset, baseOffset);
}

/** Stamps the leader epoch of the batch at `position` in place. The CRC stays valid. */
export function setPartitionLeaderEpoch(records: Uint8Array, position: number, partitionLeaderEpoch: number): void {
  viewOf(records).setInt32(position + OFFSET.partitionLeaderEpoch, partitionLeaderEpoch);
}

// ---------------------------------------------------------------------------------------------
// Records (tools and tests)
// ---------------------------------------------------------------------------------------------

export interface RecordHeader {
  readonly key: string;
  readonly value: Uint8Array | null;
}

export interface KafkaRecord {
  readonly attributes: number;
  readonly timestampDelta: bigint;
  readonly offsetDelta: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly RecordHeader[];
}

/**
 * Decodes the records of a validated batch: uncompressed, gzip or zstd (the codecs Node has; the
 * broker itself never needs this). Decompressed size is bounded by `limits.bytesMax`.
 * Keys and values are copies, unless `views`: then they point into the batch's bytes (cheaper,
 * but a kept value keeps the whole answer it came in alive).
 */
export function decodeRecords(batch: RecordBatchView, limits: Partial<KafkaDecodeLimits> = {}, options: { views?: boolean } = {}): KafkaRecord[] {
  const { header, position } = batch;
  let body = batch.bytes.subarray(RECORD_BATCH_HEADER_BYTES);
  if (header.compression === 'gzip' || header.compression === 'zstd') body = decompress(header.compression, body, limits, position);
  else if (header.compression !== 'none') throw error('record_batch_compression', position, `cannot decode ${header.compression} records here`);
  const reader = new KafkaReader(body, limits);
  reader.startMessage(`RecordBatch@${position}.records`);
  if (header.recordsCount * RECORD_BYTES_MIN > body.length) {
    throw error('record_batch_records_count', position, `${header.recordsCount} records cannot fit in ${body.length} bytes`);
  }
  const records: KafkaRecord[] = [];
  const copy = options.views !== true;
  for (let index = 0; index < header.recordsCount; index++) records.push(decodeRecord(reader, index, copy));
  if (reader.remaining !== 0) throw error('record_invalid', position, `${reader.remaining} bytes after the last record`);
  return records;
}

function decompress(compression: 'gzip' | 'zstd', body: Uint8Array, limits: Partial<KafkaDecodeLimits>, position: number): Uint8Array {
  const options = { maxOutputLength: limits.bytesMax ?? DEFAULT_DECODE_LIMITS.bytesMax };
  try {
    return new Uint8Array(compression === 'gzip' ? gunzipSync(body, options) : zstdDecompressSync(body, options));
  } catch (cause) {
    throw error('record_invalid', position, `${compression} records do not decompress: ${(cause as Error).message}`);
  }
}

function decodeRecord(reader: KafkaReader, index: number, copy: boolean): KafkaRecord {
  const field = `[${index}]`;
  const length = reader.readVarint(field);
  if (length < RECORD_BYTES_MIN - 1 || length > reader.remaining) {
    throw reader.error('record_invalid', field, `record length ${length} with ${reader.remaining} bytes remaining`);
  }
  const start = reader.offset;
  const end = start + length;
  const attributes = reader.readInt8(`${field}.attributes`);
  const timestampDelta = reader.readVarlong(`${field}.timestampDelta`);
  const offsetDelta = reader.readVarint(`${field}.offsetDelta`);
  const key = readVarintBytes(reader, `${field}.key`, copy);
  const value = readVarintBytes(reader, `${field}.value`, copy);
  const headerCount = reader.readVarint(`${field}.headers`);
  if (headerCount < 0 || headerCount * 2 > end - reader.offset) {
    throw reader.error('record_invalid', `${field}.headers`, `header count ${headerCount} does not fit the record`);
  }
  const headers: RecordHeader[] = [];
  for (let header = 0; header < headerCount; header++) {
    const headerKey = readVarintBytes(reader, `${field}.headers[${header}].key`, copy);
    if (headerKey === null) throw reader.error('record_invalid', `${field}.headers[${header}].key`, 'header key is null');
    headers.push({ key: new TextDecoder().decode(headerKey), value: readVarintBytes(reader, `${field}.headers[${header}].value`, copy) });
  }
  if (reader.offset !== end) throw reader.error('record_invalid', field, `record length ${length}, but its fields take ${reader.offset - start} bytes`);
  return { attributes, timestampDelta, offsetDelta, key, value, headers };
}

/** Varint-length-prefixed bytes of a record (-1 = null), copied or as a view. */
function readVarintBytes(reader: KafkaReader, field: string, copy: boolean): Uint8Array | null {
  const length = reader.readVarint(field);
  if (length === -1) return null;
  if (length < -1 || length > reader.remaining) throw reader.error('record_invalid', field, `length ${length} with ${reader.remaining} bytes remaining`);
  const bytes = reader.readRawBytes(field, length);
  return copy ? bytes.slice() : bytes;
}

export interface RecordInput {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers?: readonly RecordHeader[];
  /** Milliseconds after the batch's baseTimestamp (default 0). */
  readonly timestampDelta?: bigint;
}

export interface BuildRecordBatchOptions {
  readonly records: readonly RecordInput[];
  readonly baseOffset?: bigint;
  readonly partitionLeaderEpoch?: number;
  readonly baseTimestamp?: bigint;
  readonly compression?: 'none' | 'gzip' | 'zstd';
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly transactional?: boolean;
}

/** Builds a valid v2 batch (CRC computed) from records; offset deltas are the record indexes. */
export function buildRecordBatch(options: BuildRecordBatchOptions): Uint8Array {
  if (options.records.length === 0) throw new RangeError('a record batch needs at least one record');
  const encoded = encodeRecords(options.records);
  const compression = options.compression ?? 'none';
  const body = compression === 'gzip' ? new Uint8Array(gzipSync(encoded)) : compression === 'zstd' ? new Uint8Array(zstdCompressSync(encoded)) : encoded;
  const attributes = COMPRESSION[compression] | (options.transactional ? ATTRIBUTE.transactional : 0);
  const baseTimestamp = options.baseTimestamp ?? 0n;
  const maxDelta = options.records.reduce((max, record) => ((record.timestampDelta ?? 0n) > max ? (record.timestampDelta ?? 0n) : max), 0n);
  const writer = new KafkaWriter(RECORD_BATCH_HEADER_BYTES + body.length);
  writer.writeInt64('baseOffset', options.baseOffset ?? 0n);
  writer.writeInt32('batchLength', RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES + body.length);
  writer.writeInt32('partitionLeaderEpoch', options.partitionLeaderEpoch ?? -1);
  writer.writeInt8('magic', MAGIC_V2);
  const crcPosition = writer.reserveInt32();
  writer.writeInt16('attributes', attributes);
  writer.writeInt32('lastOffsetDelta', options.records.length - 1);
  writer.writeInt64('baseTimestamp', baseTimestamp);
  writer.writeInt64('maxTimestamp', baseTimestamp + maxDelta);
  writer.writeInt64('producerId', options.producerId ?? -1n);
  writer.writeInt16('producerEpoch', options.producerEpoch ?? -1);
  writer.writeInt32('baseSequence', options.baseSequence ?? -1);
  writer.writeInt32('recordsCount', options.records.length);
  writer.writeRawBytes(body);
  const batch = writer.toBytes();
  viewOf(batch).setUint32(crcPosition, crc32c(batch.subarray(OFFSET.attributes)));
  return batch;
}

function encodeRecords(records: readonly RecordInput[]): Uint8Array {
  const writer = new KafkaWriter(64 * records.length);
  const body = new KafkaWriter(64);
  records.forEach((record, index) => {
    body.offset = 0;
    body.writeInt8('attributes', 0);
    body.writeVarlong('timestampDelta', record.timestampDelta ?? 0n);
    body.writeVarint('offsetDelta', index);
    writeVarintBytes(body, 'key', record.key);
    writeVarintBytes(body, 'value', record.value);
    const headers = record.headers ?? [];
    body.writeVarint('headers', headers.length);
    for (const header of headers) {
      writeVarintBytes(body, 'headers.key', new TextEncoder().encode(header.key));
      writeVarintBytes(body, 'headers.value', header.value);
    }
    writer.writeVarint('length', body.offset);
    writer.writeRawBytes(body.toBytes());
  });
  return writer.toBytes().slice();
}

function writeVarintBytes(writer: KafkaWriter, field: string, value: Uint8Array | null): void {
  writer.writeVarint(field, value === null ? -1 : value.length);
  if (value !== null) writer.writeRawBytes(value);
}
