// Consumer groups and committed offsets at the protocol level: the coordinator is the Raft leader,
// rebalances move through generations, the errors clients react to (NOT_COORDINATOR,
// REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, INVALID_SESSION_TIMEOUT), session
// expiry, and what survives a leader change (committed offsets, idempotent producer state) and what
// does not (group membership: clients rejoin).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KAFKA_ERROR } from '../../src/protocol/kafka/index.ts';
import { TestCluster, waitFor } from './cluster.ts';
import { batchOf, createTopic, fetchRequest, joinRequest, produceRequest } from './protocol-helpers.ts';
import { RawKafkaClient } from './raw-client.ts';

const encoder = new TextEncoder();
let cluster: TestCluster;
const clients: RawKafkaClient[] = [];

async function open(address: string): Promise<RawKafkaClient> {
  const client = await RawKafkaClient.connect(address);
  clients.push(client);
  return client;
}

before(async () => {
  cluster = await TestCluster.start();
});

after(async () => {
  for (const client of clients) client.close();
  await cluster?.close();
});

const heartbeat = (client: RawKafkaClient, groupId: string, generationId: number, memberId: string): Promise<number> =>
  client.send(3, { apiKey: 12, message: { groupId, generationId, memberId, groupInstanceId: null } }).then((response) => response.errorCode);

const commit = (client: RawKafkaClient, groupId: string, generation: number, memberId: string, topic: string, offset: bigint): Promise<number> =>
  client.send(7, {
    apiKey: 8,
    message: {
      groupId, generationIdOrMemberEpoch: generation, memberId, groupInstanceId: null, retentionTimeMs: -1n,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'meta' }] }],
    },
  }).then((response) => response.topics[0]!.partitions[0]!.errorCode);

test('FindCoordinator on any node names the Raft leader; group requests on a follower get NOT_COORDINATOR', async () => {
  const leader = cluster.leader();
  const follower = await open(cluster.followers()[0]!.kafka);
  const found = await follower.send(2, { apiKey: 10, message: { key: 'some-group', keyType: 0 } });
  assert.deepEqual([found.errorCode, found.nodeId, `${found.host}:${found.port}`], [0, leader.id, leader.kafka]);
  const transactions = await follower.send(1, { apiKey: 10, message: { key: 'txn', keyType: 1 } });
  assert.equal(transactions.errorCode, KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE);
  assert.equal((await follower.send(5, joinRequest('some-group', ''))).errorCode, KAFKA_ERROR.NOT_COORDINATOR);
  assert.equal(await heartbeat(follower, 'some-group', 1, 'm'), KAFKA_ERROR.NOT_COORDINATOR);
  assert.equal(await commit(follower, 'some-group', -1, '', 'x', 0n), KAFKA_ERROR.NOT_COORDINATOR);
  const listed = await follower.send(2, { apiKey: 16, message: {} });
  assert.deepEqual([listed.errorCode, listed.groups], [0, []], 'a follower coordinates no groups');
});

test('a rebalance: two members, generations, leader assignment passed through, errors for stale members', async () => {
  const leader = cluster.leader().kafka;
  const first = await open(leader);
  const second = await open(leader);
  const group = 'rebalance-group';
  const a = await first.send(5, joinRequest(group, ''));
  assert.equal(a.errorCode, 0);
  assert.equal(a.generationId, 1);
  assert.equal(a.leader, a.memberId);
  assert.deepEqual(a.members.map((member) => member.memberId), [a.memberId]);
  const synced = await first.send(3, { apiKey: 14, message: { groupId: group, generationId: 1, memberId: a.memberId, groupInstanceId: null, assignments: [{ memberId: a.memberId, assignment: encoder.encode('all') }] } });
  assert.deepEqual([synced.errorCode, Buffer.from(synced.assignment).toString()], [0, 'all']);
  assert.equal(await heartbeat(first, group, 1, a.memberId), 0);

  const secondJoin = second.send(5, joinRequest(group, ''));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(await heartbeat(first, group, 1, a.memberId), KAFKA_ERROR.REBALANCE_IN_PROGRESS, 'the first member learns of the rebalance');
  assert.equal(await createTopic(first, 'rebalance-topic'), 0);
  assert.equal(await commit(first, group, 1, a.memberId, 'rebalance-topic', 3n), 0, 'a member commits what it consumed before rejoining');
  const aAgain = await first.send(5, joinRequest(group, a.memberId));
  const b = await secondJoin;
  assert.equal(await commit(first, group, 2, a.memberId, 'rebalance-topic', 4n), KAFKA_ERROR.REBALANCE_IN_PROGRESS, 'joined, not yet synced');
  assert.deepEqual([aAgain.generationId, b.generationId], [2, 2]);
  assert.equal(aAgain.leader, a.memberId, 'the leader stays');
  assert.deepEqual(aAgain.members.map((member) => member.memberId).sort(), [a.memberId, b.memberId].sort());
  assert.deepEqual(b.members, [], 'only the leader gets the members');
  const metadataOfB = aAgain.members.find((member) => member.memberId === b.memberId)!.metadata;
  assert.equal(Buffer.from(metadataOfB).toString(), 'meta-', 'protocol metadata passed through untouched');

  const followerSync = second.send(3, { apiKey: 14, message: { groupId: group, generationId: 2, memberId: b.memberId, groupInstanceId: null, assignments: [] } });
  const leaderSync = await first.send(3, {
    apiKey: 14,
    message: { groupId: group, generationId: 2, memberId: a.memberId, groupInstanceId: null, assignments: [{ memberId: a.memberId, assignment: encoder.encode('p0') }, { memberId: b.memberId, assignment: encoder.encode('p1') }] },
  });
  assert.equal(Buffer.from(leaderSync.assignment).toString(), 'p0');
  assert.equal(Buffer.from((await followerSync).assignment).toString(), 'p1', 'the waiting member gets its assignment once the leader syncs');
  assert.equal(await heartbeat(first, group, 1, a.memberId), KAFKA_ERROR.ILLEGAL_GENERATION);
  assert.equal(await heartbeat(first, group, 2, 'nobody'), KAFKA_ERROR.UNKNOWN_MEMBER_ID);
  assert.equal((await first.send(5, joinRequest(group, 'nobody'))).errorCode, KAFKA_ERROR.UNKNOWN_MEMBER_ID);
  assert.equal(await heartbeat(second, group, 2, b.memberId), 0);

  const described = await first.send(4, { apiKey: 15, message: { groups: [group, 'no-such-group'], includeAuthorizedOperations: false } });
  const [stable, dead] = described.groups;
  assert.deepEqual([stable!.groupState, stable!.protocolType, stable!.protocolData, stable!.members.length], ['Stable', 'consumer', 'range', 2]);
  assert.equal(Buffer.from(stable!.members.find((member) => member.memberId === b.memberId)!.memberAssignment).toString(), 'p1');
  assert.equal(stable!.members[0]!.clientId, 'raw-test');
  assert.equal(dead!.groupState, 'Dead');
  const listed = await first.send(2, { apiKey: 16, message: {} });
  assert.ok(listed.groups.some((entry) => entry.groupId === group && entry.protocolType === 'consumer'));

  const left = await second.send(3, { apiKey: 13, message: { groupId: group, memberId: '', members: [{ memberId: b.memberId, groupInstanceId: null }, { memberId: 'ghost', groupInstanceId: null }] } });
  assert.deepEqual(left.members.map((member) => member.errorCode), [0, KAFKA_ERROR.UNKNOWN_MEMBER_ID]);
  assert.equal(await heartbeat(first, group, 2, a.memberId), KAFKA_ERROR.REBALANCE_IN_PROGRESS, 'a leave starts a rebalance');
});

test('session timeouts: out-of-range ones are refused, and a member that stops heartbeating is removed', async () => {
  const client = await open(cluster.leader().kafka);
  assert.equal((await client.send(5, joinRequest('expiry-group', '', { sessionTimeoutMs: 10 }))).errorCode, KAFKA_ERROR.INVALID_SESSION_TIMEOUT);
  const joined = await client.send(5, joinRequest('expiry-group', '', { sessionTimeoutMs: 1_000 }));
  assert.equal(joined.errorCode, 0);
  await client.send(3, { apiKey: 14, message: { groupId: 'expiry-group', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, assignments: [] } });
  await new Promise((resolve) => setTimeout(resolve, 1_400));
  assert.equal(await heartbeat(client, 'expiry-group', joined.generationId, joined.memberId), KAFKA_ERROR.UNKNOWN_MEMBER_ID);
  const described = await client.send(0, { apiKey: 15, message: { groups: ['expiry-group'], includeAuthorizedOperations: false } });
  assert.equal(described.groups[0]!.groupState, 'Dead');
});

test('offsets: commits follow the group rules; OffsetFetch reads them back; simple consumers commit outside a group', async () => {
  const client = await open(cluster.leader().kafka);
  assert.equal(await createTopic(client, 'offsets-topic'), 0);
  assert.equal(await commit(client, 'simple-group', -1, '', 'offsets-topic', 42n), 0);
  assert.equal(await commit(client, 'ghost-group', 5, 'ghost-member', 'offsets-topic', 1n), KAFKA_ERROR.ILLEGAL_GENERATION);
  assert.equal(await commit(client, 'simple-group', -1, '', 'no-such-topic', 1n), KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION);
  const joined = await client.send(5, joinRequest('managed-group', ''));
  await client.send(3, { apiKey: 14, message: { groupId: 'managed-group', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, assignments: [] } });
  assert.equal(await commit(client, 'managed-group', joined.generationId, joined.memberId, 'offsets-topic', 7n), 0);
  assert.equal(await commit(client, 'managed-group', joined.generationId + 1, joined.memberId, 'offsets-topic', 8n), KAFKA_ERROR.ILLEGAL_GENERATION);
  assert.equal(await commit(client, 'managed-group', joined.generationId, 'stranger', 'offsets-topic', 8n), KAFKA_ERROR.UNKNOWN_MEMBER_ID);
  const fetched = await client.send(5, { apiKey: 9, message: { groupId: 'managed-group', topics: [{ name: 'offsets-topic', partitionIndexes: [0] }] } });
  assert.deepEqual([fetched.errorCode, fetched.topics[0]!.partitions[0]!.committedOffset, fetched.topics[0]!.partitions[0]!.metadata], [0, 7n, 'meta']);
  const all = await client.send(2, { apiKey: 9, message: { groupId: 'simple-group', topics: null } });
  assert.deepEqual(all.topics.map((topic) => [topic.name, topic.partitions[0]!.committedOffset]), [['offsets-topic', 42n]]);
  const v1 = await client.send(1, { apiKey: 9, message: { groupId: 'fresh-group', topics: [{ name: 'offsets-topic', partitionIndexes: [0] }] } });
  assert.equal(v1.topics[0]!.partitions[0]!.committedOffset, -1n, 'nothing committed yet');
  const listed = await client.send(0, { apiKey: 16, message: {} });
  assert.ok(listed.groups.some((group) => group.groupId === 'simple-group'), 'groups with committed offsets are listed');
});

test('a leadership change answers waiting group requests with NOT_COORDINATOR and forgets group state', async () => {
  const local = await TestCluster.start();
  try {
    const oldLeader = local.leader();
    const first = await RawKafkaClient.connect(oldLeader.kafka);
    const second = await RawKafkaClient.connect(oldLeader.kafka);
    try {
      const a = await first.send(5, joinRequest('moving-group', ''));
      await first.send(3, { apiKey: 14, message: { groupId: 'moving-group', generationId: a.generationId, memberId: a.memberId, groupInstanceId: null, assignments: [] } });
      const waiting = second.send(5, joinRequest('moving-group', '')); // waits for the first member to rejoin
      await new Promise((resolve) => setTimeout(resolve, 50));
      const target = local.followers()[0]!;
      await oldLeader.raft.transferLeadership(target.id);
      assert.equal((await waiting).errorCode, KAFKA_ERROR.NOT_COORDINATOR);
      assert.equal(await heartbeat(first, 'moving-group', a.generationId, a.memberId), KAFKA_ERROR.NOT_COORDINATOR);
      const newLeader = await RawKafkaClient.connect(target.kafka);
      try {
        await waitFor(() => target.raft.role === 'leader', 'the new leader');
        assert.equal(await heartbeat(newLeader, 'moving-group', a.generationId, a.memberId), KAFKA_ERROR.UNKNOWN_MEMBER_ID, 'membership is not carried over: the client rejoins');
      } finally {
        newLeader.close();
      }
    } finally {
      first.close();
      second.close();
    }
  } finally {
    await local.close();
  }
});

test('after the leader fails, committed offsets survive, an idempotent retry is deduplicated by the new leader, and the ISR drops the failed node', async () => {
  const local = await TestCluster.start();
  try {
    const oldLeader = local.leader();
    const client = await RawKafkaClient.connect(oldLeader.kafka);
    const init = await client.send(1, { apiKey: 22, message: { transactionalId: null, transactionTimeoutMs: 60_000 } });
    assert.equal(init.errorCode, 0);
    assert.equal(await createTopic(client, 'durable'), 0);
    const batch = batchOf(['once-a', 'once-b'], { producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence: 0 });
    const first = await client.send(7, produceRequest('durable', 0, batch));
    assert.equal(first.responses[0]!.partitionResponses[0]!.baseOffset, 0n);
    assert.equal(await commit(client, 'durable-group', -1, '', 'durable', 2n), 0);
    client.close();
    await local.stopMember(oldLeader);
    const newLeader = await local.waitForLeader();
    const retry = await RawKafkaClient.connect(newLeader.kafka);
    try {
      // The producer never saw the first answer, so it retries the same batch on the new leader.
      const again = await retry.send(7, produceRequest('durable', 0, batch));
      assert.deepEqual([again.responses[0]!.partitionResponses[0]!.errorCode, again.responses[0]!.partitionResponses[0]!.baseOffset], [0, 0n], 'the original offset, no second copy');
      const gap = await retry.send(7, produceRequest('durable', 0, batchOf(['gap'], { producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence: 5 })));
      assert.equal(gap.responses[0]!.partitionResponses[0]!.errorCode, KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER);
      const fetched = await retry.send(11, fetchRequest('durable', 0, 0n));
      assert.equal(fetched.responses[0]!.partitions[0]!.highWatermark, 2n);
      const offsets = await retry.send(5, { apiKey: 9, message: { groupId: 'durable-group', topics: [{ name: 'durable', partitionIndexes: [0] }] } });
      assert.equal(offsets.topics[0]!.partitions[0]!.committedOffset, 2n, 'the committed offset survived the failover');
      // The stopped node stays a replica (still a voter) but leaves the ISR once the leader stops hearing from it.
      let partition: { leaderId: number; replicaNodes: number[]; isrNodes: number[]; offlineReplicas: number[] } | undefined;
      const deadline = Date.now() + 10_000;
      do {
        const metadata = await retry.send(5, { apiKey: 3, message: { topics: [{ name: 'durable' }], allowAutoTopicCreation: false } });
        partition = metadata.topics[0]!.partitions[0]!;
        if (!partition.isrNodes.includes(oldLeader.id)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      } while (Date.now() < deadline);
      assert.equal(partition.leaderId, newLeader.id);
      assert.deepEqual(partition.replicaNodes, [1, 2, 3]);
      assert.deepEqual(partition.isrNodes, [1, 2, 3].filter((id) => id !== oldLeader.id));
      assert.deepEqual(partition.offlineReplicas, [oldLeader.id]);
    } finally {
      retry.close();
    }
  } finally {
    await local.close();
  }
});
