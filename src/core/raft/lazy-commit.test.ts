// RaftConfig.lazyCommitPropagation: the leader tells followers a new commit index with its next
// append or heartbeat, or when the application asks (propagateCommit), never with an empty append
// of its own right after the commit. Three nodes with memory storage; every message is delivered
// by hand and recorded, so the tests see exactly what was sent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryLogStorage } from './storage.ts';
import { RawNode } from './raw-node.ts';
import type { Message } from '../types.ts';

const HEARTBEAT_INTERVAL_TICKS = 2;

interface Cluster {
  readonly nodes: Map<number, RawNode>;
  readonly storages: Map<number, MemoryLogStorage>;
  /** Every message delivered so far, in order. */
  readonly sent: Message[];
}

function cluster(lazyCommitPropagation: boolean): Cluster {
  const nodes = new Map<number, RawNode>();
  const storages = new Map<number, MemoryLogStorage>();
  for (const id of [1, 2, 3]) {
    const storage = new MemoryLogStorage();
    storage.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array() });
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    let seed = id;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    nodes.set(id, new RawNode({ id, storage, random, heartbeatIntervalTicks: HEARTBEAT_INTERVAL_TICKS, lazyCommitPropagation }));
    storages.set(id, storage);
  }
  return { nodes, storages, sent: [] };
}

/** Runs every node's Readys (persisting them) and delivers their messages until nothing moves. */
function settle(members: Cluster): void {
  for (let round = 0; round < 100; round++) {
    const outbox: Message[] = [];
    for (const [id, node] of members.nodes) {
      if (!node.hasReady()) continue;
      const ready = node.ready();
      const storage = members.storages.get(id)!;
      if (ready.entries.length > 0) storage.append(ready.entries);
      if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
      outbox.push(...ready.messages);
      node.advance();
    }
    if (outbox.length === 0) return;
    for (const message of outbox) {
      members.sent.push(message);
      members.nodes.get(message.to)!.step(message);
    }
  }
  throw new Error('the cluster did not settle');
}

function withLeader(lazy: boolean): Cluster {
  const members = cluster(lazy);
  members.nodes.get(1)!.campaign();
  settle(members);
  assert.equal(members.nodes.get(1)!.role, 'leader');
  members.sent.length = 0;
  return members;
}

function put(members: Cluster, text: string): number {
  const leader = members.nodes.get(1)!;
  assert.equal(leader.propose(new TextEncoder().encode(text)).ok, true);
  settle(members);
  return leader.commitIndex;
}

const emptyAppendsFromLeader = (members: Cluster): Message[] =>
  members.sent.filter((message) => message.from === 1 && message.type === 'append' && message.entries.length === 0);

const followerCommits = (members: Cluster): number[] => [2, 3].map((id) => members.nodes.get(id)!.commitIndex);

describe('lazy commit propagation', () => {
  test('off (the default): an empty append tells the followers the new commit index at once', () => {
    const members = withLeader(false);
    const committed = put(members, 'put x');
    assert.ok(emptyAppendsFromLeader(members).length >= 2, 'one empty append per follower');
    assert.deepEqual(followerCommits(members), [committed, committed]);
  });

  test('on: no empty append; the followers learn the commit index from the next heartbeat', () => {
    const members = withLeader(true);
    const committed = put(members, 'put x');
    assert.deepEqual(emptyAppendsFromLeader(members), []);
    assert.ok(followerCommits(members).every((commit) => commit < committed), 'the followers have the entry but not yet its commit');
    const leader = members.nodes.get(1)!;
    for (let tick = 0; tick < HEARTBEAT_INTERVAL_TICKS; tick++) leader.tick();
    settle(members);
    assert.ok(members.sent.some((message) => message.type === 'heartbeat'), 'a heartbeat went out');
    assert.deepEqual(followerCommits(members), [committed, committed]);
  });

  test('on: commitUnpropagated() says so, and propagateCommit() tells the followers with an append of its own', () => {
    const members = withLeader(true);
    const leader = members.nodes.get(1)!;
    const committed = put(members, 'put x');
    assert.equal(leader.commitUnpropagated(), true);
    assert.equal(members.nodes.get(2)!.commitUnpropagated(), false, 'a follower never has anything to propagate');
    leader.propagateCommit();
    settle(members);
    assert.equal(emptyAppendsFromLeader(members).length, 2, 'one empty append per follower');
    assert.deepEqual(followerCommits(members), [committed, committed]);
    assert.equal(leader.commitUnpropagated(), false);
    leader.propagateCommit();
    settle(members);
    assert.equal(emptyAppendsFromLeader(members).length, 2, 'nothing is sent twice');
  });

  test('on: the next write\'s append carries the commit index of the one before', () => {
    const members = withLeader(true);
    const first = put(members, 'put x');
    const second = put(members, 'put y');
    assert.ok(second > first);
    assert.deepEqual(emptyAppendsFromLeader(members), []);
    assert.deepEqual(followerCommits(members), [first, first]);
  });

  test('on: a follower that was behind still receives the entries it lacks', () => {
    const members = withLeader(true);
    const leader = members.nodes.get(1)!;
    // Node 3 misses the append of `put x`: only node 2 acknowledges, which commits it.
    assert.equal(leader.propose(new TextEncoder().encode('put x')).ok, true);
    const ready = leader.ready();
    members.storages.get(1)!.append(ready.entries);
    leader.advance();
    for (const message of ready.messages.filter((message) => message.to === 2)) members.nodes.get(2)!.step(message);
    settle(members);
    const committed = leader.commitIndex;
    assert.ok(members.storages.get(3)!.lastIndex() < committed, 'node 3 lacks the entry');
    for (let tick = 0; tick < HEARTBEAT_INTERVAL_TICKS; tick++) leader.tick();
    settle(members);
    assert.equal(members.storages.get(3)!.lastIndex(), leader.status().lastIndex);
    assert.deepEqual(followerCommits(members), [committed, committed]);
  });
});
