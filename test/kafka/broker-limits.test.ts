// The broker's bounds: requests in flight per connection and in total (reading pauses, nothing is
// dropped, answers stay in order), the bytes of a Fetch answer, the maximum frame size, and idle
// connections; and a broker listening before its node runs (how CairnNode starts it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KAFKA_ERROR } from '../../src/protocol/kafka/index.ts';
import { KafkaBroker } from '../../src/server/kafka/index.ts';
import { TestCluster, waitFor } from './cluster.ts';
import { RawKafkaClient } from './raw-client.ts';
import { batchOf, createTopic, fetchRequest, fetchedValues, joinRequest, produceRequest } from './protocol-helpers.ts';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({
    size: 1,
    broker: { limits: { inFlightRequestsPerConnectionMax: 4, inFlightRequestsMax: 6, frameBytesMax: 64 * 1024, idleConnectionMs: 400, proposalBytesMax: 1024, fetchResponseBytesMax: 3000 } },
  });
});

after(async () => {
  await cluster?.close();
});

test('hundreds of pipelined requests on three connections are all answered in order within the in-flight bounds', async () => {
  const member = cluster.members[0]!;
  const clients = await Promise.all([0, 1, 2].map(() => RawKafkaClient.connect(member.kafka)));
  try {
    assert.equal(await createTopic(clients[0]!, 'bounded'), 0);
    let peak = 0;
    const sampler = setInterval(() => { peak = Math.max(peak, member.broker.stats().inFlightRequests); }, 1);
    const answers = await Promise.all(clients.flatMap((client, index) => Array.from({ length: 150 }, (_, position) =>
      position % 3 === 0
        ? client.send(7, produceRequest('bounded', 0, batchOf([`c${index}-${position}`]))).then((response) => response.responses[0]!.partitionResponses[0]!.errorCode)
        : client.send(1, { apiKey: 3, message: { topics: null, allowAutoTopicCreation: true } }).then((response) => (response.topics.length > 0 ? 0 : -1)))));
    clearInterval(sampler);
    assert.equal(answers.length, 450);
    assert.ok(answers.every((code) => code === 0));
    assert.ok(peak <= 6, `at most 6 requests in flight (saw ${peak})`);
    assert.equal(member.state.log.partitionInfo('bounded', 0)?.highWatermark, 150);
  } finally {
    for (const client of clients) client.close();
  }
});

test('a Produce bigger than one proposal is split into several log entries, in order', async () => {
  const member = cluster.members[0]!;
  const client = await RawKafkaClient.connect(member.kafka);
  try {
    assert.equal(await createTopic(client, 'split', 4), 0);
    const before = member.raft.counters.proposalsCommitted;
    const value = 'v'.repeat(600);
    const response = await client.send(7, {
      apiKey: 0,
      message: { transactionalId: null, acks: -1, timeoutMs: 5_000, topicData: [{ name: 'split', partitionData: [0, 1, 2, 3, 0].map((index, position) => ({ index, records: batchOf([`${position}${value}`]) })) }] },
    });
    const answers = response.responses[0]!.partitionResponses;
    assert.deepEqual(answers.map((answer) => [answer.index, answer.errorCode, answer.baseOffset]), [[0, 0, 0n], [1, 0, 0n], [2, 0, 0n], [3, 0, 0n], [0, 0, 1n]]);
    assert.ok(member.raft.counters.proposalsCommitted - before >= 5, 'one entry per ~1 KiB of records');
  } finally {
    client.close();
  }
});

test('a Fetch answer stops at the broker\'s byte limit, whatever the request allows, and the next Fetch goes on', async () => {
  const member = cluster.members[0]!;
  const client = await RawKafkaClient.connect(member.kafka);
  try {
    assert.equal(await createTopic(client, 'capped'), 0);
    const value = (index: number): string => `${index}`.padEnd(600, '.');
    for (let index = 0; index < 5; index++) {
      const produced = await client.send(7, produceRequest('capped', 0, batchOf([value(index)])));
      assert.equal(produced.responses[0]!.partitionResponses[0]!.errorCode, 0);
    }
    const generous = { maxBytes: 10 * 1024 * 1024, partitionMaxBytes: 10 * 1024 * 1024 };
    const first = (await client.send(11, fetchRequest('capped', 0, 0n, generous))).responses[0]!.partitions[0]!;
    // Batches of 1,275 bytes: two fit in 3,000, a third would not.
    assert.deepEqual(fetchedValues(first.records), [value(0), value(1)]);
    assert.equal(first.highWatermark, 5n);
    const next = (await client.send(11, fetchRequest('capped', 0, 2n, generous))).responses[0]!.partitions[0]!;
    assert.deepEqual(fetchedValues(next.records), [value(2), value(3)]);
  } finally {
    client.close();
  }
});

test('a frame above the maximum size closes the connection before it is buffered', async () => {
  const client = await RawKafkaClient.connect(cluster.members[0]!.kafka);
  client.writeRaw(Uint8Array.from([0, 2, 0, 0, 0, 18]));
  await client.whenClosed();
});

test('an idle connection is closed after the idle limit', async () => {
  const client = await RawKafkaClient.connect(cluster.members[0]!.kafka);
  await client.send(0, { apiKey: 18, message: { clientSoftwareName: '', clientSoftwareVersion: '' } });
  await client.whenClosed(3_000);
  await waitFor(() => cluster.members[0]!.broker.stats().connections === 0, 'the broker to forget the connection');
});

test('a broker not yet attached to a running node answers as a node without a leader (the cluster tests attach theirs after listening)', async () => {
  const broker = new KafkaBroker({ listen: { host: '127.0.0.1', port: 0 } });
  await broker.start();
  const client = await RawKafkaClient.connect(broker.advertisedAddress()!);
  try {
    assert.equal((await client.send(3, { apiKey: 18, message: { clientSoftwareName: '', clientSoftwareVersion: '' } })).errorCode, 0);
    const metadata = await client.send(6, { apiKey: 3, message: { topics: [{ name: 'early' }], allowAutoTopicCreation: true } });
    assert.deepEqual([metadata.brokers, metadata.controllerId, metadata.topics[0]!.errorCode], [[], -1, KAFKA_ERROR.LEADER_NOT_AVAILABLE]);
    const produced = await client.send(7, produceRequest('early', 0, batchOf(['x'])));
    assert.equal(produced.responses[0]!.partitionResponses[0]!.errorCode, KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER);
    assert.equal((await client.send(2, { apiKey: 10, message: { key: 'g', keyType: 0 } })).errorCode, KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE);
    assert.equal((await client.send(5, joinRequest('g', ''))).errorCode, KAFKA_ERROR.NOT_COORDINATOR);
    const created = await client.send(4, { apiKey: 19, message: { topics: [{ name: 'early', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false } });
    assert.equal(created.topics[0]!.errorCode, KAFKA_ERROR.NOT_CONTROLLER);
    assert.equal((await client.send(1, { apiKey: 22, message: { transactionalId: null, transactionTimeoutMs: 1000 } })).errorCode, KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE);
  } finally {
    client.close();
    await broker.stop();
  }
});
