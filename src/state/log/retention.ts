// What the leader proposes to keep the log bounded, computed from the read API and the leader's
// clock (pure functions: the runtime calls them on a timer, only on the leader, and proposes the
// commands they return; apply re-checks and bounds each one).
//
// Retention, per partition, like Kafka's segment retention but per batch: delete the oldest
// batches while either
// - by time: the batch's max timestamp (its append time when it has none) is older than
//   now - retention.ms, or
// - by size: the partition would still hold at least retention.bytes without the batch.
// Deletion stops at the first batch that is kept (only a prefix of the log is ever deleted).
import type { ExpireProducersCommand, TrimCommand, TrimPartition } from './commands.ts';
import type { LogReader, TopicInfo } from './log-reader.ts';

export interface RetentionPlanOptions {
  /** Batches examined per partition per plan (a long backlog is trimmed over several rounds). */
  readonly batchesPerPartition?: number;
  /** Partitions per trim command. */
  readonly partitionsPerCommand?: number;
}

/** Kafka's producer.id.expiration.ms default: one day. */
export const DEFAULT_PRODUCER_EXPIRATION_MS = 24 * 3600 * 1000;

export function retentionPlan(log: LogReader, nowMs: number, options: RetentionPlanOptions = {}): TrimCommand[] {
  const batchesPerPartition = options.batchesPerPartition ?? log.limits.trimStepBatches;
  const trims: TrimPartition[] = [];
  for (const topic of log.listTopics()) {
    if (topic.config.retentionMs < 0 && topic.config.retentionBytes < 0) continue;
    for (let partition = 0; partition < topic.partitions; partition++) {
      const target = retentionTarget(log, topic, partition, nowMs, batchesPerPartition);
      if (target !== undefined) trims.push({ topic: topic.name, topicId: topic.topicId, partition, logStartOffset: target });
    }
  }
  return chunk(trims, options.partitionsPerCommand ?? 1000).map((partitions) => ({ type: 'trim', partitions }));
}

/** The log start offset retention wants for one partition, if it is beyond the current one. */
export function retentionTarget(log: LogReader, topic: TopicInfo, partition: number, nowMs: number, batchLimit: number): number | undefined {
  const info = log.partitionInfo(topic.name, partition);
  if (info === undefined || info.batchCount === 0) return undefined;
  const { retentionMs, retentionBytes } = topic.config;
  let remainingBytes = info.sizeBytes;
  let target = info.logStartOffset;
  for (const batch of log.batches(topic.name, partition, batchLimit)) {
    const batchTimeMs = batch.maxTimestamp >= 0 ? batch.maxTimestamp : batch.appendTimeMs;
    const expired = retentionMs >= 0 && batchTimeMs < nowMs - retentionMs;
    const oversized = retentionBytes >= 0 && remainingBytes - batch.sizeBytes >= retentionBytes;
    if (!expired && !oversized) break;
    remainingBytes -= batch.sizeBytes;
    target = Math.max(target, batch.baseOffset + batch.recordCount);
  }
  return target > info.logStartOffset ? target : undefined;
}

/** expire-producers commands for partitions whose longest-idle producer was last active before now - expirationMs. */
export function producerExpiryPlan(log: LogReader, nowMs: number, expirationMs = DEFAULT_PRODUCER_EXPIRATION_MS, partitionsPerCommand = 1000): ExpireProducersCommand[] {
  const idleBeforeMs = Math.max(0, nowMs - expirationMs);
  const partitions: { topic: string; topicId: string; partition: number }[] = [];
  for (const topic of log.listTopics()) {
    for (let partition = 0; partition < topic.partitions; partition++) {
      if ((log.partitionInfo(topic.name, partition)?.producerCount ?? 0) === 0) continue;
      const oldest = log.oldestProducerActivityMs(topic.name, partition);
      if (oldest !== undefined && oldest < idleBeforeMs) partitions.push({ topic: topic.name, topicId: topic.topicId, partition });
    }
  }
  return chunk(partitions, partitionsPerCommand).map((items) => ({ type: 'expire-producers', idleBeforeMs, partitions: items }));
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
