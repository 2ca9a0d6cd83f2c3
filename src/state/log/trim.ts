// Leader-planned maintenance, applied deterministically: `trim` advances log start offsets and
// deletes the whole batches below them (retention), `expire-producers` drops idle producer state.
// Both are bounded per command (trimStepBatches, expireStepProducers): what is left over is
// planned again by the leader's next round (retention.ts).
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { readUint64 } from '../kv/encoding.ts';
import { dropProducer } from './append.ts';
import type { ExpireProducersCommand, TrimCommand, TrimPartition } from './commands.ts';
import { findPartition } from './context.ts';
import type { LogContext, PartitionState } from './context.ts';
import { decodeBatchInfo } from './records.ts';
import type { ExpireProducersResult, TrimOutcome, TrimResult } from './results.ts';
import { LOG_TABLES, numberAfterPartition, partitionNumberKey, prefixLimit, producerIdleKey } from './tables.ts';

/** The partition if it exists and still belongs to the topic id the leader planned with. */
function plannedPartition(context: LogContext, topic: string, topicId: string, partition: number): PartitionState | undefined {
  const state = findPartition(context, topic, partition);
  return state !== undefined && state.topic.idString === topicId ? state : undefined;
}

export function applyTrim(context: LogContext, command: TrimCommand): TrimResult {
  let budget = context.limits.trimStepBatches;
  const partitions = command.partitions.map((item): TrimOutcome => {
    const state = plannedPartition(context, item.topic, item.topicId, item.partition);
    if (state === undefined) {
      return { topic: item.topic, partition: item.partition, errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, logStartOffset: -1, deletedBatches: 0 };
    }
    if (item.logStartOffset > state.endOffset) {
      return { topic: item.topic, partition: item.partition, errorCode: KAFKA_ERROR.OFFSET_OUT_OF_RANGE, logStartOffset: state.logStartOffset, deletedBatches: 0 };
    }
    const deletedBatches = trimPartition(context, state, item, budget);
    budget -= deletedBatches;
    return { topic: item.topic, partition: item.partition, errorCode: KAFKA_ERROR.NONE, logStartOffset: state.logStartOffset, deletedBatches };
  });
  return { type: 'trim', partitions };
}

/** Deletes up to `budget` batches lying entirely below the target; returns how many. */
function trimPartition(context: LogContext, state: PartitionState, item: TrimPartition, budget: number): number {
  const target = item.logStartOffset;
  if (target <= state.logStartOffset) return 0;
  const store = context.store;
  const range = { start: state.key, end: partitionNumberKey(state.key, target), limit: budget + 1 };
  const doomed: { key: Uint8Array; sizeBytes: number }[] = [];
  let reached = target;
  for (const entry of store.range(LOG_TABLES.batchInfo, range)) {
    const baseOffset = numberAfterPartition(entry.key);
    const info = decodeBatchInfo(entry.value);
    if (baseOffset + info.recordCount > target) break; // contains the target: stays, and so does the rest
    if (doomed.length === budget) {
      reached = baseOffset; // the step limit: stop at this batch's start, the next trim goes on
      break;
    }
    doomed.push({ key: Uint8Array.from(entry.key), sizeBytes: info.sizeBytes });
  }
  for (const { key, sizeBytes } of doomed) {
    store.delete(LOG_TABLES.batches, key);
    store.delete(LOG_TABLES.batchInfo, key);
    state.sizeBytes -= sizeBytes;
    state.batchCount--;
  }
  state.logStartOffset = Math.max(state.logStartOffset, reached);
  dropTimeIndexBelow(context, state, state.logStartOffset);
  context.changed(state);
  return doomed.length;
}

/** Time-index entries point at batches in offset order, so the ones for deleted batches are a prefix. */
function dropTimeIndexBelow(context: LogContext, state: PartitionState, logStartOffset: number): void {
  const stale: Uint8Array[] = [];
  for (const entry of context.store.range(LOG_TABLES.timeIndex, { start: state.key, end: prefixLimit(state.key) })) {
    const nextEntryOffset = readUint64(entry.value, 0);
    if (nextEntryOffset >= logStartOffset) break;
    stale.push(Uint8Array.from(entry.key));
  }
  // Keep the newest stale entry: a batch below the log start may still hold the running maximum
  // that later batches did not beat; lookups treat it as "at or after the log start".
  stale.pop();
  for (const key of stale) context.store.delete(LOG_TABLES.timeIndex, key);
}

export function applyExpireProducers(context: LogContext, command: ExpireProducersCommand): ExpireProducersResult {
  let expired = 0;
  for (const item of command.partitions) {
    const state = plannedPartition(context, item.topic, item.topicId, item.partition);
    if (state === undefined) continue;
    const range = { start: state.key, end: producerIdleKey(state.key, command.idleBeforeMs, 0), limit: context.limits.expireStepProducers };
    const idle = [...context.store.range(LOG_TABLES.producerIdle, range)].map((entry) => Uint8Array.from(entry.key));
    for (const key of idle) dropProducer(context, state, key);
    expired += idle.length;
  }
  return { type: 'expire-producers', expired };
}
