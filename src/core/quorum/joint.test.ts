// Property tests: JointConfig against naive definitions - an index is committed when BOTH halves
// have it on a quorum (an empty half imposes nothing); an election is won when both halves won
// and lost as soon as either half lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JointConfig } from './joint.ts';
import { MajorityConfig } from './majority.ts';
import type { VoteResult } from './majority.ts';

// Node ids from a small range, so that the two halves overlap often (as in real joint changes).
const ID_MAX = 7;
const voterIds = fc.uniqueArray(fc.integer({ min: 1, max: ID_MAX }), { maxLength: ID_MAX });
const ackedIndexes = fc.array(fc.option(fc.nat({ max: 12 }), { nil: undefined }), { minLength: ID_MAX + 1, maxLength: ID_MAX + 1 });
const voteArrays = fc.array(fc.constantFrom(true, false, undefined), { minLength: ID_MAX + 1, maxLength: ID_MAX + 1 });

function votesMap(votes: readonly (boolean | undefined)[]): Map<number, boolean> {
  const map = new Map<number, boolean>();
  votes.forEach((vote, id) => {
    if (vote !== undefined) map.set(id, vote);
  });
  return map;
}

function quorumOf(ids: readonly number[]): number {
  return Math.floor(ids.length / 2) + 1;
}

function naiveVoteResult(ids: readonly number[], votes: readonly (boolean | undefined)[]): VoteResult {
  if (ids.length === 0) return 'won';
  const granted = ids.filter((id) => votes[id] === true).length;
  const missing = ids.filter((id) => votes[id] === undefined).length;
  if (granted >= quorumOf(ids)) return 'won';
  return granted + missing >= quorumOf(ids) ? 'pending' : 'lost';
}

function joint(incoming: readonly number[], outgoing: readonly number[]): JointConfig {
  return new JointConfig(new MajorityConfig(incoming), new MajorityConfig(outgoing));
}

function reachesQuorum(ids: readonly number[], acked: readonly (number | undefined)[], index: number): boolean {
  return ids.length === 0 || ids.filter((id) => (acked[id] ?? 0) >= index).length >= quorumOf(ids);
}

/** The largest index on a quorum of each half, found by trying every acknowledged index. */
function naiveJointCommittedIndex(incoming: readonly number[], outgoing: readonly number[], acked: readonly (number | undefined)[]): number {
  if (incoming.length === 0 && outgoing.length === 0) return Infinity;
  let best = 0;
  for (const id of [...incoming, ...outgoing]) {
    const candidate = acked[id] ?? 0;
    if (candidate > best && reachesQuorum(incoming, acked, candidate) && reachesQuorum(outgoing, acked, candidate)) best = candidate;
  }
  return best;
}

function naiveJointVoteResult(incoming: readonly number[], outgoing: readonly number[], votes: readonly (boolean | undefined)[]): VoteResult {
  const results = [naiveVoteResult(incoming, votes), naiveVoteResult(outgoing, votes)];
  if (results.includes('lost')) return 'lost';
  if (results.every((result) => result === 'won')) return 'won';
  return 'pending';
}

test('joint committedIndex equals the naive both-halves search (overlapping and empty halves)', () => {
  fc.assert(
    fc.property(voterIds, voterIds, ackedIndexes, (incoming, outgoing, acked) => {
      assert.equal(joint(incoming, outgoing).committedIndex((id) => acked[id]), naiveJointCommittedIndex(incoming, outgoing, acked));
    }),
    { numRuns: 3000 },
  );
});

test('joint voteResult equals the naive combination of both halves', () => {
  fc.assert(
    fc.property(voterIds, voterIds, voteArrays, (incoming, outgoing, votes) => {
      assert.equal(joint(incoming, outgoing).voteResult(votesMap(votes)), naiveJointVoteResult(incoming, outgoing, votes));
    }),
    { numRuns: 3000 },
  );
});

test('a joint configuration with an empty outgoing half decides like its incoming half', () => {
  fc.assert(
    fc.property(voterIds, ackedIndexes, voteArrays, (incoming, acked, votes) => {
      const single = new MajorityConfig(incoming);
      const config = joint(incoming, []);
      assert.equal(config.isJoint, false);
      assert.equal(config.committedIndex((id) => acked[id]), single.committedIndex((id) => acked[id]));
      assert.equal(config.voteResult(votesMap(votes)), single.voteResult(votesMap(votes)));
    }),
    { numRuns: 1000 },
  );
});

test('joint decisions in known cases', () => {
  // (1 2 3)&&(3 4 5): 3 and 4 have index 7, 1 has 9, the others nothing.
  const acked = [undefined, 9, undefined, 7, 7];
  const config = joint([1, 2, 3], [3, 4, 5]);
  assert.equal(config.isJoint, true);
  assert.equal(config.committedIndex((id) => acked[id]), 7);
  // Node 3 alone grants: a quorum in neither half yet, nothing lost.
  assert.equal(config.voteResult(new Map([[3, true]])), 'pending');
  // The incoming half wins but the outgoing half loses: lost.
  assert.equal(config.voteResult(new Map([[1, true], [2, true], [4, false], [5, false]])), 'lost');
  assert.equal(config.voteResult(new Map([[1, true], [3, true], [4, true]])), 'won');
  assert.deepEqual([...config.ids()].sort(), [1, 2, 3, 4, 5]);
});
