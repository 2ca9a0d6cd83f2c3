// A read-only snapshot of a node's Raft state, for operators, metrics and tests.
import type { ProgressState } from '../tracker/progress.ts';
import type { ConfState, NodeId, RoleName } from '../types.ts';
import type { Raft } from './raft.ts';

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly paused: boolean;
  readonly recentActive: boolean;
  readonly inflightMessages: number;
  readonly isLearner: boolean;
  readonly pendingSnapshot: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly leaderId: NodeId;
  readonly role: RoleName;
  readonly isLearner: boolean;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly leadTransferee: NodeId;
  readonly config: ConfState;
  /** Per member, only on the leader. */
  readonly progress: Readonly<Record<string, ProgressStatus>> | undefined;
}

export function buildStatus(raft: Raft): RaftStatus {
  let progress: Record<string, ProgressStatus> | undefined;
  if (raft.role === 'leader') {
    progress = {};
    raft.tracker.visit((id, item) => {
      progress![String(id)] = {
        match: item.match,
        next: item.next,
        state: item.state,
        paused: item.isPaused(),
        recentActive: item.recentActive,
        inflightMessages: item.inflights.count,
        isLearner: item.isLearner,
        pendingSnapshot: item.pendingSnapshot,
      };
    });
  }
  return {
    id: raft.id,
    term: raft.term,
    vote: raft.vote,
    commit: raft.log.committed,
    applied: raft.log.applied,
    leaderId: raft.leaderId,
    role: raft.role,
    isLearner: raft.isLearner,
    firstIndex: raft.log.firstIndex(),
    lastIndex: raft.log.lastIndex(),
    leadTransferee: raft.leadTransferee,
    config: raft.tracker.confState(),
    progress,
  };
}
