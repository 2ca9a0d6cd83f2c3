// What applying a log command returns. Per-item outcomes carry Kafka protocol error codes
// (src/protocol/kafka/errors.ts; 0 = NONE), which the broker copies into its responses, and a
// message for people when something went wrong. Whole-command failures are LogErrorResult.
import type { LogErrorResult } from './commands.ts';

export interface TopicConfigValues {
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly maxMessageBytes: number;
}

export interface CreateTopicOutcome {
  readonly name: string;
  readonly errorCode: number;
  readonly errorMessage?: string;
  /** Set when created: a UUID string derived from the entry index (the same on every replica). */
  readonly topicId?: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** The effective values (defaults filled in) when created. */
  readonly config?: TopicConfigValues;
}

export interface CreateTopicsResult {
  readonly type: 'create-topics';
  readonly topics: readonly CreateTopicOutcome[];
}

export interface DeleteTopicOutcome {
  readonly name: string;
  readonly errorCode: number;
  readonly errorMessage?: string;
  readonly topicId?: string;
}

export interface DeleteTopicsResult {
  readonly type: 'delete-topics';
  readonly topics: readonly DeleteTopicOutcome[];
}

export interface AppendOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage?: string;
  /** The first offset of the batch (the original one for a duplicate); -1 on error. */
  readonly baseOffset: number;
  /** The partition's log start offset after the append (Produce v5+); -1 for an unknown partition. */
  readonly logStartOffset: number;
  /** A retry of one of the producer's last 5 batches: nothing was appended. */
  readonly duplicate: boolean;
}

export interface AppendResult {
  readonly type: 'append';
  readonly partitions: readonly AppendOutcome[];
}

export interface InitProducerIdResult {
  readonly type: 'init-producer-id';
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface CommitOffsetOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage?: string;
}

export interface CommitOffsetsResult {
  readonly type: 'commit-offsets';
  readonly group: string;
  readonly partitions: readonly CommitOffsetOutcome[];
}

export interface DeleteGroupOutcome {
  readonly group: string;
  /** GROUP_ID_NOT_FOUND (69) when the group has no committed offsets. */
  readonly errorCode: number;
  readonly deletedOffsets: number;
}

export interface DeleteGroupsResult {
  readonly type: 'delete-groups';
  readonly groups: readonly DeleteGroupOutcome[];
  /** The step limit stopped the deletion: propose the same command again. */
  readonly more: boolean;
}

export interface TrimOutcome {
  readonly topic: string;
  readonly partition: number;
  /** UNKNOWN_TOPIC_OR_PARTITION (also when the topic id no longer matches), OFFSET_OUT_OF_RANGE beyond the high watermark. */
  readonly errorCode: number;
  /** The log start offset now (may stop short of the requested one when the step limit was reached). */
  readonly logStartOffset: number;
  readonly deletedBatches: number;
}

export interface TrimResult {
  readonly type: 'trim';
  readonly partitions: readonly TrimOutcome[];
}

export interface ExpireProducersResult {
  readonly type: 'expire-producers';
  readonly expired: number;
}

export type LogResult =
  | CreateTopicsResult
  | DeleteTopicsResult
  | AppendResult
  | InitProducerIdResult
  | CommitOffsetsResult
  | DeleteGroupsResult
  | TrimResult
  | ExpireProducersResult
  | LogErrorResult;
