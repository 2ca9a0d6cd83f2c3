// Cluster operations over HTTP on a real cluster: leader transfer, learners (join --learner),
// promotion, removal, a joint change that swaps a voter, init of an empty node, and the refusals
// (wrong secret, init of a running node).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CairnNode, CairnNodeError } from '../server/node/index.ts';
import { CairnClientError } from './errors.ts';
import { FAST_NODE_OPTIONS, TestCluster, waitFor } from './testing/cluster.ts';

const cluster = new TestCluster();

describe('cluster membership over HTTP', () => {
  before(async () => {
    await cluster.start(3);
  });
  after(async () => {
    await cluster.stop();
  });

  test('transfer-leader moves leadership to the chosen node, asked through a follower', async () => {
    const [follower, target] = cluster.followers();
    const client = cluster.client([follower!.clientAddress()]);
    const answer = await client.transferLeader(target!.nodeId());
    assert.equal(answer.leaderId, target!.nodeId());
    await waitFor(() => cluster.leader() === target, 'the target to lead everywhere');
    const status = await client.status();
    assert.equal(status.leaderId, target!.nodeId());
    const automatic = await client.transferLeader();
    assert.notEqual(automatic.leaderId, target!.nodeId());
    await waitFor(() => cluster.leader()?.nodeId() === automatic.leaderId, 'the automatic choice to lead');
  });

  test('a learner joins, is promoted, removed; a joint change swaps a voter', async () => {
    const client = cluster.client();
    const learner = cluster.createNode(4, { join: [cluster.nodes.get(2)!.clientAddress()], learner: true });
    await learner.start();
    let status = await client.status();
    assert.equal(status.members.find((member) => member.id === 4)?.membership, 'learner');
    await client.put('membership/before-promote', 'x');
    await waitFor(async () => (await cluster.client([learner.clientAddress()]).get('membership/before-promote', { consistency: 'serializable' })) !== undefined, 'the learner to catch up');
    await assert.rejects(client.promote(9), (error: CairnClientError) => error.status === 404 && error.code === 'not-a-learner');
    const promoted = await client.promote(4);
    assert.deepEqual(promoted.config.voters, [1, 2, 3, 4]);
    const removed = await client.removeMember(4);
    assert.deepEqual(removed.config.voters, [1, 2, 3]);
    await learner.stop();
    cluster.nodes.delete(4);
    await assert.rejects(client.removeMember(4), (error: CairnClientError) => error.code === 'not-a-member');

    const newcomer = cluster.createNode(5, { join: [cluster.nodes.get(1)!.clientAddress()], learner: true });
    await newcomer.start();
    const swapped = await client.changeMembership([{ action: 'add-voter', nodeId: 5 }, { action: 'remove', nodeId: 3 }]);
    assert.deepEqual(swapped.config.voters, [1, 2, 5]);
    await waitFor(async () => (await cluster.client([cluster.nodes.get(1)!.clientAddress()]).status({ scope: 'local' })).config.joint === false, 'the joint configuration to be left');
    await cluster.nodes.get(3)!.stop();
    cluster.nodes.delete(3);
    await waitFor(() => cluster.leader() !== undefined, 'a leader among 1, 2, 5');
    const survivors = cluster.client();
    await survivors.put('membership/after-swap', 'y');
    status = await survivors.status();
    assert.deepEqual(status.members.map((member) => [member.id, member.membership]), [[1, 'voter'], [2, 'voter'], [5, 'voter']]);
    assert.equal((await cluster.client([newcomer.clientAddress()]).get('membership/after-swap'))?.value.toString(), 'y');
  });

  test('a node with the wrong cluster secret cannot join: start() fails with a clear error', async () => {
    const intruder = new CairnNode({
      ...FAST_NODE_OPTIONS, dataDir: cluster.dataDir(66), nodeId: 66, clusterSecret: 'not-the-right-secret', join: [cluster.endpoints()[0]!], joinTimeoutMs: 3000,
    });
    await assert.rejects(intruder.start(), (error: CairnNodeError) => error.code === 'join-refused' && /cluster-secret-mismatch/.test(error.message) && /--cluster-secret/.test(error.message));
    await intruder.stop();
    const status = await cluster.client().status({ scope: 'local' });
    assert.ok(!status.members.some((member) => member.id === 66), 'the intruder was not added');
  });

  test('init: refused on a running node, accepted by an empty one', async () => {
    const client = cluster.client();
    await assert.rejects(client.init(), (error: CairnClientError) => error.status === 409 && error.code === 'already-initialized');
    const lonely = new CairnNode({ ...FAST_NODE_OPTIONS, dataDir: cluster.dataDir(77), nodeId: 7, clusterSecret: 'another-secret' });
    try {
      await lonely.start();
      assert.equal(lonely.phase(), 'uninitialized');
      const empty = cluster.client([lonely.clientAddress()], { timeoutMs: 500, maxAttempts: 2 });
      await assert.rejects(empty.put('k', 'v'), (error: CairnClientError) => error.code === 'not-initialized');
      assert.equal((await empty.ready()).ready, false);
      const created = await empty.init({ clusterId: 'solo-cluster' });
      assert.deepEqual(created, { clusterId: 'solo-cluster', nodeId: 7 });
      await waitFor(() => lonely.raft?.role === 'leader', 'the new cluster to elect its node');
      await empty.put('k', 'v');
      assert.equal((await empty.get('k'))?.value.toString(), 'v');
    } finally {
      await lonely.stop();
    }
  });
});
