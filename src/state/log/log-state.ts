// The Kafka log's state machine module: topics, partitions of record batches, idempotent producer
// state, consumer groups' committed offsets, retention. Deterministic: apply reads nothing but the
// entries and the store (time comes inside the commands), so every replica writes identical bytes.
// Partition states are cached and written once per apply batch; the caches are reloaded from the
// store when a batch aborts or a snapshot is restored.
import { assert } from '../../core/assert.ts';
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import type { StateModule } from '../replicated-state.ts';
import type { OrderedStore } from '../store.ts';
import type { AppliedEntry } from '../types.ts';
import { readUint64, uint64Bytes, utf8 } from '../kv/encoding.ts';
import { applyAppend } from './append.ts';
import { DEFAULT_LOG_LIMITS, DEFAULT_TOPIC_DEFAULTS, LOG_MODULE_TAG, decodeLogCommand } from './commands.ts';
import type { CreateTopicsCommand, DeleteTopicsCommand, LogCommand, LogLimits, TopicDefaults } from './commands.ts';
import type { LogContext, PartitionState, TopicState } from './context.ts';
import { deletionStep } from './deletion.ts';
import { applyCommitOffsets, applyDeleteGroups } from './groups.ts';
import { LogReader } from './log-reader.ts';
import { decodePartitionRecord, decodeTopicRecord, encodePartitionRecord, encodeTopicRecord } from './records.ts';
import type { TopicRecord } from './records.ts';
import type { CreateTopicOutcome, CreateTopicsResult, DeleteTopicOutcome, DeleteTopicsResult, LogResult } from './results.ts';
import { LOG_TABLES, LOG_TABLE_NAMES, META_GROUP_COUNT, META_NEXT_PRODUCER_ID, partitionKey, topicIdString, writeUint32 } from './tables.ts';
import { checkTopicSpec, collisionName, deriveTopicId, resolveTopicConfig } from './topic-rules.ts';
import { applyExpireProducers, applyTrim } from './trim.ts';

export interface LogStateOptions {
  /** Must be the same on every member (apply enforces them). */
  readonly limits?: Partial<LogLimits>;
  /** Config values for topics created without them; the same on every member. */
  readonly topicDefaults?: Partial<TopicDefaults>;
}

/** What one committed apply() changed, for the broker's long-polling fetches and metadata caches. */
export interface LogCommitNotice {
  /** Partitions appended to or trimmed, with their new bounds. */
  readonly partitions: readonly { readonly topic: string; readonly partition: number; readonly highWatermark: number; readonly logStartOffset: number }[];
  readonly topicsChanged: boolean;
  /** The state was replaced by a snapshot: reload everything. */
  readonly restored: boolean;
}

export type LogListener = (notice: LogCommitNotice) => void;

/** The first producer id handed out. */
const FIRST_PRODUCER_ID = 1;

export class LogState extends LogReader implements StateModule<LogResult> {
  readonly tag = LOG_MODULE_TAG;
  readonly tableNames = LOG_TABLE_NAMES;
  readonly topicDefaults: TopicDefaults;
  #partitionTotal = 0;
  #dirty = new Set<PartitionState>();
  #nextProducerId = FIRST_PRODUCER_ID;
  #groupCount = 0;
  #metaDirty = false;
  #deletionPending = false;
  #changedPartitions = new Set<PartitionState>();
  #topicsChanged = false;
  #listeners = new Set<LogListener>();
  readonly #context: LogContext;

  constructor(options: LogStateOptions = {}) {
    const limits = { ...DEFAULT_LOG_LIMITS, ...options.limits };
    super(limits);
    this.topicDefaults = { ...DEFAULT_TOPIC_DEFAULTS, ...options.topicDefaults };
    for (const [name, value] of Object.entries(limits)) assert(Number.isSafeInteger(value) && value >= 1, `log limit ${name} must be a whole number >= 1`);
    this.#context = {
      store: undefined as unknown as OrderedStore,
      limits,
      topic: (name) => this.topics.get(name),
      isLiveTopic: (topicId) => this.topicsById.has(topicIdString(topicId)),
      partition: (topic, index) => this.loadPartition(topic, index),
      changed: (state) => {
        this.#dirty.add(state);
        this.#changedPartitions.add(state);
      },
      groupCountChanged: (delta) => {
        this.#groupCount += delta;
        this.#metaDirty = true;
      },
      groupCount: () => this.#groupCount,
    };
  }

  attach(store: OrderedStore): void {
    this.attachStore(store);
    (this.#context as { store: OrderedStore }).store = store;
    this.#reload();
  }

  /** Called after every committed apply() that changed something, and after restore(); returns an unsubscribe function. */
  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  nextProducerId(): number {
    return this.#nextProducerId;
  }

  groupCount(): number {
    return this.#groupCount;
  }

  /** Whether deleted topics still have data being removed (for tests and metrics). */
  deletionPending(): boolean {
    return this.#deletionPending;
  }

  // ---- StateModule ----

  applyCommand(entry: AppliedEntry): LogResult {
    const command = decodeLogCommand(entry.data, this.limits);
    if ('code' in command) return { type: 'error', error: command };
    return this.#dispatch(command, entry);
  }

  afterEntry(_entry: AppliedEntry): void {
    if (this.#deletionPending) this.#deletionPending = deletionStep(this.#context);
  }

  beforeCommit(): void {
    for (const state of this.#dirty) {
      assert(this.topicsById.get(state.topic.idString) === state.topic, 'log: a deleted topic has a partition record to write');
      this.store.put(LOG_TABLES.partitions, state.key, encodePartitionRecord(state));
    }
    this.#dirty.clear();
    if (this.#metaDirty) {
      this.store.put(LOG_TABLES.meta, META_NEXT_PRODUCER_ID, uint64Bytes(this.#nextProducerId));
      this.store.put(LOG_TABLES.meta, META_GROUP_COUNT, uint64Bytes(this.#groupCount));
      this.#metaDirty = false;
    }
  }

  committed(): void {
    const changed = [...this.#changedPartitions].filter((state) => this.topicsById.get(state.topic.idString) === state.topic);
    const topicsChanged = this.#topicsChanged;
    this.#changedPartitions.clear();
    this.#topicsChanged = false;
    if (changed.length === 0 && !topicsChanged) return;
    const partitions = changed.map((state) => ({ topic: state.topic.name, partition: state.index, highWatermark: state.endOffset, logStartOffset: state.logStartOffset }));
    this.#notify({ partitions, topicsChanged, restored: false });
  }

  aborted(): void {
    this.#reload();
  }

  restored(): void {
    this.#reload();
    this.#notify({ partitions: [], topicsChanged: true, restored: true });
  }

  #notify(notice: LogCommitNotice): void {
    for (const listener of [...this.#listeners]) listener(notice);
  }

  #reload(): void {
    this.topics.clear();
    this.topicsById.clear();
    this.#partitionTotal = 0;
    for (const entry of this.store.range(LOG_TABLES.topics)) {
      const name = Buffer.from(entry.key).toString('utf8');
      this.#addTopic(name, decodeTopicRecord(Uint8Array.from(entry.value)));
    }
    const next = this.store.get(LOG_TABLES.meta, META_NEXT_PRODUCER_ID);
    this.#nextProducerId = next === undefined ? FIRST_PRODUCER_ID : readUint64(next, 0);
    const groups = this.store.get(LOG_TABLES.meta, META_GROUP_COUNT);
    this.#groupCount = groups === undefined ? 0 : readUint64(groups, 0);
    this.#metaDirty = false;
    this.#dirty.clear();
    this.#changedPartitions.clear();
    this.#topicsChanged = false;
    this.#deletionPending = false;
    for (const _ of this.store.range(LOG_TABLES.deletions, { limit: 1 })) this.#deletionPending = true;
  }

  #addTopic(name: string, record: TopicRecord): TopicState {
    const topic: TopicState = { name, id: record.id, idString: topicIdString(record.id), record, partitions: new Array(record.partitions).fill(undefined) };
    this.topics.set(name, topic);
    this.topicsById.set(topic.idString, topic);
    this.#partitionTotal += record.partitions;
    return topic;
  }

  /** The cached partition state, read from the store on first use (a partition never appended to has none). */
  protected loadPartition(topic: TopicState, index: number): PartitionState {
    assert(index >= 0 && index < topic.record.partitions, `log: partition ${index} of ${topic.name} does not exist`);
    const cached = topic.partitions[index];
    if (cached !== undefined) return cached;
    const key = partitionKey(topic.id, index);
    const bytes = this.store.get(LOG_TABLES.partitions, key);
    const record = bytes === undefined
      ? { logStartOffset: 0, endOffset: 0, sizeBytes: 0, batchCount: 0, producerCount: 0, maxTimestamp: -1 }
      : decodePartitionRecord(bytes);
    const state: PartitionState = { ...record, topic, index, key };
    topic.partitions[index] = state;
    return state;
  }

  #dispatch(command: LogCommand, entry: AppliedEntry): LogResult {
    switch (command.type) {
      case 'create-topics':
        return this.#applyCreateTopics(command, entry);
      case 'delete-topics':
        return this.#applyDeleteTopics(command);
      case 'append':
        return applyAppend(this.#context, command);
      case 'init-producer-id': {
        const producerId = this.#nextProducerId++;
        this.#metaDirty = true;
        return { type: 'init-producer-id', producerId, producerEpoch: 0 };
      }
      case 'commit-offsets':
        return applyCommitOffsets(this.#context, command);
      case 'delete-groups':
        return applyDeleteGroups(this.#context, command);
      case 'trim':
        return applyTrim(this.#context, command);
      case 'expire-producers':
        return applyExpireProducers(this.#context, command);
    }
  }

  #applyCreateTopics(command: CreateTopicsCommand, entry: AppliedEntry): CreateTopicsResult {
    const topics = command.topics.map((spec, position): CreateTopicOutcome => {
      const refuse = (errorCode: number, errorMessage: string): CreateTopicOutcome =>
        ({ name: spec.name, errorCode, errorMessage, partitions: spec.partitions, replicationFactor: spec.replicationFactor });
      const problem = checkTopicSpec(spec, this.limits) ?? this.#checkTopicAgainstState(spec.name, spec.partitions);
      if (problem !== undefined) return refuse(problem.errorCode, problem.errorMessage);
      const config = resolveTopicConfig(spec.configs ?? {}, this.topicDefaults, this.limits);
      if ('errorCode' in config) return refuse(config.errorCode, config.errorMessage);
      const id = deriveTopicId(entry.index, position);
      assert(!this.topicsById.has(topicIdString(id)), 'log: a derived topic id collides');
      const configs = Object.entries(spec.configs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const record: TopicRecord = { id, partitions: spec.partitions, replicationFactor: spec.replicationFactor, configs, ...config };
      this.store.put(LOG_TABLES.topics, utf8(spec.name), encodeTopicRecord(record));
      this.#addTopic(spec.name, record);
      this.#topicsChanged = true;
      return { name: spec.name, errorCode: KAFKA_ERROR.NONE, topicId: topicIdString(id), partitions: spec.partitions, replicationFactor: spec.replicationFactor, config };
    });
    return { type: 'create-topics', topics };
  }

  #checkTopicAgainstState(name: string, partitions: number): { errorCode: number; errorMessage: string } | undefined {
    if (this.topics.has(name)) return { errorCode: KAFKA_ERROR.TOPIC_ALREADY_EXISTS, errorMessage: `topic "${name}" already exists` };
    const collision = collisionName(name);
    for (const existing of this.topics.keys()) {
      if (collisionName(existing) === collision) {
        return { errorCode: KAFKA_ERROR.INVALID_TOPIC_EXCEPTION, errorMessage: `topic "${name}" collides with "${existing}" ("." and "_" are the same in metric names)` };
      }
    }
    if (this.topics.size >= this.limits.maxTopics) {
      return { errorCode: KAFKA_ERROR.POLICY_VIOLATION, errorMessage: `${this.topics.size} topics exist; the limit is ${this.limits.maxTopics}` };
    }
    if (this.#partitionTotal + partitions > this.limits.maxPartitions) {
      return { errorCode: KAFKA_ERROR.POLICY_VIOLATION, errorMessage: `${this.#partitionTotal} partitions exist; ${partitions} more would pass the limit of ${this.limits.maxPartitions}` };
    }
    return undefined;
  }

  #applyDeleteTopics(command: DeleteTopicsCommand): DeleteTopicsResult {
    const topics = command.topics.map((name): DeleteTopicOutcome => {
      const topic = this.topics.get(name);
      if (topic === undefined) return { name, errorCode: KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic "${name}" does not exist` };
      // Write what this batch changed first: the store must hold what it would hold had every
      // entry been its own batch, or replicas that batch differently would differ until the
      // deletion finishes (and consume the deletion budget differently).
      for (const state of topic.partitions) {
        if (state !== undefined && this.#dirty.delete(state)) this.store.put(LOG_TABLES.partitions, state.key, encodePartitionRecord(state));
      }
      this.store.delete(LOG_TABLES.topics, utf8(name));
      const partitions = new Uint8Array(4);
      writeUint32(partitions, 0, topic.record.partitions);
      this.store.put(LOG_TABLES.deletions, topic.id, partitions);
      this.topics.delete(name);
      this.topicsById.delete(topic.idString);
      this.#partitionTotal -= topic.record.partitions;
      this.#deletionPending = true;
      this.#topicsChanged = true;
      return { name, errorCode: KAFKA_ERROR.NONE, topicId: topic.idString };
    });
    return { type: 'delete-topics', topics };
  }
}
