// The leader's side of log replication: what to send to each follower (entries, a snapshot or a
// heartbeat), and what to do with their answers. Flow control lives in tracker/progress.ts.
import type { Progress } from '../tracker/progress.ts';
import type { Message, NodeId } from '../types.ts';
import { entrySizeBytes } from '../types.ts';
import type { Raft } from './raft.ts';
import { releasePendingReadIndexMessages, answerConfirmedReads } from './read-index.ts';

/**
 * Sends the follower the entries it needs next (or a snapshot if they were compacted).
 * With `sendIfEmpty` false, nothing is sent when there are no new entries.
 * Returns whether a message was sent.
 */
export function sendAppend(raft: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const progress = raft.tracker.progress.get(to);
  if (progress === undefined || progress.isPaused()) return false;
  const previousIndex = progress.next - 1;
  const previousTerm = raft.log.term(previousIndex);
  const entries = previousTerm === undefined ? undefined : raft.log.entriesFrom(progress.next, raft.config.appendBytesPerMessageMax);
  if (previousTerm === undefined || entries === undefined) return sendSnapshot(raft, to, progress);
  if (entries.length === 0 && !sendIfEmpty) return false;
  let bytes = 0;
  for (const entry of entries) bytes += entrySizeBytes(entry);
  raft.send({ type: 'append', to, index: previousIndex, logTerm: previousTerm, entries, commit: raft.log.committed });
  progress.sentEntries(entries.length, bytes);
  progress.sentCommit = raft.log.committed;
  return true;
}

function sendSnapshot(raft: Raft, to: NodeId, progress: Progress): boolean {
  // A follower we have not heard from may be down; do not ship a snapshot into the void.
  if (!progress.recentActive) return false;
  const snapshot = raft.log.snapshot();
  if (snapshot === undefined) return false; // temporarily unavailable; retried on the next heartbeat
  // Resent on every heartbeat while it fails: the runtime logs deliveries and failures instead.
  raft.config.logger?.debug?.(`node ${raft.id} sends snapshot at ${snapshot.metadata.index} to ${to} (next ${progress.next}, first index ${raft.log.firstIndex()})`);
  raft.send({ type: 'snapshot', to, snapshot });
  progress.becomeSnapshot(snapshot.metadata.index);
  return true;
}

export function bcastAppend(raft: Raft): void {
  raft.tracker.visit((id) => {
    if (id !== raft.id) sendAppend(raft, id, true);
  });
}

/** Heartbeats carry a commit index the follower can use safely: never past what it has matched. */
export function bcastHeartbeat(raft: Raft, context: Uint8Array | undefined): void {
  raft.tracker.visit((id, progress) => {
    if (id === raft.id) return;
    const commit = Math.min(progress.match, raft.log.committed);
    raft.send({ type: 'heartbeat', to: id, commit, context });
    progress.sentCommit = commit;
  });
}

export function sendTimeoutNow(raft: Raft, to: NodeId): void {
  raft.send({ type: 'timeout-now', to });
}

/** Advances the commit index to what a quorum has acknowledged, counting only entries of this term. */
export function maybeCommit(raft: Raft): boolean {
  const quorumIndex = raft.tracker.committed();
  if (raft.config.injectedBugs.has('commit-without-quorum')) {
    // Injected bug: the leader's own disk is taken for a quorum, so a leader cut off from the
    // others still commits (and acknowledges) writes.
    const own = raft.tracker.progress.get(raft.id)?.match ?? 0;
    if (own <= raft.log.committed || raft.log.term(own) !== raft.term) return false;
    raft.log.commitTo(own);
    return true;
  }
  if (raft.config.injectedBugs.has('commit-previous-term')) {
    // Injected bug: count replicas of entries from earlier terms (the Figure 8 mistake).
    const index = Math.min(quorumIndex, raft.log.lastIndex());
    if (index <= raft.log.committed) return false;
    raft.log.commitTo(index);
    return true;
  }
  return raft.log.maybeCommit(quorumIndex, raft.term);
}

/** After the commit index moved: tell followers (unless they learn it lazily) and serve reads that waited for it. */
export function afterCommit(raft: Raft): void {
  releasePendingReadIndexMessages(raft);
  const sendIfEmpty = !raft.config.lazyCommitPropagation;
  raft.tracker.visit((id) => {
    if (id !== raft.id) sendAppend(raft, id, sendIfEmpty);
  });
}

/**
 * Lazy propagation: followers that acknowledged every append we sent, so none is on its way to
 * tell them more, and were sent entries beyond the commit index they were last told. A follower
 * with appends in flight learns the commit index from the next one (under load, there always is
 * one); a follower being probed learns it from heartbeats.
 */
function followersBehindOnCommit(raft: Raft): NodeId[] {
  const behind: NodeId[] = [];
  if (raft.role !== 'leader') return behind;
  raft.tracker.visit((id, progress) => {
    const idle = progress.state === 'replicate' && progress.inflights.count === 0;
    if (id !== raft.id && idle && progress.canBumpCommit(raft.log.committed)) behind.push(id);
  });
  return behind;
}

/** Whether some idle follower has not been told the current commit index (lazy propagation). */
export function commitUnpropagated(raft: Raft): boolean {
  return followersBehindOnCommit(raft).length > 0;
}

/** Tells idle followers that were not told the current commit index yet, with an append of its own. */
export function propagateCommit(raft: Raft): void {
  for (const id of followersBehindOnCommit(raft)) sendAppend(raft, id, true);
}

export function handleAppendResponse(raft: Raft, message: Message, progress: Progress): void {
  progress.recentActive = true;
  if (message.reject) {
    handleAppendRejection(raft, message, progress);
    return;
  }
  const updated = progress.maybeUpdate(message.index) || (progress.match === message.index && progress.state === 'probe');
  if (!updated) return;
  if (progress.state === 'probe') {
    progress.becomeReplicate();
  } else if (progress.state === 'snapshot' && progress.match + 1 >= raft.log.firstIndex()) {
    // The snapshot (or an append) brought the follower far enough to stream entries again.
    progress.becomeProbe();
    progress.becomeReplicate();
  } else if (progress.state === 'replicate') {
    progress.inflights.freeLE(message.index);
  }
  if (maybeCommit(raft)) afterCommit(raft);
  else if (message.from !== raft.id && !raft.config.lazyCommitPropagation && progress.canBumpCommit(raft.log.committed)) {
    sendAppend(raft, message.from, true);
  }
  // Freed window space may allow several size-limited messages at once.
  if (message.from !== raft.id) {
    while (sendAppend(raft, message.from, false)) {
      // keep filling the inflight window
    }
  }
  if (message.from === raft.leadTransferee && progress.match === raft.log.lastIndex()) {
    raft.config.logger?.info(`node ${raft.id} sends timeout-now to ${message.from}: it caught up for the leader transfer`);
    sendTimeoutNow(raft, message.from);
  }
}

function handleAppendRejection(raft: Raft, message: Message, progress: Progress): void {
  // The follower says where its log may match; with the term of that entry we can skip every
  // entry of a conflicting term in one round trip instead of one index at a time.
  let nextProbe = message.rejectHint;
  if (message.logTerm > 0) nextProbe = raft.log.findConflictByTerm(message.rejectHint, message.logTerm).index;
  if (progress.maybeDecreaseTo(message.index, nextProbe)) {
    if (progress.state === 'replicate') progress.becomeProbe();
    sendAppend(raft, message.from, true);
  }
}

export function handleHeartbeatResponse(raft: Raft, message: Message, progress: Progress): void {
  progress.recentActive = true;
  progress.messageFlowPaused = false;
  // The follower is alive but our window is full: the appends that filled it were probably lost.
  // Free one slot so an append goes out; if the follower lacks the entries before it, its
  // rejection sends us back to probing from what it has.
  if (progress.state === 'replicate' && progress.inflights.full()) progress.inflights.freeFirstOne();
  if (progress.match < raft.log.lastIndex()) sendAppend(raft, message.from, true);
  if (message.context !== undefined && message.context.byteLength > 0) answerConfirmedReads(raft, message.from, message.context);
}
