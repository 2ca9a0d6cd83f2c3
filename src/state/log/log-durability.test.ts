// The log module inside ReplicatedState: determinism (identical snapshots whatever the backend
// and batching), snapshot restore and restart reload the caches, an aborted batch leaves no
// trace, commit notices, and batches built by a real client (kafkajs) round-trip.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRecordBatches } from '../../protocol/kafka/record-batch.ts';
import type { LogCommand } from './commands.ts';
import type { LogCommitNotice } from './log-state.ts';
import { openLogState } from './open.ts';
import type { LogNodeState } from './open.ts';
import { batch, openHarness, producerBatch } from './test-harness.ts';
import type { Harness } from './test-harness.ts';
import { LogEntryFeed } from './testing.ts';
import { LogState } from './log-state.ts';
import { encodeLogCommand } from './commands.ts';
import { KvState } from '../kv/kv-state.ts';
import type { KvResult } from '../kv/kv-state.ts';
import type { LogResult } from './results.ts';
import { encodeKvCommand } from '../kv/commands.ts';
import { MemoryStore } from '../memory-store.ts';
import { ReplicatedState } from '../replicated-state.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function track(harness: Harness): Harness {
  cleanups.push(() => harness.close());
  return harness;
}

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-log-durable-'));
  cleanups.push(async () => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** A run touching every command, including a deletion that needs several steps. */
function scenario(): LogCommand[] {
  const commands: LogCommand[] = [
    { type: 'create-topics', topics: [{ name: 'a', partitions: 2, replicationFactor: 3 }, { name: 'b', partitions: 1, replicationFactor: 1, configs: { 'retention.bytes': '100' } }] },
    { type: 'init-producer-id' },
  ];
  for (let index = 0; index < 12; index++) {
    commands.push({
      type: 'append',
      timestampMs: 1000 + index,
      partitions: [
        { topic: 'a', partition: index % 2, records: batch(2, { baseTimestamp: BigInt(index * 10) }) },
        { topic: 'b', partition: 0, records: producerBatch(1, 1, 0, index) },
      ],
    });
  }
  commands.push(
    { type: 'commit-offsets', group: 'g', timestampMs: 5, offsets: [{ topic: 'a', partition: 0, offset: 4, metadata: 'x' }, { topic: 'b', partition: 0, offset: 2 }] },
    { type: 'trim', partitions: [{ topic: 'a', topicId: '', partition: 0, logStartOffset: 6 }] },
    { type: 'delete-topics', topics: ['b'] },
    { type: 'create-topics', topics: [{ name: 'b', partitions: 1, replicationFactor: 1 }] },
    { type: 'append', timestampMs: 2000, partitions: [{ topic: 'b', partition: 0, records: batch(1) }] },
    { type: 'expire-producers', idleBeforeMs: 1_000_000, partitions: [{ topic: 'b', topicId: '', partition: 0 }] },
  );
  return commands;
}

/** Fills in the topic ids the trim/expire commands need, from the state they are applied to. */
function resolve(command: LogCommand, node: LogNodeState): LogCommand {
  if (command.type === 'trim') return { ...command, partitions: command.partitions.map((item) => ({ ...item, topicId: node.log.describeTopic(item.topic)!.topicId })) };
  if (command.type === 'expire-producers') return { ...command, partitions: command.partitions.map((item) => ({ ...item, topicId: node.log.describeTopic(item.topic)!.topicId })) };
  return command;
}

/** The scenario with topic ids resolved by applying it one command at a time to a scratch node. */
function resolvedScenario(): LogCommand[] {
  const scratch = openLogState();
  const feed = new LogEntryFeed();
  const commands = scenario().map((command) => {
    const resolved = resolve(command, scratch);
    scratch.state.apply([feed.command(resolved)]);
    return resolved;
  });
  void scratch.state.close();
  return commands;
}

/** Applies the commands (then noops until deletions finish) in batches; returns the snapshot after every 6th entry. */
function applyInBatches(node: LogNodeState, commands: LogCommand[], batchSize: number): Buffer[] {
  const feed = new LogEntryFeed();
  const entries = [...commands.map((command) => feed.command(command)), ...Array.from({ length: 24 }, () => feed.noop())];
  const snapshots: Buffer[] = [];
  for (let start = 0; start < entries.length; start += batchSize) {
    node.state.apply(entries.slice(start, start + batchSize));
    if (node.state.appliedIndex() % 6 === 0) snapshots.push(Buffer.from(node.state.snapshot().data));
  }
  return snapshots;
}

test('memory and lmdb, applied in different batch sizes, have identical snapshots at every common point', async () => {
  const limits = { deletionStepKeys: 2 };
  const nodes = [openLogState({ limits }), openLogState({ limits, path: temporaryDirectory() }), openLogState({ limits }), openLogState({ limits, path: temporaryDirectory() })];
  cleanups.unshift(async () => {
    for (const node of nodes) await node.state.close();
  });
  const commands = resolvedScenario();
  const runs = [1, 2, 3, 6].map((size, index) => applyInBatches(nodes[index]!, commands, size));
  assert.ok(runs[0]!.length >= 7);
  for (const run of runs.slice(1)) {
    assert.equal(run.length, runs[0]!.length);
    run.forEach((snapshot, index) => assert.ok(snapshot.equals(runs[0]![index]!), `snapshot ${index} differs`));
  }
  assert.ok(!nodes[0]!.log.deletionPending(), 'the deletion finished');
  assert.equal(nodes[0]!.log.partitionInfo('a', 0)!.logStartOffset, 6);
  assert.equal(nodes[1]!.log.partitionInfo('b', 0)!.highWatermark, 1);
  assert.equal(nodes[2]!.log.partitionInfo('b', 0)!.producerCount, 0);
});

test('restore from a snapshot reloads topics, offsets and producer state', async () => {
  const source = track(openHarness('memory'));
  source.create('t', 2);
  const id = source.run({ type: 'init-producer-id' }, 'init-producer-id').producerId;
  const records = producerBatch(3, id, 0, 0);
  source.append('t', 1, records);
  source.run({ type: 'commit-offsets', group: 'g', timestampMs: 1, offsets: [{ topic: 't', partition: 1, offset: 2 }] }, 'commit-offsets');
  const snapshot = source.node.state.snapshot();
  const target = track(openHarness('lmdb'));
  target.create('other');
  target.append('other', 0, batch(1));
  const notices: LogCommitNotice[] = [];
  target.node.log.subscribe((notice) => notices.push(notice));
  target.node.state.restore(snapshot);
  assert.deepEqual(notices, [{ partitions: [], topicsChanged: true, restored: true }]);
  assert.deepEqual(target.node.log.listTopics().map((topic) => topic.name), ['t']);
  assert.equal(target.node.log.partitionInfo('t', 1)!.highWatermark, 3);
  assert.equal(target.node.log.nextProducerId(), id + 1);
  assert.deepEqual(target.node.log.fetchOffsets('g').map((offset) => offset.offset), [2]);
  const feed = new LogEntryFeed(snapshot.index + 1);
  const [retry] = target.node.state.apply([feed.command({ type: 'append', timestampMs: 9, partitions: [{ topic: 't', partition: 1, records }] })]);
  assert.deepEqual((retry as unknown as { partitions: { baseOffset: number; duplicate: boolean }[] }).partitions.map((outcome) => [outcome.baseOffset, outcome.duplicate]), [[0, true]]);
});

test('lmdb restart: everything survives, duplicates are still recognized', async () => {
  const directory = temporaryDirectory();
  const first = openHarness('lmdb', { directory });
  first.create('t');
  const id = first.run({ type: 'init-producer-id' }, 'init-producer-id').producerId;
  const records = producerBatch(2, id, 0, 0);
  first.append('t', 0, batch(1));
  first.append('t', 0, records);
  await first.close();
  const second = track(openHarness('lmdb', { directory }));
  assert.equal(second.node.log.partitionInfo('t', 0)!.highWatermark, 3);
  assert.deepEqual([second.append('t', 0, records).baseOffset, second.node.log.partitionInfo('t', 0)!.highWatermark], [1, 3]);
  assert.equal(second.run({ type: 'init-producer-id' }, 'init-producer-id').producerId, id + 1);
});

test('an aborted batch leaves no trace in the caches', async () => {
  const h = track(openHarness('memory'));
  h.create('t');
  h.append('t', 0, batch(2));
  const log = h.node.log;
  const store = h.node.state.store;
  assert.throws(() => store.write(() => {
    log.applyCommand(h.feed.command({ type: 'append', timestampMs: 1, partitions: [{ topic: 't', partition: 0, records: batch(5) }] }));
    log.applyCommand(h.feed.command({ type: 'create-topics', topics: [{ name: 'u', partitions: 1, replicationFactor: 1 }] }));
    log.applyCommand(h.feed.command({ type: 'init-producer-id' }));
    log.beforeCommit();
    throw new Error('disk full');
  }), /disk full/);
  log.aborted();
  assert.equal(log.partitionInfo('t', 0)!.highWatermark, 2);
  assert.equal(log.describeTopic('u'), undefined);
  assert.equal(log.nextProducerId(), 1);
});

test('commit notices name the partitions that moved and topic changes', async () => {
  const h = track(openHarness('memory'));
  const notices: LogCommitNotice[] = [];
  h.node.log.subscribe((notice) => notices.push(notice));
  h.create('t', 2);
  h.append('t', 1, batch(3));
  h.run({ type: 'init-producer-id' });
  h.run({ type: 'delete-topics', topics: ['t'] });
  assert.deepEqual(notices, [
    { partitions: [], topicsChanged: true, restored: false },
    { partitions: [{ topic: 't', partition: 1, highWatermark: 3, logStartOffset: 0 }], topicsChanged: false, restored: false },
    { partitions: [], topicsChanged: true, restored: false },
  ]);
});

test('batches built by kafkajs (gzip, idempotent) are stored and served so kafkajs decodes them', async () => {
  const require = createRequire(import.meta.url);
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (options: object) => Promise<{ buffer: Buffer }> };
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: object) => object;
  const Long = require('kafkajs/src/utils/long') as { fromValue(value: number): unknown };
  const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => object;
  const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: object) => Promise<{ firstOffset: string; records: { offset: string; value: Buffer }[] }>;
  const build = async (values: string[], firstSequence: number) => (await RecordBatch({
    compression: 1,
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_000,
    producerId: Long.fromValue(1),
    producerEpoch: 0,
    firstSequence,
    lastOffsetDelta: values.length - 1,
    records: values.map((value, offsetDelta) => Record({ offsetDelta, key: Buffer.from('k'), value: Buffer.from(value) })),
  })).buffer;
  const h = track(openHarness('memory'));
  h.create('t');
  h.run({ type: 'init-producer-id' });
  const first = await build(['one', 'two'], 0);
  assert.deepEqual([h.append('t', 0, first).baseOffset, h.append('t', 0, await build(['three'], 2)).baseOffset, h.append('t', 0, first).duplicate], [0, 2, true]);
  const served = h.node.log.read('t', 0, 1, 1 << 20).records;
  assert.equal(readRecordBatches(served).length, 2);
  const decoder = new Decoder(Buffer.from(served)) as { canReadInt64(): boolean };
  const seen: string[] = [];
  while (decoder.canReadInt64()) {
    const decoded = await decodeBatch(decoder);
    for (const record of decoded.records) seen.push(`${record.offset}:${record.value.toString()}`);
  }
  assert.deepEqual(seen, ['0:one', '1:two', '2:three']);
});

test('the log and the KV share one ReplicatedState: routed by tag, one snapshot, deletion steps on KV entries too', () => {
  const open = () => {
    const kv = new KvState();
    const log = new LogState({ limits: { deletionStepKeys: 1 } });
    return { kv, log, state: new ReplicatedState<KvResult | LogResult>(new MemoryStore(ReplicatedState.tableNames([kv, log])), [kv, log]) };
  };
  const node = open();
  let index = 0;
  const entry = (data: Uint8Array) => ({ index: ++index, term: 1, kind: 'command' as const, data });
  const results = node.state.apply([
    entry(encodeLogCommand({ type: 'create-topics', topics: [{ name: 't', partitions: 1, replicationFactor: 1 }] })),
    entry(encodeKvCommand({ type: 'put', key: Buffer.from('k'), value: Buffer.from('v') })),
    entry(encodeLogCommand({ type: 'append', timestampMs: 1, partitions: [{ topic: 't', partition: 0, records: batch(2) }] })),
  ]);
  assert.deepEqual(results.map((result) => result?.type), ['create-topics', 'put', 'append']);
  node.state.apply([entry(encodeLogCommand({ type: 'delete-topics', topics: ['t'] }))]);
  for (let count = 0; count < 6; count++) node.state.apply([entry(encodeKvCommand({ type: 'put', key: Buffer.from(`k${count}`), value: Buffer.from('v') }))]);
  assert.ok(!node.log.deletionPending(), 'KV entries drive the deletion steps too');
  const copy = open();
  copy.state.restore(node.state.snapshot());
  const got = copy.kv.get(Buffer.from('k'));
  assert.ok(!('code' in got));
  assert.equal(Buffer.from(got.kv!.value).toString(), 'v');
  assert.deepEqual(copy.log.listTopics(), []);
  assert.ok(Buffer.from(copy.state.snapshot().data).equals(Buffer.from(node.state.snapshot().data)));
});
