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
  test('hands out an entry the followers committed while the leader still writes it, once', () => {
    const members = electNodeOne();
    const leader = members.get(1)!;
    const data = new TextEncoder().encode('put x');
    const held = proposeAndHold(members, data);
    assert.deepEqual(leader.raw.takeCommittedEntries(), [], 'nothing is committed before the followers answer');
    followersAcknowledge(members, held);
    const early = leader.raw.takeCommittedEntries();
    assert.deepEqual(early.map((entry) => entry.data), [data]);
    assert.deepEqual(leader.raw.takeCommittedEntries(), [], 'an entry is handed out once');
    persist(leader, held);
    leader.raw.advance();
    assert.equal(leader.raw.status().applied, early[0]!.index, 'advance() counts the early entries as applied');
    const next = leader.raw.hasReady() ? leader.raw.ready() : undefined;
    assert.deepEqual(next?.committedEntries ?? [], [], 'the next Ready does not hand them out again');
  });

  test('outside a Ready (nothing being persisted) it hands out nothing', () => {
    const members = electNodeOne();
    assert.deepEqual(members.get(1)!.raw.takeCommittedEntries(), []);
  });

  test('stops before a membership change, which must come through a Ready', () => {
    const members = electNodeOne();
    const leader = members.get(1)!;
    assert.equal(leader.raw.proposeConfChange({ changes: [{ action: 'add-learner', nodeId: 4 }] }).ok, true);
    const held = leader.raw.ready();
    followersAcknowledge(members, held);
    assert.ok(leader.raw.commitIndex >= held.entries[0]!.index, 'the change is committed');
    assert.deepEqual(leader.raw.takeCommittedEntries(), []);
    persist(leader, held);
    leader.raw.advance();
    const next = leader.raw.ready();
    assert.equal(next.committedEntries.at(-1)?.type, 'conf-change', 'it comes in the next Ready');
  });
});
