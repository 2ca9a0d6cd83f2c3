// Freeing a deleted topic's data in bounded steps. delete-topics removes the topic record at once
// (the topic is gone for every reader and its name is free again) and queues its id; after every
// applied entry, one step removes at most `deletionStepKeys` keys of queued topics, walking each
// per-partition table by the topic-id prefix. The work is a function of the applied entries only,
// so replicas stay identical; the step size must be the same on every member.
import type { LogContext } from './context.ts';
import { deleteOffset, hasOffsets } from './groups.ts';
import { LOG_TABLES, PARTITION_KEY_BYTES, PARTITION_TABLES, offsetKey, prefixLimit } from './tables.ts';

/** Returns whether queued deletions remain. */
export function deletionStep(context: LogContext): boolean {
  let budget = context.limits.deletionStepKeys;
  const store = context.store;
  while (budget > 0) {
    let topicId: Uint8Array | undefined;
    for (const entry of store.range(LOG_TABLES.deletions, { limit: 1 })) topicId = Uint8Array.from(entry.key);
    if (topicId === undefined) return false;
    for (const table of PARTITION_TABLES) {
      budget -= deleteTopicKeys(context, table, topicId, budget);
      if (budget === 0) return true;
    }
    store.delete(LOG_TABLES.deletions, topicId);
  }
  for (const _ of store.range(LOG_TABLES.deletions, { limit: 1 })) return true;
  return false;
}

/** Deletes up to `budget` keys of the topic in `table`; returns how many. */
function deleteTopicKeys(context: LogContext, table: string, topicId: Uint8Array, budget: number): number {
  // Ranging over the batches would read every batch (up to MiBs each) only to learn its key:
  // their keys are those of batchInfo, whose values are a few bytes; both go together.
  const keyTable = table === LOG_TABLES.batches ? LOG_TABLES.batchInfo : table;
  const range = { start: topicId, end: prefixLimit(topicId), limit: budget };
  const keys = [...context.store.range(keyTable, range)].map((entry) => Uint8Array.from(entry.key));
  for (const key of keys) {
    if (table === LOG_TABLES.batches) {
      context.store.delete(LOG_TABLES.batches, key);
      context.store.delete(LOG_TABLES.batchInfo, key);
    } else if (table === LOG_TABLES.partitionGroups) {
      // P ++ esc(group): the group's committed offset for this partition goes too.
      const escapedGroup = key.subarray(PARTITION_KEY_BYTES);
      deleteOffset(context, offsetKey(escapedGroup, key.subarray(0, PARTITION_KEY_BYTES)), escapedGroup);
      if (!hasOffsets(context, escapedGroup)) context.groupCountChanged(-1);
    } else {
      context.store.delete(table, key);
    }
  }
  return keys.length;
}
