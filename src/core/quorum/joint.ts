// A joint configuration: decisions need a majority of the incoming AND of the outgoing voters.
// Outside a joint change the outgoing half is empty and every decision is the incoming one's.
import type { NodeId } from '../types.ts';
import { MajorityConfig } from './majority.ts';
import type { AckedIndex, VoteResult } from './majority.ts';

export class JointConfig {
  readonly incoming: MajorityConfig;
  readonly outgoing: MajorityConfig;

  constructor(incoming: MajorityConfig = new MajorityConfig(), outgoing: MajorityConfig = new MajorityConfig()) {
    this.incoming = incoming;
    this.outgoing = outgoing;
  }

  get isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** Every voter of either half. */
  ids(): Set<NodeId> {
    return new Set([...this.incoming.ids, ...this.outgoing.ids]);
  }

  has(id: NodeId): boolean {
    return this.incoming.has(id) || this.outgoing.has(id);
  }

  committedIndex(acked: AckedIndex): number {
    return Math.min(this.incoming.committedIndex(acked), this.outgoing.committedIndex(acked));
  }

  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    const incoming = this.incoming.voteResult(votes);
    const outgoing = this.outgoing.voteResult(votes);
    if (incoming === outgoing) return incoming;
    if (incoming === 'lost' || outgoing === 'lost') return 'lost';
    return 'pending';
  }
}
