// Consumer groups' committed offsets (only those are replicated: membership and rebalances live
// in the broker's coordinator). Kafka semantics: any offset may be committed, backwards or
// beyond the end; an offset is kept per (group, topic id, partition), so offsets of a deleted
// topic vanish with it and never reappear on a re-created topic of the same name.
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { EMPTY_BYTES, unescapeKey } from '../kv/encoding.ts';
import type { CommitOffset, CommitOffsetsCommand, DeleteGroupsCommand, LogLimits } from './commands.ts';
import { findPartition } from './context.ts';
import type { LogContext } from './context.ts';
import { encodeOffsetRecord } from './records.ts';
import type { CommitOffsetOutcome, CommitOffsetsResult, DeleteGroupOutcome, DeleteGroupsResult } from './results.ts';
import { LOG_TABLES, PARTITION_KEY_BYTES, escapeGroup, offsetKey, partitionGroupKey, prefixLimit } from './tables.ts';

/** INVALID_GROUP_ID's reason, or undefined when the group id is acceptable. */
export function checkGroupId(group: string, limits: LogLimits): string | undefined {
  if (group.length === 0) return 'the group id is empty';
  const bytes = Buffer.byteLength(group, 'utf8');
  if (bytes > limits.maxGroupIdBytes) return `the group id is ${bytes} bytes; the limit is ${limits.maxGroupIdBytes}`;
  return undefined;
}

export function hasOffsets(context: LogContext, escapedGroup: Uint8Array): boolean {
  for (const _ of context.store.range(LOG_TABLES.offsets, { start: escapedGroup, end: prefixLimit(escapedGroup), limit: 1 })) return true;
  return false;
}

export function applyCommitOffsets(context: LogContext, command: CommitOffsetsCommand): CommitOffsetsResult {
  const everyone = (errorCode: number, errorMessage: string): CommitOffsetsResult => ({
    type: 'commit-offsets',
    group: command.group,
    partitions: command.offsets.map((item) => ({ topic: item.topic, partition: item.partition, errorCode, errorMessage })),
  });
  const invalid = checkGroupId(command.group, context.limits);
  if (invalid !== undefined) return everyone(KAFKA_ERROR.INVALID_GROUP_ID, invalid);
  const escaped = escapeGroup(command.group);
  const isNew = !hasOffsets(context, escaped);
  if (isNew && context.groupCount() >= context.limits.maxGroups) {
    return everyone(KAFKA_ERROR.UNKNOWN_SERVER_ERROR, `${context.groupCount()} groups have committed offsets; the limit is ${context.limits.maxGroups}: delete unused groups`);
  }
  const partitions = command.offsets.map((item) => commitOne(context, escaped, item, command.timestampMs));
  if (isNew && partitions.some((outcome) => outcome.errorCode === KAFKA_ERROR.NONE)) context.groupCountChanged(1);
  return { type: 'commit-offsets', group: command.group, partitions };
}

function commitOne(context: LogContext, escapedGroup: Uint8Array, item: CommitOffset, timestampMs: number): CommitOffsetOutcome {
  const outcome = (errorCode: number, errorMessage?: string): CommitOffsetOutcome =>
    (errorMessage === undefined ? { topic: item.topic, partition: item.partition, errorCode } : { topic: item.topic, partition: item.partition, errorCode, errorMessage });
  const state = findPartition(context, item.topic, item.partition);
  if (state === undefined) return outcome(KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, `topic "${item.topic}" has no partition ${item.partition}`);
  const metadata = item.metadata ?? '';
  const metadataBytes = Buffer.byteLength(metadata, 'utf8');
  if (metadataBytes > context.limits.maxOffsetMetadataBytes) {
    return outcome(KAFKA_ERROR.OFFSET_METADATA_TOO_LARGE, `the offset metadata is ${metadataBytes} bytes; the limit is ${context.limits.maxOffsetMetadataBytes}`);
  }
  const record = { offset: item.offset, leaderEpoch: item.leaderEpoch ?? -1, metadata, commitTimestampMs: timestampMs };
  context.store.put(LOG_TABLES.offsets, offsetKey(escapedGroup, state.key), encodeOffsetRecord(record));
  context.store.put(LOG_TABLES.partitionGroups, partitionGroupKey(state.key, escapedGroup), EMPTY_BYTES);
  return outcome(KAFKA_ERROR.NONE);
}

export function applyDeleteGroups(context: LogContext, command: DeleteGroupsCommand): DeleteGroupsResult {
  let budget = context.limits.deleteGroupsStepOffsets;
  let more = false;
  const groups = command.groups.map((group): DeleteGroupOutcome => {
    const escaped = escapeGroup(group);
    const range = { start: escaped, end: prefixLimit(escaped), limit: budget + 1 };
    const keys = [...context.store.range(LOG_TABLES.offsets, range)].map((entry) => Uint8Array.from(entry.key));
    if (keys.length === 0) return { group, errorCode: KAFKA_ERROR.GROUP_ID_NOT_FOUND, deletedOffsets: 0 };
    if (keys.length > budget) {
      more = true;
      keys.length = budget;
    }
    // Offsets of deleted topics (still being cleaned up) go too, but do not count: the group
    // was invisible if it had only those.
    let live = 0;
    for (const key of keys) {
      if (context.isLiveTopic(key.subarray(key.length - PARTITION_KEY_BYTES, key.length - 4))) live++;
      deleteOffset(context, key, escaped);
    }
    budget -= keys.length;
    if (!hasOffsets(context, escaped)) context.groupCountChanged(-1);
    return { group, errorCode: live === 0 && !more ? KAFKA_ERROR.GROUP_ID_NOT_FOUND : KAFKA_ERROR.NONE, deletedOffsets: live };
  });
  return { type: 'delete-groups', groups, more };
}

/** Deletes one committed offset (key: esc(group) ++ P) and its partition-index entry. */
export function deleteOffset(context: LogContext, key: Uint8Array, escapedGroup: Uint8Array): void {
  const partition = key.subarray(key.length - PARTITION_KEY_BYTES);
  context.store.delete(LOG_TABLES.offsets, key);
  context.store.delete(LOG_TABLES.partitionGroups, partitionGroupKey(partition, escapedGroup));
}

/** The group id at the start of an offsets key, and where its escape ends. */
export function groupOfOffsetKey(key: Uint8Array): { group: string; escapedLength: number } {
  const { key: groupBytes, length } = unescapeKey(key);
  return { group: new TextDecoder().decode(groupBytes), escapedLength: length };
}
