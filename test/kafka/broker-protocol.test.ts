// The broker at the protocol level, through our own codecs over real sockets against a 3-node
// in-process cluster: ordering and pipelining, ApiVersions and Metadata rules, leader-only
// requests on followers, Produce and Fetch semantics (acks=0, long polls, the high watermark),
// error codes, topic administration, retention, and malformed input.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KAFKA_ERROR, SUPPORTED_APIS } from '../../src/protocol/kafka/index.ts';
import { TestCluster, waitFor } from './cluster.ts';
import { batchOf, createTopic, fetchRequest, fetchedValues, produceRequest } from './protocol-helpers.ts';
import { RawKafkaClient } from './raw-client.ts';

let cluster: TestCluster;
const clients: RawKafkaClient[] = [];

async function open(address: string): Promise<RawKafkaClient> {
  const client = await RawKafkaClient.connect(address);
  clients.push(client);
  return client;
}

before(async () => {
  cluster = await TestCluster.start({ broker: { retentionCheckIntervalMs: 3_600_000 } });
});

after(async () => {
  for (const client of clients) client.close();
  await cluster?.close();
});

test('ApiVersions v0 and Metadata v0 pipelined on one connection are both answered, in order (kafka-python check_version)', async () => {
  const client = await open(cluster.followers()[0]!.kafka);
  const [versions, metadata] = await Promise.all([
    client.send(0, { apiKey: 18, message: { clientSoftwareName: '', clientSoftwareVersion: '' } }),
    client.send(0, { apiKey: 3, message: { topics: [], allowAutoTopicCreation: true } }),
  ]);
  assert.equal(versions.errorCode, 0);
  assert.deepEqual(versions.apiKeys.map((api) => [api.apiKey, api.minVersion, api.maxVersion]),
    [...SUPPORTED_APIS].sort((a, b) => a.apiKey - b.apiKey).map((api) => [api.apiKey, api.minVersion, api.maxVersion]));
  assert.equal(metadata.brokers.length, 3);
});

test('an ApiVersions version above ours gets a v0 body with UNSUPPORTED_VERSION and our ApiVersions range', async () => {
  const client = await open(cluster.followers()[0]!.kafka);
  // ApiVersions v9 (flexible: request header v2): key, version, correlation id, client id, no tags; body: two empty compact strings, no tags.
  const body = [0, 18, 0, 9, 0, 0, 0, 77, 0, 4, ...Buffer.from('test'), 0, 1, 1, 0];
  const frame = Uint8Array.from([0, 0, 0, body.length, ...body]);
  const response = await client.sendFrame(frame, 18, 0, 77);
  assert.equal(response.apiKey, 18);
  const message = response.message as { errorCode: number; apiKeys: { apiKey: number; minVersion: number; maxVersion: number }[] };
  assert.equal(message.errorCode, KAFKA_ERROR.UNSUPPORTED_VERSION);
  assert.deepEqual(message.apiKeys, [{ apiKey: 18, minVersion: 0, maxVersion: 3 }]);
  // The connection stays usable: the client retries with a version we serve.
  const retried = await client.send(3, { apiKey: 18, message: { clientSoftwareName: 'test', clientSoftwareVersion: '1' } });
  assert.equal(retried.errorCode, 0);
});

test('every node answers Metadata with every broker, the Raft leader as controller and partition leader, voters as replicas', async () => {
  const leaderId = cluster.leader().id;
  assert.equal(await createTopic(await open(cluster.leader().kafka), 'meta-topic', 2), 0);
  for (const member of cluster.members) {
    const client = await open(member.kafka);
    const metadata = await client.send(6, { apiKey: 3, message: { topics: [{ name: 'meta-topic' }], allowAutoTopicCreation: false } });
    assert.deepEqual(metadata.brokers.map((broker) => `${broker.host}:${broker.port}`), cluster.members.map((other) => other.kafka), `node ${member.id}`);
    assert.deepEqual(metadata.brokers.map((broker) => broker.nodeId), [1, 2, 3]);
    assert.equal(metadata.controllerId, leaderId);
    assert.equal(metadata.clusterId, 'cairn');
    const topic = metadata.topics[0]!;
    assert.equal(topic.errorCode, 0);
    assert.equal(topic.partitions.length, 2);
    for (const partition of topic.partitions) {
      assert.equal(partition.leaderId, leaderId);
      assert.deepEqual(partition.replicaNodes, [1, 2, 3]);
      assert.deepEqual(partition.isrNodes, [1, 2, 3]);
    }
  }
});

test('Metadata topic lists: v0 empty = all, v1 null = all, v1 empty = none; auto-creation follows the request flag', async () => {
  const client = await open(cluster.followers()[0]!.kafka);
  assert.equal(await createTopic(client, 'listed-topic'), 0);
  const all0 = await client.send(0, { apiKey: 3, message: { topics: [], allowAutoTopicCreation: true } });
  assert.ok(all0.topics.some((topic) => topic.name === 'listed-topic'));
  const all1 = await client.send(1, { apiKey: 3, message: { topics: null, allowAutoTopicCreation: true } });
  assert.ok(all1.topics.some((topic) => topic.name === 'listed-topic'));
  const none = await client.send(1, { apiKey: 3, message: { topics: [], allowAutoTopicCreation: true } });
  assert.deepEqual(none.topics, []);
  const refused = await client.send(4, { apiKey: 3, message: { topics: [{ name: 'not-auto' }], allowAutoTopicCreation: false } });
  assert.equal(refused.topics[0]!.errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
  const created = await client.send(4, { apiKey: 3, message: { topics: [{ name: 'auto-created' }], allowAutoTopicCreation: true } });
  assert.equal(created.topics[0]!.errorCode, 0, 'created through a follower and visible on it at once');
  assert.equal(created.topics[0]!.partitions.length, 1);
  const invalid = await client.send(4, { apiKey: 3, message: { topics: [{ name: 'bad name!' }], allowAutoTopicCreation: true } });
  assert.equal(invalid.topics[0]!.errorCode, KAFKA_ERROR.INVALID_TOPIC_EXCEPTION);
});

test('Produce on a follower gets NOT_LEADER_OR_FOLLOWER; on the leader offsets come back in order, assigned at apply', async () => {
  const follower = await open(cluster.followers()[0]!.kafka);
  const leader = await open(cluster.leader().kafka);
  assert.equal(await createTopic(leader, 'produce-topic'), 0);
  const refused = await follower.send(7, produceRequest('produce-topic', 0, batchOf(['a'])));
  assert.equal(refused.responses[0]!.partitionResponses[0]!.errorCode, KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER);
  const answers = await Promise.all([0, 1, 2, 3].map((index) => leader.send(7, produceRequest('produce-topic', 0, batchOf([`m${index}a`, `m${index}b`])))));
  assert.deepEqual(answers.map((answer) => answer.responses[0]!.partitionResponses[0]!.baseOffset), [0n, 2n, 4n, 6n], 'pipelined produces are applied in arrival order');
  assert.ok(answers.every((answer) => answer.responses[0]!.partitionResponses[0]!.logStartOffset === 0n));
  const fetched = await leader.send(11, fetchRequest('produce-topic', 0, 0n));
  const partition = fetched.responses[0]!.partitions[0]!;
  assert.equal(partition.highWatermark, 8n);
  assert.equal(partition.lastStableOffset, 8n);
  assert.deepEqual(fetchedValues(partition.records), ['m0a', 'm0b', 'm1a', 'm1b', 'm2a', 'm2b', 'm3a', 'm3b']);
  // Every follower applied the same offsets.
  await waitFor(() => cluster.members.every((member) => member.state.log.partitionInfo('produce-topic', 0)?.highWatermark === 8), 'followers to apply');
});

test('acks=0 gets no response, and the batch is still appended', async () => {
  const leader = await open(cluster.leader().kafka);
  assert.equal(await createTopic(leader, 'fire-and-forget'), 0);
  await leader.send(7, produceRequest('fire-and-forget', 0, batchOf(['silent']), 0), false);
  const metadata = await leader.send(1, { apiKey: 3, message: { topics: null, allowAutoTopicCreation: true } });
  assert.ok(metadata.topics.length > 0, 'the next response is the Metadata one: nothing was sent for acks=0');
  await waitFor(() => cluster.leader().state.log.partitionInfo('fire-and-forget', 0)?.highWatermark === 1, 'the acks=0 batch to be applied');
  assert.equal(leader.unexpectedFrames, 0);
});

test('Produce errors: unknown partition, corrupt batch (bad CRC), too large for the topic, invalid acks, no records', async () => {
  const leader = await open(cluster.leader().kafka);
  assert.equal(await createTopic(leader, 'strict-topic', 1, { 'max.message.bytes': '200' }), 0);
  const code = async (request: ReturnType<typeof produceRequest>): Promise<number> => (await leader.send(7, request)).responses[0]!.partitionResponses[0]!.errorCode;
  assert.equal(await code(produceRequest('strict-topic', 5, batchOf(['x']))), KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
  const corrupt = batchOf(['x']);
  corrupt[corrupt.length - 1]! ^= 0xff;
  assert.equal(await code(produceRequest('strict-topic', 0, corrupt)), KAFKA_ERROR.CORRUPT_MESSAGE);
  assert.equal(await code(produceRequest('strict-topic', 0, batchOf(['x'.repeat(300)]))), KAFKA_ERROR.MESSAGE_TOO_LARGE);
  assert.equal(await code(produceRequest('strict-topic', 0, batchOf(['x']), 2)), KAFKA_ERROR.INVALID_REQUIRED_ACKS);
  assert.equal(await code(produceRequest('strict-topic', 0, null)), KAFKA_ERROR.CORRUPT_MESSAGE);
  assert.equal(await code(produceRequest('strict-topic', 0, batchOf(['x'], { transactional: true, producerId: 1n, producerEpoch: 0, baseSequence: 0 }))), KAFKA_ERROR.INVALID_RECORD);
  assert.equal(cluster.leader().state.log.partitionInfo('strict-topic', 0)?.highWatermark, 0, 'nothing was appended');
});

test('CreateTopics: through a follower, already exists, invalid name and config, validateOnly; DeleteTopics', async () => {
  const follower = await open(cluster.followers()[0]!.kafka);
  const create = (version: number, name: string, configs: { name: string; value: string | null }[] = [], validateOnly = false) => follower.send(version, {
    apiKey: 19, message: { topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs }], timeoutMs: 5_000, validateOnly },
  });
  assert.equal((await create(0, 'admin-topic')).topics[0]!.errorCode, 0);
  const again = await create(1, 'admin-topic');
  assert.equal(again.topics[0]!.errorCode, KAFKA_ERROR.TOPIC_ALREADY_EXISTS);
  assert.match(again.topics[0]!.errorMessage ?? '', /already exists/);
  assert.equal((await create(4, 'bad/name')).topics[0]!.errorCode, KAFKA_ERROR.INVALID_TOPIC_EXCEPTION);
  assert.equal((await create(4, 'bad-config', [{ name: 'cleanup.policy', value: 'compact' }])).topics[0]!.errorCode, KAFKA_ERROR.INVALID_CONFIG);
  assert.equal((await create(4, 'only-validated', [], true)).topics[0]!.errorCode, 0);
  const metadata = await follower.send(4, { apiKey: 3, message: { topics: [{ name: 'only-validated' }, { name: 'admin-topic' }], allowAutoTopicCreation: false } });
  assert.equal(metadata.topics[0]!.errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION, 'validateOnly created nothing');
  assert.equal(metadata.topics[1]!.errorCode, 0);
  const deleted = await follower.send(3, { apiKey: 20, message: { topicNames: ['admin-topic', 'never-was'], timeoutMs: 5_000 } });
  assert.deepEqual(deleted.responses.map((result) => result.errorCode), [0, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION]);
  const gone = await follower.send(4, { apiKey: 3, message: { topics: [{ name: 'admin-topic' }], allowAutoTopicCreation: false } });
  assert.equal(gone.topics[0]!.errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
});

test('Fetch long-polls until data arrives, returns empty at max wait, answers session id 0, and is leader-only', async () => {
  const leader = await open(cluster.leader().kafka);
  const producer = await open(cluster.leader().kafka);
  assert.equal(await createTopic(leader, 'poll-topic'), 0);
  const started = performance.now();
  const empty = await leader.send(11, fetchRequest('poll-topic', 0, 0n, { maxWaitMs: 300 }));
  const waitedMs = performance.now() - started;
  assert.ok(waitedMs >= 250 && waitedMs < 3_000, `an empty fetch waits about max wait (${waitedMs} ms)`);
  assert.equal(empty.sessionId, 0);
  assert.equal(empty.responses[0]!.partitions[0]!.records?.length ?? 0, 0);
  const polled = leader.send(11, fetchRequest('poll-topic', 0, 0n, { maxWaitMs: 10_000 }));
  const pollStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 100));
  await producer.send(7, produceRequest('poll-topic', 0, batchOf(['woken'])));
  const woken = await polled;
  assert.ok(performance.now() - pollStarted < 5_000, 'the produce woke the waiting fetch');
  assert.deepEqual(fetchedValues(woken.responses[0]!.partitions[0]!.records), ['woken']);
  const follower = await open(cluster.followers()[0]!.kafka);
  const refused = await follower.send(11, fetchRequest('poll-topic', 0, 0n));
  assert.equal(refused.responses[0]!.partitions[0]!.errorCode, KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER);
  const beyond = await leader.send(11, fetchRequest('poll-topic', 0, 5n));
  assert.equal(beyond.responses[0]!.partitions[0]!.errorCode, KAFKA_ERROR.OFFSET_OUT_OF_RANGE);
  const session = await leader.send(11, fetchRequest('poll-topic', 0, 0n, { sessionId: 1234, sessionEpoch: 1 }));
  assert.equal(session.errorCode, KAFKA_ERROR.FETCH_SESSION_ID_NOT_FOUND);
});

test('Fetch from the middle of a batch returns the whole batch containing the offset; ListOffsets earliest and latest', async () => {
  const leader = await open(cluster.leader().kafka);
  assert.equal(await createTopic(leader, 'mid-batch'), 0);
  await leader.send(7, produceRequest('mid-batch', 0, batchOf(['b0', 'b1', 'b2'])));
  await leader.send(7, produceRequest('mid-batch', 0, batchOf(['c3', 'c4'])));
  const fetched = await leader.send(4, fetchRequest('mid-batch', 0, 1n));
  assert.deepEqual(fetchedValues(fetched.responses[0]!.partitions[0]!.records), ['b0', 'b1', 'b2', 'c3', 'c4']);
  const offsets = await leader.send(1, {
    apiKey: 2, message: { replicaId: -1, isolationLevel: 0, topics: [{ name: 'mid-batch', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n }, { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] },
  });
  assert.deepEqual(offsets.topics[0]!.partitions.map((partition) => partition.offset), [0n, 5n]);
});

test('retention: the leader trims a topic over its retention.bytes and the log start moves', async () => {
  const leader = cluster.leader();
  const client = await open(leader.kafka);
  assert.equal(await createTopic(client, 'retained', 1, { 'retention.bytes': '1' }), 0);
  for (let index = 0; index < 3; index++) await client.send(7, produceRequest('retained', 0, batchOf([`r${index}`], { baseTimestamp: BigInt(Date.now()) })));
  await leader.broker.runRetention();
  await waitFor(() => leader.state.log.partitionInfo('retained', 0)?.logStartOffset === 2, 'retention to trim all but the last batch');
  const earliest = await client.send(1, { apiKey: 2, message: { replicaId: -1, isolationLevel: 0, topics: [{ name: 'retained', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n }] }] } });
  assert.equal(earliest.topics[0]!.partitions[0]!.offset, 2n);
  const trimmed = await client.send(11, fetchRequest('retained', 0, 0n));
  assert.equal(trimmed.responses[0]!.partitions[0]!.errorCode, KAFKA_ERROR.OFFSET_OUT_OF_RANGE);
});

test('a long-polling fetch does not let a later request on the same connection overtake it', async () => {
  const leader = await open(cluster.leader().kafka);
  assert.equal(await createTopic(leader, 'ordering'), 0);
  const order: string[] = [];
  const fetch = leader.send(11, fetchRequest('ordering', 0, 0n, { maxWaitMs: 300 })).then(() => order.push('fetch'));
  const versions = leader.send(2, { apiKey: 18, message: { clientSoftwareName: '', clientSoftwareVersion: '' } }).then(() => order.push('versions'));
  await Promise.all([fetch, versions]);
  assert.deepEqual(order, ['fetch', 'versions']);
});

test('malformed input: unknown API and unsupported versions close only that connection; a bad body of an API with a top-level error is answered', async () => {
  const address = cluster.leader().kafka;
  const bystander = await open(address);
  const unknownApi = await open(address);
  unknownApi.writeRaw(Uint8Array.from([0, 0, 0, 10, 0, 99, 0, 0, 0, 0, 0, 1, 255, 255]));
  await unknownApi.whenClosed();
  const oldProduce = await open(address);
  oldProduce.writeRaw(Uint8Array.from([0, 0, 0, 10, 0, 0, 0, 2, 0, 0, 0, 1, 255, 255]));
  await oldProduce.whenClosed();
  const negative = await open(address);
  negative.writeRaw(Uint8Array.from([0xff, 0xff, 0xff, 0xfe]));
  await negative.whenClosed();
  // Heartbeat v0 whose body stops after the group id: answered with INVALID_REQUEST.
  const truncated = await open(address);
  const body = [0, 12, 0, 0, 0, 0, 0, 9, 255, 255, 0, 1, 0x67];
  const answer = await truncated.sendFrame(Uint8Array.from([0, 0, 0, body.length, ...body]), 12, 0, 9);
  assert.deepEqual(answer, { apiKey: 12, message: { throttleTimeMs: 0, errorCode: KAFKA_ERROR.INVALID_REQUEST } });
  // Produce whose body is truncated: no per-partition answer is possible, the connection is closed.
  const badProduce = await open(address);
  const produceBody = [0, 0, 0, 7, 0, 0, 0, 3, 255, 255, 255, 255, 0, 1];
  badProduce.writeRaw(Uint8Array.from([0, 0, 0, produceBody.length, ...produceBody]));
  await badProduce.whenClosed();
  const versions = await bystander.send(0, { apiKey: 18, message: { clientSoftwareName: '', clientSoftwareVersion: '' } });
  assert.equal(versions.errorCode, 0, 'other connections keep being served');
});
