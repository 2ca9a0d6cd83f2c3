// Property tests: MajorityConfig's optimized commit index and vote tally against naive versions
// that follow the definitions word for word (count the voters, try every candidate index).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MajorityConfig } from './majority.ts';
import type { VoteResult } from './majority.ts';

/** Node ids are drawn from a small range so that configurations overlap and share acks often. */
const ID_MAX = 7;
const voterIds = fc.uniqueArray(fc.integer({ min: 1, max: ID_MAX }), { maxLength: ID_MAX });
/** acked[id] for every possible id; undefined = the voter has not reported an index. */
const ackedIndexes = fc.array(fc.option(fc.nat({ max: 12 }), { nil: undefined }), { minLength: ID_MAX + 1, maxLength: ID_MAX + 1 });
/** votes[id]: true granted, false rejected, undefined not yet answered. */
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

/** The largest index that at least a quorum of voters has acknowledged; Infinity for no voters. */
function naiveCommittedIndex(ids: readonly number[], acked: readonly (number | undefined)[]): number {
  if (ids.length === 0) return Infinity;
  let best = 0;
  for (const candidate of ids.map((id) => acked[id] ?? 0)) {
    const reached = ids.filter((id) => (acked[id] ?? 0) >= candidate).length;
    if (reached >= quorumOf(ids) && candidate > best) best = candidate;
  }
  return best;
}

/** Won with a quorum of grants, lost when even every missing vote could not make one. */
function naiveVoteResult(ids: readonly number[], votes: readonly (boolean | undefined)[]): VoteResult {
  if (ids.length === 0) return 'won';
  const granted = ids.filter((id) => votes[id] === true).length;
  const missing = ids.filter((id) => votes[id] === undefined).length;
  if (granted >= quorumOf(ids)) return 'won';
  if (granted + missing >= quorumOf(ids)) return 'pending';
  return 'lost';
}

test('committedIndex equals the naive count over candidate indexes', () => {
  fc.assert(
    fc.property(voterIds, ackedIndexes, (ids, acked) => {
      const config = new MajorityConfig(ids);
      assert.equal(config.committedIndex((id) => acked[id]), naiveCommittedIndex(ids, acked));
    }),
    { numRuns: 2000 },
  );
});

test('committedIndex is acknowledged by a quorum and never decreases when an ack rises', () => {
  fc.assert(
    fc.property(voterIds.filter((ids) => ids.length > 0), ackedIndexes, fc.integer({ min: 1, max: ID_MAX }), fc.nat({ max: 5 }), (ids, acked, id, raise) => {
      const config = new MajorityConfig(ids);
      const before = config.committedIndex((voter) => acked[voter]);
      const reached = ids.filter((voter) => (acked[voter] ?? 0) >= before).length;
      assert.ok(reached >= quorumOf(ids), `index ${before} reached by ${reached} of ${ids.length}`);
      const raised = acked.slice();
      raised[id] = (raised[id] ?? 0) + raise;
      assert.ok(config.committedIndex((voter) => raised[voter]) >= before);
    }),
    { numRuns: 1000 },
  );
});

test('committedIndex of an empty configuration places no constraint', () => {
  assert.equal(new MajorityConfig().committedIndex(() => 5), Infinity);
});

test('committedIndex of known small cases', () => {
  const acked = [undefined, 5, 3, 9];
  assert.equal(new MajorityConfig([1]).committedIndex((id) => acked[id]), 5);
  assert.equal(new MajorityConfig([1, 2]).committedIndex((id) => acked[id]), 3);
  assert.equal(new MajorityConfig([1, 2, 3]).committedIndex((id) => acked[id]), 5);
  // A voter that never answered counts as 0.
  assert.equal(new MajorityConfig([1, 2, 4]).committedIndex((id) => acked[id]), 3);
});

test('voteResult equals the naive tally', () => {
  fc.assert(
    fc.property(voterIds, voteArrays, (ids, votes) => {
      assert.equal(new MajorityConfig(ids).voteResult(votesMap(votes)), naiveVoteResult(ids, votes));
    }),
    { numRuns: 2000 },
  );
});

test('voteResult ignores votes of non-voters and an empty configuration wins', () => {
  const votes = new Map([[1, true], [9, true], [8, true]]);
  assert.equal(new MajorityConfig([1, 2, 3]).voteResult(votes), 'pending');
  assert.equal(new MajorityConfig().voteResult(new Map()), 'won');
  assert.equal(new MajorityConfig([1, 2, 3]).voteResult(new Map([[2, false], [3, false]])), 'lost');
});
