// Topics, partitions, high watermarks and consumer-group lag from the node's applied Kafka log
// state (a follower's view may trail the leader's by a few entries). Bounded: a cluster with
// thousands of partitions or groups gets the first ones and `truncated`.
import type { LogReader } from '../../../state/log/index.ts';
import type { WireGroupPartitionView, WireGroupView, WirePartitionView, WireTopicView, WireTopicsView } from './wire-types.ts';

export type LogView = Pick<LogReader, 'listTopics' | 'partitionInfo' | 'listGroups' | 'fetchOffsets'>;

export interface TopicsViewLimits {
  readonly topicsMax: number;
  /** Partitions listed over all topics. */
  readonly partitionsMax: number;
  readonly groupsMax: number;
  /** Group partitions listed over all groups. */
  readonly groupPartitionsMax: number;
}

export const DEFAULT_TOPICS_VIEW_LIMITS: TopicsViewLimits = { topicsMax: 200, partitionsMax: 2000, groupsMax: 200, groupPartitionsMax: 2000 };

export function unavailableTopicsView(nodeId: number): WireTopicsView {
  return { available: false, nodeId, appliedIndex: 0, topics: [], groups: [], truncated: false };
}

export function topicsView(log: LogView, nodeId: number, appliedIndex: number, limits: TopicsViewLimits = DEFAULT_TOPICS_VIEW_LIMITS): WireTopicsView {
  const all = log.listTopics();
  let truncated = all.length > limits.topicsMax;
  let partitionBudget = limits.partitionsMax;
  const topics: WireTopicView[] = all.slice(0, limits.topicsMax).map((topic) => {
    const count = Math.min(topic.partitions, partitionBudget);
    if (count < topic.partitions) truncated = true;
    partitionBudget -= count;
    const partitions: WirePartitionView[] = [];
    for (let partition = 0; partition < count; partition++) {
      const info = log.partitionInfo(topic.name, partition);
      if (info !== undefined) partitions.push({ partition, logStartOffset: info.logStartOffset, highWatermark: info.highWatermark, sizeBytes: info.sizeBytes });
    }
    return { name: topic.name, partitionCount: topic.partitions, replicationFactor: topic.replicationFactor, partitions };
  });
  const groupNames = log.listGroups();
  if (groupNames.length > limits.groupsMax) truncated = true;
  let groupPartitionBudget = limits.groupPartitionsMax;
  const groups: WireGroupView[] = [];
  for (const group of groupNames.slice(0, limits.groupsMax)) {
    const lags = groupLag(log, group).filter((entry) => entry.committedOffset >= 0);
    if (lags.length > groupPartitionBudget) truncated = true;
    const partitions = lags.slice(0, Math.max(0, groupPartitionBudget));
    groupPartitionBudget -= partitions.length;
    groups.push({ group, totalLag: lags.reduce((sum, entry) => sum + entry.lag, 0), partitions });
  }
  return { available: true, nodeId, appliedIndex, topics, groups, truncated };
}

/** The group's committed offsets with the partitions' high watermarks and the lag between them. */
export function groupLag(log: LogView, group: string): WireGroupPartitionView[] {
  return log.fetchOffsets(group).map((committed) => {
    const highWatermark = log.partitionInfo(committed.topic, committed.partition)?.highWatermark ?? 0;
    const lag = committed.offset < 0 ? 0 : Math.max(0, highWatermark - committed.offset);
    return { topic: committed.topic, partition: committed.partition, committedOffset: committed.offset, highWatermark, lag };
  });
}
