// Majority quorums: which index a majority of voters has acknowledged, and how an election
// stands. Pure functions over a voter set; the joint version combines two of them.
import type { NodeId } from '../types.ts';

export type VoteResult = 'pending' | 'lost' | 'won';

/** Returns the index a voter has acknowledged, or undefined when it has not reported one. */
export type AckedIndex = (id: NodeId) => number | undefined;

export class MajorityConfig {
  readonly ids: ReadonlySet<NodeId>;

  constructor(ids: Iterable<NodeId> = []) {
    this.ids = new Set(ids);
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: NodeId): boolean {
    return this.ids.has(id);
  }

  sorted(): NodeId[] {
    return [...this.ids].sort((a, b) => a - b);
  }

  /**
   * The largest index acknowledged by a majority of the voters. An empty configuration places no
   * constraint (Infinity), so that a joint configuration with an empty half acts like its other half.
   */
  committedIndex(acked: AckedIndex): number {
    const count = this.ids.size;
    if (count === 0) return Infinity;
    const indexes = new Float64Array(count);
    let position = 0;
    for (const id of this.ids) indexes[position++] = acked(id) ?? 0;
    indexes.sort();
    // With indexes ascending, the one at count - quorum is reached by `quorum` voters.
    return indexes[count - (Math.floor(count / 2) + 1)]!;
  }

  /** The outcome of an election given the votes received (true = granted). Empty config wins. */
  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    if (this.ids.size === 0) return 'won';
    let granted = 0;
    let missing = 0;
    for (const id of this.ids) {
      const vote = votes.get(id);
      if (vote === undefined) missing++;
      else if (vote) granted++;
    }
    const quorum = Math.floor(this.ids.size / 2) + 1;
    if (granted >= quorum) return 'won';
    if (granted + missing >= quorum) return 'pending';
    return 'lost';
  }
}
