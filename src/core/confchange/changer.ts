// Computes the configuration that a membership change leads to (after etcd-io/raft's confchange).
// Functions here never mutate the tracker they are given: they return a new configuration and
// progress map, or an error value when the change is not allowed.
import { assert } from '../assert.ts';
import { JointConfig } from '../quorum/joint.ts';
import { MajorityConfig } from '../quorum/majority.ts';
import type { Progress } from '../tracker/progress.ts';
import type { ProgressMap, ProgressTracker, TrackerConfig } from '../tracker/tracker.ts';
import type { ConfChange, ConfChangeSingle, ConfState, NodeId } from '../types.ts';

export interface ChangeResult {
  readonly config: TrackerConfig;
  readonly progress: ProgressMap;
}

export type ChangeOutcome = { readonly ok: true; readonly result: ChangeResult } | { readonly ok: false; readonly error: string };

/** Mutable working copy of a configuration while changes are applied to it. */
interface Draft {
  incoming: Set<NodeId>;
  outgoing: Set<NodeId>;
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
  progress: ProgressMap;
}

function draftOf(tracker: ProgressTracker): Draft {
  const { config } = tracker;
  const progress: ProgressMap = new Map();
  // Progress objects are shared but cloned when modified (see setLearnerFlag).
  for (const [id, item] of tracker.progress) progress.set(id, item);
  return {
    incoming: new Set(config.voters.incoming.ids),
    outgoing: new Set(config.voters.outgoing.ids),
    learners: new Set(config.learners),
    learnersNext: new Set(config.learnersNext),
    autoLeave: config.autoLeave,
    progress,
  };
}

function finish(draft: Draft): ChangeResult {
  return {
    config: {
      voters: new JointConfig(new MajorityConfig(draft.incoming), new MajorityConfig(draft.outgoing)),
      learners: draft.learners,
      learnersNext: draft.learnersNext,
      autoLeave: draft.autoLeave,
    },
    progress: draft.progress,
  };
}

/** Whether the change must go through a joint configuration and, if so, whether to leave it automatically. */
export function jointMode(change: ConfChange): { joint: boolean; autoLeave: boolean } {
  const transition = change.transition ?? 'auto';
  if (transition !== 'auto' || change.changes.length > 1) {
    return { joint: true, autoLeave: transition !== 'explicit' };
  }
  return { joint: false, autoLeave: false };
}

/** Whether the change is the empty one that leaves a joint configuration. */
export function isLeaveJoint(change: ConfChange): boolean {
  return change.changes.length === 0;
}

/** Applies a change of any kind to the tracker's current configuration. */
export function computeChange(tracker: ProgressTracker, change: ConfChange, lastIndex: number): ChangeOutcome {
  if (isLeaveJoint(change)) return leaveJoint(tracker);
  const mode = jointMode(change);
  return mode.joint ? enterJoint(tracker, mode.autoLeave, change.changes, lastIndex) : simple(tracker, change.changes, lastIndex);
}

export function enterJoint(tracker: ProgressTracker, autoLeave: boolean, changes: readonly ConfChangeSingle[], lastIndex: number): ChangeOutcome {
  if (tracker.config.voters.isJoint) return { ok: false, error: 'already in a joint configuration' };
  if (tracker.config.voters.incoming.size === 0) return { ok: false, error: 'cannot enter a joint configuration from an empty one' };
  const draft = draftOf(tracker);
  draft.outgoing = new Set(draft.incoming);
  const applied = applyChanges(tracker, draft, changes, lastIndex);
  if (applied !== undefined) return { ok: false, error: applied };
  draft.autoLeave = autoLeave;
  return checked(draft);
}

export function leaveJoint(tracker: ProgressTracker): ChangeOutcome {
  if (!tracker.config.voters.isJoint) return { ok: false, error: 'cannot leave a joint configuration: not in one' };
  const draft = draftOf(tracker);
  for (const id of draft.learnersNext) {
    draft.learners.add(id);
    setLearnerFlag(draft, id, true);
  }
  draft.learnersNext = new Set();
  for (const id of draft.outgoing) {
    if (!draft.incoming.has(id) && !draft.learners.has(id)) draft.progress.delete(id);
  }
  draft.outgoing = new Set();
  draft.autoLeave = false;
  return checked(draft);
}

/** A change of at most one voter, applied without a joint configuration. */
export function simple(tracker: ProgressTracker, changes: readonly ConfChangeSingle[], lastIndex: number): ChangeOutcome {
  if (tracker.config.voters.isJoint) return { ok: false, error: 'cannot apply a simple change in a joint configuration' };
  const draft = draftOf(tracker);
  const applied = applyChanges(tracker, draft, changes, lastIndex);
  if (applied !== undefined) return { ok: false, error: applied };
  const before = tracker.config.voters.incoming.ids;
  const changed = symmetricDifferenceSize(before, draft.incoming);
  if (changed > 1) return { ok: false, error: 'more than one voter changed without entering a joint configuration' };
  return checked(draft);
}

function symmetricDifferenceSize(a: ReadonlySet<NodeId>, b: ReadonlySet<NodeId>): number {
  let count = 0;
  for (const id of a) if (!b.has(id)) count++;
  for (const id of b) if (!a.has(id)) count++;
  return count;
}

function applyChanges(tracker: ProgressTracker, draft: Draft, changes: readonly ConfChangeSingle[], lastIndex: number): string | undefined {
  for (const change of changes) {
    if (!Number.isSafeInteger(change.nodeId) || change.nodeId <= 0) return `invalid node id ${change.nodeId}`;
    switch (change.action) {
      case 'add-voter':
        makeVoter(tracker, draft, change.nodeId, lastIndex);
        break;
      case 'add-learner':
        makeLearner(tracker, draft, change.nodeId, lastIndex);
        break;
      case 'remove':
        removeMember(draft, change.nodeId);
        break;
      default:
        return `unknown change action ${JSON.stringify(change.action)}`;
    }
  }
  if (draft.incoming.size === 0) return 'the change removes all voters';
  return undefined;
}

function initProgress(tracker: ProgressTracker, draft: Draft, id: NodeId, isLearner: boolean, lastIndex: number): void {
  // A new member starts probing from the leader's last index; it is considered active so that
  // check-quorum does not step the leader down before the newcomer could answer.
  const progress = tracker.newProgress(Math.max(lastIndex, 1), isLearner);
  progress.recentActive = true;
  draft.progress.set(id, progress);
}

/**
 * Changes a member's learner flag on a copy of its progress: a change may be computed only to
 * validate a proposal, so the tracker's own objects must stay untouched.
 */
function setLearnerFlag(draft: Draft, id: NodeId, isLearner: boolean): void {
  const existing = draft.progress.get(id);
  assert(existing !== undefined, `no progress for ${id}`);
  if (existing.isLearner === isLearner) return;
  const copy: Progress = Object.assign(Object.create(Object.getPrototypeOf(existing) as object) as Progress, existing);
  copy.isLearner = isLearner;
  draft.progress.set(id, copy);
}

function makeVoter(tracker: ProgressTracker, draft: Draft, id: NodeId, lastIndex: number): void {
  if (!draft.progress.has(id)) {
    initProgress(tracker, draft, id, false, lastIndex);
  } else {
    setLearnerFlag(draft, id, false);
  }
  draft.learners.delete(id);
  draft.learnersNext.delete(id);
  draft.incoming.add(id);
}

function makeLearner(tracker: ProgressTracker, draft: Draft, id: NodeId, lastIndex: number): void {
  if (!draft.progress.has(id)) {
    initProgress(tracker, draft, id, true, lastIndex);
    draft.learners.add(id);
    return;
  }
  if (draft.learners.has(id)) return;
  draft.incoming.delete(id);
  // A voter of the outgoing half keeps voting there until the joint configuration is left.
  if (draft.outgoing.has(id)) {
    draft.learnersNext.add(id);
  } else {
    setLearnerFlag(draft, id, true);
    draft.learners.add(id);
  }
}

function removeMember(draft: Draft, id: NodeId): void {
  if (!draft.progress.has(id)) return;
  draft.incoming.delete(id);
  draft.learners.delete(id);
  draft.learnersNext.delete(id);
  // Still an outgoing voter: it keeps its progress until the joint configuration is left.
  if (!draft.outgoing.has(id)) draft.progress.delete(id);
}

function checked(draft: Draft): ChangeOutcome {
  for (const id of draft.learners) {
    if (draft.incoming.has(id) || draft.outgoing.has(id)) return { ok: false, error: `node ${id} would be both a voter and a learner` };
  }
  return { ok: true, result: finish(draft) };
}

/** Builds the configuration described by a ConfState (after restart or from a snapshot). */
export function restore(tracker: ProgressTracker, state: ConfState, lastIndex: number): ChangeResult {
  const draft: Draft = {
    incoming: new Set(state.voters),
    outgoing: new Set(state.votersOutgoing),
    learners: new Set(state.learners),
    learnersNext: new Set(state.learnersNext),
    autoLeave: state.autoLeave,
    progress: new Map(),
  };
  const next = Math.max(lastIndex, 1);
  for (const id of [...draft.incoming, ...draft.outgoing]) {
    if (!draft.progress.has(id)) draft.progress.set(id, tracker.newProgress(next, false));
  }
  for (const id of draft.learners) {
    if (!draft.progress.has(id)) draft.progress.set(id, tracker.newProgress(next, true));
  }
  return finish(draft);
}
