// The log's read API (the base of LogState): what the broker calls for Metadata, Fetch,
// ListOffsets, OffsetFetch, ListGroups and the leader's retention planning. Reads see the
// applied state; the runtime decides when that is linearizable (ReadIndex) or merely local.
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import type { OrderedStore } from '../store.ts';
import type { LogLimits } from './commands.ts';
import type { PartitionState, TopicState } from './context.ts';
import { checkGroupId, groupOfOffsetKey } from './groups.ts';
import { batchSummaries, listOffset, readPartition } from './reader.ts';
import type { BatchSummary, ListOffsetResult, ReadOptions, ReadResult } from './reader.ts';
import { decodeOffsetRecord, decodeProducerRecord } from './records.ts';
import type { ProducerRecord } from './records.ts';
import type { TopicConfigValues } from './results.ts';
import { LOG_TABLES, PARTITION_KEY_BYTES, TOPIC_ID_BYTES, escapeGroup, numberAfterPartition, offsetKey, partitionKey, partitionNumberKey, prefixLimit, readUint32, topicIdString } from './tables.ts';

export interface TopicInfo {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** The configs given at creation. */
  readonly configs: Readonly<Record<string, string>>;
  /** The effective values. */
  readonly config: TopicConfigValues;
}

export interface PartitionInfo {
  readonly topic: string;
  readonly partition: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly sizeBytes: number;
  readonly batchCount: number;
  readonly producerCount: number;
}

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  /** -1 when the group has no offset committed for the partition. */
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string;
  /** The leader's time of the commit; -1 when nothing is committed. */
  readonly commitTimestampMs: number;
  /** NONE, or INVALID_GROUP_ID for an unacceptable group id. */
  readonly errorCode: number;
}

const UNKNOWN_PARTITION: ReadResult = { errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, logStartOffset: -1, records: new Uint8Array(0), batchCount: 0 };

export abstract class LogReader {
  readonly limits: LogLimits;
  protected readonly topics = new Map<string, TopicState>();
  protected readonly topicsById = new Map<string, TopicState>();
  #store: OrderedStore | undefined;

  constructor(limits: LogLimits) {
    this.limits = limits;
  }

  protected attachStore(store: OrderedStore): void {
    this.#store = store;
  }

  protected get store(): OrderedStore {
    if (this.#store === undefined) throw new Error('log: used before attach()');
    return this.#store;
  }

  protected abstract loadPartition(topic: TopicState, index: number): PartitionState;

  #partition(topic: string, partition: number): PartitionState | undefined {
    const state = this.topics.get(topic);
    if (state === undefined || !Number.isInteger(partition) || partition < 0 || partition >= state.record.partitions) return undefined;
    return this.loadPartition(state, partition);
  }

  /** Every topic, by name. */
  listTopics(): TopicInfo[] {
    return [...this.topics.keys()].sort().map((name) => this.describeTopic(name)!);
  }

  describeTopic(name: string): TopicInfo | undefined {
    const topic = this.topics.get(name);
    if (topic === undefined) return undefined;
    const { record } = topic;
    return {
      name,
      topicId: topic.idString,
      partitions: record.partitions,
      replicationFactor: record.replicationFactor,
      configs: Object.fromEntries(record.configs),
      config: { retentionMs: record.retentionMs, retentionBytes: record.retentionBytes, maxMessageBytes: record.maxMessageBytes },
    };
  }

  /** Log start offset, high watermark (= log end offset) and sizes; undefined for an unknown partition. */
  partitionInfo(topic: string, partition: number): PartitionInfo | undefined {
    const state = this.#partition(topic, partition);
    if (state === undefined) return undefined;
    return {
      topic, partition, logStartOffset: state.logStartOffset, highWatermark: state.endOffset, sizeBytes: state.sizeBytes,
      batchCount: state.batchCount, producerCount: state.producerCount,
    };
  }

  /**
   * Fetch: whole batches from the one containing `fromOffset`, up to `maxBytes` (at least one
   * batch unless options.minOneBatch is false), never beyond the high watermark.
   */
  read(topic: string, partition: number, fromOffset: number, maxBytes: number, options: ReadOptions = {}): ReadResult {
    const state = this.#partition(topic, partition);
    if (state === undefined) return { ...UNKNOWN_PARTITION, errorMessage: `topic "${topic}" has no partition ${partition}` };
    return readPartition(this.store, state, fromOffset, maxBytes, options);
  }

  /** ListOffsets: -1 latest (the high watermark), -2 earliest (the log start), else the first record at or after the timestamp. */
  listOffset(topic: string, partition: number, timestamp: number): ListOffsetResult {
    const state = this.#partition(topic, partition);
    if (state === undefined) return { errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, offset: -1, timestamp: -1 };
    return listOffset(this.store, state, timestamp);
  }

  /** Up to `limit` stored batches' summaries in offset order, from the first stored (or the one containing fromOffset). */
  batches(topic: string, partition: number, limit: number, fromOffset = 0): BatchSummary[] {
    const state = this.#partition(topic, partition);
    return state === undefined ? [] : batchSummaries(this.store, state, limit, fromOffset);
  }

  /** The idempotence state of one producer on one partition. */
  producer(topic: string, partition: number, producerId: number): ProducerRecord | undefined {
    const state = this.#partition(topic, partition);
    if (state === undefined || !Number.isSafeInteger(producerId) || producerId < 0) return undefined;
    const bytes = this.store.get(LOG_TABLES.producers, partitionNumberKey(state.key, producerId));
    return bytes === undefined ? undefined : decodeProducerRecord(Uint8Array.from(bytes));
  }

  /** The last activity time of the partition's longest-idle producer (for expiry planning). */
  oldestProducerActivityMs(topic: string, partition: number): number | undefined {
    const state = this.#partition(topic, partition);
    if (state === undefined) return undefined;
    for (const entry of this.store.range(LOG_TABLES.producerIdle, { start: state.key, end: prefixLimit(state.key), limit: 1 })) return numberAfterPartition(entry.key);
    return undefined;
  }

  /**
   * OffsetFetch: the group's committed offsets for `partitions`, or (omitted) every partition it
   * has an offset for, by topic and partition. Uncommitted partitions get offset -1.
   */
  fetchOffsets(group: string, partitions?: readonly { readonly topic: string; readonly partition: number }[]): CommittedOffset[] {
    const invalid = checkGroupId(group, this.limits);
    const escaped = escapeGroup(group);
    if (partitions !== undefined) {
      return partitions.map(({ topic, partition }) => {
        if (invalid !== undefined) return noOffset(topic, partition, KAFKA_ERROR.INVALID_GROUP_ID);
        const state = this.topics.get(topic);
        if (state === undefined || !Number.isInteger(partition) || partition < 0 || partition >= state.record.partitions) return noOffset(topic, partition, KAFKA_ERROR.NONE);
        const bytes = this.store.get(LOG_TABLES.offsets, offsetKey(escaped, partitionKey(state.id, partition)));
        return bytes === undefined ? noOffset(topic, partition, KAFKA_ERROR.NONE) : { topic, partition, errorCode: KAFKA_ERROR.NONE, ...decodeOffsetRecord(Uint8Array.from(bytes)) };
      });
    }
    if (invalid !== undefined) return [];
    const found: CommittedOffset[] = [];
    for (const entry of this.store.range(LOG_TABLES.offsets, { start: escaped, end: prefixLimit(escaped) })) {
      const located = this.#locate(entry.key.subarray(entry.key.length - PARTITION_KEY_BYTES));
      if (located === undefined) continue; // a deleted topic whose offsets are still being removed
      found.push({ ...located, errorCode: KAFKA_ERROR.NONE, ...decodeOffsetRecord(Uint8Array.from(entry.value)) });
    }
    return found.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  /** The groups with at least one committed offset on an existing topic, sorted. */
  listGroups(): string[] {
    const groups: string[] = [];
    let start: Uint8Array | undefined;
    for (;;) {
      let first: Uint8Array | undefined;
      for (const entry of this.store.range(LOG_TABLES.offsets, start === undefined ? { limit: 1 } : { start, limit: 1 })) first = Uint8Array.from(entry.key);
      if (first === undefined) return groups;
      const { group, escapedLength } = groupOfOffsetKey(first);
      const escaped = first.subarray(0, escapedLength);
      if (this.#hasLiveOffset(escaped)) groups.push(group);
      start = prefixLimit(escaped);
    }
  }

  #hasLiveOffset(escapedGroup: Uint8Array): boolean {
    for (const entry of this.store.range(LOG_TABLES.offsets, { start: escapedGroup, end: prefixLimit(escapedGroup) })) {
      if (this.#locate(entry.key.subarray(entry.key.length - PARTITION_KEY_BYTES)) !== undefined) return true;
    }
    return false;
  }

  /** Topic name and partition of a P, if the topic still exists. */
  #locate(partitionBytes: Uint8Array): { topic: string; partition: number } | undefined {
    const topic = this.topicsById.get(topicIdString(partitionBytes.subarray(0, TOPIC_ID_BYTES)));
    return topic === undefined ? undefined : { topic: topic.name, partition: readUint32(partitionBytes, TOPIC_ID_BYTES) };
  }
}

function noOffset(topic: string, partition: number, errorCode: number): CommittedOffset {
  return { topic, partition, offset: -1, leaderEpoch: -1, metadata: '', commitTimestampMs: -1, errorCode };
}
