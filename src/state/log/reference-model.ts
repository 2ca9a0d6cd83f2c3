// A naive model of the log's semantics for the property test (model.test.ts): plain arrays and
// maps, every rule written the obvious way, no indexes, no caches, no step-wise cleanup. The real
// module must answer every command and every read exactly as this does.
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { decodeRecords, readRecordBatches } from '../../protocol/kafka/record-batch.ts';
import type { AppendCommand, CommitOffsetsCommand, DeleteGroupsCommand, ExpireProducersCommand, LogCommand, LogLimits, TrimCommand } from './commands.ts';
import type { ProducerRecord } from './records.ts';
import type { CommittedOffset, PartitionInfo } from './log-reader.ts';
import type { ListOffsetResult, ReadResult } from './reader.ts';
import type { AppendOutcome, LogResult, TrimOutcome } from './results.ts';
import { topicIdString } from './tables.ts';
import { deriveTopicId } from './topic-rules.ts';

const INT32_MAX = 0x7fffffff;

interface ModelBatch {
  readonly baseOffset: number;
  readonly bytes: Uint8Array;
  readonly count: number;
  readonly maxTimestamp: number;
  /** Every record's offset and timestamp. */
  readonly records: readonly { offset: number; timestamp: number }[];
}

interface ModelProducer {
  epoch: number;
  lastActivityMs: number;
  /** Every batch appended in the current epoch, oldest first. */
  history: { baseSequence: number; count: number; baseOffset: number }[];
}

interface ModelPartition {
  logStart: number;
  end: number;
  batches: ModelBatch[];
  producers: Map<number, ModelProducer>;
}

interface ModelTopic {
  readonly id: string;
  readonly maxMessageBytes: number;
  readonly partitions: ModelPartition[];
}

interface ModelOffset {
  readonly topicId: string;
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

/** Only what the property test generates: no size limits on topics or groups are reached. */
export class ReferenceLog {
  readonly topics = new Map<string, ModelTopic>();
  readonly groups = new Map<string, ModelOffset[]>();
  nextProducerId = 1;
  readonly #limits: LogLimits;

  constructor(limits: LogLimits) {
    this.#limits = limits;
  }

  apply(command: LogCommand, index: number): LogResult {
    switch (command.type) {
      case 'create-topics': {
        const topics = command.topics.map((spec, position) => {
          const base = { name: spec.name, partitions: spec.partitions, replicationFactor: spec.replicationFactor };
          if (this.topics.has(spec.name)) return { ...base, errorCode: KAFKA_ERROR.TOPIC_ALREADY_EXISTS };
          if ([...this.topics.keys()].some((name) => name.replaceAll('.', '_') === spec.name.replaceAll('.', '_'))) return { ...base, errorCode: KAFKA_ERROR.INVALID_TOPIC_EXCEPTION };
          const maxMessageBytes = Number(spec.configs?.['max.message.bytes'] ?? 1_048_588);
          const id = topicIdString(deriveTopicId(index, position));
          this.topics.set(spec.name, { id, maxMessageBytes, partitions: Array.from({ length: spec.partitions }, () => ({ logStart: 0, end: 0, batches: [], producers: new Map() })) });
          return { ...base, errorCode: 0, topicId: id, config: { retentionMs: 604_800_000, retentionBytes: -1, maxMessageBytes } };
        });
        return { type: 'create-topics', topics };
      }
      case 'delete-topics': {
        const topics = command.topics.map((name) => {
          const topic = this.topics.get(name);
          if (topic === undefined) return { name, errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION };
          this.topics.delete(name);
          for (const [group, offsets] of this.groups) {
            const kept = offsets.filter((offset) => offset.topicId !== topic.id);
            if (kept.length === 0) this.groups.delete(group);
            else this.groups.set(group, kept);
          }
          return { name, errorCode: 0, topicId: topic.id };
        });
        return { type: 'delete-topics', topics };
      }
      case 'init-producer-id':
        return { type: 'init-producer-id', producerId: this.nextProducerId++, producerEpoch: 0 };
      case 'append':
        return { type: 'append', partitions: command.partitions.map((item) => this.#append(item, command)) };
      case 'commit-offsets':
        return this.#commit(command);
      case 'delete-groups':
        return this.#deleteGroups(command);
      case 'trim':
        return this.#trim(command);
      case 'expire-producers':
        return this.#expire(command);
    }
  }

  partition(topic: string, partition: number): ModelPartition | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  #append(item: AppendCommand['partitions'][number], command: AppendCommand): AppendOutcome {
    const fail = (errorCode: number, logStartOffset: number): AppendOutcome => ({ topic: item.topic, partition: item.partition, errorCode, baseOffset: -1, logStartOffset, duplicate: false });
    const topic = this.topics.get(item.topic);
    const partition = topic?.partitions[item.partition];
    if (topic === undefined || partition === undefined) return fail(KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, -1);
    if (item.records.length > Math.min(topic.maxMessageBytes, this.#limits.maxBatchBytes)) return fail(KAFKA_ERROR.MESSAGE_TOO_LARGE, partition.logStart);
    let view;
    try {
      view = readRecordBatches(item.records)[0]!;
    } catch {
      return fail(KAFKA_ERROR.CORRUPT_MESSAGE, partition.logStart);
    }
    const { header } = view;
    const ok = (baseOffset: number, duplicate: boolean): AppendOutcome => ({ topic: item.topic, partition: item.partition, errorCode: 0, baseOffset, logStartOffset: partition.logStart, duplicate });
    const producerId = Number(header.producerId);
    let producer: ModelProducer | undefined;
    if (producerId >= 0) {
      producer = partition.producers.get(producerId);
      const verdict = this.#sequenceVerdict(producer, header.producerEpoch, header.baseSequence, header.recordsCount);
      if (typeof verdict === 'number') return fail(verdict, partition.logStart);
      if (verdict.duplicateOf !== undefined) return ok(verdict.duplicateOf, true);
    }
    const baseOffset = partition.end;
    const bytes = Uint8Array.from(item.records);
    new DataView(bytes.buffer).setBigInt64(0, BigInt(baseOffset));
    const records = decodeRecords(view).map((record) => ({ offset: baseOffset + record.offsetDelta, timestamp: Number(header.baseTimestamp + record.timestampDelta) }));
    const maxTimestamp = header.maxTimestamp < 0n ? -1 : Number(header.maxTimestamp);
    partition.batches.push({ baseOffset, bytes, count: header.recordsCount, maxTimestamp, records });
    partition.end += header.recordsCount;
    if (producerId >= 0) {
      const sameEpoch = producer !== undefined && producer.epoch === header.producerEpoch;
      const next: ModelProducer = sameEpoch ? producer! : { epoch: header.producerEpoch, lastActivityMs: 0, history: [] };
      next.history.push({ baseSequence: header.baseSequence, count: header.recordsCount, baseOffset });
      next.lastActivityMs = command.timestampMs;
      partition.producers.set(producerId, next);
    }
    return ok(baseOffset, false);
  }

  /** An error code, or whether the batch duplicates one of the last 5. */
  #sequenceVerdict(producer: ModelProducer | undefined, epoch: number, baseSequence: number, count: number): number | { duplicateOf?: number } {
    if (producer === undefined) return {};
    if (epoch < producer.epoch) return KAFKA_ERROR.INVALID_PRODUCER_EPOCH;
    if (epoch > producer.epoch) return baseSequence === 0 ? {} : KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER;
    const last = (base: number, n: number) => (base + n - 1) % (INT32_MAX + 1);
    const duplicate = producer.history.slice(-5).find((kept) => kept.baseSequence === baseSequence && last(kept.baseSequence, kept.count) === last(baseSequence, count));
    if (duplicate !== undefined) return { duplicateOf: duplicate.baseOffset };
    const newest = producer.history[producer.history.length - 1];
    if (newest === undefined) return {};
    const expected = (last(newest.baseSequence, newest.count) + 1) % (INT32_MAX + 1);
    return baseSequence === expected ? {} : KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER;
  }

  #commit(command: CommitOffsetsCommand): LogResult {
    const partitions = command.offsets.map((item) => {
      const base = { topic: item.topic, partition: item.partition };
      if (command.group === '') return { ...base, errorCode: KAFKA_ERROR.INVALID_GROUP_ID };
      const topic = this.topics.get(item.topic);
      if (topic === undefined || topic.partitions[item.partition] === undefined) return { ...base, errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION };
      const metadata = item.metadata ?? '';
      if (Buffer.byteLength(metadata) > this.#limits.maxOffsetMetadataBytes) return { ...base, errorCode: KAFKA_ERROR.OFFSET_METADATA_TOO_LARGE };
      const offsets = (this.groups.get(command.group) ?? []).filter((offset) => !(offset.topicId === topic.id && offset.partition === item.partition));
      offsets.push({ topicId: topic.id, partition: item.partition, offset: item.offset, leaderEpoch: item.leaderEpoch ?? -1, metadata, commitTimestampMs: command.timestampMs });
      this.groups.set(command.group, offsets);
      return { ...base, errorCode: 0 };
    });
    return { type: 'commit-offsets', group: command.group, partitions };
  }

  #deleteGroups(command: DeleteGroupsCommand): LogResult {
    const groups = command.groups.map((group) => {
      const offsets = this.groups.get(group);
      if (offsets === undefined) return { group, errorCode: KAFKA_ERROR.GROUP_ID_NOT_FOUND, deletedOffsets: 0 };
      this.groups.delete(group);
      return { group, errorCode: 0, deletedOffsets: offsets.length };
    });
    return { type: 'delete-groups', groups, more: false };
  }

  #trim(command: TrimCommand): LogResult {
    let budget = this.#limits.trimStepBatches;
    const partitions = command.partitions.map((item): TrimOutcome => {
      const base = { topic: item.topic, partition: item.partition };
      const topic = this.topics.get(item.topic);
      const partition = topic?.partitions[item.partition];
      if (topic === undefined || partition === undefined || topic.id !== item.topicId) return { ...base, errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, logStartOffset: -1, deletedBatches: 0 };
      if (item.logStartOffset > partition.end) return { ...base, errorCode: KAFKA_ERROR.OFFSET_OUT_OF_RANGE, logStartOffset: partition.logStart, deletedBatches: 0 };
      if (item.logStartOffset <= partition.logStart) return { ...base, errorCode: 0, logStartOffset: partition.logStart, deletedBatches: 0 };
      let deleted = 0;
      let reached = item.logStartOffset;
      while (partition.batches.length > 0) {
        const oldest = partition.batches[0]!;
        if (oldest.baseOffset + oldest.count > item.logStartOffset) break;
        if (deleted === budget) {
          reached = oldest.baseOffset;
          break;
        }
        partition.batches.shift();
        deleted++;
      }
      budget -= deleted;
      partition.logStart = Math.max(partition.logStart, reached);
      return { ...base, errorCode: 0, logStartOffset: partition.logStart, deletedBatches: deleted };
    });
    return { type: 'trim', partitions };
  }

  #expire(command: ExpireProducersCommand): LogResult {
    let expired = 0;
    for (const item of command.partitions) {
      const topic = this.topics.get(item.topic);
      const partition = topic?.partitions[item.partition];
      if (topic === undefined || partition === undefined || topic.id !== item.topicId) continue;
      const idle = [...partition.producers].filter(([, producer]) => producer.lastActivityMs < command.idleBeforeMs)
        .sort(([idA, a], [idB, b]) => a.lastActivityMs - b.lastActivityMs || idA - idB)
        .slice(0, this.#limits.expireStepProducers);
      for (const [id] of idle) partition.producers.delete(id);
      expired += idle.length;
    }
    return { type: 'expire-producers', expired };
  }

  // ---- Reads ----

  partitionInfo(topic: string, index: number): Omit<PartitionInfo, 'topic' | 'partition'> | undefined {
    const partition = this.partition(topic, index);
    if (partition === undefined) return undefined;
    return {
      logStartOffset: partition.logStart,
      highWatermark: partition.end,
      sizeBytes: partition.batches.reduce((sum, batch) => sum + batch.bytes.length, 0),
      batchCount: partition.batches.length,
      producerCount: partition.producers.size,
    };
  }

  read(topic: string, index: number, fromOffset: number, maxBytes: number): Pick<ReadResult, 'errorCode' | 'highWatermark' | 'logStartOffset' | 'records'> {
    const partition = this.partition(topic, index);
    if (partition === undefined) return { errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, logStartOffset: -1, records: new Uint8Array(0) };
    const base = { highWatermark: partition.end, logStartOffset: partition.logStart };
    if (fromOffset < partition.logStart || fromOffset > partition.end) return { ...base, errorCode: KAFKA_ERROR.OFFSET_OUT_OF_RANGE, records: new Uint8Array(0) };
    const first = partition.batches.findIndex((batch) => batch.baseOffset + batch.count > fromOffset);
    const taken: Uint8Array[] = [];
    let bytes = 0;
    for (const batch of first < 0 ? [] : partition.batches.slice(first)) {
      if (taken.length > 0 && bytes + batch.bytes.length > maxBytes) break;
      taken.push(batch.bytes);
      bytes += batch.bytes.length;
    }
    return { ...base, errorCode: 0, records: Buffer.concat(taken) };
  }

  /** The first record at or after the log start whose timestamp is >= the one asked for. */
  listOffset(topic: string, index: number, timestamp: number): ListOffsetResult {
    const partition = this.partition(topic, index);
    if (partition === undefined) return { errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, offset: -1, timestamp: -1 };
    if (timestamp === -1) return { errorCode: 0, offset: partition.end, timestamp: -1 };
    if (timestamp === -2) return { errorCode: 0, offset: partition.logStart, timestamp: -1 };
    for (const batch of partition.batches) {
      for (const record of batch.records) {
        if (record.offset >= partition.logStart && record.timestamp >= timestamp) return { errorCode: 0, offset: record.offset, timestamp: record.timestamp };
      }
    }
    return { errorCode: 0, offset: -1, timestamp: -1 };
  }

  producer(topic: string, index: number, producerId: number): ProducerRecord | undefined {
    const producer = this.partition(topic, index)?.producers.get(producerId);
    if (producer === undefined) return undefined;
    return {
      epoch: producer.epoch,
      lastActivityMs: producer.lastActivityMs,
      batches: producer.history.slice(-5).map((batch) => ({ baseSequence: batch.baseSequence, recordCount: batch.count, baseOffset: batch.baseOffset })),
    };
  }

  fetchOffsets(group: string): Omit<CommittedOffset, 'errorCode'>[] {
    const byId = new Map([...this.topics].map(([name, topic]) => [topic.id, name]));
    return (this.groups.get(group) ?? [])
      .map(({ topicId, ...offset }) => ({ topic: byId.get(topicId)!, ...offset }))
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  listGroups(): string[] {
    return [...this.groups.keys()].sort();
  }
}
