// The load generators behind `cairn bench produce|consume` against an in-process 3-node cluster:
// what the lean producer had acknowledged, the lean consumer and the kafkajs consumer both read
// back, every message once, with the right byte count. Figures are never asserted (benchmarks
// measure them; these machines are noisy), only that the generators count what really happened.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runConsumeLoad } from '../../src/cli/bench/kafka-load.ts';
import { runLeanConsumeLoad } from '../../src/cli/bench/lean-consumer.ts';
import { runLeanProduceLoad } from '../../src/cli/bench/lean-producer.ts';
import { findLeader } from '../../src/cli/bench/lean-connection.ts';
import { TestCluster, waitFor } from './cluster.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
process.removeAllListeners('warning');

const MESSAGE_BYTES = 300;
let cluster: TestCluster;
let produced = 0;

before(async () => {
  cluster = await TestCluster.start();
  const figures = await runLeanProduceLoad({
    brokers: cluster.bootstrapFromFollower(), topic: 'bench', partitions: 3, messageBytes: MESSAGE_BYTES, batch: 20, inFlight: 4,
    durationMs: 700, acks: -1, idempotent: false, compression: 'none',
  });
  assert.equal(figures.errors, 0);
  assert.ok(figures.messages > 0, 'the producer had messages acknowledged');
  assert.equal(figures.messages % 20, 0, 'whole batches');
  produced = figures.messages;
});

after(async () => {
  await cluster?.close();
});

test('the lean consumer reads back exactly what the lean producer had acknowledged', async () => {
  const figures = await runLeanConsumeLoad({ brokers: cluster.bootstrapFromFollower(), topic: 'bench', messages: 10_000_000, timeoutMs: 30_000 });
  assert.equal(figures.errors, 0);
  assert.equal(figures.messages, produced);
  assert.equal(figures.bytes, produced * MESSAGE_BYTES);
});

test('the lean consumer stops at --messages', async () => {
  const figures = await runLeanConsumeLoad({ brokers: cluster.bootstrapFromFollower(), topic: 'bench', messages: 30, timeoutMs: 30_000 });
  // It reads whole Fetch answers, so it may count past the limit, never short of it.
  assert.ok(figures.messages >= 30 && figures.messages <= produced, `${figures.messages} messages`);
});

test('the lean consumer follows a leader that moves between two Fetches, and still reads every message once', async () => {
  const before = cluster.leader();
  const target = cluster.followers()[0]!;
  const figures = await runLeanConsumeLoad({
    brokers: cluster.bootstrapFromFollower(), topic: 'bench', messages: 10_000_000, timeoutMs: 30_000,
    // Between ListOffsets and the first Fetch: that Fetch reaches the old leader and is refused.
    beforeFetch: async (fetch) => {
      if (fetch === 1) await before.raft.transferLeadership(target.id);
    },
  });
  assert.equal(cluster.leader().id, target.id, 'the leader moved');
  assert.ok(figures.errors >= 1, 'the old leader refused a Fetch');
  assert.equal(figures.messages, produced);
  assert.equal(figures.bytes, produced * MESSAGE_BYTES);
});

test('the kafkajs consumer reads the same', async () => {
  const figures = await runConsumeLoad({ brokers: cluster.bootstrapFromFollower(), topic: 'bench', messages: 10_000_000, timeoutMs: 30_000 });
  assert.equal(figures.messages, produced);
  assert.equal(figures.bytes, produced * MESSAGE_BYTES);
});

test('the lean producer follows a leader that moves mid-run: a few refused requests, then acknowledgements again', async () => {
  const before = cluster.leader();
  const target = cluster.followers()[0]!;
  const moving = new Promise<void>((resolve, reject) => {
    setTimeout(() => before.raft.transferLeadership(target.id).then(resolve, reject), 400);
  });
  const figures = await runLeanProduceLoad({
    brokers: cluster.bootstrapFromFollower(), topic: 'bench-moves', partitions: 3, messageBytes: MESSAGE_BYTES, batch: 20, inFlight: 4,
    durationMs: 1_500, acks: -1, idempotent: false, compression: 'none',
  });
  await moving;
  assert.equal(cluster.leader().id, target.id, 'the leader moved');
  // Without following the leader, every request after the move is refused: thousands of errors.
  assert.ok(figures.errors <= 20, `${figures.errors} refused requests`);
  const read = await runLeanConsumeLoad({ brokers: cluster.bootstrapFromFollower(), topic: 'bench-moves', messages: 10_000_000, timeoutMs: 30_000 });
  // A refused request may still have been committed, so the topic may hold more than was acknowledged.
  assert.ok(read.messages >= figures.messages && figures.messages > 0, `${figures.messages} acknowledged, ${read.messages} read`);
});

// Last: it leaves the cluster with another leader, perhaps.
test('the lean generators wait while the cluster elects a leader instead of failing at once', async () => {
  const [first, second] = cluster.followers();
  // No two members can reach each other: no quorum, so no leader anywhere.
  cluster.network.partition([cluster.leader().id], [first!.id], [second!.id]);
  await waitFor(() => cluster.members.every((member) => member.raft.raftStatus().leaderId === 0), 'no member to know a leader', 15_000);
  const finding = findLeader([first!.kafka], 'bench');
  await new Promise((resolve) => setTimeout(resolve, 600));
  cluster.network.heal();
  const layout = await finding;
  const leader = await cluster.waitForLeader();
  assert.equal(layout.leader, leader.kafka);
  assert.deepEqual(layout.partitions, [0, 1, 2]);
});
