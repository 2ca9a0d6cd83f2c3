// Applying an append (Produce): per partition, re-check the batch header, apply the idempotent
// producer's rules, assign offsets, and store the batch (as the producer sent it: its baseOffset
// field is set when it is read, see reader.ts) with its info and time-index entry. Offsets are the partition's end offset
// at apply: the same on every replica.
import { assert } from '../../core/assert.ts';
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { EMPTY_BYTES, uint64Bytes } from '../kv/encoding.ts';
import { checkBatchSize, parseAppendHeader } from './batch-check.ts';
import type { AppendHeader } from './batch-check.ts';
import type { AppendCommand, AppendPartition } from './commands.ts';
import { findPartition } from './context.ts';
import type { LogContext, PartitionState } from './context.ts';
import { afterAppend, checkProducerAppend } from './idempotence.ts';
import { decodeProducerRecord, encodeBatchInfo, encodeProducerRecord } from './records.ts';
import type { ProducerRecord } from './records.ts';
import type { AppendOutcome, AppendResult } from './results.ts';
import { LOG_TABLES, partitionNumberKey, prefixLimit, producerIdleKey } from './tables.ts';

export function applyAppend(context: LogContext, command: AppendCommand): AppendResult {
  return { type: 'append', partitions: command.partitions.map((item) => appendOne(context, item, command.timestampMs)) };
}

function failure(item: AppendPartition, errorCode: number, errorMessage: string, logStartOffset: number): AppendOutcome {
  return { topic: item.topic, partition: item.partition, errorCode, errorMessage, baseOffset: -1, logStartOffset, duplicate: false };
}

function appendOne(context: LogContext, item: AppendPartition, timestampMs: number): AppendOutcome {
  const state = findPartition(context, item.topic, item.partition);
  if (state === undefined) {
    return failure(item, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, `topic "${item.topic}" has no partition ${item.partition}`, -1);
  }
  const tooLarge = checkBatchSize(item.records.length, state.topic.record.maxMessageBytes, context.limits.maxBatchBytes);
  if (tooLarge !== undefined) return failure(item, tooLarge.errorCode, tooLarge.errorMessage, state.logStartOffset);
  const header = parseAppendHeader(item.records);
  if ('errorCode' in header) return failure(item, header.errorCode, header.errorMessage, state.logStartOffset);
  let producer: ProducerRecord | undefined;
  if (header.producerId >= 0) {
    producer = readProducer(context, state, header.producerId);
    const decision = checkProducerAppend(producer, header);
    if (decision.kind === 'error') return failure(item, decision.errorCode, decision.errorMessage, state.logStartOffset);
    if (decision.kind === 'duplicate') {
      return { topic: item.topic, partition: item.partition, errorCode: KAFKA_ERROR.NONE, baseOffset: decision.baseOffset, logStartOffset: state.logStartOffset, duplicate: true };
    }
  }
  const baseOffset = state.endOffset;
  storeBatch(context, state, item.records, header, baseOffset, timestampMs);
  if (header.producerId >= 0) storeProducer(context, state, header, producer, baseOffset, timestampMs);
  return { topic: item.topic, partition: item.partition, errorCode: KAFKA_ERROR.NONE, baseOffset, logStartOffset: state.logStartOffset, duplicate: false };
}

function readProducer(context: LogContext, state: PartitionState, producerId: number): ProducerRecord | undefined {
  const bytes = context.store.get(LOG_TABLES.producers, partitionNumberKey(state.key, producerId));
  return bytes === undefined ? undefined : decodeProducerRecord(bytes);
}

function storeBatch(context: LogContext, state: PartitionState, records: Uint8Array, header: AppendHeader, baseOffset: number, timestampMs: number): void {
  const endOffset = baseOffset + header.recordCount;
  assert(Number.isSafeInteger(endOffset), 'log: partition offsets passed 2^53');
  // The producer's bytes as they came: a view into the Raft entry, which never changes, so the
  // store may keep it (handed over) until it writes it. The batch's base offset field is left as
  // the producer sent it and set when the batch is read (reader.ts), from the batch's key: copying
  // every batch here to set it was one more pass over every produced byte on every replica, and
  // those copies, alive until the store's next flush, drove most of the full garbage collections.
  const key = partitionNumberKey(state.key, baseOffset);
  const store = context.store;
  store.put(LOG_TABLES.batches, key, records, { handedOver: true });
  store.put(LOG_TABLES.batchInfo, key, encodeBatchInfo({
    recordCount: header.recordCount, sizeBytes: records.length, maxTimestamp: header.maxTimestamp, appendTimeMs: timestampMs,
  }));
  // The time index keeps the running maximum: its first entry >= t is the first batch ever whose max timestamp reached t.
  if (header.maxTimestamp > state.maxTimestamp) {
    store.put(LOG_TABLES.timeIndex, partitionNumberKey(state.key, header.maxTimestamp), uint64Bytes(baseOffset));
    state.maxTimestamp = header.maxTimestamp;
  }
  state.endOffset = endOffset;
  state.sizeBytes += records.length;
  state.batchCount++;
  context.changed(state);
}

function storeProducer(
  context: LogContext, state: PartitionState, header: AppendHeader, current: ProducerRecord | undefined, baseOffset: number, timestampMs: number,
): void {
  const store = context.store;
  const producerId = header.producerId;
  if (current === undefined) {
    if (state.producerCount >= context.limits.maxProducersPerPartition) evictLeastRecentProducer(context, state);
    state.producerCount++;
  } else if (current.lastActivityMs !== timestampMs) {
    store.delete(LOG_TABLES.producerIdle, producerIdleKey(state.key, current.lastActivityMs, producerId));
  }
  const next = afterAppend(current, header, baseOffset, timestampMs);
  store.put(LOG_TABLES.producers, partitionNumberKey(state.key, producerId), encodeProducerRecord(next));
  if (current?.lastActivityMs !== timestampMs) store.put(LOG_TABLES.producerIdle, producerIdleKey(state.key, timestampMs, producerId), EMPTY_BYTES);
}

/** Keeps producer state bounded: the partition forgets the producer idle the longest. */
function evictLeastRecentProducer(context: LogContext, state: PartitionState): void {
  for (const entry of context.store.range(LOG_TABLES.producerIdle, { start: state.key, end: prefixLimit(state.key), limit: 1 })) {
    dropProducer(context, state, Uint8Array.from(entry.key));
    return;
  }
}

/** Deletes one producer state given its idle-index key. */
export function dropProducer(context: LogContext, state: PartitionState, idleKey: Uint8Array): void {
  const producerId = Number(new DataView(idleKey.buffer, idleKey.byteOffset + idleKey.length - 8, 8).getBigUint64(0));
  context.store.delete(LOG_TABLES.producerIdle, idleKey);
  context.store.delete(LOG_TABLES.producers, partitionNumberKey(state.key, producerId));
  state.producerCount--;
  context.changed(state);
}
