// The public face of the core (after etcd-io/raft's RawNode): inputs (tick, step, propose,
// proposeConfChange, readIndex, transferLeader) and the Ready/advance cycle that hands the
// application what to persist, send and apply. No I/O, no clock, no randomness of its own.
import { assert } from '../assert.ts';
import { encodeConfChange } from '../confchange/codec.ts';
import type { ConfChange, Entry, HardState, Message, NodeId, Ready, RoleName, SoftState } from '../types.ts';
import { EMPTY_HARD_STATE, NO_NODE } from '../types.ts';
import type { RaftConfig } from './config.ts';
import { applyConfChangeEntry, checkConfChangeProposal } from './membership.ts';
import { Raft } from './raft.ts';
import type { ProposeResult, RequestResult } from './raft.ts';
import { handleReadIndex } from './read-index.ts';
import { afterCommit, commitUnpropagated, maybeCommit, propagateCommit } from './replication.ts';
import { buildStatus } from './status.ts';
import type { RaftStatus } from './status.ts';

/** What the last Ready handed out, so advance() knows what became stable and applied. */
interface HandedOut {
  readonly lastEntry: { readonly index: number; readonly term: number } | undefined;
  readonly snapshotIndex: number | undefined;
  readonly appliedThrough: number | undefined;
  readonly committedBytes: number;
}

export type ProposeBatchResult = ProposeResult;

export class RawNode {
  readonly raft: Raft;
  private previousSoftState: SoftState;
  private previousHardState: HardState;
  private handedOut: HandedOut | undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.previousSoftState = this.raft.softState();
    this.previousHardState = config.storage.initialState().hardState ?? EMPTY_HARD_STATE;
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /** Cheap reads of the soft state (status() builds the whole picture). */
  get role(): RoleName {
    return this.raft.role;
  }

  get leaderId(): NodeId {
    return this.raft.leaderId;
  }

  get term(): number {
    return this.raft.term;
  }

  get commitIndex(): number {
    return this.raft.log.committed;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (tests and operators; normally elections start on timeout). */
  campaign(): void {
    this.raft.hup(false);
  }

  /** Feeds a message from a peer. Messages addressed to another node or from ourselves are dropped. */
  step(message: Message): void {
    if (message.to !== this.raft.id || message.from === this.raft.id || message.from === NO_NODE) return;
    if (message.term === 0) return;
    this.raft.step(message);
  }

  /** Proposes one application entry. On the leader, returns where it will be in the log. */
  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose([{ type: 'normal', data }]);
  }

  /** Proposes several entries at once (they share one append message per follower). */
  proposeBatch(batch: readonly Uint8Array[]): ProposeBatchResult {
    assert(batch.length > 0, 'proposeBatch needs at least one entry');
    return this.raft.propose(batch.map((data) => ({ type: 'normal', data })));
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const refusal = this.raft.refuseProposal();
    if (refusal !== undefined) return refusal;
    if (this.raft.pendingConfIndex > this.raft.configIndex) {
      return this.raft.refuse('conf-change-pending', checkConfChangeProposal(this.raft, change)!);
    }
    const problem = checkConfChangeProposal(this.raft, change);
    if (problem !== undefined) return this.raft.refuse('invalid-conf-change', problem);
    const result = this.raft.propose([{ type: 'conf-change', data: encodeConfChange(change) }]);
    if (result.ok) this.raft.pendingConfIndex = result.index;
    return result;
  }

  /**
   * Asks for a linearizable read. A ReadState with the same context appears in a later Ready
   * once the read is confirmed; serve it after applying up to its index. Followers forward the
   * request to the leader. Contexts must be unique among pending reads.
   */
  readIndex(context: Uint8Array): RequestResult {
    const { raft } = this;
    if (raft.role === 'leader') {
      const accepted = handleReadIndex(raft, { type: 'read-index', from: raft.id, to: raft.id, term: raft.term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: undefined, context });
      return accepted ? { ok: true } : raft.refuse('read-queue-full', 'too many reads are waiting; retry later');
    }
    if (raft.leaderId === NO_NODE) return raft.refuse('no-leader', 'there is no leader to confirm the read; retry later');
    raft.send({ type: 'read-index', to: raft.leaderId, context });
    return { ok: true };
  }

  transferLeader(target: NodeId): RequestResult {
    return this.raft.transferLeader(target);
  }

  /** The transport could not deliver to `id`: stop streaming to it optimistically. */
  reportUnreachable(id: NodeId): void {
    const progress = this.raft.tracker.progress.get(id);
    if (this.raft.role === 'leader' && progress?.state === 'replicate') progress.becomeProbe();
  }

  /** The snapshot sent to `id` was delivered (or not). */
  reportSnapshot(id: NodeId, delivered: boolean): void {
    const progress = this.raft.tracker.progress.get(id);
    if (this.raft.role !== 'leader' || progress?.state !== 'snapshot') return;
    if (!delivered) progress.pendingSnapshot = 0;
    progress.becomeProbe();
    // Wait for the follower to answer a heartbeat before probing again.
    progress.messageFlowPaused = true;
  }

  /**
   * With lazyCommitPropagation: whether some follower has not yet been told the leader's commit
   * index. The application calls propagateCommit() if no append has told it a little later.
   */
  commitUnpropagated(): boolean {
    return commitUnpropagated(this.raft);
  }

  /** Sends followers that were not told the current commit index an (empty) append carrying it. */
  propagateCommit(): void {
    propagateCommit(this.raft);
  }

  status(): RaftStatus {
    return buildStatus(this.raft);
  }

  hasReady(): boolean {
    const { raft } = this;
    if (this.handedOut !== undefined) return false;
    const soft = raft.softState();
    if (soft.leaderId !== this.previousSoftState.leaderId || soft.role !== this.previousSoftState.role) return true;
    const hard = raft.hardState();
    if (!sameHardState(hard, this.previousHardState)) return true;
    return (
      raft.log.hasPendingSnapshot() ||
      raft.log.hasNextUnstableEntries() ||
      raft.log.hasNextCommittedEntries() ||
      raft.messages.length > 0 ||
      raft.readStates.length > 0
    );
  }

  /** Everything to persist, send and apply now. Call advance() when done, before the next ready(). */
  ready(): Ready {
    assert(this.handedOut === undefined, 'ready() called again before advance()');
    const { raft } = this;
    const snapshot = raft.log.unstable.snapshot;
    const entries = raft.log.nextUnstableEntries();
    const committedEntries = raft.log.nextCommittedEntries(raft.config.applyBytesPerReadyMax);
    // Membership changes take effect as they are handed to the application.
    for (const entry of committedEntries) applyConfChangeEntry(raft, entry);
    const soft = raft.softState();
    const hard = raft.hardState();
    const softChanged = soft.leaderId !== this.previousSoftState.leaderId || soft.role !== this.previousSoftState.role;
    const hardChanged = !sameHardState(hard, this.previousHardState);
    // A membership change takes effect as it is handed out, so the commit index covering it must
    // be durable first: a restart that forgot it would run under the previous membership, and a
    // removed voter could then campaign in a configuration the cluster has left.
    const committedConfChange = committedEntries.some((entry) => entry.type === 'conf-change');
    const mustSync = entries.length > 0 || snapshot !== undefined || committedConfChange ||
      hard.term !== this.previousHardState.term || hard.vote !== this.previousHardState.vote;
    const ready: Ready = {
      softState: softChanged ? soft : undefined,
      hardState: hardChanged ? this.persistedForm(hard) : undefined,
      entries,
      snapshot,
      committedEntries,
      messages: raft.messages,
      readStates: raft.readStates,
      mustSync,
    };
    raft.messages = [];
    raft.readStates = [];
    this.previousSoftState = soft;
    this.previousHardState = hard;
    this.handedOut = describeHandedOut(entries, snapshot?.metadata.index, committedEntries);
    if (committedEntries.length > 0) raft.log.applying = committedEntries[committedEntries.length - 1]!.index;
    return ready;
  }

  /**
   * Committed entries beyond those of the last Ready, handed out while that Ready is still being
   * persisted: an acknowledgement arrived meanwhile and moved the commit index. They are durable
   * on a majority and on this node, so the application may apply them before the write in flight
   * completes; advance() then counts them as applied. Without this, an entry whose commit arrives
   * during the leader's next fsync waits for that fsync too. Only entries already on this node's
   * disk; never a membership change (it must come through a Ready, which syncs its commit index
   * first); nothing while a snapshot is being handed out.
   */
  takeCommittedEntries(): Entry[] {
    const handed = this.handedOut;
    if (handed === undefined || handed.snapshotIndex !== undefined) return [];
    const { raft } = this;
    // Only entries already on this node's disk: one still in memory (it came with the commit
    // that covers it, or is in the write in flight) would leave the state machine ahead of the
    // log, and a snapshot taken then would claim entries the log did not have yet (the runtime
    // simulator found it, seed 106). The common case is covered: an acknowledgement for the
    // previous Ready's entries arriving during this Ready's write.
    const writtenThrough = raft.stableLastIndex();
    const taken: Entry[] = [];
    let bytes = 0;
    for (const entry of raft.log.nextCommittedEntries(raft.config.applyBytesPerReadyMax)) {
      if (entry.index > writtenThrough || entry.type === 'conf-change') break;
      taken.push(entry);
      bytes += entry.data.byteLength;
    }
    const last = taken[taken.length - 1];
    if (last === undefined) return [];
    raft.log.applying = last.index;
    this.handedOut = { ...handed, appliedThrough: last.index, committedBytes: handed.committedBytes + bytes };
    return taken;
  }

  /**
   * Messages that wait for no write, taken out so that the application can send them while it
   * is busy (its write in flight, a snapshot being captured): a leader's appends, heartbeats,
   * snapshots and timeout-now (it counts itself only after advance()), and anyone's heartbeat
   * answers (they promise nothing about the disk; etcd's raft sends them at once too). Votes and
   * append answers stay for the next Ready: they promise what is on disk. Without this a leader
   * whose fsync stalled sent no heartbeat until it ended, and a stall longer than the election
   * timeout cost a leader change.
   */
  takeMessagesNeedingNoWrite(): Message[] {
    const { raft } = this;
    if (raft.messages.length === 0) return [];
    const leading = raft.role === 'leader';
    const now = (message: Message): boolean => message.type === 'heartbeat-response' || (leading && leaderMaySendEarly(message));
    const taken = raft.messages.filter(now);
    if (taken.length > 0) raft.messages = raft.messages.filter((message) => !now(message));
    return taken;
  }

  /** The hard state as written to storage (the injected bug 'vote-not-persisted' drops the vote). */
  private persistedForm(hard: HardState): HardState {
    return this.raft.config.injectedBugs.has('vote-not-persisted') ? { ...hard, vote: NO_NODE } : hard;
  }

  /** The application persisted, sent and applied the last Ready. */
  advance(): void {
    const handed = this.handedOut;
    assert(handed !== undefined, 'advance() without a ready()');
    this.handedOut = undefined;
    const { raft } = this;
    if (handed.snapshotIndex !== undefined) {
      raft.log.stableSnapshotTo(handed.snapshotIndex);
      raft.log.appliedTo(handed.snapshotIndex);
    }
    if (handed.lastEntry !== undefined) raft.log.stableTo(handed.lastEntry.index, handed.lastEntry.term);
    if (handed.appliedThrough !== undefined) raft.log.appliedTo(handed.appliedThrough);
    raft.uncommittedBytes = Math.max(0, raft.uncommittedBytes - handed.committedBytes);
    if (raft.role === 'leader') this.afterLeaderPersisted();
  }

  /** The leader counts its own entries toward the quorum only once they are on its disk. */
  private afterLeaderPersisted(): void {
    const { raft } = this;
    const self = raft.tracker.progress.get(raft.id);
    if (self !== undefined && self.maybeUpdate(raft.stableLastIndex()) && maybeCommit(raft)) afterCommit(raft);
    const { config } = raft.tracker;
    if (config.autoLeave && raft.configIndex >= raft.pendingConfIndex && raft.leadTransferee === NO_NODE) {
      const leave = this.proposeConfChange({ changes: [] });
      if (!leave.ok) raft.config.logger?.warn(`node ${raft.id} could not leave the joint configuration yet: ${leave.message}`);
    }
  }
}

/** Messages a leader may send before its own write completes (see the Ready contract). */
export function leaderMaySendEarly(message: Message): boolean {
  return message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot' || message.type === 'timeout-now';
}

function describeHandedOut(entries: readonly Entry[], snapshotIndex: number | undefined, committed: readonly Entry[]): HandedOut {
  const last = entries[entries.length - 1];
  let committedBytes = 0;
  for (const entry of committed) committedBytes += entry.data.byteLength;
  return {
    lastEntry: last === undefined ? undefined : { index: last.index, term: last.term },
    snapshotIndex,
    appliedThrough: committed.length === 0 ? undefined : committed[committed.length - 1]!.index,
    committedBytes,
  };
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
