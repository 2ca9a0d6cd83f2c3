// Byte layouts of the log's values. Fixed binary layouts for what every append touches
// (partition, batch info, producer state); msgpack for the rarely written topic record.
import { Packr } from 'msgpackr';
import { readUint64, writeUint64 } from '../kv/encoding.ts';
import { readUint32, writeUint32 } from './tables.ts';

/** Kafka keeps this many recent batches per producer and partition for duplicate detection. */
export const PRODUCER_BATCHES_KEPT = 5;

export interface PartitionRecord {
  logStartOffset: number;
  /** The next offset to assign = the high watermark (apply happens after commit). */
  endOffset: number;
  /** Bytes of the stored batches. */
  sizeBytes: number;
  batchCount: number;
  producerCount: number;
  /** The largest batch max timestamp appended so far (-1: none), for the time index. */
  maxTimestamp: number;
}

const PARTITION_RECORD_BYTES = 48;

export function encodePartitionRecord(record: PartitionRecord): Uint8Array {
  const bytes = new Uint8Array(PARTITION_RECORD_BYTES);
  writeUint64(bytes, 0, record.logStartOffset);
  writeUint64(bytes, 8, record.endOffset);
  writeUint64(bytes, 16, record.sizeBytes);
  writeUint64(bytes, 24, record.batchCount);
  writeUint64(bytes, 32, record.producerCount);
  writeUint64(bytes, 40, record.maxTimestamp + 1);
  return bytes;
}

export function decodePartitionRecord(bytes: Uint8Array): PartitionRecord {
  return {
    logStartOffset: readUint64(bytes, 0),
    endOffset: readUint64(bytes, 8),
    sizeBytes: readUint64(bytes, 16),
    batchCount: readUint64(bytes, 24),
    producerCount: readUint64(bytes, 32),
    maxTimestamp: readUint64(bytes, 40) - 1,
  };
}

export interface BatchInfo {
  readonly recordCount: number;
  readonly sizeBytes: number;
  /** The batch's max timestamp, or -1 when it has none (negative timestamps are stored as -1). */
  readonly maxTimestamp: number;
  /** The leader's time when it proposed the append: retention's clock for batches without timestamps. */
  readonly appendTimeMs: number;
}

export function encodeBatchInfo(info: BatchInfo): Uint8Array {
  const bytes = new Uint8Array(24);
  writeUint32(bytes, 0, info.recordCount);
  writeUint32(bytes, 4, info.sizeBytes);
  writeUint64(bytes, 8, info.maxTimestamp + 1);
  writeUint64(bytes, 16, info.appendTimeMs);
  return bytes;
}

export function decodeBatchInfo(bytes: Uint8Array): BatchInfo {
  return { recordCount: readUint32(bytes, 0), sizeBytes: readUint32(bytes, 4), maxTimestamp: readUint64(bytes, 8) - 1, appendTimeMs: readUint64(bytes, 16) };
}

export interface ProducerBatch {
  readonly baseSequence: number;
  readonly recordCount: number;
  readonly baseOffset: number;
}

export interface ProducerRecord {
  readonly epoch: number;
  /** The leader's time of the producer's last append to this partition. */
  readonly lastActivityMs: number;
  /** Oldest first, at most PRODUCER_BATCHES_KEPT, all of `epoch`. */
  readonly batches: readonly ProducerBatch[];
}

export function encodeProducerRecord(record: ProducerRecord): Uint8Array {
  const bytes = new Uint8Array(11 + 16 * record.batches.length);
  bytes[0] = record.epoch >>> 8;
  bytes[1] = record.epoch;
  writeUint64(bytes, 2, record.lastActivityMs);
  bytes[10] = record.batches.length;
  record.batches.forEach((batch, index) => {
    const at = 11 + 16 * index;
    writeUint32(bytes, at, batch.baseSequence);
    writeUint32(bytes, at + 4, batch.recordCount);
    writeUint64(bytes, at + 8, batch.baseOffset);
  });
  return bytes;
}

export function decodeProducerRecord(bytes: Uint8Array): ProducerRecord {
  const count = bytes[10]!;
  const batches: ProducerBatch[] = [];
  for (let index = 0; index < count; index++) {
    const at = 11 + 16 * index;
    batches.push({ baseSequence: readUint32(bytes, at), recordCount: readUint32(bytes, at + 4), baseOffset: readUint64(bytes, at + 8) });
  }
  return { epoch: (bytes[0]! << 8) | bytes[1]!, lastActivityMs: readUint64(bytes, 2), batches };
}

export interface TopicRecord {
  readonly id: Uint8Array;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** The configs given at creation, sorted by name. */
  readonly configs: readonly (readonly [string, string])[];
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly maxMessageBytes: number;
}

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export function encodeTopicRecord(record: TopicRecord): Uint8Array {
  // Fixed field order: replicas must write identical bytes.
  return packr.pack({
    id: record.id,
    partitions: record.partitions,
    replicationFactor: record.replicationFactor,
    configs: record.configs.map(([name, value]) => [name, value]),
    retentionMs: record.retentionMs,
    retentionBytes: record.retentionBytes,
    maxMessageBytes: record.maxMessageBytes,
  });
}

export function decodeTopicRecord(bytes: Uint8Array): TopicRecord {
  const decoded = packr.unpack(bytes) as TopicRecord;
  return { ...decoded, id: Uint8Array.from(decoded.id) };
}

export interface OffsetRecord {
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

export function encodeOffsetRecord(record: OffsetRecord): Uint8Array {
  const metadata = new TextEncoder().encode(record.metadata);
  const bytes = new Uint8Array(20 + metadata.length);
  const view = new DataView(bytes.buffer);
  // Float64 holds every safe integer exactly, negative ones included (Kafka accepts any offset).
  view.setFloat64(0, record.offset);
  view.setInt32(8, record.leaderEpoch);
  view.setFloat64(12, record.commitTimestampMs);
  bytes.set(metadata, 20);
  return bytes;
}

export function decodeOffsetRecord(bytes: Uint8Array): OffsetRecord {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    offset: view.getFloat64(0),
    leaderEpoch: view.getInt32(8),
    commitTimestampMs: view.getFloat64(12),
    metadata: new TextDecoder().decode(bytes.subarray(20)),
  };
}
