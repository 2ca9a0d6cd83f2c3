// The Kafka log's replicated state: what the runtime and the broker import. See README.md.
export { LogState } from './log-state.ts';
export type { LogCommitNotice, LogListener, LogStateOptions } from './log-state.ts';
export type { CommittedOffset, PartitionInfo, TopicInfo } from './log-reader.ts';
export { LogReader } from './log-reader.ts';
export { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP } from './reader.ts';
export type { BatchSummary, ListOffsetResult, ReadOptions, ReadResult } from './reader.ts';
export {
  DEFAULT_LOG_LIMITS, DEFAULT_TOPIC_DEFAULTS, LOG_MODULE_TAG, decodeLogCommand, encodeLogCommand,
} from './commands.ts';
export type {
  AppendCommand, AppendPartition, CommitOffset, CommitOffsetsCommand, CreateTopicSpec, CreateTopicsCommand, DeleteGroupsCommand,
  DeleteTopicsCommand, ExpireProducersCommand, InitProducerIdCommand, LogCommand, LogError, LogErrorCode, LogErrorResult, LogLimits,
  TopicDefaults, TrimCommand, TrimPartition,
} from './commands.ts';
export type * from './results.ts';
export { checkBatchSize, checkProduceRecords } from './batch-check.ts';
export type { BatchProblem } from './batch-check.ts';
export { checkTopicName, checkTopicSpec, resolveTopicConfig, MAX_TOPIC_NAME_LENGTH } from './topic-rules.ts';
export { checkGroupId } from './groups.ts';
export { DEFAULT_PRODUCER_EXPIRATION_MS, producerExpiryPlan, retentionPlan, retentionTarget } from './retention.ts';
export type { RetentionPlanOptions } from './retention.ts';
export type { ProducerRecord, ProducerBatch } from './records.ts';
export { LOG_TABLES, LOG_TABLE_NAMES, topicIdBytes, topicIdString } from './tables.ts';
export { openLogState } from './open.ts';
export type { LogApplyResult, LogNodeState, OpenLogStateOptions } from './open.ts';
export { LogEntryFeed } from './testing.ts';
