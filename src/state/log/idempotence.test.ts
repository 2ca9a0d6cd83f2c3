// The idempotent producer on both backends: ids, duplicates within the last 5 batches, sequence
// gaps, stale and new epochs, sequence wrap-around, bounded and expiring state.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { producerExpiryPlan } from './retention.ts';
import { LOG_TABLES } from './tables.ts';
import { openHarness, producerBatch } from './test-harness.ts';
import type { Backend, Harness, HarnessOptions } from './test-harness.ts';

const INT32_MAX = 0x7fffffff;
const harnesses: Harness[] = [];
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.close();
});

function open(backend: Backend, options: HarnessOptions = {}): Harness {
  const harness = openHarness(backend, options);
  harnesses.push(harness);
  harness.create('t', 2);
  return harness;
}

function producerId(h: Harness): number {
  const result = h.run({ type: 'init-producer-id' }, 'init-producer-id');
  assert.equal(result.producerEpoch, 0);
  return result.producerId;
}

for (const backend of ['memory', 'lmdb'] as const) {
  describe(`idempotent producer (${backend})`, () => {
    test('init-producer-id hands out increasing ids', () => {
      const h = open(backend);
      assert.deepEqual([producerId(h), producerId(h), producerId(h)], [1, 2, 3]);
      assert.equal(h.node.log.nextProducerId(), 4);
    });

    test('duplicates of the last 5 batches return the original offsets and append nothing', () => {
      const h = open(backend);
      const id = producerId(h);
      const sent: { records: Uint8Array; baseOffset: number }[] = [];
      let sequence = 0;
      for (let index = 0; index < 7; index++) {
        const count = 1 + (index % 3);
        const records = producerBatch(count, id, 0, sequence);
        const outcome = h.append('t', 0, records);
        assert.deepEqual([outcome.errorCode, outcome.duplicate], [0, false]);
        sent.push({ records, baseOffset: outcome.baseOffset });
        sequence += count;
      }
      const end = h.node.log.partitionInfo('t', 0)!.highWatermark;
      for (const { records, baseOffset } of sent.slice(2)) {
        const retry = h.append('t', 0, records);
        assert.deepEqual([retry.errorCode, retry.baseOffset, retry.duplicate], [0, baseOffset, true]);
      }
      assert.equal(h.node.log.partitionInfo('t', 0)!.highWatermark, end, 'nothing appended');
      const tooOld = h.append('t', 0, sent[1]!.records);
      assert.equal(tooOld.errorCode, KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER, 'outside the window: a sequence from the past');
      assert.equal(h.append('t', 1, sent[0]!.records).errorCode, 0, 'another partition has its own state (any first sequence)');
      assert.equal(h.append('t', 0, producerBatch(1, id, 0, sequence)).baseOffset, end, 'the next sequence appends');
    });

    test('out-of-order sequences, stale and new epochs', () => {
      const h = open(backend);
      const id = producerId(h);
      assert.equal(h.append('t', 0, producerBatch(2, id, 3, 0)).errorCode, 0);
      assert.equal(h.append('t', 0, producerBatch(1, id, 3, 3)).errorCode, KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a gap');
      assert.equal(h.append('t', 0, producerBatch(1, id, 3, 1)).errorCode, KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER, 'overlaps, not a duplicate');
      assert.equal(h.append('t', 0, producerBatch(1, id, 2, 2)).errorCode, KAFKA_ERROR.INVALID_PRODUCER_EPOCH, 'an older epoch');
      assert.equal(h.append('t', 0, producerBatch(1, id, 2, 0)).errorCode, KAFKA_ERROR.INVALID_PRODUCER_EPOCH, 'an older epoch, even as a "duplicate"');
      assert.equal(h.append('t', 0, producerBatch(1, id, 4, 2)).errorCode, KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a new epoch must start at 0');
      const bumped = h.append('t', 0, producerBatch(1, id, 4, 0));
      assert.deepEqual([bumped.errorCode, bumped.baseOffset], [0, 2]);
      assert.equal(h.append('t', 0, producerBatch(2, id, 3, 0)).errorCode, KAFKA_ERROR.INVALID_PRODUCER_EPOCH, 'the old epoch is fenced');
      assert.deepEqual(h.node.log.producer('t', 0, id), { epoch: 4, lastActivityMs: 1000, batches: [{ baseSequence: 0, recordCount: 1, baseOffset: 2 }] });
      assert.equal(h.node.log.partitionInfo('t', 0)!.highWatermark, 3);
    });

    test('a producer without state is accepted at any sequence (Kafka 2.5+)', () => {
      const h = open(backend);
      const outcome = h.append('t', 0, producerBatch(2, 99, 0, 1234));
      assert.deepEqual([outcome.errorCode, outcome.baseOffset], [0, 0]);
      assert.equal(h.append('t', 0, producerBatch(1, 99, 0, 1236)).errorCode, 0);
    });

    test('sequences wrap from Int32 max to 0', () => {
      const h = open(backend);
      assert.equal(h.append('t', 0, producerBatch(2, 5, 0, INT32_MAX - 1)).errorCode, 0);
      const wrapped = producerBatch(3, 5, 0, 0);
      assert.equal(h.append('t', 0, wrapped).errorCode, 0);
      assert.equal(h.append('t', 0, wrapped).duplicate, true);
      const across = producerBatch(4, 6, 0, INT32_MAX - 1); // sequences MAX-1, MAX, 0, 1
      assert.equal(h.append('t', 1, across).errorCode, 0);
      assert.equal(h.append('t', 1, across).duplicate, true);
      assert.equal(h.append('t', 1, producerBatch(1, 6, 0, 2)).errorCode, 0);
    });

    test('producer state is bounded per partition: the longest idle producer is forgotten', () => {
      const h = open(backend, { limits: { maxProducersPerPartition: 2 } });
      const at = (id: number, sequence: number, timestampMs: number) => h.append('t', 0, producerBatch(1, id, 0, sequence), timestampMs);
      at(1, 0, 10);
      at(2, 0, 20);
      at(1, 1, 30);
      at(3, 0, 40);
      assert.equal(h.node.log.producer('t', 0, 2), undefined, 'producer 2 was idle the longest');
      assert.ok(h.node.log.producer('t', 0, 1) !== undefined && h.node.log.producer('t', 0, 3) !== undefined);
      assert.equal(h.node.log.partitionInfo('t', 0)!.producerCount, 2);
      assert.equal(h.tableSize(LOG_TABLES.producerIdle), 2);
    });

    test('expiry: the leader plans with its clock, apply re-checks, a re-created topic is left alone', () => {
      const h = open(backend);
      const at = (partition: number, id: number, sequence: number, timestampMs: number) => h.append('t', partition, producerBatch(1, id, 0, sequence), timestampMs);
      at(0, 1, 0, 1_000);
      at(0, 2, 0, 5_000);
      at(1, 3, 0, 2_000);
      assert.deepEqual(producerExpiryPlan(h.node.log, 1_500, 1_000), []);
      const plan = producerExpiryPlan(h.node.log, 6_500, 3_000); // idle before 3_500: producers 1 and 3
      assert.equal(plan.length, 1);
      assert.deepEqual(plan[0]!.partitions.map((item) => item.partition), [0, 1]);
      at(1, 3, 1, 6_000); // active again after the plan
      assert.deepEqual(h.run(plan[0]!, 'expire-producers'), { type: 'expire-producers', expired: 1 });
      assert.equal(h.node.log.producer('t', 0, 1), undefined);
      assert.ok(h.node.log.producer('t', 0, 2) !== undefined);
      assert.ok(h.node.log.producer('t', 1, 3) !== undefined);
      assert.equal(h.node.log.oldestProducerActivityMs('t', 0), 5_000);
      const later = producerExpiryPlan(h.node.log, 100_000, 1_000);
      h.run({ type: 'delete-topics', topics: ['t'] }, 'delete-topics');
      h.create('t', 2);
      at(0, 9, 0, 10);
      assert.deepEqual(h.run(later[0]!, 'expire-producers'), { type: 'expire-producers', expired: 0 });
      assert.ok(h.node.log.producer('t', 0, 9) !== undefined);
    });
  });
}
