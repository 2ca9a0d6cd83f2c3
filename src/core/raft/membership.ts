// Membership changes as the node applies them: switching to a new configuration, and what a
// leader must do when the configuration it leads changes (step down if removed, commit under
// the new quorum, abort a transfer to a node that left).
import { computeChange } from '../confchange/changer.ts';
import type { ChangeResult } from '../confchange/changer.ts';
import { decodeConfChange } from '../confchange/codec.ts';
import type { ConfChange, ConfState, Entry } from '../types.ts';
import { NO_NODE } from '../types.ts';
import type { Raft } from './raft.ts';
import { afterCommit, maybeCommit, sendAppend } from './replication.ts';

/** Applies a committed conf-change entry once; other entries (and ones already applied) are ignored. */
export function applyConfChangeEntry(raft: Raft, entry: Entry): void {
  if (entry.index <= raft.configIndex) return;
  raft.configIndex = entry.index;
  if (entry.type !== 'conf-change') return;
  const decoded = decodeConfChange(entry.data);
  if (!decoded.ok) {
    // Every replica decodes the same bytes, so every replica ignores it the same way.
    raft.config.logger?.warn(`node ${raft.id} ignores the conf change at ${entry.index}: ${decoded.error}`);
    return;
  }
  applyConfChange(raft, decoded.change, entry.index);
}

/**
 * Applies a committed membership change. A change that is no longer valid (it was validated
 * against the configuration when proposed, so this takes a leader change and an odd sequence)
 * is ignored deterministically on every replica rather than crashing them all.
 */
export function applyConfChange(raft: Raft, change: ConfChange, index: number): ConfState {
  const outcome = computeChange(raft.tracker, change, raft.log.lastIndex());
  if (!outcome.ok) {
    raft.config.logger?.warn(`node ${raft.id} ignores the conf change at ${index}: ${outcome.error}`);
    return raft.tracker.confState();
  }
  switchToConfig(raft, outcome.result);
  return raft.tracker.confState();
}

export function switchToConfig(raft: Raft, result: ChangeResult): void {
  raft.tracker.config = result.config;
  raft.tracker.progress = result.progress;
  raft.tracker.checkInvariants();
  const self = raft.tracker.progress.get(raft.id);
  raft.isLearner = self?.isLearner ?? false;
  if ((self === undefined || raft.isLearner) && raft.role === 'leader') {
    raft.config.logger?.info(`node ${raft.id} steps down at term ${raft.term}: it is no longer a voter`);
    raft.becomeFollower(raft.term, NO_NODE);
    return;
  }
  if (raft.role !== 'leader' || raft.tracker.config.voters.incoming.size === 0) return;
  // The quorum changed: the commit index may move, and new members need their first append.
  if (maybeCommit(raft)) afterCommit(raft);
  else raft.tracker.visit((id) => {
    if (id !== raft.id) sendAppend(raft, id, false);
  });
  if (raft.leadTransferee !== NO_NODE && !raft.tracker.config.voters.has(raft.leadTransferee)) raft.abortLeaderTransfer();
}

/** Validates a proposed change against the current configuration (leader side). */
export function checkConfChangeProposal(raft: Raft, change: ConfChange): string | undefined {
  if (raft.pendingConfIndex > raft.configIndex) {
    return `a membership change at index ${raft.pendingConfIndex} is still being applied (applied ${raft.configIndex}); retry once it is`;
  }
  const joint = raft.tracker.config.voters.isJoint;
  const leaving = change.changes.length === 0;
  if (joint && !leaving) return 'the cluster is in a joint configuration; leave it first (an empty change)';
  if (!joint && leaving) return 'the cluster is not in a joint configuration; there is nothing to leave';
  const outcome = computeChange(raft.tracker, change, raft.log.lastIndex());
  return outcome.ok ? undefined : outcome.error;
}
