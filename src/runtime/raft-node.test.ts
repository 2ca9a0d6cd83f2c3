// The runtime with real components in one process: memory transports, memory storage and the
// real replicated state (memory store). Nodes form a cluster the way `cairn local up` does:
// bootstrap one, add the others as learners that promote themselves once caught up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryNetwork } from '../transport/index.ts';
import { MemoryStorage } from '../storage/index.ts';
import { openNodeState } from '../state/open.ts';
import type { NodeState } from '../state/open.ts';
import { encodeKvCommand } from '../state/kv/commands.ts';
import { encodeMembershipContext } from '../state/members/member-directory.ts';
import { bootstrapCluster } from './bootstrap.ts';
import { RaftNode } from './raft-node.ts';
import { isNodeError } from './errors.ts';
import { isStateBacked } from './snapshotter.ts';
import type { KvState } from '../state/kv/kv-state.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface TestMember {
  readonly id: number;
  readonly node: RaftNode;
  readonly state: NodeState;
  readonly storage: MemoryStorage;
}

/** `stateDirectory`: lmdb state under it (a durable state machine); omitted = memory state. */
function createMember(network: MemoryNetwork, id: number, seeds: Map<number, string>, storage = new MemoryStorage(), stateDirectory?: string, tickMs = 5): TestMember {
  const state = openNodeState(stateDirectory === undefined ? {} : { path: join(stateDirectory, `node-${id}`) });
  const transport = network.createTransport(id);
  const node = new RaftNode({
    id, storage, transport, state: state.state, members: state.members, tickMs, electionTimeoutTicks: 10,
    seedPeers: seeds, requestTimeoutMs: 3000, snapshotEveryEntries: 200, entriesKeptAfterSnapshot: 20,
    // The leader holds entries for a follower behind it up to 4 x this: an isolated one here
    // falls behind that within a few hundred puts, and gets a snapshot.
    bytesKeptAfterSnapshot: 1024,
  });
  return { id, node, state, storage };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function formCluster(network: MemoryNetwork, size: number, stateDirectory?: string, tickMs?: number): Promise<TestMember[]> {
  const first = createMember(network, 1, new Map(), new MemoryStorage(), stateDirectory, tickMs);
  await bootstrapCluster(first.storage, 1, { peer: 'node-1', client: 'http-1' });
  const members = [first];
  await startTransport(first);
  first.node.start();
  await waitFor(() => first.node.role === 'leader', 'the founder to lead');
  for (let id = 2; id <= size; id++) {
    const member = createMember(network, id, new Map([[1, 'node-1']]), new MemoryStorage(), stateDirectory, tickMs);
    await startTransport(member);
    member.node.start();
    members.push(member);
    await first.node.changeMembership({
      changes: [{ action: 'add-learner', nodeId: id }],
      context: encodeMembershipContext({ members: { [String(id)]: { peer: `node-${id}`, client: `http-${id}`, autoPromote: true } } }),
    });
  }
  await waitFor(() => first.node.raftStatus().config.voters.length === size, `${size} voters`);
  return members;
}

async function startTransport(member: TestMember): Promise<void> {
  await (member.node as unknown as { options: { transport: { start(): Promise<void> } } }).options.transport.start();
}

function read(kv: KvState, key: string): string | undefined {
  const result = kv.get(encoder.encode(key));
  if ('code' in result) throw new Error(`read failed: ${result.message}`);
  return result.kv === undefined ? undefined : decoder.decode(result.kv.value);
}

function put(key: string, value: string): Uint8Array {
  return encodeKvCommand({ type: 'put', key: encoder.encode(key), value: encoder.encode(value) });
}

async function stopAll(members: TestMember[], network: MemoryNetwork): Promise<void> {
  for (const member of members) await member.node.stop();
  network.close();
  for (const member of members) await member.state.state.close();
}

test('a 3-node cluster forms, replicates writes, and serves linearizable reads on every node', async () => {
  const network = new MemoryNetwork();
  const members = await formCluster(network, 3);
  try {
    const leader = members.find((member) => member.node.role === 'leader')!;
    const follower = members.find((member) => member.node.role !== 'leader')!;
    await leader.node.propose(put('a', '1'));
    // A write through a follower is forwarded to the leader.
    const result = await follower.node.propose(put('b', '2')) as { type: string; revision: number };
    assert.equal(result.type, 'put');
    for (const member of members) {
      await member.node.readBarrier();
      assert.equal(read(member.state.kv, 'b'), '2', `node ${member.id} reads the write after a read barrier`);
    }
    assert.deepEqual([...members[0]!.state.members.members().keys()].sort(), [1, 2, 3]);
  } finally {
    await stopAll(members, network);
  }
});

test('followers learn commit indexes from the next append while writes come, and from an append of its own once they stop', async () => {
  const network = new MemoryNetwork();
  // Heartbeats every 100 ms, as in production (an answer to one may bring an empty append too).
  const members = await formCluster(network, 3, undefined, 50);
  try {
    const leader = members.find((member) => member.node.role === 'leader')!;
    const emptyAppends: { to: number; commit: number }[] = [];
    network.setDropFilter((message) => {
      if (message.from === leader.id && message.type === 'append' && message.entries.length === 0) emptyAppends.push({ to: message.to, commit: message.commit });
      return false; // a tap: nothing is dropped
    });
    const writes = 50;
    for (let position = 0; position < writes; position++) await leader.node.propose(put(`lazy${position}`, 'v'));
    // Eager propagation sends each follower an empty append per write; a stall of the machine
    // longer than RAFT_NODE_DEFAULTS.commitPropagationDelayMs between two writes may send one.
    assert.ok(emptyAppends.length < writes / 5, `${emptyAppends.length} empty appends during ${writes} writes`);
    const lastIndex = leader.node.raftStatus().commit;
    // Heartbeats carry commit indexes too, but as heartbeats: the followers
    // must get an append carrying the last one once the leader has had nothing to propose.
    await waitFor(() => [2, 3].every((id) => emptyAppends.some((append) => append.to === id && append.commit >= lastIndex)), 'an empty append with the last commit index to each follower');
    await waitFor(() => members.every((member) => member.state.state.appliedIndex() >= lastIndex), 'every node to apply the last write');
  } finally {
    await stopAll(members, network);
  }
});

test('after the leader stops, a new leader is elected and no acknowledged write is lost', async () => {
  const network = new MemoryNetwork();
  const members = await formCluster(network, 3);
  try {
    const acknowledged: string[] = [];
    for (let position = 0; position < 50; position++) {
      const leader = members.find((member) => member.node.role === 'leader')!;
      await leader.node.propose(put(`k${position}`, `v${position}`));
      acknowledged.push(`k${position}`);
    }
    const oldLeader = members.find((member) => member.node.role === 'leader')!;
    await oldLeader.node.stop();
    network.isolate(oldLeader.id);
    const survivors = members.filter((member) => member !== oldLeader);
    await waitFor(() => survivors.some((member) => member.node.role === 'leader'), 'a new leader');
    const newLeader = survivors.find((member) => member.node.role === 'leader')!;
    await newLeader.node.propose(put('after', 'failover'));
    await newLeader.node.readBarrier();
    for (const key of acknowledged) assert.ok(read(newLeader.state.kv, key) !== undefined, `${key} survived the failover`);
  } finally {
    await stopAll(members, network);
  }
});

test('a proposal without a quorum times out with an explicit error; snapshots and compaction keep the log short', async () => {
  const network = new MemoryNetwork();
  const members = await formCluster(network, 3);
  try {
    const leader = members.find((member) => member.node.role === 'leader')!;
    for (let position = 0; position < 400; position++) await leader.node.propose(put(`s${position % 10}`, `v${position}`));
    assert.ok(leader.storage.firstIndex() > 100, `the log was compacted (first index ${leader.storage.firstIndex()})`);
    assert.ok(leader.node.counters.proposalsCommitted >= 400);
    for (const member of members) if (member !== leader) network.isolate(member.id);
    await assert.rejects(leader.node.propose(put('lonely', 'x'), 300), (error) => isNodeError(error) && ['timeout', 'not-leader', 'no-leader'].includes(error.code));
  } finally {
    await stopAll(members, network);
  }
});

test('with a durable state store the log is compacted behind it without copying the state, and a follower left behind gets a snapshot built for it', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'cairn-state-backed-'));
  const network = new MemoryNetwork();
  const members = await formCluster(network, 3, directory);
  try {
    const leader = members.find((member) => member.node.role === 'leader')!;
    const lagging = members.find((member) => member !== leader)!;
    network.isolate(lagging.id);
    for (let position = 0; position < 500; position++) await leader.node.propose(put(`s${position % 40}`, `v${position}`));
    await waitFor(() => leader.storage.firstIndex() > 200, 'the leader to compact its log');
    const stored = leader.storage.snapshot();
    assert.ok(isStateBacked(stored), `the leader's latest snapshot holds no copy of the state (${stored.data.byteLength} bytes)`);
    assert.ok(stored.metadata.index <= leader.state.state.durableAppliedIndex(), 'the log is compacted only behind what the store made durable');
    assert.equal(lagging.state.state.appliedIndex() < leader.storage.firstIndex() - 1, true, 'the isolated follower is behind the compacted log');

    network.heal();
    await waitFor(() => lagging.node.counters.snapshotsRestored >= 1, 'the lagging follower to restore a snapshot');
    assert.ok(leader.node.counters.snapshotsSent >= 1, 'the leader counted the snapshot it sent');
    await lagging.node.readBarrier();
    for (let key = 0; key < 40; key++) assert.equal(read(lagging.state.kv, `s${key}`), read(leader.state.kv, `s${key}`), `s${key} on the follower`);
    assert.ok(!isStateBacked(leader.node.inspectCore().raft.log.snapshot()!), 'the core never sees a state-backed snapshot once running');
  } finally {
    await stopAll(members, network);
    await rm(directory, { recursive: true, force: true });
  }
});

test('a node whose log was compacted behind a state store it no longer has refuses to start, saying what to do', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'cairn-state-backed-'));
  const network = new MemoryNetwork();
  const members = await formCluster(network, 3, directory);
  try {
    const leader = members.find((member) => member.node.role === 'leader')!;
    for (let position = 0; position < 300; position++) await leader.node.propose(put(`s${position % 40}`, `v${position}`));
    await waitFor(() => isStateBacked(leader.storage.snapshot()), 'a state-backed snapshot');
    await leader.node.stop();
    // The same log with a fresh (empty) state store: the compacted entries are nowhere.
    const restarted = createMember(new MemoryNetwork(), leader.id, new Map(), MemoryStorage.reopen(leader.storage));
    assert.throws(() => restarted.node.start(), (error) => isNodeError(error) && /state store has applied only up to 0.*Wipe this node's data directory/s.test(error.message));
    await restarted.state.state.close();
  } finally {
    await stopAll(members, network);
    await rm(directory, { recursive: true, force: true });
  }
});
