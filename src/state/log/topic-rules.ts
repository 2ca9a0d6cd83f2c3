// Topic names, configs and ids: the checks CreateTopics needs, as pure functions (the broker may
// run them before proposing for an early answer; apply runs them again).
import { createHash } from 'node:crypto';
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import type { CreateTopicSpec, LogLimits, TopicDefaults } from './commands.ts';
import type { TopicConfigValues } from './results.ts';
import { TOPIC_ID_BYTES } from './tables.ts';

/** Kafka's Topic.MAX_NAME_LENGTH. */
export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL_NAME = /^[a-zA-Z0-9._-]+$/;

export interface TopicProblem {
  readonly errorCode: number;
  readonly errorMessage: string;
}

/** Kafka's rules (org.apache.kafka.common.internals.Topic.validate). */
export function checkTopicName(name: string): TopicProblem | undefined {
  if (name.length === 0) return invalidTopic('the topic name is empty');
  if (name === '.' || name === '..') return invalidTopic(`"${name}" is not a valid topic name`);
  if (name.length > MAX_TOPIC_NAME_LENGTH) return invalidTopic(`the topic name is ${name.length} characters; the limit is ${MAX_TOPIC_NAME_LENGTH}`);
  if (!LEGAL_NAME.test(name)) return invalidTopic(`topic "${name}" has characters other than ASCII letters, digits, ".", "_" and "-"`);
  return undefined;
}

function invalidTopic(errorMessage: string): TopicProblem {
  return { errorCode: KAFKA_ERROR.INVALID_TOPIC_EXCEPTION, errorMessage };
}

/** "." and "_" collide in Kafka's metric names, so Kafka refuses topics that differ only there. */
export function collisionName(name: string): string {
  return name.replaceAll('.', '_');
}

/** Configs Cairn accepts and ignores (they tune Kafka's storage or replication, which Cairn does its own way). */
const IGNORED_CONFIGS = new Set([
  'min.insync.replicas', 'segment.bytes', 'segment.ms', 'segment.index.bytes', 'segment.jitter.ms', 'flush.messages', 'flush.ms',
  'index.interval.bytes', 'file.delete.delay.ms', 'preallocate', 'unclean.leader.election.enable', 'min.compaction.lag.ms',
  'max.compaction.lag.ms', 'min.cleanable.dirty.ratio', 'delete.retention.ms', 'message.downconversion.enable',
  'follower.replication.throttled.replicas', 'leader.replication.throttled.replicas',
]);

/** Configs Cairn accepts only with one value. */
const FIXED_CONFIGS: Readonly<Record<string, readonly string[]>> = {
  'cleanup.policy': ['delete'],
  'message.timestamp.type': ['CreateTime'],
  'compression.type': ['producer'],
};

export function resolveTopicConfig(configs: Readonly<Record<string, string>>, defaults: TopicDefaults, limits: LogLimits): TopicConfigValues | TopicProblem {
  const values = { retentionMs: defaults.retentionMs, retentionBytes: defaults.retentionBytes, maxMessageBytes: Math.min(defaults.maxMessageBytes, limits.maxBatchBytes) };
  for (const [name, value] of Object.entries(configs)) {
    if (name === 'retention.ms' || name === 'retention.bytes') {
      const parsed = parseWhole(value);
      if (parsed === undefined || parsed < -1) return invalidConfig(`${name}=${value} must be a whole number >= -1 (-1: no limit)`);
      if (name === 'retention.ms') values.retentionMs = parsed;
      else values.retentionBytes = parsed;
    } else if (name === 'max.message.bytes') {
      const parsed = parseWhole(value);
      if (parsed === undefined || parsed < 0 || parsed > limits.maxBatchBytes) return invalidConfig(`max.message.bytes=${value} must be a whole number from 0 to ${limits.maxBatchBytes}`);
      values.maxMessageBytes = parsed;
    } else if (FIXED_CONFIGS[name] !== undefined) {
      if (!FIXED_CONFIGS[name].includes(value)) return invalidConfig(`${name}=${value} is not supported; Cairn supports only ${FIXED_CONFIGS[name].join(', ')}`);
    } else if (!IGNORED_CONFIGS.has(name)) {
      return invalidConfig(`unknown topic config "${name}"`);
    }
  }
  return values;
}

function parseWhole(value: string): number | undefined {
  if (!/^-?\d{1,16}$/.test(value)) return undefined;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}

function invalidConfig(errorMessage: string): TopicProblem {
  return { errorCode: KAFKA_ERROR.INVALID_CONFIG, errorMessage };
}

/** The stateless checks of one topic to create; the existence and count checks need the state. */
export function checkTopicSpec(spec: CreateTopicSpec, limits: LogLimits): TopicProblem | undefined {
  const nameProblem = checkTopicName(spec.name);
  if (nameProblem !== undefined) return nameProblem;
  if (spec.partitions < 1 || spec.partitions > limits.maxPartitionsPerTopic) {
    return { errorCode: KAFKA_ERROR.INVALID_PARTITIONS, errorMessage: `${spec.partitions} partitions: a topic has from 1 to ${limits.maxPartitionsPerTopic}` };
  }
  if (spec.replicationFactor < 1 || spec.replicationFactor > 0x7fff) {
    return { errorCode: KAFKA_ERROR.INVALID_REPLICATION_FACTOR, errorMessage: `replication factor ${spec.replicationFactor} must be from 1 to 32767` };
  }
  return undefined;
}

/**
 * A UUID derived from the creating entry's index and the topic's position in the command: the
 * same on every replica, and never reused (indexes only grow). Version 8 (RFC 9562: custom).
 */
export function deriveTopicId(entryIndex: number, position: number): Uint8Array {
  const digest = createHash('sha256').update(`cairn-topic-id:${entryIndex}:${position}`).digest();
  const id = Uint8Array.from(digest.subarray(0, TOPIC_ID_BYTES));
  id[6] = (id[6]! & 0x0f) | 0x80;
  id[8] = (id[8]! & 0x3f) | 0x80;
  return id;
}
