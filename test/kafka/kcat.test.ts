// kcat (librdkafka 2.0.2, Debian's kcat package) against an in-process 3-node Cairn cluster,
// bootstrapping from a follower: metadata, idempotent produce with lz4 and zstd (acks=all), a
// balanced consumer group with committed offsets, resuming, and a leader failure while producing.
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { FEATURES, compatible, notApplicable, recordClientVersion, toolAvailable } from './compatibility.ts';
import { TestCluster } from './cluster.ts';
import { expectSuccess, run, start } from './processes.ts';
import { createTopic } from './protocol-helpers.ts';
import { RawKafkaClient } from './raw-client.ts';

const CLIENT = 'kcat';
const MESSAGES = 1_000;
const version = spawnSync('kcat', ['-V'], { encoding: 'utf8' });
if (version.status === 0) recordClientVersion(CLIENT, /Version (\S+).*librdkafka (\S+)/s.exec(version.stdout)?.slice(1).join(', librdkafka ') ?? 'unknown');

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start();
});

after(async () => {
  await cluster?.close();
});

function available(context: TestContext): boolean {
  return toolAvailable(context, 'kcat', ['kcat', '-V']);
}

function lines(prefix: string, from: number, count: number): string {
  return Array.from({ length: count }, (_, index) => `${prefix}-${from + index}:value of ${prefix}-${from + index}\n`).join('');
}

const PRODUCE_FLAGS = ['-X', 'enable.idempotence=true', '-X', 'acks=all', '-X', 'linger.ms=5', '-K', ':'];

async function produce(bootstrap: string, topic: string, input: string, compression: readonly string[]): Promise<void> {
  const result = expectSuccess(await run('kcat', ['-b', bootstrap, '-P', '-t', topic, ...PRODUCE_FLAGS, ...compression], { timeoutMs: 60_000, input }), 'kcat -P');
  assert.doesNotMatch(result.stderr, /Delivery failed|ERROR/i, result.stderr);
}

/** Consumes the group to the end of every partition (-e), committing on exit; returns key → count. */
async function consume(bootstrap: string, group: string, topic: string): Promise<Map<string, number>> {
  const result = expectSuccess(await run('kcat', ['-b', bootstrap, '-G', group, '-X', 'auto.offset.reset=earliest', '-e', '-f', '%k\t%s\n', topic], { timeoutMs: 60_000 }), 'kcat -G');
  const counts = new Map<string, number>();
  for (const line of result.stdout.split('\n')) {
    if (line === '') continue;
    const [key, value] = line.split('\t');
    assert.equal(value, `value of ${key}`);
    counts.set(key!, (counts.get(key!) ?? 0) + 1);
  }
  return counts;
}

async function committedEqualsEnd(address: string, group: string, topic: string, partitions: number): Promise<void> {
  const client = await RawKafkaClient.connect(address);
  try {
    const indexes = Array.from({ length: partitions }, (_, index) => index);
    const ends = await client.send(1, { apiKey: 2, message: { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: indexes.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: -1n })) }] } });
    const committed = await client.send(5, { apiKey: 9, message: { groupId: group, topics: [{ name: topic, partitionIndexes: indexes }] } });
    for (const partition of ends.topics[0]!.partitions) {
      const offset = committed.topics[0]!.partitions.find((entry) => entry.partitionIndex === partition.partitionIndex)!.committedOffset;
      assert.equal(offset, partition.offset, `partition ${partition.partitionIndex} committed to its end`);
    }
  } finally {
    client.close();
  }
}

test('kcat: metadata from a follower lists every broker and the controller', compatible(CLIENT, FEATURES.metadata, async (context) => {
  if (!available(context)) return;
  const result = expectSuccess(await run('kcat', ['-b', cluster.bootstrapFromFollower()[0]!, '-L', '-J'], { timeoutMs: 30_000 }), 'kcat -L');
  const metadata = JSON.parse(result.stdout) as { controllerid: number; brokers: { id: number; name: string }[] };
  assert.equal(metadata.controllerid, cluster.leader().id);
  assert.deepEqual(metadata.brokers.map((broker) => broker.name).sort(), cluster.members.map((member) => member.kafka).sort());
}));

test('kcat: produce 1,000 keyed messages (idempotent, lz4, acks=all) to an auto-created topic', compatible(CLIENT, [FEATURES.createTopic, FEATURES.produce, FEATURES.idempotent, FEATURES.compression], async (context) => {
  if (!available(context)) return;
  await produce(cluster.bootstrapFromFollower()[0]!, 'kcat-topic', lines('k', 0, MESSAGES), ['-z', 'lz4']);
  assert.equal(cluster.leader().state.log.partitionInfo('kcat-topic', 0)?.highWatermark, MESSAGES);
  return 'idempotent, lz4; topic auto-created by the producer (kcat cannot create topics)';
}));

test('kcat: consume all in a balanced group; offsets committed on exit', compatible(CLIENT, FEATURES.consumeGroup, async (context) => {
  if (!available(context)) return;
  const counts = await consume(cluster.bootstrapFromFollower()[0]!, 'kcat-group', 'kcat-topic');
  assert.equal(counts.size, MESSAGES);
  assert.ok([...counts.values()].every((count) => count === 1));
  await committedEqualsEnd(cluster.leader().kafka, 'kcat-group', 'kcat-topic', 1);
}));

test('kcat: a restarted consumer resumes from the committed offset (zstd batches)', compatible(CLIENT, [FEATURES.resume, FEATURES.compression], async (context) => {
  if (!available(context)) return;
  await produce(cluster.bootstrapFromFollower()[0]!, 'kcat-topic', lines('later', 0, 100), ['-X', 'compression.codec=zstd']);
  const counts = await consume(cluster.bootstrapFromFollower()[0]!, 'kcat-group', 'kcat-topic');
  assert.deepEqual([...counts.keys()].sort(), Array.from({ length: 100 }, (_, index) => `later-${index}`).sort());
  return 'zstd batches; only the 100 new messages';
}));
notApplicable(CLIENT, FEATURES.failover, 'see the idempotent row: kcat runs with enable.idempotence=true');

test('kcat: the leader fails in the middle of idempotent producing; every message delivered and consumed exactly once', compatible(CLIENT, FEATURES.failoverIdempotent, async (context) => {
  if (!available(context)) return;
  const local = await TestCluster.start();
  try {
    const bootstrap = local.bootstrapFromFollower()[0]!;
    const admin = await RawKafkaClient.connect(bootstrap);
    assert.equal(await createTopic(admin, 'kcat-failover', 3), 0);
    admin.close();
    const producer = start('kcat', ['-b', bootstrap, '-P', '-t', 'kcat-failover', ...PRODUCE_FLAGS, '-z', 'lz4'], { timeoutMs: 90_000 });
    const stoppedLeader = local.leader();
    for (let from = 0; from < MESSAGES; from += 50) {
      producer.child.stdin.write(lines('f', from, 50));
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (from === 300) await local.stopMember(stoppedLeader);
    }
    producer.child.stdin.end();
    const result = expectSuccess(await producer.done, 'kcat -P through a failover');
    assert.doesNotMatch(result.stderr, /Delivery failed/i, result.stderr);
    await local.waitForLeader();
    const counts = await consume(bootstrap, 'kcat-failover-group', 'kcat-failover');
    assert.equal(counts.size, MESSAGES, 'every message (librdkafka retried until delivered)');
    for (const [key, count] of counts) assert.equal(count, 1, `${key} once`);
    return `leader ${stoppedLeader.id} stopped after 300 messages; ${MESSAGES}/${MESSAGES} delivered, each consumed exactly once`;
  } finally {
    await local.close();
  }
}));
