// Unit tests of every log command and error, and of the read API, on both backends.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { readRecordBatches, decodeRecords } from '../../protocol/kafka/record-batch.ts';
import { crc32c } from '../../util/crc32c.ts';
import { checkProduceRecords } from './batch-check.ts';
import { LOG_MODULE_TAG, encodeLogCommand } from './commands.ts';
import { LOG_TABLES, topicIdString } from './tables.ts';
import { deriveTopicId } from './topic-rules.ts';
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

/** The bytes of a batch with the base offset zeroed (what the producer sent, for comparison). */
function withoutBaseOffset(bytes: Uint8Array): Buffer {
  const copy = Buffer.from(bytes);
  copy.fill(0, 0, 8);
  return copy;
}

for (const backend of ['memory', 'lmdb'] as const) {
  describe(`log topics (${backend})`, () => {
    test('create, describe, list: deterministic ids, effective configs', () => {
      const h = open(backend);
      const index = h.feed.nextIndex();
      const result = h.run({
        type: 'create-topics',
        topics: [
          { name: 'orders', partitions: 3, replicationFactor: 3, configs: { 'retention.ms': '60000', 'segment.bytes': '1000' } },
          { name: 'audit', partitions: 1, replicationFactor: 1 },
        ],
      }, 'create-topics');
      assert.deepEqual(result.topics.map((topic) => [topic.name, topic.errorCode, topic.topicId]), [
        ['orders', 0, topicIdString(deriveTopicId(index, 0))],
        ['audit', 0, topicIdString(deriveTopicId(index, 1))],
      ]);
      assert.match(result.topics[0]!.topicId!, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(h.node.log.listTopics().map((topic) => topic.name), ['audit', 'orders']);
      const orders = h.node.log.describeTopic('orders')!;
      assert.equal(orders.partitions, 3);
      assert.equal(orders.replicationFactor, 3);
      assert.deepEqual(orders.configs, { 'retention.ms': '60000', 'segment.bytes': '1000' });
      assert.deepEqual(orders.config, { retentionMs: 60000, retentionBytes: -1, maxMessageBytes: 1_048_588 });
      assert.deepEqual(h.node.log.partitionInfo('orders', 2), { topic: 'orders', partition: 2, logStartOffset: 0, highWatermark: 0, sizeBytes: 0, batchCount: 0, producerCount: 0 });
      assert.equal(h.node.log.partitionInfo('orders', 3), undefined);
    });

    test('create errors carry Kafka codes', () => {
      const h = open(backend, { limits: { maxTopics: 3, maxPartitions: 10, maxPartitionsPerTopic: 8, maxBatchBytes: 1000 } });
      h.create('a.b');
      const codes = (name: string, partitions = 1, configs?: Record<string, string>, replicationFactor = 1): number =>
        h.run({ type: 'create-topics', topics: [{ name, partitions, replicationFactor, ...(configs === undefined ? {} : { configs }) }] }, 'create-topics').topics[0]!.errorCode;
      for (const name of ['', '.', '..', 'x'.repeat(250), 'a b', 'ünï', 'a/b']) assert.equal(codes(name), KAFKA_ERROR.INVALID_TOPIC_EXCEPTION, name);
      assert.equal(codes('x'.repeat(249)), 0);
      assert.equal(codes('a.b'), KAFKA_ERROR.TOPIC_ALREADY_EXISTS);
      assert.equal(codes('a_b'), KAFKA_ERROR.INVALID_TOPIC_EXCEPTION, 'collides with a.b');
      assert.equal(codes('p', 0), KAFKA_ERROR.INVALID_PARTITIONS);
      assert.equal(codes('p', 9), KAFKA_ERROR.INVALID_PARTITIONS);
      assert.equal(codes('p', 1, undefined, 0), KAFKA_ERROR.INVALID_REPLICATION_FACTOR);
      assert.equal(codes('p', 1, { 'cleanup.policy': 'compact' }), KAFKA_ERROR.INVALID_CONFIG);
      assert.equal(codes('p', 1, { 'retention.ms': 'soon' }), KAFKA_ERROR.INVALID_CONFIG);
      assert.equal(codes('p', 1, { 'retention.bytes': '-2' }), KAFKA_ERROR.INVALID_CONFIG);
      assert.equal(codes('p', 1, { 'max.message.bytes': '1001' }), KAFKA_ERROR.INVALID_CONFIG);
      assert.equal(codes('p', 1, { 'no.such.config': '1' }), KAFKA_ERROR.INVALID_CONFIG);
    });

    test('topic and partition count limits', () => {
      const h = open(backend, { limits: { maxTopics: 2, maxPartitions: 5 } });
      h.create('one', 4);
      const code = (name: string, partitions: number): number =>
        h.run({ type: 'create-topics', topics: [{ name, partitions, replicationFactor: 1 }] }, 'create-topics').topics[0]!.errorCode;
      assert.equal(code('two', 2), KAFKA_ERROR.POLICY_VIOLATION);
      assert.equal(code('two', 1), 0);
      assert.equal(code('three', 1), KAFKA_ERROR.POLICY_VIOLATION, 'topic limit');
      h.run({ type: 'delete-topics', topics: ['one'] }, 'delete-topics');
      assert.equal(code('three', 4), 0, 'deleting frees both counts');
    });

    test('delete: invisible at once, data freed in bounded steps, name reusable with a new id', () => {
      const h = open(backend, { limits: { deletionStepKeys: 3 } });
      const firstId = h.create('gone', 2);
      h.create('kept');
      for (let index = 0; index < 4; index++) h.append('gone', index % 2, batch(2, { producerId: 7n, producerEpoch: 0, baseSequence: index - (index % 2) }));
      h.append('kept', 0, batch(1));
      h.run({ type: 'commit-offsets', group: 'g', timestampMs: 5, offsets: [{ topic: 'gone', partition: 0, offset: 3 }, { topic: 'kept', partition: 0, offset: 1 }] }, 'commit-offsets');
      h.run({ type: 'commit-offsets', group: 'only-gone', timestampMs: 5, offsets: [{ topic: 'gone', partition: 1, offset: 1 }] }, 'commit-offsets');
      assert.equal(h.node.log.groupCount(), 2);
      const result = h.run({ type: 'delete-topics', topics: ['gone', 'never'] }, 'delete-topics');
      assert.deepEqual(result.topics.map((topic) => [topic.name, topic.errorCode, topic.topicId]), [['gone', 0, firstId], ['never', KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, undefined]]);
      assert.equal(h.node.log.describeTopic('gone'), undefined);
      assert.equal(h.node.log.read('gone', 0, 0, 1000).errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
      assert.deepEqual(h.node.log.fetchOffsets('g').map((offset) => offset.topic), ['kept']);
      assert.deepEqual(h.node.log.listGroups(), ['g']);
      assert.ok(h.node.log.deletionPending());
      assert.ok(h.tableSize(LOG_TABLES.batches) > 1, 'data is removed in steps, not at once');
      const newId = h.create('gone', 1);
      assert.notEqual(newId, firstId);
      assert.equal(h.node.log.partitionInfo('gone', 0)!.highWatermark, 0);
      for (let step = 0; step < 20 && h.node.log.deletionPending(); step++) h.node.state.apply([h.feed.noop()]);
      assert.ok(!h.node.log.deletionPending());
      assert.equal(h.tableSize(LOG_TABLES.batches), 1, 'only the kept topic batch remains');
      assert.equal(h.tableSize(LOG_TABLES.batchInfo), 1);
      assert.equal(h.tableSize(LOG_TABLES.producers), 0);
      assert.equal(h.tableSize(LOG_TABLES.producerIdle), 0);
      assert.equal(h.tableSize(LOG_TABLES.timeIndex), 1, 'the kept batch (timestamp 0) is indexed');
      assert.equal(h.tableSize(LOG_TABLES.offsets), 1);
      assert.equal(h.tableSize(LOG_TABLES.partitionGroups), 1);
      assert.equal(h.tableSize(LOG_TABLES.partitions), 1);
      assert.equal(h.tableSize(LOG_TABLES.deletions), 0);
      assert.equal(h.node.log.groupCount(), 1, 'the group that only had offsets on the deleted topic is gone');
    });
  });

  describe(`log append (${backend})`, () => {
    test('offsets assigned at apply by rewriting baseOffset only; CRC stays valid; the entry is not mutated', () => {
      const h = open(backend);
      h.create('t', 2);
      const sent = [batch(3), batch(1), batch(5, { compression: 'gzip' }), batch(2, { compression: 'zstd' })];
      const outcomes = sent.map((records) => h.append('t', 1, records));
      assert.deepEqual(outcomes.map((outcome) => [outcome.errorCode, outcome.baseOffset, outcome.logStartOffset, outcome.duplicate]), [
        [0, 0, 0, false], [0, 3, 0, false], [0, 4, 0, false], [0, 9, 0, false],
      ]);
      assert.equal(h.append('t', 0, batch(1)).baseOffset, 0, 'partitions count separately');
      assert.equal(h.node.log.partitionInfo('t', 1)!.highWatermark, 11);
      const read = h.node.log.read('t', 1, 0, 1 << 20);
      assert.equal(read.errorCode, 0);
      const views = readRecordBatches(read.records); // checks every CRC
      assert.deepEqual(views.map((view) => view.header.baseOffset), [0n, 3n, 4n, 9n]);
      views.forEach((view, index) => {
        assert.ok(withoutBaseOffset(view.bytes).equals(withoutBaseOffset(sent[index]!)), `batch ${index} is byte-identical apart from baseOffset`);
      });
      assert.deepEqual(decodeRecords(views[2]!).map((record) => Buffer.from(record.value!).toString()), ['value-0', 'value-1', 'value-2', 'value-3', 'value-4']);
      for (const records of sent) assert.equal(new DataView(records.buffer, records.byteOffset).getBigInt64(0), 0n, 'the proposed bytes keep baseOffset 0');
    });

    test('batches the broker cannot decompress (snappy, lz4) are stored and served untouched', () => {
      const h = open(backend);
      h.create('t');
      const records = withCompression(batch(4), 2);
      h.append('t', 0, batch(1));
      assert.equal(h.append('t', 0, records).baseOffset, 1);
      const lz4 = withCompression(batch(2), 3);
      assert.equal(h.append('t', 0, lz4).baseOffset, 5);
      const read = h.node.log.read('t', 0, 1, 1 << 20);
      const [snappyView, lz4View] = readRecordBatches(read.records);
      assert.equal(snappyView!.header.compression, 'snappy');
      assert.ok(withoutBaseOffset(snappyView!.bytes).equals(withoutBaseOffset(records)));
      assert.ok(withoutBaseOffset(lz4View!.bytes).equals(withoutBaseOffset(lz4)));
    });

    test('append errors per partition; other partitions of the command still append', () => {
      const h = open(backend);
      h.create('t', 1, { 'max.message.bytes': '200' });
      const good = batch(1);
      const truncated = good.subarray(0, good.length - 1);
      const badMagic = patched(good, (view) => view.setInt8(16, 1));
      const badCount = patched(good, (view) => view.setInt32(57, 2));
      const control = withAttributes(good, 0x20);
      const transactional = withAttributes(good, 0x10);
      const twoBatches = Buffer.concat([good, good]);
      const noSequence = batch(1, { producerId: 3n, producerEpoch: 0, baseSequence: -1 });
      const result = h.run({
        type: 'append',
        timestampMs: 1,
        partitions: [
          { topic: 'nope', partition: 0, records: good },
          { topic: 't', partition: 1, records: good },
          { topic: 't', partition: 0, records: batch(3, { valueBytes: 100 }) },
          { topic: 't', partition: 0, records: truncated },
          { topic: 't', partition: 0, records: badMagic },
          { topic: 't', partition: 0, records: badCount },
          { topic: 't', partition: 0, records: control },
          { topic: 't', partition: 0, records: transactional },
          { topic: 't', partition: 0, records: twoBatches },
          { topic: 't', partition: 0, records: noSequence },
          { topic: 't', partition: 0, records: new Uint8Array(10) },
          { topic: 't', partition: 0, records: good },
          { topic: 't', partition: 0, records: good },
        ],
      }, 'append');
      assert.deepEqual(result.partitions.map((outcome) => [outcome.errorCode, outcome.baseOffset]), [
        [KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, -1],
        [KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, -1],
        [KAFKA_ERROR.MESSAGE_TOO_LARGE, -1],
        [KAFKA_ERROR.CORRUPT_MESSAGE, -1],
        [KAFKA_ERROR.CORRUPT_MESSAGE, -1],
        [KAFKA_ERROR.CORRUPT_MESSAGE, -1],
        [KAFKA_ERROR.INVALID_RECORD, -1],
        [KAFKA_ERROR.INVALID_RECORD, -1],
        [KAFKA_ERROR.INVALID_RECORD, -1],
        [KAFKA_ERROR.INVALID_RECORD, -1],
        [KAFKA_ERROR.CORRUPT_MESSAGE, -1],
        [0, 0],
        [0, 1],
      ]);
      assert.ok(result.partitions.slice(0, 11).every((outcome) => (outcome.errorMessage ?? '').length > 0));
      assert.equal(h.node.log.partitionInfo('t', 0)!.highWatermark, 2);
    });

    test('checkProduceRecords: the full pre-proposal validation, CRC included', () => {
      const good = batch(2);
      assert.equal(checkProduceRecords(good, 1_000_000, 1_000_000), undefined);
      const badCrc = patched(good, (view) => view.setUint32(17, view.getUint32(17) ^ 1));
      assert.equal(checkProduceRecords(badCrc, 1_000_000, 1_000_000)?.errorCode, KAFKA_ERROR.CORRUPT_MESSAGE);
      assert.equal(checkProduceRecords(Buffer.concat([good, good]), 1_000_000, 1_000_000)?.errorCode, KAFKA_ERROR.INVALID_RECORD);
      assert.equal(checkProduceRecords(good, good.length - 1, 1_000_000)?.errorCode, KAFKA_ERROR.MESSAGE_TOO_LARGE);
      assert.equal(checkProduceRecords(good, 1_000_000, good.length - 1)?.errorCode, KAFKA_ERROR.MESSAGE_TOO_LARGE);
      assert.equal(checkProduceRecords(withAttributes(good, 0x20), 1_000_000, 1_000_000)?.errorCode, KAFKA_ERROR.INVALID_RECORD);
      assert.equal(checkProduceRecords(new Uint8Array(0), 1_000_000, 1_000_000)?.errorCode, KAFKA_ERROR.CORRUPT_MESSAGE);
    });

    test('malformed and oversized commands are error results on every replica alike', () => {
      const h = open(backend, { limits: { maxCommandItems: 2 } });
      h.create('t');
      const raw = (data: Uint8Array) => h.node.state.apply([h.feed.raw(data)])[0];
      assert.equal((raw(Uint8Array.of(LOG_MODULE_TAG, 0xc1)) as { error: { code: string } }).error.code, 'malformed-command');
      assert.equal((raw(encodeLogCommand({ type: 'append', timestampMs: -1, partitions: [] })) as { error: { code: string } }).error.code, 'malformed-command');
      assert.equal((raw(encodeLogCommand({ type: 'bogus' } as never)) as { error: { code: string } }).error.code, 'malformed-command');
      assert.equal((raw(encodeLogCommand({ type: 'append', timestampMs: 1, partitions: [{ topic: 't', partition: -1, records: batch(1) }] })) as { error: { code: string } }).error.code, 'malformed-command');
      const tooMany = { type: 'delete-topics' as const, topics: ['a', 'b', 'c'] };
      assert.equal((raw(encodeLogCommand(tooMany)) as { error: { code: string } }).error.code, 'command-too-large');
      assert.equal(h.node.log.partitionInfo('t', 0)!.highWatermark, 0);
    });
  });

  describe(`log fetch and list offsets (${backend})`, () => {
    test('read: the containing batch, whole batches up to maxBytes, at least one, never past the high watermark', () => {
      const h = open(backend);
      h.create('t');
      const sizes = [batch(3), batch(2), batch(4), batch(1)].map((records) => {
        h.append('t', 0, records);
        return records.length;
      });
      const log = h.node.log;
      const offsetsOf = (records: Uint8Array) => readRecordBatches(records).map((view) => Number(view.header.baseOffset));
      assert.deepEqual(offsetsOf(log.read('t', 0, 4, 1 << 20).records), [3, 5, 9], 'from the batch containing offset 4');
      assert.deepEqual(offsetsOf(log.read('t', 0, 0, sizes[0]! + sizes[1]!).records), [0, 3]);
      assert.deepEqual(offsetsOf(log.read('t', 0, 0, sizes[0]! + sizes[1]! - 1).records), [0]);
      assert.deepEqual(offsetsOf(log.read('t', 0, 5, 1).records), [5], 'one batch even when larger than maxBytes');
      assert.equal(log.read('t', 0, 5, 1, { minOneBatch: false }).records.length, 0);
      const atEnd = log.read('t', 0, 10, 1000);
      assert.deepEqual([atEnd.errorCode, atEnd.records.length, atEnd.highWatermark, atEnd.logStartOffset], [0, 0, 10, 0]);
      assert.equal(log.read('t', 0, 11, 1000).errorCode, KAFKA_ERROR.OFFSET_OUT_OF_RANGE);
      assert.equal(log.read('t', 0, -1, 1000).errorCode, KAFKA_ERROR.OFFSET_OUT_OF_RANGE);
      assert.equal(log.read('t', 1, 0, 1000).errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
      const served = log.read('t', 0, 0, 1 << 20).records;
      served.fill(0);
      assert.deepEqual(offsetsOf(log.read('t', 0, 0, 1 << 20).records), [0, 3, 5, 9], 'readers get copies');
    });

    test('list offsets: earliest, latest, by timestamp to the record', () => {
      const h = open(backend);
      h.create('t');
      h.append('t', 0, batch(3, { baseTimestamp: 100n, timestampStep: 10n })); // 0..2 at 100, 110, 120
      h.append('t', 0, batch(2, { baseTimestamp: 90n, timestampStep: 1n })); // 3..4 at 90, 91 (older than the running max)
      h.append('t', 0, batch(3, { baseTimestamp: 200n, timestampStep: 50n, compression: 'gzip' })); // 5..7 at 200, 250, 300
      const log = h.node.log;
      const at = (timestamp: number) => {
        const result = log.listOffset('t', 0, timestamp);
        return [result.offset, result.timestamp];
      };
      assert.deepEqual(at(-1), [8, -1]);
      assert.deepEqual(at(-2), [0, -1]);
      assert.deepEqual(at(0), [0, 100]);
      assert.deepEqual(at(105), [1, 110]);
      assert.deepEqual(at(121), [5, 200]);
      assert.deepEqual(at(240), [6, 250]);
      assert.deepEqual(at(300), [7, 300]);
      assert.deepEqual(at(301), [-1, -1]);
      assert.equal(log.listOffset('t', 0, -3).errorCode, KAFKA_ERROR.INVALID_REQUEST);
      assert.equal(log.listOffset('t', 9, 0).errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
    });

    test('list offsets after retention deleted the batch holding the running maximum', () => {
      const h = open(backend);
      const topicId = h.create('t');
      h.append('t', 0, batch(1, { baseTimestamp: 100n })); // 0: max 100 (indexed)
      h.append('t', 0, batch(1, { baseTimestamp: 98n })); // 1: 98, never indexed
      h.append('t', 0, batch(1, { baseTimestamp: 110n })); // 2: 110 (indexed)
      h.run({ type: 'trim', partitions: [{ topic: 't', topicId, partition: 0, logStartOffset: 1 }] }, 'trim');
      assert.deepEqual(h.node.log.listOffset('t', 0, 95), { errorCode: 0, offset: 1, timestamp: 98 });
      assert.deepEqual(h.node.log.listOffset('t', 0, 99), { errorCode: 0, offset: 2, timestamp: 110 });
      h.run({ type: 'trim', partitions: [{ topic: 't', topicId, partition: 0, logStartOffset: 2 }] }, 'trim');
      assert.deepEqual(h.node.log.listOffset('t', 0, 50), { errorCode: 0, offset: 2, timestamp: 110 });
      assert.ok(h.tableSize(LOG_TABLES.timeIndex) <= 2, 'index entries of deleted batches are dropped');
    });
    test('list offsets when the log starts inside a batch: records below the start never answer', () => {
      const h = open(backend);
      const topicId = h.create('t');
      h.append('t', 0, batch(3, { baseTimestamp: 100n, timestampStep: -45n })); // 0..2 at 100, 55, 10
      h.append('t', 0, batch(2, { baseTimestamp: 50n, timestampStep: 10n })); // 3..4 at 50, 60
      h.run({ type: 'trim', partitions: [{ topic: 't', topicId, partition: 0, logStartOffset: 1 }] }, 'trim');
      assert.deepEqual(h.node.log.listOffset('t', 0, 56), { errorCode: 0, offset: 4, timestamp: 60 }, 'offset 0 (at 100) is below the start');
      assert.deepEqual(h.node.log.listOffset('t', 0, 55), { errorCode: 0, offset: 1, timestamp: 55 });
      assert.deepEqual(h.node.log.listOffset('t', 0, 61), { errorCode: 0, offset: -1, timestamp: -1 });
    });
  });

  describe(`log consumer group offsets (${backend})`, () => {
    test('commit, fetch, list, delete; Kafka semantics: any offset, backwards too', () => {
      const h = open(backend, { limits: { maxOffsetMetadataBytes: 8 } });
      h.create('t', 2);
      const commit = (group: string, offsets: { topic: string; partition: number; offset: number; metadata?: string; leaderEpoch?: number }[]) =>
        h.run({ type: 'commit-offsets', group, timestampMs: 1234, offsets }, 'commit-offsets').partitions.map((outcome) => outcome.errorCode);
      assert.deepEqual(commit('g', [
        { topic: 't', partition: 0, offset: 10, metadata: 'm', leaderEpoch: 4 },
        { topic: 't', partition: 1, offset: 5, metadata: 'x'.repeat(9) },
        { topic: 't', partition: 2, offset: 5 },
        { topic: 'u', partition: 0, offset: 5 },
      ]), [0, KAFKA_ERROR.OFFSET_METADATA_TOO_LARGE, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION]);
      assert.deepEqual(commit('', [{ topic: 't', partition: 0, offset: 1 }]), [KAFKA_ERROR.INVALID_GROUP_ID]);
      assert.deepEqual(commit('g', [{ topic: 't', partition: 0, offset: 3 }]), [0], 'backwards is allowed');
      assert.deepEqual(commit('h', [{ topic: 't', partition: 1, offset: 99 }]), [0], 'beyond the end is allowed');
      const log = h.node.log;
      assert.deepEqual(log.fetchOffsets('g', [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }, { topic: 'u', partition: 0 }]), [
        { topic: 't', partition: 0, offset: 3, leaderEpoch: -1, metadata: '', commitTimestampMs: 1234, errorCode: 0 },
        { topic: 't', partition: 1, offset: -1, leaderEpoch: -1, metadata: '', commitTimestampMs: -1, errorCode: 0 },
        { topic: 'u', partition: 0, offset: -1, leaderEpoch: -1, metadata: '', commitTimestampMs: -1, errorCode: 0 },
      ]);
      commit('g', [{ topic: 't', partition: 1, offset: 7, metadata: 'meta', leaderEpoch: 2 }]);
      assert.deepEqual(log.fetchOffsets('g').map((offset) => [offset.partition, offset.offset, offset.metadata, offset.leaderEpoch]), [[0, 3, '', -1], [1, 7, 'meta', 2]]);
      assert.deepEqual(log.fetchOffsets('').map((offset) => offset.errorCode), []);
      assert.deepEqual(log.listGroups(), ['g', 'h']);
      assert.equal(log.groupCount(), 2);
      const deleted = h.run({ type: 'delete-groups', groups: ['g', 'nope'] }, 'delete-groups');
      assert.deepEqual(deleted, { type: 'delete-groups', groups: [{ group: 'g', errorCode: 0, deletedOffsets: 2 }, { group: 'nope', errorCode: KAFKA_ERROR.GROUP_ID_NOT_FOUND, deletedOffsets: 0 }], more: false });
      assert.deepEqual(log.listGroups(), ['h']);
      assert.equal(log.groupCount(), 1);
      assert.equal(h.tableSize(LOG_TABLES.partitionGroups), 1);
    });

    test('group limits: the group count and a bounded delete-groups step', () => {
      const h = open(backend, { limits: { maxGroups: 2, deleteGroupsStepOffsets: 2 } });
      h.create('t', 3);
      const commit = (group: string, partitions: number[]) =>
        h.run({ type: 'commit-offsets', group, timestampMs: 1, offsets: partitions.map((partition) => ({ topic: 't', partition, offset: 1 })) }, 'commit-offsets').partitions[0]!.errorCode;
      assert.equal(commit('a', [0, 1, 2]), 0);
      assert.equal(commit('b', [0]), 0);
      assert.equal(commit('c', [0]), KAFKA_ERROR.UNKNOWN_SERVER_ERROR);
      assert.equal(commit('a', [0]), 0, 'existing groups still commit');
      const first = h.run({ type: 'delete-groups', groups: ['a'] }, 'delete-groups');
      assert.deepEqual([first.groups[0]!.deletedOffsets, first.more], [2, true]);
      const second = h.run({ type: 'delete-groups', groups: ['a'] }, 'delete-groups');
      assert.deepEqual([second.groups[0]!.deletedOffsets, second.more], [1, false]);
      assert.equal(commit('c', [0]), 0);
    });
  });
}

function patched(bytes: Uint8Array, change: (view: DataView) => void): Uint8Array {
  const copy = Uint8Array.from(bytes);
  change(new DataView(copy.buffer));
  return copy;
}

/** The batch with attributes OR-ed in and its CRC recomputed (so only the attribute is wrong). */
function withAttributes(bytes: Uint8Array, bits: number): Uint8Array {
  return patched(bytes, (view) => {
    view.setInt16(21, view.getInt16(21) | bits);
    view.setUint32(17, crc32c(new Uint8Array(view.buffer).subarray(21)));
  });
}

/** The batch marked with another compression type (its records are then opaque to everyone but the consumer). */
function withCompression(bytes: Uint8Array, code: number): Uint8Array {
  return patched(bytes, (view) => {
    view.setInt16(21, (view.getInt16(21) & ~0x07) | code);
    view.setUint32(17, crc32c(new Uint8Array(view.buffer).subarray(21)));
  });
}
