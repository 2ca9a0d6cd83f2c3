// Retention on both backends: by time and by size through the leader's plan, bounded trim steps,
// and trim's own errors.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { readRecordBatches } from '../../protocol/kafka/record-batch.ts';
import { retentionPlan } from './retention.ts';
import { LOG_TABLES } from './tables.ts';
import { batch, openHarness } from './test-harness.ts';
import type { Backend, Harness, HarnessOptions } from './test-harness.ts';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.close();
});

function open(backend: Backend, options: HarnessOptions = {}): Harness {
  const harness = openHarness(backend, options);
  harnesses.push(harness);
  return harness;
}

for (const backend of ['memory', 'lmdb'] as const) {
  describe(`retention (${backend})`, () => {
    test('by time: batches older than retention.ms go, the rest stays; batches without timestamps age from their append', () => {
      const h = open(backend);
      h.create('t', 1, { 'retention.ms': '1000' });
      h.create('forever', 1, { 'retention.ms': '-1' });
      h.append('t', 0, batch(2, { baseTimestamp: 1_000n }));
      h.append('t', 0, batch(3, { baseTimestamp: 2_000n }));
      h.append('t', 0, batch(1, { baseTimestamp: -1n }), 2_500); // no timestamp: appended at 2_500
      h.append('t', 0, batch(1, { baseTimestamp: 9_000n }));
      h.append('forever', 0, batch(1, { baseTimestamp: 0n }));
      assert.deepEqual(retentionPlan(h.node.log, 1_500), []);
      const plan = retentionPlan(h.node.log, 3_200); // cut-off 2_200: the first two batches
      assert.deepEqual(plan.map((command) => command.partitions.map((item) => [item.topic, item.logStartOffset])), [[['t', 5]]]);
      const trimmed = h.run(plan[0]!, 'trim');
      assert.deepEqual(trimmed.partitions.map((item) => [item.errorCode, item.logStartOffset, item.deletedBatches]), [[0, 5, 2]]);
      const info = h.node.log.partitionInfo('t', 0)!;
      assert.deepEqual([info.logStartOffset, info.highWatermark, info.batchCount], [5, 7, 2]);
      assert.equal(h.node.log.read('t', 0, 4, 1000).errorCode, KAFKA_ERROR.OFFSET_OUT_OF_RANGE);
      assert.deepEqual(readRecordBatches(h.node.log.read('t', 0, 5, 1 << 20).records).map((view) => view.header.baseOffset), [5n, 6n]);
      const next = retentionPlan(h.node.log, 3_600); // the batch without timestamp, appended at 2_500
      assert.deepEqual(next[0]!.partitions.map((item) => item.logStartOffset), [6]);
    });

    test('by size: the oldest batches go while the partition keeps at least retention.bytes', () => {
      const h = open(backend);
      const sizes = [batch(1, { valueBytes: 100 }), batch(1, { valueBytes: 200 }), batch(1, { valueBytes: 300 })].map((records) => records.length);
      const total = sizes.reduce((sum, size) => sum + size, 0);
      h.create('t', 1, { 'retention.bytes': String(total - sizes[0]! - 1), 'retention.ms': '-1' });
      for (const valueBytes of [100, 200, 300]) h.append('t', 0, batch(1, { valueBytes }));
      const [plan] = retentionPlan(h.node.log, 0);
      assert.deepEqual(plan!.partitions.map((item) => item.logStartOffset), [1], 'dropping a second batch would leave less than retention.bytes');
      h.run(plan!, 'trim');
      assert.equal(h.node.log.partitionInfo('t', 0)!.sizeBytes, total - sizes[0]!);
      assert.deepEqual(retentionPlan(h.node.log, 0), []);
    });

    test('trim is bounded per command; the next plan continues', () => {
      const h = open(backend, { limits: { trimStepBatches: 2 } });
      const topicId = h.create('t', 1, { 'retention.ms': '10' });
      for (let index = 0; index < 5; index++) h.append('t', 0, batch(2, { baseTimestamp: BigInt(index) }));
      const first = h.run({ type: 'trim', partitions: [{ topic: 't', topicId, partition: 0, logStartOffset: 10 }] }, 'trim');
      assert.deepEqual(first.partitions.map((item) => [item.logStartOffset, item.deletedBatches]), [[4, 2]]);
      const rounds: number[] = [];
      for (let round = 0; round < 5; round++) {
        const plan = retentionPlan(h.node.log, 1_000);
        if (plan.length === 0) break;
        rounds.push(h.run(plan[0]!, 'trim').partitions[0]!.logStartOffset);
      }
      assert.deepEqual(rounds, [8, 10]);
      assert.deepEqual([h.tableSize(LOG_TABLES.batches), h.tableSize(LOG_TABLES.batchInfo), h.node.log.partitionInfo('t', 0)!.sizeBytes], [0, 0, 0]);
      assert.equal(h.node.log.partitionInfo('t', 0)!.highWatermark, 10);
      assert.equal(h.append('t', 0, batch(1)).baseOffset, 10, 'an emptied log continues at its end offset');
    });

    test('trim: mid-batch start keeps the containing batch, never moves back, refuses past the end or for another topic id', () => {
      const h = open(backend);
      const topicId = h.create('t');
      h.append('t', 0, batch(3));
      h.append('t', 0, batch(3));
      const trim = (logStartOffset: number, id = topicId, partition = 0) =>
        h.run({ type: 'trim', partitions: [{ topic: 't', topicId: id, partition, logStartOffset }] }, 'trim').partitions[0]!;
      assert.deepEqual(trim(2), { topic: 't', partition: 0, errorCode: 0, logStartOffset: 2, deletedBatches: 0 }, 'the last offset of a batch keeps it');
      assert.deepEqual(readRecordBatches(h.node.log.read('t', 0, 2, 1 << 20).records).map((view) => view.header.baseOffset), [0n, 3n]);
      assert.deepEqual(trim(4), { topic: 't', partition: 0, errorCode: 0, logStartOffset: 4, deletedBatches: 1 });
      assert.deepEqual(readRecordBatches(h.node.log.read('t', 0, 4, 1 << 20).records).map((view) => view.header.baseOffset), [3n], 'the batch containing the start');
      assert.equal(h.node.log.read('t', 0, 3, 1000).errorCode, KAFKA_ERROR.OFFSET_OUT_OF_RANGE);
      assert.deepEqual(trim(2), { topic: 't', partition: 0, errorCode: 0, logStartOffset: 4, deletedBatches: 0 });
      assert.equal(trim(7).errorCode, KAFKA_ERROR.OFFSET_OUT_OF_RANGE);
      assert.equal(trim(5, '00000000-0000-8000-8000-000000000000').errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
      assert.equal(trim(5, topicId, 1).errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
      assert.deepEqual(trim(6), { topic: 't', partition: 0, errorCode: 0, logStartOffset: 6, deletedBatches: 1 });
      assert.equal(h.node.log.listOffset('t', 0, -2).offset, 6);
    });
  });
}
