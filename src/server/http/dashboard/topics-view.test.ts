import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommittedOffset, PartitionInfo, TopicInfo } from '../../../state/log/index.ts';
import { groupLag, topicsView } from './topics-view.ts';
import type { LogView } from './topics-view.ts';

/** A log with `topics` (name → high watermark per partition) and committed offsets per group. */
function fakeLog(topics: Record<string, number[]>, groups: Record<string, { topic: string; partition: number; offset: number }[]>): LogView {
  return {
    listTopics: () => Object.entries(topics).map(([name, partitions]) => ({ name, partitions: partitions.length, replicationFactor: 3 }) as unknown as TopicInfo),
    partitionInfo: (topic, partition) => {
      const highWatermark = topics[topic]?.[partition];
      return highWatermark === undefined ? undefined : { topic, partition, logStartOffset: 1, highWatermark, sizeBytes: highWatermark * 10, batchCount: 1, producerCount: 0 } satisfies PartitionInfo;
    },
    listGroups: () => Object.keys(groups),
    fetchOffsets: (group) => (groups[group] ?? []).map((entry) => ({ ...entry, leaderEpoch: -1, metadata: '', commitTimestampMs: 0, errorCode: 0 }) satisfies CommittedOffset),
  };
}

test('topics with partitions and high watermarks; groups with lag = high watermark - committed', () => {
  const log = fakeLog({ orders: [10, 20], audit: [5] }, { billing: [{ topic: 'orders', partition: 0, offset: 4 }, { topic: 'orders', partition: 1, offset: 20 }, { topic: 'gone', partition: 0, offset: 3 }] });
  const view = topicsView(log, 2, 99);
  assert.equal(view.available, true);
  assert.equal(view.truncated, false);
  assert.deepEqual(view.topics.map((topic) => [topic.name, topic.partitions.map((partition) => partition.highWatermark)]), [['orders', [10, 20]], ['audit', [5]]]);
  assert.deepEqual(view.groups, [{
    group: 'billing', totalLag: 6,
    partitions: [
      { topic: 'orders', partition: 0, committedOffset: 4, highWatermark: 10, lag: 6 },
      { topic: 'orders', partition: 1, committedOffset: 20, highWatermark: 20, lag: 0 },
      { topic: 'gone', partition: 0, committedOffset: 3, highWatermark: 0, lag: 0 },
    ],
  }]);
});

test('no offset committed: no lag reported (not the whole log)', () => {
  const log = fakeLog({ orders: [10] }, { fresh: [{ topic: 'orders', partition: 0, offset: -1 }] });
  assert.deepEqual(groupLag(log, 'fresh'), [{ topic: 'orders', partition: 0, committedOffset: -1, highWatermark: 10, lag: 0 }]);
  assert.deepEqual(topicsView(log, 1, 1).groups, [{ group: 'fresh', totalLag: 0, partitions: [] }]);
});

test('limits: topics, partitions, groups and group partitions are bounded and say so', () => {
  const topics = Object.fromEntries(Array.from({ length: 5 }, (_, index) => [`t${index}`, [1, 2, 3]]));
  const groups = Object.fromEntries(Array.from({ length: 4 }, (_, index) => [`g${index}`, [{ topic: 't0', partition: 0, offset: 0 }, { topic: 't0', partition: 1, offset: 0 }]]));
  const log = fakeLog(topics, groups);
  const view = topicsView(log, 1, 1, { topicsMax: 3, partitionsMax: 7, groupsMax: 3, groupPartitionsMax: 5 });
  assert.equal(view.truncated, true);
  assert.deepEqual(view.topics.map((topic) => topic.partitions.length), [3, 3, 1]);
  assert.deepEqual(view.topics.map((topic) => topic.partitionCount), [3, 3, 3]);
  assert.deepEqual(view.groups.map((group) => group.partitions.length), [2, 2, 1]);
  assert.deepEqual(view.groups.map((group) => group.totalLag), [3, 3, 3], 'totals count every partition even when not all are listed');
  assert.equal(topicsView(log, 1, 1).truncated, false);
});
