// kafkajs (2.2.4, from npm) against an in-process 3-node Cairn cluster, bootstrapping from a
// follower: topics, produce (plain, idempotent, gzip) with acks=all, a consumer group with
// committed offsets, resuming after a restart, and a leader failure in the middle of producing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { FEATURES, compatible, recordClientVersion } from './compatibility.ts';
import { TestCluster } from './cluster.ts';
import type { ClusterMember } from './cluster.ts';
import '../../src/client/kafkajs-stop-fix.ts';

const require = createRequire(import.meta.url);
process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
// kafkajs 2.2.4 sets negative timers on Node 24 (its request queue); harmless, but noisy.
process.removeAllListeners('warning');
const kafkajs = require('kafkajs') as typeof import('kafkajs');
const { Kafka, logLevel, CompressionTypes } = kafkajs;
type Kafka = InstanceType<typeof Kafka>;
recordClientVersion('kafkajs', (require('kafkajs/package.json') as { version: string }).version);

const CLIENT = 'kafkajs';
const MESSAGES = 1_000;
const PER_SEND = 10;

interface Consumed {
  readonly key: string;
  readonly value: string;
  readonly partition: number;
  readonly offset: number;
}

function client(bootstrap: string[], clientId = 'cairn-test'): Kafka {
  return new Kafka({ clientId, brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { initialRetryTime: 100, retries: 12 } });
}

/** Sends `count` keyed messages in sends of PER_SEND; returns the keys whose send was acknowledged. */
async function produce(kafka: Kafka, topic: string, prefix: string, count: number, options: { idempotent?: boolean; gzip?: boolean; onProgress?: (acked: number) => void } = {}): Promise<string[]> {
  const producer = kafka.producer({ idempotent: options.idempotent === true, ...(options.idempotent === true ? { maxInFlightRequests: 1 } : {}) });
  await producer.connect();
  const acked: string[] = [];
  try {
    for (let start = 0; start < count; start += PER_SEND) {
      const keys = Array.from({ length: Math.min(PER_SEND, count - start) }, (_, index) => `${prefix}-${start + index}`);
      try {
        await producer.send({
          topic, acks: -1, ...(options.gzip === true ? { compression: CompressionTypes.GZIP } : {}),
          messages: keys.map((key) => ({ key, value: `value of ${key}` })),
        });
        acked.push(...keys);
      } catch {
        // Not acknowledged: the message may or may not be in the log (the checks allow both).
      }
      options.onProgress?.(acked.length);
    }
  } finally {
    await producer.disconnect();
  }
  return acked;
}

/** Consumes `topic` in `groupId` until every partition's position reaches its end offset at the call. */
async function consumeToEnd(kafka: Kafka, groupId: string, topic: string, timeoutMs = 30_000): Promise<Consumed[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((entry) => [entry.partition, Number(entry.high)]));
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  const positions = new Map<number, number>();
  for (const partition of committed[0]?.partitions ?? []) positions.set(partition.partition, Math.max(0, Number(partition.offset)));
  const consumed: Consumed[] = [];
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  await consumer.connect();
  const done = (): boolean => [...ends].every(([partition, end]) => (positions.get(partition) ?? 0) >= end);
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => { finish = resolve; });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        consumed.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', partition, offset: Number(message.offset) });
        positions.set(partition, Number(message.offset) + 1);
        if (done()) finish();
      },
    });
    if (!done()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`consumed ${consumed.length} messages, positions ${JSON.stringify([...positions])}, ends ${JSON.stringify([...ends])}`)), timeoutMs); });
      try {
        await Promise.race([finished, timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    await consumer.disconnect(); // commits what was consumed
  }
  return consumed;
}

function countByKey(consumed: readonly Consumed[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of consumed) counts.set(message.key, (counts.get(message.key) ?? 0) + 1);
  return counts;
}

async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

let cluster: TestCluster;
let kafka: Kafka;

before(async () => {
  cluster = await TestCluster.start();
  kafka = client(cluster.bootstrapFromFollower());
});

after(async () => {
  await cluster?.close();
});

test('kafkajs: create a topic through a follower; metadata shows the Raft leader, voters as replicas', compatible(CLIENT, [FEATURES.createTopic, FEATURES.metadata], async () => {
  assert.equal(await createTopic(kafka, 'orders', 3), true);
  assert.equal(await createTopic(kafka, 'orders', 3), false, 'a second create reports that the topic exists');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: ['orders'] });
    assert.equal(topics[0]!.partitions.length, 3);
    const leader = cluster.leader().id;
    for (const partition of topics[0]!.partitions) {
      assert.equal(partition.leader, leader);
      assert.deepEqual([...partition.replicas].sort(), [1, 2, 3]);
      assert.deepEqual([...partition.isr].sort(), [1, 2, 3]);
    }
    assert.ok((await admin.listTopics()).includes('orders'));
  } finally {
    await admin.disconnect();
  }
}));

test('kafkajs: produce 1,000 keyed messages (acks=all), consume them all in a group, commit', compatible(CLIENT, [FEATURES.produce, FEATURES.consumeGroup], async () => {
  const acked = await produce(kafka, 'orders', 'plain', MESSAGES);
  assert.equal(acked.length, MESSAGES);
  const consumed = await consumeToEnd(kafka, 'orders-group', 'orders');
  const counts = countByKey(consumed);
  for (const key of acked) assert.equal(counts.get(key), 1, `${key} consumed once`);
  assert.equal(consumed.length, MESSAGES);
  // Same key, same partition, and offsets in order within each partition.
  const partitionOf = new Map<string, number>();
  for (const message of consumed) {
    assert.equal(partitionOf.get(message.key) ?? message.partition, message.partition);
    partitionOf.set(message.key, message.partition);
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets('orders');
    const [committed] = await admin.fetchOffsets({ groupId: 'orders-group', topics: ['orders'] });
    for (const end of ends) {
      assert.equal(committed!.partitions.find((partition) => partition.partition === end.partition)?.offset, end.high, `partition ${end.partition} committed to its end`);
    }
  } finally {
    await admin.disconnect();
  }
}));

test('kafkajs: a restarted consumer resumes from the committed offset', compatible(CLIENT, FEATURES.resume, async () => {
  const acked = await produce(kafka, 'orders', 'later', 100);
  const consumed = await consumeToEnd(kafka, 'orders-group', 'orders');
  assert.deepEqual(consumed.map((message) => message.key).sort(), [...acked].sort(), 'only the messages produced after the commit');
}));

test('kafkajs: a second consumer joining the group gets partitions (rebalance); together they read everything', compatible(CLIENT, FEATURES.rebalance, async () => {
  assert.equal(await createTopic(kafka, 'shared', 4), true);
  const acked = await produce(kafka, 'shared', 'shared', 400);
  const seen = new Map<string, number>();
  const assignments: number[][] = [[], []];
  const consumers = [0, 1].map(() => kafka.consumer({ groupId: 'shared-group', sessionTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100 }));
  try {
    for (const [index, consumer] of consumers.entries()) {
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        assignments[index] = [...(payload.memberAssignment['shared'] ?? [])].sort();
      });
      await consumer.connect();
      await consumer.subscribe({ topic: 'shared', fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const key = message.key!.toString();
          seen.set(key, (seen.get(key) ?? 0) + 1);
        },
      });
    }
    const split = (): boolean => assignments.every((partitions) => partitions.length > 0) && new Set(assignments.flat()).size === 4 && assignments.flat().length === 4;
    const deadline = Date.now() + 30_000;
    while ((seen.size < acked.length || !split()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(split(), `the 4 partitions are split between both consumers: ${JSON.stringify(assignments)}`);
    assert.equal(seen.size, acked.length);
    return `assignments ${assignments.map((partitions) => partitions.join(',')).join(' | ')}; ${[...seen.values()].filter((count) => count > 1).length} messages read twice around the rebalance`;
  } finally {
    await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  }
}));

test('kafkajs: idempotent producer, 1,000 keyed messages, exactly once', compatible(CLIENT, FEATURES.idempotent, async () => {
  assert.equal(await createTopic(kafka, 'payments', 2), true);
  const acked = await produce(kafka, 'payments', 'idem', MESSAGES, { idempotent: true });
  assert.equal(acked.length, MESSAGES);
  const counts = countByKey(await consumeToEnd(kafka, 'payments-group', 'payments'));
  assert.equal(counts.size, MESSAGES);
  for (const key of acked) assert.equal(counts.get(key), 1);
  return '1,000 keyed, acks=all, each consumed exactly once';
}));

test('kafkajs: gzip-compressed batches pass through and are consumed', compatible(CLIENT, FEATURES.compression, async () => {
  // Auto-created by the producer's metadata request (allowAutoTopicCreation defaults to true).
  const acked = await produce(kafka, 'compressed', 'gzip', MESSAGES, { gzip: true });
  assert.equal(acked.length, MESSAGES);
  const consumed = await consumeToEnd(kafka, 'compressed-group', 'compressed');
  assert.equal(consumed.length, MESSAGES);
  assert.ok(consumed.every((message) => message.value === `value of ${message.key}`));
  return 'gzip; topic auto-created on first use';
}));

/** Produces with the leader stopped once a third of the messages is acknowledged; returns what was acknowledged and consumed. */
async function produceThroughFailover(idempotent: boolean): Promise<{ acked: string[]; counts: Map<string, number>; consumed: number; stopped: ClusterMember }> {
  const local = await TestCluster.start();
  try {
    const bootstrap = local.bootstrapFromFollower();
    const failoverKafka = client(bootstrap, idempotent ? 'failover-idempotent' : 'failover-plain');
    assert.equal(await createTopic(failoverKafka, 'failover', 3), true);
    let stopping: Promise<void> | undefined;
    let stopped: ClusterMember | undefined;
    const acked = await produce(failoverKafka, 'failover', 'f', MESSAGES, {
      idempotent,
      onProgress: (count) => {
        if (stopping !== undefined || count < MESSAGES / 3) return;
        stopped = local.leader();
        stopping = local.stopMember(stopped);
      },
    });
    await stopping;
    await local.waitForLeader();
    const consumed = await consumeToEnd(failoverKafka, 'failover-group', 'failover', 60_000);
    return { acked, counts: countByKey(consumed), consumed: consumed.length, stopped: stopped! };
  } finally {
    await local.close();
  }
}

test('kafkajs: the leader fails in the middle of producing; every acknowledged message is consumed at least once', compatible(CLIENT, FEATURES.failover, async () => {
  const { acked, counts, stopped } = await produceThroughFailover(false);
  assert.ok(acked.length >= MESSAGES * 0.9, `most sends were acknowledged (${acked.length})`);
  for (const key of acked) assert.ok((counts.get(key) ?? 0) >= 1, `${key} was acknowledged and must be consumed`);
  const duplicates = [...counts.values()].filter((count) => count > 1).length;
  return `leader ${stopped.id} stopped; ${acked.length}/${MESSAGES} acknowledged, all consumed, ${duplicates} duplicated`;
}));

test('kafkajs: the leader fails in the middle of idempotent producing; every acknowledged message is consumed exactly once', compatible(CLIENT, FEATURES.failoverIdempotent, async () => {
  const { acked, counts, stopped } = await produceThroughFailover(true);
  assert.ok(acked.length >= MESSAGES * 0.9, `most sends were acknowledged (${acked.length})`);
  for (const key of acked) assert.equal(counts.get(key), 1, `${key} was acknowledged and must be consumed exactly once`);
  for (const [key, count] of counts) assert.equal(count, 1, `${key} is in the log once`);
  return `leader ${stopped.id} stopped; ${acked.length}/${MESSAGES} acknowledged, each consumed exactly once`;
}));
