// Reads of one partition's log for Fetch and ListOffsets. Called between applies (the runtime
// applies synchronously), so they see exactly the committed, applied state: every stored batch
// lies below the high watermark.
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { decodeRecords, readRecordBatches, setBaseOffset } from '../../protocol/kafka/record-batch.ts';
import type { KafkaRecord } from '../../protocol/kafka/record-batch.ts';
import { readUint64 } from '../kv/encoding.ts';
import type { OrderedStore } from '../store.ts';
import type { PartitionState } from './context.ts';
import { decodeBatchInfo } from './records.ts';
import type { BatchInfo } from './records.ts';
import { LOG_TABLES, numberAfterPartition, partitionNumberKey, prefixLimit } from './tables.ts';

export interface ReadOptions {
  /**
   * Return the first batch even when it alone is larger than maxBytes (default true), so a
   * consumer can always make progress (Kafka's KIP-74; the broker passes false for every
   * partition of a Fetch after the first one that returned data).
   */
  readonly minOneBatch?: boolean;
}

export interface ReadResult {
  /** NONE, UNKNOWN_TOPIC_OR_PARTITION, or OFFSET_OUT_OF_RANGE for an offset outside [logStartOffset, highWatermark]. */
  readonly errorCode: number;
  readonly errorMessage?: string;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** Whole batches, the first one containing the requested offset (so it may start before it). */
  readonly records: Uint8Array;
  readonly batchCount: number;
}

export interface BatchSummary extends BatchInfo {
  readonly baseOffset: number;
}

export interface ListOffsetResult {
  readonly errorCode: number;
  /** -1 when no record has a timestamp at or after the one asked for. */
  readonly offset: number;
  /** The found record's timestamp; -1 for the earliest/latest queries and when nothing was found. */
  readonly timestamp: number;
}

/** Kafka's ListOffsets special timestamps. */
export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;
/** Batches a timestamp lookup may walk when the time index cannot answer alone (after retention). */
const TIMESTAMP_SCAN_BATCHES = 100_000;
const EMPTY = new Uint8Array(0);

export function readPartition(store: OrderedStore, state: PartitionState, fromOffset: number, maxBytes: number, options: ReadOptions = {}): ReadResult {
  const base = { highWatermark: state.endOffset, logStartOffset: state.logStartOffset };
  if (!Number.isSafeInteger(fromOffset) || fromOffset < state.logStartOffset || fromOffset > state.endOffset) {
    const errorMessage = `offset ${fromOffset} is outside [${state.logStartOffset}, ${state.endOffset}] of ${state.topic.name}-${state.index}`;
    return { ...base, errorCode: KAFKA_ERROR.OFFSET_OUT_OF_RANGE, errorMessage, records: EMPTY, batchCount: 0 };
  }
  const first = fromOffset === state.endOffset ? undefined : containingBatch(store, state, fromOffset);
  if (first === undefined) return { ...base, errorCode: KAFKA_ERROR.NONE, records: EMPTY, batchCount: 0 };
  const keys: Uint8Array[] = [];
  let bytes = 0;
  const range = { start: partitionNumberKey(state.key, first), end: partitionNumberKey(state.key, state.endOffset) };
  for (const entry of store.range(LOG_TABLES.batchInfo, range)) {
    const size = decodeBatchInfo(entry.value).sizeBytes;
    const fits = bytes + size <= maxBytes || (keys.length === 0 && options.minOneBatch !== false);
    if (!fits) break;
    keys.push(Uint8Array.from(entry.key));
    bytes += size;
  }
  return { ...base, errorCode: KAFKA_ERROR.NONE, records: copyBatches(store, state, keys), batchCount: keys.length };
}

/**
 * The stored batches under `keys`, copied out one after the other, each with its base offset (the
 * number in its key) written into its header: batches are stored as the producer sent them
 * (append.ts), and the CRC does not cover that field.
 */
function copyBatches(store: OrderedStore, state: PartitionState, keys: readonly Uint8Array[]): Uint8Array {
  const batches = keys.map((key) => {
    const batch = store.get(LOG_TABLES.batches, key);
    if (batch === undefined) throw new Error(`log: batch info without a batch in ${state.topic.name}-${state.index} at ${numberAfterPartition(key)}`);
    return batch;
  });
  const total = batches.reduce((sum, batch) => sum + batch.length, 0);
  // Not zero-filled: the batches cover every byte. (A zeroed Fetch answer of tens of MB was one
  // more pass over memory.)
  const records = Buffer.allocUnsafe(total);
  let position = 0;
  for (const [index, batch] of batches.entries()) {
    records.set(batch, position);
    setBaseOffset(records, position, BigInt(numberAfterPartition(keys[index]!)));
    position += batch.length;
  }
  return records;
}

/** The base offset of the stored batch containing `offset` (the greatest base offset <= it). */
export function containingBatch(store: OrderedStore, state: PartitionState, offset: number): number | undefined {
  const range = { start: state.key, end: partitionNumberKey(state.key, offset + 1), reverse: true, limit: 1 };
  for (const entry of store.range(LOG_TABLES.batchInfo, range)) {
    const baseOffset = numberAfterPartition(entry.key);
    return baseOffset + decodeBatchInfo(entry.value).recordCount > offset ? baseOffset : undefined;
  }
  return undefined;
}

/** Up to `limit` stored batches in offset order from the first one (retention planning, tools). */
export function batchSummaries(store: OrderedStore, state: PartitionState, limit: number, fromOffset = 0): BatchSummary[] {
  const summaries: BatchSummary[] = [];
  const start = fromOffset <= 0 ? state.key : partitionNumberKey(state.key, containingBatch(store, state, fromOffset) ?? fromOffset);
  for (const entry of store.range(LOG_TABLES.batchInfo, { start, end: prefixLimit(state.key), limit })) {
    summaries.push({ baseOffset: numberAfterPartition(entry.key), ...decodeBatchInfo(entry.value) });
  }
  return summaries;
}

export function listOffset(store: OrderedStore, state: PartitionState, timestamp: number): ListOffsetResult {
  if (timestamp === LATEST_TIMESTAMP) return { errorCode: KAFKA_ERROR.NONE, offset: state.endOffset, timestamp: -1 };
  if (timestamp === EARLIEST_TIMESTAMP) return { errorCode: KAFKA_ERROR.NONE, offset: state.logStartOffset, timestamp: -1 };
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) return { errorCode: KAFKA_ERROR.INVALID_REQUEST, offset: -1, timestamp: -1 };
  let found = firstBatchReaching(store, state, timestamp);
  // Only the batch holding the log start can lack a qualifying record (the one at or after the
  // timestamp may lie below the start): then the next batch reaching the timestamp answers.
  for (let attempt = 0; found !== undefined && attempt < 2; attempt++) {
    const { batch, exact } = found;
    if (!exact) return { errorCode: KAFKA_ERROR.NONE, offset: Math.max(batch.baseOffset, state.logStartOffset), timestamp: batch.maxTimestamp };
    const record = firstRecordReaching(store, state, batch, timestamp);
    if (record !== undefined) return { errorCode: KAFKA_ERROR.NONE, ...record };
    found = nextBatchReaching(store, state, timestamp, batch.baseOffset + batch.recordCount);
  }
  return { errorCode: KAFKA_ERROR.NONE, offset: -1, timestamp: -1 };
}

interface BatchFound {
  readonly batch: BatchSummary;
  /** False when a bounded walk gave up there: the answer is at or after this batch. */
  readonly exact: boolean;
}

/** The first stored batch whose max timestamp is >= `timestamp`. */
function firstBatchReaching(store: OrderedStore, state: PartitionState, timestamp: number): BatchFound | undefined {
  let indexed: number | undefined;
  for (const entry of store.range(LOG_TABLES.timeIndex, { start: partitionNumberKey(state.key, timestamp), end: prefixLimit(state.key), limit: 1 })) {
    indexed = readUint64(entry.value, 0);
  }
  if (indexed === undefined) return undefined; // no batch ever reached it
  const [oldest] = batchSummaries(store, state, 1);
  if (oldest === undefined) return undefined;
  // The index names the first batch EVER to reach the timestamp. If it is still stored, it is
  // the answer; if retention deleted it, a later batch that never raised the running maximum
  // may be the answer: walk the stored batches.
  if (indexed >= oldest.baseOffset) return { batch: batchSummaries(store, state, 1, indexed)[0]!, exact: true };
  return nextBatchReaching(store, state, timestamp, 0);
}

/**
 * The first stored batch from `fromOffset` on whose max timestamp is >= `timestamp`. The walk is
 * bounded (TIMESTAMP_SCAN_BATCHES): past it, the batch where it stopped, marked inexact — an
 * answer earlier than the exact one, so a consumer never skips records.
 */
function nextBatchReaching(store: OrderedStore, state: PartitionState, timestamp: number, fromOffset: number): BatchFound | undefined {
  let walked = 0;
  for (const entry of store.range(LOG_TABLES.batchInfo, { start: partitionNumberKey(state.key, fromOffset), end: prefixLimit(state.key) })) {
    const batch = { baseOffset: numberAfterPartition(entry.key), ...decodeBatchInfo(entry.value) };
    if (batch.maxTimestamp >= timestamp) return { batch, exact: true };
    if (++walked >= TIMESTAMP_SCAN_BATCHES) return { batch, exact: false };
  }
  return undefined;
}

/**
 * The offset and timestamp of the batch's first record at or after `timestamp` (and at or after
 * the log start), found by decoding the records when Node can (none, gzip, zstd); undefined when
 * the batch holding the log start has none at or above it. Batches it cannot decode answer their base offset and max timestamp
 * (earlier than exact, never later).
 */
function firstRecordReaching(store: OrderedStore, state: PartitionState, batch: BatchSummary, timestamp: number): { offset: number; timestamp: number } | undefined {
  const fallback = { offset: Math.max(batch.baseOffset, state.logStartOffset), timestamp: batch.maxTimestamp };
  const bytes = store.get(LOG_TABLES.batches, partitionNumberKey(state.key, batch.baseOffset));
  if (bytes === undefined) return fallback;
  let records: KafkaRecord[];
  let baseTimestamp: bigint;
  try {
    const [view] = readRecordBatches(Uint8Array.from(bytes), { batchesMax: 1 });
    if (view === undefined || view.header.logAppendTime) return fallback;
    records = decodeRecords(view);
    baseTimestamp = view.header.baseTimestamp;
  } catch {
    return fallback; // snappy, lz4, or records we cannot decode: the batch start is a safe answer
  }
  for (const record of records) {
    const recordTimestamp = Number(baseTimestamp + record.timestampDelta);
    const offset = batch.baseOffset + record.offsetDelta;
    if (recordTimestamp >= timestamp && offset >= state.logStartOffset) return { offset, timestamp: recordTimestamp };
  }
  // A batch whose max timestamp its records do not bear out (a client's mistake) answers its start.
  return batch.baseOffset >= state.logStartOffset ? fallback : undefined;
}
