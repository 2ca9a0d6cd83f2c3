// What the leader knows about one follower's log, and how it sends to it:
// - probe: unsure where the follower's log matches; one append per heartbeat round until it does;
// - replicate: streaming optimistically, bounded by the inflight window;
// - snapshot: a snapshot is on its way; send nothing else until it is acknowledged or fails.
import { assert } from '../assert.ts';
import { Inflights } from './inflights.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be in the follower's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In 'snapshot' state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** In 'probe' state: an append was sent; wait for an answer or a heartbeat response. */
  messageFlowPaused = false;
  /** The last commit index sent to the follower (in an append or a heartbeat). */
  sentCommit = 0;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, isLearner: boolean, inflightMessagesMax: number, inflightBytesMax: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.messageFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, continue right after it (the follower has at least that much).
    if (this.state === 'snapshot') {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Accounts for an append message just sent with `entryCount` entries ending at next - 1 + entryCount. */
  sentEntries(entryCount: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next += entryCount;
        this.inflights.add(this.next - 1, bytes);
      }
    } else if (this.state === 'probe') {
      this.messageFlowPaused = true;
    } else {
      assert(false, `sending entries to a follower in state ${this.state}`);
    }
  }

  /** A successful append response up to `index`. Returns false if it was stale. */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.messageFlowPaused = false;
    return true;
  }

  /**
   * A rejected append at `rejected`; `matchHint` is the follower's guess of the last index that
   * may match. Returns false if the rejection is stale (answers an older message).
   */
  maybeDecreaseTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    const next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    // The follower rejects at an index we believe it has matched: it lost entries it had
    // acknowledged (a durability failure on its side). Probing the same index again would loop
    // forever; wait for the heartbeat round instead (whose commit index makes it stop loudly).
    if (next === this.next) return false;
    this.next = next;
    this.messageFlowPaused = false;
    return true;
  }

  /**
   * Whether sending `commit` could move the follower's commit index: not if an earlier message
   * already told it a commit index covering everything it has been sent.
   */
  canBumpCommit(commit: number): boolean {
    return commit > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** Whether sending more appends must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.messageFlowPaused;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
