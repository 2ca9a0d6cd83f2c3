// Property test: random command sequences applied (in random batches) to the log on both backends
// and to the naive reference model must give the same results, the same reads from every offset
// (fetch, list offsets, producer state, committed offsets), and byte-identical snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DEFAULT_LOG_LIMITS } from './commands.ts';
import type { AppendPartition, LogCommand } from './commands.ts';
import { openLogState } from './open.ts';
import type { LogNodeState } from './open.ts';
import { ReferenceLog } from './reference-model.ts';
import { batch } from './test-harness.ts';
import { LogEntryFeed } from './testing.ts';
import type { AppliedEntry } from '../types.ts';

const LIMITS = { ...DEFAULT_LOG_LIMITS, maxOffsetMetadataBytes: 4, trimStepBatches: 3, deletionStepKeys: 5 };
const TOPICS = ['a', 'b', 'c.d', 'c_d'];
const GROUPS = ['g1', 'g2', ''];

interface BatchSpec {
  count: number;
  baseTimestamp: number;
  timestampStep: number;
  gzip: boolean;
  valueBytes: number;
  corrupt: boolean;
  /** none, or a producer picked from the allocated ids (pick beyond them: an id never issued). */
  producer: { pick: number; epoch: number; sequence: 'next' | 'duplicate' | 'random'; random: number } | null;
}

type Action =
  | { kind: 'create'; name: string; partitions: number; smallMessages: boolean }
  | { kind: 'delete'; name: string }
  | { kind: 'init-producer-id' }
  | { kind: 'append'; items: { topic: string; partition: number; spec: BatchSpec }[] }
  | { kind: 'commit'; group: string; items: { topic: string; partition: number; offset: number; metadata: string }[] }
  | { kind: 'delete-group'; group: string }
  | { kind: 'trim'; topic: string; partition: number; fraction: number; wrongId: boolean }
  | { kind: 'expire'; topic: string; partition: number; back: number }
  | { kind: 'retry'; back: number }
  /** One producer appending several batches in a row to one partition (expanded before running). */
  | { kind: 'burst'; topic: string; partition: number; pick: number; batches: number; spec: BatchSpec }
  | { kind: 'noop' };

const topicArb = fc.constantFrom(...TOPICS);
/** Appends and commits go mostly to the topics every scenario starts with. */
const busyTopicArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('a', 'b') }, { weight: 1, arbitrary: topicArb });
const busyPartitionArb = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }) });
const specArb: fc.Arbitrary<BatchSpec> = fc.record({
  count: fc.integer({ min: 1, max: 4 }),
  baseTimestamp: fc.constantFrom(-1, 0, 100, 500, 1000),
  timestampStep: fc.constantFrom(0, 7, -3),
  gzip: fc.boolean(),
  valueBytes: fc.constantFrom(5, 60),
  corrupt: fc.integer({ min: 0, max: 9 }).map((value) => value === 0),
  producer: fc.option(fc.record({
    // (nil 1 time in 3)
    pick: fc.constantFrom(0, 0, 0, 1, 2, 3),
    epoch: fc.constantFrom(0, 0, 0, 0, 1, 2),
    sequence: fc.constantFrom('next', 'next', 'next', 'duplicate', 'duplicate', 'random') as fc.Arbitrary<'next' | 'duplicate' | 'random'>,
    random: fc.nat(12),
  }), { nil: null, freq: 3 }),
});

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), name: topicArb, partitions: fc.integer({ min: 1, max: 3 }), smallMessages: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), name: fc.oneof({ weight: 1, arbitrary: fc.constantFrom('a', 'b') }, { weight: 3, arbitrary: topicArb }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'init-producer-id' as const }) },
  {
    weight: 16,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      items: fc.array(fc.record({ topic: busyTopicArb, partition: busyPartitionArb, spec: specArb }), { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      group: fc.constantFrom(...GROUPS),
      items: fc.array(fc.record({ topic: busyTopicArb, partition: busyPartitionArb, offset: fc.integer({ min: -1, max: 30 }), metadata: fc.constantFrom('', 'm', 'long!') }), { minLength: 1, maxLength: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-group' as const), group: fc.constantFrom(...GROUPS) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('trim' as const), topic: busyTopicArb, partition: busyPartitionArb, fraction: fc.integer({ min: 0, max: 11 }).map((tenths) => tenths / 10), wrongId: fc.integer({ min: 0, max: 4 }).map((value) => value === 0) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), topic: busyTopicArb, partition: busyPartitionArb, back: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'noop' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('retry' as const), back: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('burst' as const), topic: fc.constant('a'), partition: busyPartitionArb, pick: fc.constantFrom(0, 1), batches: fc.integer({ min: 2, max: 7 }), spec: specArb,
    }),
  },
);

function expandBursts(actions: Action[]): Action[] {
  return actions.flatMap((action): Action[] => {
    if (action.kind !== 'burst') return [action];
    const spec: BatchSpec = { ...action.spec, corrupt: false, producer: { pick: action.pick, epoch: 0, sequence: 'next', random: 0 } };
    return Array.from({ length: action.batches }, () => ({ kind: 'append', items: [{ topic: action.topic, partition: action.partition, spec }] }));
  });
}

/** Builds the batch bytes, resolving the producer's id and sequence against the model's state. */
function buildBatch(spec: BatchSpec, topic: string, partition: number, model: ReferenceLog): Uint8Array {
  let producer = {};
  let count = spec.count;
  const chosen = spec.producer;
  if (chosen !== null) {
    const issued = model.nextProducerId - 1;
    const producerId = chosen.pick < issued ? chosen.pick + 1 : 1000 + chosen.pick;
    const state = model.producer(topic, partition, producerId);
    let baseSequence = chosen.random;
    if (chosen.sequence === 'next') {
      const newest = state?.batches[state.batches.length - 1];
      baseSequence = state === undefined || state.epoch !== chosen.epoch || newest === undefined ? 0 : newest.baseSequence + newest.recordCount;
    } else if (chosen.sequence === 'duplicate' && state !== undefined && state.batches.length > 0) {
      // The oldest kept batch half of the time: the edge of the 5-batch window.
      const kept = state.batches[chosen.random % 2 === 0 ? 0 : chosen.random % state.batches.length]!;
      baseSequence = kept.baseSequence;
      count = kept.recordCount;
    }
    producer = { producerId: BigInt(producerId), producerEpoch: chosen.epoch, baseSequence };
  }
  const records = batch(count, {
    baseTimestamp: BigInt(spec.baseTimestamp),
    timestampStep: BigInt(spec.timestampStep),
    valueBytes: spec.valueBytes,
    ...(spec.gzip ? { compression: 'gzip' as const } : {}),
    ...producer,
  });
  return spec.corrupt ? records.subarray(0, records.length - 1) : records;
}

function toCommand(action: Action, model: ReferenceLog, clockMs: number, appends: LogCommand[]): LogCommand | undefined {
  switch (action.kind) {
    case 'retry':
      // A producer's retry: the same batches proposed again (a duplicate for idempotent ones).
      return appends.length === 0 ? undefined : { ...appends[Math.max(0, appends.length - 1 - action.back)]!, timestampMs: clockMs } as LogCommand;
    case 'create':
      return { type: 'create-topics', topics: [{ name: action.name, partitions: action.partitions, replicationFactor: 1, ...(action.smallMessages ? { configs: { 'max.message.bytes': '200' } } : {}) }] };
    case 'delete':
      return { type: 'delete-topics', topics: [action.name] };
    case 'init-producer-id':
      return { type: 'init-producer-id' };
    case 'append': {
      // Sequences are resolved against the state before this command (items of one command for the
      // same partition may then be out of order, which the model decides like the module must).
      const partitions: AppendPartition[] = action.items.map(({ topic, partition, spec }) => ({ topic, partition, records: buildBatch(spec, topic, partition, model) }));
      const command: LogCommand = { type: 'append', timestampMs: clockMs, partitions };
      appends.push(command);
      return command;
    }
    case 'commit':
      return { type: 'commit-offsets', group: action.group, timestampMs: clockMs, offsets: action.items.map((item) => ({ ...item, leaderEpoch: 1 })) };
    case 'delete-group':
      return { type: 'delete-groups', groups: [action.group] };
    case 'trim': {
      const topic = model.topics.get(action.topic);
      const partition = model.partition(action.topic, action.partition);
      if (topic === undefined || partition === undefined) return { type: 'trim', partitions: [{ topic: action.topic, topicId: '', partition: action.partition, logStartOffset: 0 }] };
      const logStartOffset = Math.floor(partition.logStart + (partition.end + 1 - partition.logStart) * action.fraction);
      return { type: 'trim', partitions: [{ topic: action.topic, topicId: action.wrongId ? '00000000-0000-8000-8000-000000000000' : topic.id, partition: action.partition, logStartOffset }] };
    }
    case 'expire': {
      const topic = model.topics.get(action.topic);
      return { type: 'expire-producers', idleBeforeMs: Math.max(0, clockMs - action.back * 10), partitions: [{ topic: action.topic, topicId: topic?.id ?? '', partition: action.partition }] };
    }
    case 'noop':
    case 'burst':
      return undefined;
  }
}

/** Error messages are for people; the model does not reproduce them. */
function normalize(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, item) => (key === 'errorMessage' ? undefined : item instanceof Uint8Array ? Buffer.from(item).toString('hex') : item)));
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function checkReads(node: LogNodeState, model: ReferenceLog): void {
  const log = node.log;
  assert.deepEqual(log.listTopics().map((topic) => [topic.name, topic.topicId]), [...model.topics].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, topic]) => [name, topic.id]));
  for (const [name, topic] of model.topics) {
    for (let partition = 0; partition < topic.partitions.length; partition++) {
      const info = log.partitionInfo(name, partition)!;
      assert.deepEqual({ ...info, topic: undefined, partition: undefined }, { ...model.partitionInfo(name, partition), topic: undefined, partition: undefined }, `${name}-${partition} info`);
      const sizes = log.batches(name, partition, 3).map((summary) => summary.sizeBytes);
      const exactBytes = [sizes[0], (sizes[0] ?? 0) + (sizes[1] ?? 0), (sizes[1] ?? 0) + (sizes[2] ?? 0)].filter((size) => size !== undefined && size > 0) as number[];
      for (let offset = info.logStartOffset - 1; offset <= info.highWatermark + 1; offset++) {
        for (const maxBytes of [1, 150, 1 << 20, ...exactBytes]) {
          const got = log.read(name, partition, offset, maxBytes);
          const expected = model.read(name, partition, offset, maxBytes);
          assert.deepEqual([got.errorCode, got.highWatermark, got.logStartOffset, hex(got.records)], [expected.errorCode, expected.highWatermark, expected.logStartOffset, hex(expected.records)], `read ${name}-${partition} @${offset} max ${maxBytes}`);
        }
      }
      for (const timestamp of [-2, -1, 0, 50, 99, 100, 101, 500, 510, 1000, 1020, 5000]) {
        assert.deepEqual(log.listOffset(name, partition, timestamp), model.listOffset(name, partition, timestamp), `list offset ${name}-${partition} @${timestamp}`);
      }
      for (let producerId = 1; producerId < model.nextProducerId + 4; producerId++) {
        const id = producerId < model.nextProducerId ? producerId : 1000 + producerId - model.nextProducerId;
        assert.deepEqual(log.producer(name, partition, id), model.producer(name, partition, id), `producer ${id} on ${name}-${partition}`);
        count(`producer batches kept:${model.producer(name, partition, id)?.batches.length ?? 0}`);
      }
    }
  }
  for (const group of GROUPS.filter((group) => group !== '')) {
    assert.deepEqual(log.fetchOffsets(group).map(({ errorCode: _code, ...offset }) => offset), model.fetchOffsets(group), `offsets of ${group}`);
  }
  assert.deepEqual(log.listGroups(), model.listGroups());
}

function runScenario(actions: Action[], batchSizes: number[], directory: string, run: number): void {
  const memory = openLogState({ limits: LIMITS });
  const durable = openLogState({ limits: LIMITS, path: join(directory, `run-${run}`) });
  const model = new ReferenceLog(LIMITS);
  const feed = new LogEntryFeed();
  const appends: LogCommand[] = [];
  try {
    let position = 0;
    let batchIndex = 0;
    let clockMs = 1000;
    while (position < actions.length) {
      const size = batchSizes[batchIndex++ % batchSizes.length]!;
      const entries: AppliedEntry[] = [];
      const expected: unknown[] = [];
      for (const action of actions.slice(position, position + size)) {
        clockMs += 10;
        const command = toCommand(action, model, clockMs, appends);
        const entry = command === undefined ? feed.noop() : feed.command(command);
        entries.push(entry);
        expected.push(command === undefined ? null : model.apply(command, entry.index));
      }
      position += size;
      for (const result of expected) countOutcomes(result);
      assert.deepEqual(normalize(memory.state.apply(entries)), normalize(expected), 'memory results');
      assert.deepEqual(normalize(durable.state.apply(entries)), normalize(expected), 'lmdb results');
    }
    checkReads(memory, model);
    checkReads(durable, model);
    assert.ok(Buffer.from(memory.state.snapshot().data).equals(Buffer.from(durable.state.snapshot().data)), 'memory and lmdb snapshots differ');
  } finally {
    void memory.state.close();
    void durable.state.close();
  }
}

test('the log on memory and lmdb matches the reference model (results, fetch, list offsets, producers, offsets, snapshots)', () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-log-model-'));
  let run = 0;
  try {
    fc.assert(
      fc.property(fc.array(actionArb, { minLength: 5, maxLength: 50 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), (actions, batchSizes) => {
        const start: Action[] = [
          { kind: 'create', name: 'a', partitions: 2, smallMessages: false },
          { kind: 'create', name: 'b', partitions: 2, smallMessages: true },
          { kind: 'init-producer-id' },
          { kind: 'init-producer-id' },
        ];
        runScenario([...start, ...expandBursts(actions)], batchSizes, directory, run++);
      }),
      { numRuns: Number(process.env.CAIRN_PROPERTY_RUNS ?? 40) },
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
    if (process.env.LOG_MODEL_STATS) console.log(STATS);
  }
});

// LOG_MODEL_STATS=1 prints what the generated scenarios exercised (to keep the generator honest).
const STATS: Record<string, number> = {};

function count(key: string): void {
  if (process.env.LOG_MODEL_STATS) STATS[key] = (STATS[key] ?? 0) + 1;
}

function countOutcomes(result: unknown): void {
  const typed = result as { type?: string; partitions?: { errorCode: number; duplicate?: boolean; deletedBatches?: number }[] } | null;
  if (typed === null) return;
  if (typed.type === 'append') for (const outcome of typed.partitions!) count(`append:${outcome.errorCode}${outcome.duplicate ? ':duplicate' : ''}`);
  else if (typed.type === 'trim') for (const outcome of typed.partitions!) count(`trim:${outcome.errorCode}:deleted ${outcome.deletedBatches}`);
  else count(typed.type ?? 'error');
}
