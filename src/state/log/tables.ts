// The log's tables in the shared store and their key layouts. Numbers are big-endian so keys sort
// numerically. Every per-partition table is keyed by P = topicId (16 bytes) ++ partition (u32):
// a partition's data is one contiguous key range in each table, which is what lets a later
// version move a partition into its own Raft group (see README.md) and lets deletion walk a
// topic by its 16-byte prefix.
import { concatBytes, escapeKey, prefixEnd, readUint64, writeUint64 } from '../kv/encoding.ts';

export const LOG_TABLES = {
  /** Module counters: next producer id, group count. */
  meta: 'log.meta',
  /** topic name (UTF-8) -> TopicRecord. */
  topics: 'log.topics',
  /** topic id -> partition count: deleted topics whose data is still being removed. */
  deletions: 'log.deletions',
  /** P -> PartitionRecord (log start, end offset, size, counts). */
  partitions: 'log.partitions',
  /** P ++ baseOffset -> the batch bytes, baseOffset rewritten. */
  batches: 'log.batches',
  /** P ++ baseOffset -> BatchInfo (records, bytes, max timestamp): retention and fetch sizing without reading batches. */
  batchInfo: 'log.batch-info',
  /** P ++ timestamp -> baseOffset of the first batch whose max timestamp reached it (a running maximum). */
  timeIndex: 'log.time-index',
  /** P ++ producerId -> ProducerRecord (epoch, last 5 batches, last activity). */
  producers: 'log.producers',
  /** P ++ lastActivityMs ++ producerId -> empty: producer states by age, for expiry and eviction. */
  producerIdle: 'log.producer-idle',
  /** esc(group) ++ topicId ++ partition -> OffsetRecord. */
  offsets: 'log.offsets',
  /** P ++ esc(group) -> empty: the groups with an offset for a partition (to drop them with the topic). */
  partitionGroups: 'log.partition-groups',
} as const;

export const LOG_TABLE_NAMES: readonly string[] = Object.values(LOG_TABLES);

/** The tables whose keys all start with P; topic deletion clears them by topic-id prefix. */
export const PARTITION_TABLES: readonly string[] = [
  LOG_TABLES.batches, LOG_TABLES.batchInfo, LOG_TABLES.timeIndex, LOG_TABLES.producers, LOG_TABLES.producerIdle,
  LOG_TABLES.partitionGroups, LOG_TABLES.partitions,
];

export const META_NEXT_PRODUCER_ID = Uint8Array.of(1);
export const META_GROUP_COUNT = Uint8Array.of(2);

export const TOPIC_ID_BYTES = 16;
export const PARTITION_KEY_BYTES = TOPIC_ID_BYTES + 4;

export function partitionKey(topicId: Uint8Array, partition: number): Uint8Array {
  const key = new Uint8Array(PARTITION_KEY_BYTES);
  key.set(topicId, 0);
  writeUint32(key, TOPIC_ID_BYTES, partition);
  return key;
}

/** The exclusive end of every key starting with `prefix` (a topic id or P, which never are all 0xFF). */
export function prefixLimit(prefix: Uint8Array): Uint8Array {
  const end = prefixEnd(prefix);
  if (end === undefined) throw new RangeError('log: a key prefix of only 0xFF bytes has no end');
  return end;
}

/** P ++ a u64: batch, batch-info, time-index and producer keys. */
export function partitionNumberKey(partition: Uint8Array, value: number): Uint8Array {
  const key = new Uint8Array(PARTITION_KEY_BYTES + 8);
  key.set(partition, 0);
  writeUint64(key, PARTITION_KEY_BYTES, value);
  return key;
}

export function numberAfterPartition(key: Uint8Array): number {
  return readUint64(key, PARTITION_KEY_BYTES);
}

export function producerIdleKey(partition: Uint8Array, lastActivityMs: number, producerId: number): Uint8Array {
  const key = new Uint8Array(PARTITION_KEY_BYTES + 16);
  key.set(partition, 0);
  writeUint64(key, PARTITION_KEY_BYTES, lastActivityMs);
  writeUint64(key, PARTITION_KEY_BYTES + 8, producerId);
  return key;
}

export function offsetKey(escapedGroup: Uint8Array, partition: Uint8Array): Uint8Array {
  return concatBytes(escapedGroup, partition);
}

export function partitionGroupKey(partition: Uint8Array, escapedGroup: Uint8Array): Uint8Array {
  return concatBytes(partition, escapedGroup);
}

export function escapeGroup(group: string): Uint8Array {
  return escapeKey(new TextEncoder().encode(group));
}

export function writeUint32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = value >>> 16;
  target[offset + 2] = value >>> 8;
  target[offset + 3] = value;
}

export function readUint32(source: Uint8Array, offset: number): number {
  return ((source[offset]! << 24) | (source[offset + 1]! << 16) | (source[offset + 2]! << 8) | source[offset + 3]!) >>> 0;
}

/** The topic id as a UUID string (8-4-4-4-12 hex). */
export function topicIdString(id: Uint8Array): string {
  const hex = Buffer.from(id).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The 16 bytes of a UUID string, or undefined when it is not one. */
export function topicIdBytes(id: string): Uint8Array | undefined {
  const hex = id.replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}
