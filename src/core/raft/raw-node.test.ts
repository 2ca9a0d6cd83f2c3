// RawNode.takeCommittedEntries: entries committed while the application still persists the last
// Ready. Three nodes with memory storage; messages are delivered by hand so the test decides
// exactly when the leader's own write "completes" (advance()).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryLogStorage } from './storage.ts';
import { RawNode } from './raw-node.ts';
import type { Message, Ready } from '../types.ts';

interface Member {
  readonly raw: RawNode;
  readonly storage: MemoryLogStorage;
}

function cluster(): Map<number, Member> {
  const members = new Map<number, Member>();
  for (const id of [1, 2, 3]) {
    const storage = new MemoryLogStorage();
    storage.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array() });
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    let seed = id;
    members.set(id, { storage, raw: new RawNode({ id, storage, random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647) }) });
  }
  return members;
}

/** Persists a Ready's log and hard state (what the application would write). */
function persist(member: Member, ready: Ready): void {
  if (ready.entries.length > 0) member.storage.append(ready.entries);
  if (ready.hardState !== undefined) member.storage.setHardState(ready.hardState);
}

/** Runs every node's Readys to completion, delivering messages, until nothing moves. */
function settle(members: Map<number, Member>): void {
  for (let round = 0; round < 100; round++) {
    const outbox: Message[] = [];
    for (const member of members.values()) {
      if (!member.raw.hasReady()) continue;
      const ready = member.raw.ready();
      persist(member, ready);
      outbox.push(...ready.messages);
      member.raw.advance();
    }
    if (outbox.length === 0) return;
    for (const message of outbox) members.get(message.to)!.raw.step(message);
  }
  throw new Error('the cluster did not settle');
}

function electNodeOne(): Map<number, Member> {
  const members = cluster();
  members.get(1)!.raw.campaign();
  settle(members);
  assert.equal(members.get(1)!.raw.role, 'leader');
  return members;
}

/** The leader proposes `data` and takes the Ready carrying it, without completing its own write. */
function proposeAndHold(members: Map<number, Member>, data: Uint8Array): Ready {
  const leader = members.get(1)!;
  assert.equal(leader.raw.propose(data).ok, true);
  const ready = leader.raw.ready();
  assert.equal(ready.entries.length, 1);
  return ready;
}

/** Followers persist and answer the leader's appends; their answers are stepped into the leader. */
function followersAcknowledge(members: Map<number, Member>, held: Ready): void {
  for (const message of held.messages) members.get(message.to)!.raw.step(message);
  for (const id of [2, 3]) {
    const follower = members.get(id)!;
    const ready = follower.raw.ready();
    persist(follower, ready);
    follower.raw.advance();
    for (const answer of ready.messages) members.get(1)!.raw.step(answer);
  }
}

describe('RawNode.takeCommittedEntries', () => {
  test('hands out an entry committed during the next write, once; not one that is not on its disk yet', () => {
    const members = electNodeOne();
    const leader = members.get(1)!;
    const first = new TextEncoder().encode('put x');
    const second = new TextEncoder().encode('put y');
    const firstReady = proposeAndHold(members, first);
    persist(leader, firstReady);
    leader.raw.advance(); // the leader's write of `first` is done; the followers have not answered
    const secondReady = proposeAndHold(members, second);
    assert.deepEqual(leader.raw.takeCommittedEntries(), [], 'nothing is committed before the followers answer');
    followersAcknowledge(members, firstReady);
    const early = leader.raw.takeCommittedEntries();
    assert.deepEqual(early.map((entry) => entry.data), [first]);
    assert.deepEqual(leader.raw.takeCommittedEntries(), [], 'an entry is handed out once');
    followersAcknowledge(members, secondReady);
    assert.ok(leader.raw.commitIndex >= secondReady.entries[0]!.index, 'the followers committed `second`');
    assert.deepEqual(leader.raw.takeCommittedEntries(), [], '`second` is still being written here');
    persist(leader, secondReady);
    leader.raw.advance();
    assert.equal(leader.raw.status().applied, early[0]!.index, 'advance() counts the early entries as applied');
    const next = leader.raw.ready();
    assert.deepEqual(next.committedEntries.map((entry) => entry.data), [second], 'the next Ready hands out the rest, not `first` again');
  });

  test('outside a Ready (nothing being persisted) it hands out nothing', () => {
    const members = electNodeOne();
    assert.deepEqual(members.get(1)!.raw.takeCommittedEntries(), []);
  });

  test('stops before a membership change, which must come through a Ready', () => {
    const members = electNodeOne();
    const leader = members.get(1)!;
    assert.equal(leader.raw.proposeConfChange({ changes: [{ action: 'add-learner', nodeId: 4 }] }).ok, true);
    const changeReady = leader.raw.ready();
    persist(leader, changeReady);
    leader.raw.advance(); // the change is on the leader's disk
    proposeAndHold(members, new TextEncoder().encode('after the change'));
    followersAcknowledge(members, changeReady);
    assert.ok(leader.raw.commitIndex >= changeReady.entries[0]!.index, 'the change is committed');
    assert.deepEqual(leader.raw.takeCommittedEntries(), []);
  });
});

describe('RawNode.takeMessagesNeedingNoWrite', () => {
  test('a leader whose write is in flight hands out its heartbeats at once; votes and answers stay', () => {
    const members = electNodeOne();
    const leader = members.get(1)!;
    proposeAndHold(members, new TextEncoder().encode('slow fsync'));
    assert.deepEqual(leader.raw.takeMessagesNeedingNoWrite(), [], 'nothing new yet');
    for (let tick = 0; tick < 10; tick++) leader.raw.tick();
    const taken = leader.raw.takeMessagesNeedingNoWrite();
    assert.ok(taken.length >= 2, `heartbeats to both followers (${taken.length} messages)`);
    assert.ok(taken.every((message) => message.type === 'heartbeat' || message.type === 'append'));
    assert.deepEqual(new Set(taken.map((message) => message.to)), new Set([2, 3]));
    assert.deepEqual(leader.raw.takeMessagesNeedingNoWrite(), [], 'handed out once');
  });

  test('a follower hands out its heartbeat answers, never its append answers (they promise what is on its disk)', () => {
    const members = electNodeOne();
    const follower = members.get(2)!;
    const held = proposeAndHold(members, new TextEncoder().encode('x'));
    for (const message of held.messages) if (message.to === 2) follower.raw.step(message);
    assert.deepEqual(follower.raw.takeMessagesNeedingNoWrite(), [], 'the append answer waits for the write');
    const followerReady = follower.raw.ready(); // held: its write is "in flight"
    assert.ok(followerReady.messages.some((message) => message.type === 'append-response'));
    for (let tick = 0; tick < 10; tick++) members.get(1)!.raw.tick();
    for (const message of members.get(1)!.raw.takeMessagesNeedingNoWrite()) if (message.to === 2) follower.raw.step(message);
    const taken = follower.raw.takeMessagesNeedingNoWrite();
    assert.ok(taken.length > 0 && taken.every((message) => message.type === 'heartbeat-response'), JSON.stringify(taken.map((message) => message.type)));
  });

  test('a candidate\'s vote requests wait for its Ready (its vote for itself must be on disk first)', () => {
    const members = cluster();
    members.get(2)!.raw.campaign();
    const types = members.get(2)!.raw.takeMessagesNeedingNoWrite().map((message) => message.type);
    assert.deepEqual(types, []);
    assert.ok(members.get(2)!.raw.ready().messages.length > 0, 'they come in the Ready');
  });
});
