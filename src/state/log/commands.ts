// Log commands: what a Kafka write becomes in the Raft log. Encoded as the module tag byte
// (replicated-state.ts routes on it) followed by the command as msgpack; record batches travel as
// msgpack binary, which decodes as a view into the entry (no copy until apply stores it).
// Decoding re-checks every field, so bytes that are not a valid command become a
// 'malformed-command' result on every replica alike.
//
// Anything that depends on time comes IN the command (timestampMs, idleBeforeMs), decided by the
// leader: apply never reads a clock.
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import type { StateError } from '../types.ts';

export const LOG_MODULE_TAG = 0x02;

export interface CreateTopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** Informational (every Cairn node holds every partition); the broker resolves -1 to its default first. */
  readonly replicationFactor: number;
  /** Kafka topic configs as strings (retention.ms, retention.bytes, max.message.bytes, ...). */
  readonly configs?: Readonly<Record<string, string>>;
}

export interface CreateTopicsCommand {
  readonly type: 'create-topics';
  readonly topics: readonly CreateTopicSpec[];
}

export interface DeleteTopicsCommand {
  readonly type: 'delete-topics';
  readonly topics: readonly string[];
}

export interface AppendPartition {
  readonly topic: string;
  readonly partition: number;
  /** Exactly one record batch (magic 2), as in Produce v3+; validated by checkProduceRecords() before proposing. */
  readonly records: Uint8Array;
}

export interface AppendCommand {
  readonly type: 'append';
  /** The leader's clock when it proposed: the producers' last-activity time (for their expiry). */
  readonly timestampMs: number;
  /** Applied in order; the same partition may appear several times (proposals grouped by the broker). */
  readonly partitions: readonly AppendPartition[];
}

export interface InitProducerIdCommand {
  readonly type: 'init-producer-id';
}

export interface CommitOffset {
  readonly topic: string;
  readonly partition: number;
  /** Any offset (Kafka semantics: may go backwards, may be beyond the end); -1 is allowed. */
  readonly offset: number;
  /** Committed leader epoch (OffsetCommit v6+); -1 when unknown. */
  readonly leaderEpoch?: number;
  readonly metadata?: string;
}

export interface CommitOffsetsCommand {
  readonly type: 'commit-offsets';
  readonly group: string;
  /** The leader's clock: stored as the commit time (for offset expiry decided by the broker). */
  readonly timestampMs: number;
  readonly offsets: readonly CommitOffset[];
}

export interface DeleteGroupsCommand {
  readonly type: 'delete-groups';
  readonly groups: readonly string[];
}

export interface TrimPartition {
  readonly topic: string;
  /** The topic's id when the trim was planned: a topic deleted and re-created since is left alone. */
  readonly topicId: string;
  readonly partition: number;
  /** The new log start offset (batches entirely below it are deleted); never beyond the high watermark. */
  readonly logStartOffset: number;
}

export interface TrimCommand {
  readonly type: 'trim';
  readonly partitions: readonly TrimPartition[];
}

export interface ExpireProducersCommand {
  readonly type: 'expire-producers';
  /** Producer state last used before this (leader's clock minus the expiration) is dropped. */
  readonly idleBeforeMs: number;
  readonly partitions: readonly { readonly topic: string; readonly topicId: string; readonly partition: number }[];
}

export type LogCommand =
  | CreateTopicsCommand
  | DeleteTopicsCommand
  | AppendCommand
  | InitProducerIdCommand
  | CommitOffsetsCommand
  | DeleteGroupsCommand
  | TrimCommand
  | ExpireProducersCommand;

export interface LogLimits {
  readonly maxTopics: number;
  readonly maxPartitionsPerTopic: number;
  /** Partitions over all topics. */
  readonly maxPartitions: number;
  /** The largest batch any topic may accept (its max.message.bytes may not exceed it). */
  readonly maxBatchBytes: number;
  /** Items in one create-topics, delete-topics, append, commit-offsets, trim or expire-producers command. */
  readonly maxCommandItems: number;
  readonly maxGroupIdBytes: number;
  /** Kafka's offset.metadata.max.bytes. */
  readonly maxOffsetMetadataBytes: number;
  /** Groups with committed offsets. */
  readonly maxGroups: number;
  /** Producer states kept per partition; the least recently used is dropped beyond it. */
  readonly maxProducersPerPartition: number;
  /** Batches one trim command deletes (over all its partitions); the rest waits for the next trim. */
  readonly trimStepBatches: number;
  /** Producer states one expire-producers command drops per partition. */
  readonly expireStepProducers: number;
  /** Offsets one delete-groups command deletes; `more` in the result says to propose it again. */
  readonly deleteGroupsStepOffsets: number;
  /**
   * Keys a deleted topic's background cleanup removes per applied entry. Small, because one apply
   * batch of N entries removes N times this (about 25 us a key over lmdb): at 1,000 a batch of 10
   * entries stood the node still for 0.3-1.2 s, on every replica at once.
   */
  readonly deletionStepKeys: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = {
  maxTopics: 10_000,
  maxPartitionsPerTopic: 10_000,
  maxPartitions: 100_000,
  maxBatchBytes: 16 * 1024 * 1024,
  maxCommandItems: 10_000,
  maxGroupIdBytes: 1024,
  maxOffsetMetadataBytes: 4096,
  maxGroups: 100_000,
  maxProducersPerPartition: 10_000,
  trimStepBatches: 10_000,
  expireStepProducers: 1000,
  deleteGroupsStepOffsets: 10_000,
  deletionStepKeys: 64,
};

/** The values a topic uses when its configs do not say (Kafka's broker defaults). */
export interface TopicDefaults {
  /** Kafka log.retention.ms: 7 days. -1 = keep forever. */
  readonly retentionMs: number;
  /** Kafka log.retention.bytes: -1 = no size limit. */
  readonly retentionBytes: number;
  /** Kafka message.max.bytes: 1048588. */
  readonly maxMessageBytes: number;
}

export const DEFAULT_TOPIC_DEFAULTS: TopicDefaults = {
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  maxMessageBytes: 1_048_588,
};

export type LogErrorCode = 'malformed-command' | 'command-too-large';

export type LogError = StateError<LogErrorCode>;

/** Whole-command failures (per-item failures are Kafka error codes inside the result). */
export interface LogErrorResult {
  readonly type: 'error';
  readonly error: LogError;
}

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export function encodeLogCommand(command: LogCommand): Uint8Array {
  // Packed after one reserved byte for the tag: a Kafka batch of 128 KiB and up is not copied
  // once more to put the tag in front. (The result shares msgpackr's buffer with the commands
  // packed next, which never write into it.) A plain Uint8Array view, as the KV's (see there).
  const packed = packr.pack(command, RESERVE_START_SPACE | 1);
  const bytes = new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
  bytes[0] = LOG_MODULE_TAG;
  return bytes;
}

/** The command in `data` (tag byte included), or an error. */
export function decodeLogCommand(data: Uint8Array, limits: LogLimits): LogCommand | LogError {
  if (data.length < 2 || data[0] !== LOG_MODULE_TAG) return malformed('the entry is not a log command');
  let decoded: unknown;
  try {
    decoded = packr.unpack(data.subarray(1));
  } catch (error) {
    return malformed(`the command bytes are not valid msgpack (${(error as Error).message})`);
  }
  if (!isObject(decoded)) return malformed('not an object');
  const problem = checkCommandShape(decoded);
  if (problem !== undefined) return malformed(`a "${String(decoded.type)}" command with ${problem}`);
  const command = decoded as unknown as LogCommand;
  const items = commandItems(command);
  if (items > limits.maxCommandItems) {
    return { code: 'command-too-large', message: `the ${command.type} command has ${items} items; the limit is ${limits.maxCommandItems}: split it` };
  }
  return command;
}

function malformed(why: string): LogError {
  return { code: 'malformed-command', message: `malformed log command: ${why}` };
}

function commandItems(command: LogCommand): number {
  switch (command.type) {
    case 'create-topics':
    case 'delete-topics':
      return command.topics.length;
    case 'append':
    case 'trim':
    case 'expire-producers':
      return command.partitions.length;
    case 'commit-offsets':
      return command.offsets.length;
    case 'delete-groups':
      return command.groups.length;
    case 'init-producer-id':
      return 0;
  }
}

// ---- Structural check of decoded commands (the bytes come from the log, so trust nothing). ----

const isString = (value: unknown): value is string => typeof value === 'string';
const isBytes = (value: unknown): boolean => value instanceof Uint8Array;
const isInteger = (value: unknown): boolean => Number.isSafeInteger(value);
const isPartitionIndex = (value: unknown): boolean => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0x7fffffff;
const isTime = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;
const isOptional = (value: unknown, check: (v: unknown) => boolean): boolean => value === undefined || check(value);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isList(value: unknown, check: (v: unknown) => boolean): boolean {
  return Array.isArray(value) && value.every(check);
}

function isConfigs(value: unknown): boolean {
  return isObject(value) && Object.values(value).every(isString);
}

function isTopicSpec(value: unknown): boolean {
  return isObject(value) && isString(value.name) && isInteger(value.partitions) && isInteger(value.replicationFactor) && isOptional(value.configs, isConfigs);
}

function isAppendPartition(value: unknown): boolean {
  return isObject(value) && isString(value.topic) && isPartitionIndex(value.partition) && isBytes(value.records);
}

function isCommitOffset(value: unknown): boolean {
  return isObject(value) && isString(value.topic) && isPartitionIndex(value.partition) && isInteger(value.offset)
    && isOptional(value.leaderEpoch, isInteger) && isOptional(value.metadata, isString);
}

function isTrimPartition(value: unknown): boolean {
  return isObject(value) && isString(value.topic) && isString(value.topicId) && isPartitionIndex(value.partition) && isInteger(value.logStartOffset);
}

function isTopicPartitionWithId(value: unknown): boolean {
  return isObject(value) && isString(value.topic) && isString(value.topicId) && isPartitionIndex(value.partition);
}

/** What is wrong with the command's fields, or undefined. */
function checkCommandShape(value: Record<string, unknown>): string | undefined {
  switch (value.type) {
    case 'create-topics':
      return isList(value.topics, isTopicSpec) ? undefined : 'a mistyped topic list';
    case 'delete-topics':
      return isList(value.topics, isString) ? undefined : 'a mistyped topic list';
    case 'append':
      if (!isTime(value.timestampMs)) return 'a timestamp that is not a whole number >= 0';
      return isList(value.partitions, isAppendPartition) ? undefined : 'a mistyped partition list';
    case 'init-producer-id':
      return undefined;
    case 'commit-offsets':
      if (!isString(value.group) || !isTime(value.timestampMs)) return 'a mistyped group or timestamp';
      return isList(value.offsets, isCommitOffset) ? undefined : 'a mistyped offset list';
    case 'delete-groups':
      return isList(value.groups, isString) ? undefined : 'a mistyped group list';
    case 'trim':
      return isList(value.partitions, isTrimPartition) ? undefined : 'a mistyped partition list';
    case 'expire-producers':
      if (!isTime(value.idleBeforeMs)) return 'a time that is not a whole number >= 0';
      return isList(value.partitions, isTopicPartitionWithId) ? undefined : 'a mistyped partition list';
    default:
      return 'an unknown type';
  }
}
