// What the apply helpers (append.ts, groups.ts, trim.ts) share with the module: the store, the
// limits, and the module's cache of topics and partition states. Partition states are mutated
// in place and written once per apply batch (beforeCommit), like the KV's metadata.
import type { OrderedStore } from '../store.ts';
import type { LogLimits } from './commands.ts';
import type { PartitionRecord, TopicRecord } from './records.ts';

export interface TopicState {
  readonly name: string;
  readonly id: Uint8Array;
  readonly idString: string;
  readonly record: TopicRecord;
  /** Loaded on first use. */
  readonly partitions: (PartitionState | undefined)[];
}

export interface PartitionState extends PartitionRecord {
  readonly topic: TopicState;
  readonly index: number;
  /** P: topic id ++ partition, the prefix of the partition's keys. */
  readonly key: Uint8Array;
}

export interface LogContext {
  readonly store: OrderedStore;
  readonly limits: LogLimits;
  topic(name: string): TopicState | undefined;
  /** Whether a topic id belongs to an existing (not deleted) topic. */
  isLiveTopic(topicId: Uint8Array): boolean;
  /** The partition's state (loaded and cached); the index must be below the topic's partition count. */
  partition(topic: TopicState, index: number): PartitionState;
  /** The partition's record changed: write it before commit and tell subscribers. */
  changed(state: PartitionState): void;
  /** A group gained its first, or lost its last, committed offset. */
  groupCountChanged(delta: number): void;
  groupCount(): number;
}

/** The partition if the topic exists and has it. */
export function findPartition(context: LogContext, topicName: string, index: number): PartitionState | undefined {
  const topic = context.topic(topicName);
  if (topic === undefined || index < 0 || index >= topic.record.partitions) return undefined;
  return context.partition(topic, index);
}
