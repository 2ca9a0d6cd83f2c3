// The leader's view of the cluster: the current configuration (voters, possibly joint, and
// learners), the progress of every member, and the votes of the ongoing election.
import { assert } from '../assert.ts';
import { JointConfig } from '../quorum/joint.ts';
import type { VoteResult } from '../quorum/majority.ts';
import type { ConfState, NodeId } from '../types.ts';
import { Progress } from './progress.ts';

export interface TrackerConfig {
  readonly voters: JointConfig;
  /** Members that replicate but never vote. Disjoint from the incoming and outgoing voters. */
  readonly learners: ReadonlySet<NodeId>;
  /** Outgoing voters that become learners when the joint configuration is left. */
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
}

export const EMPTY_TRACKER_CONFIG: TrackerConfig = {
  voters: new JointConfig(),
  learners: new Set(),
  learnersNext: new Set(),
  autoLeave: false,
};

export type ProgressMap = Map<NodeId, Progress>;

export interface VoteTally {
  readonly granted: number;
  readonly rejected: number;
  readonly result: VoteResult;
}

export class ProgressTracker {
  config: TrackerConfig = EMPTY_TRACKER_CONFIG;
  progress: ProgressMap = new Map();
  private votes = new Map<NodeId, boolean>();
  readonly inflightMessagesMax: number;
  readonly inflightBytesMax: number;

  constructor(inflightMessagesMax: number, inflightBytesMax: number) {
    this.inflightMessagesMax = inflightMessagesMax;
    this.inflightBytesMax = inflightBytesMax;
  }

  newProgress(next: number, isLearner: boolean): Progress {
    return new Progress(next, isLearner, this.inflightMessagesMax, this.inflightBytesMax);
  }

  confState(): ConfState {
    const sorted = (ids: Iterable<NodeId>) => [...ids].sort((a, b) => a - b);
    return {
      voters: this.config.voters.incoming.sorted(),
      votersOutgoing: this.config.voters.outgoing.sorted(),
      learners: sorted(this.config.learners),
      learnersNext: sorted(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && !this.config.voters.isJoint;
  }

  /** The index a quorum of voters has durably acknowledged. */
  committed(): number {
    return this.config.voters.committedIndex((id) => this.progress.get(id)?.match);
  }

  /** Visits every member in ascending id order, so that message order is deterministic. */
  visit(visitor: (id: NodeId, progress: Progress) => void): void {
    const ids = [...this.progress.keys()].sort((a, b) => a - b);
    for (const id of ids) visitor(id, this.progress.get(id)!);
  }

  /** Whether a quorum of voters has been heard from recently (the leader itself counts). */
  quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    this.visit((id, progress) => {
      if (!progress.isLearner) votes.set(id, progress.recentActive);
    });
    return this.config.voters.voteResult(votes) === 'won';
  }

  voterIds(): NodeId[] {
    return [...this.config.voters.ids()].sort((a, b) => a - b);
  }

  learnerIds(): NodeId[] {
    return [...this.config.learners].sort((a, b) => a - b);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteTally {
    let granted = 0;
    let rejected = 0;
    this.visit((id, progress) => {
      if (progress.isLearner) return;
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    });
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }

  /** Checks that configuration and progress agree; throws on a broken invariant. */
  checkInvariants(): void {
    const { voters, learners, learnersNext } = this.config;
    for (const id of voters.ids()) assert(this.progress.has(id), `voter ${id} has no progress`);
    for (const id of learners) {
      assert(this.progress.get(id)?.isLearner === true, `learner ${id} has no learner progress`);
      assert(!voters.has(id), `node ${id} is both a voter and a learner`);
    }
    for (const id of learnersNext) {
      assert(voters.outgoing.has(id), `next learner ${id} is not an outgoing voter`);
      assert(this.progress.get(id)?.isLearner === false, `next learner ${id} must still vote`);
    }
    if (!voters.isJoint) {
      assert(learnersNext.size === 0, 'next learners outside a joint configuration');
      assert(!this.config.autoLeave, 'auto-leave outside a joint configuration');
    }
    for (const id of this.progress.keys()) {
      assert(voters.has(id) || learners.has(id), `progress for ${id}, which is not a member`);
    }
  }
}
