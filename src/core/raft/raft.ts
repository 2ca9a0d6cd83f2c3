// The Raft state machine of one node (after etcd-io/raft's raft.go): roles, terms, elections and
// message dispatch. Replication, follower handling, reads and membership live in sibling files
// as functions over this class, so each concern reads on its own.
import { assert, unreachable } from '../assert.ts';
import { restore as restoreConfig } from '../confchange/changer.ts';
import type { VoteResult } from '../quorum/majority.ts';
import { ProgressTracker } from '../tracker/tracker.ts';
import type { Entry, HardState, Message, MessageType, NodeId, ReadState, RoleName, SoftState } from '../types.ts';
import { NO_NODE, makeMessage } from '../types.ts';
import { RaftConfigError, resolveRaftConfig } from './config.ts';
import type { RaftConfig, ResolvedRaftConfig } from './config.ts';
import { handleAppendEntries, handleHeartbeat, handleSnapshot } from './follower.ts';
import { RaftLog } from './log.ts';
import { applyConfChangeEntry, switchToConfig } from './membership.ts';
import { handleReadIndex, handleReadIndexResponse } from './read-index.ts';
import { ReadOnlyQueue } from './read-only.ts';
import {
  bcastAppend, bcastHeartbeat, handleAppendResponse, handleHeartbeatResponse, sendAppend, sendTimeoutNow,
} from './replication.ts';

/** Vote context marking a campaign started by a leader transfer (it may disrupt a live leader). */
export const TRANSFER_CONTEXT = new Uint8Array([0x74, 0x72]);

export type Refusal =
  | 'not-leader'
  | 'no-leader'
  | 'transfer-in-progress'
  | 'uncommitted-limit'
  | 'conf-change-pending'
  | 'invalid-conf-change'
  | 'not-a-voter'
  | 'read-queue-full';

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: Refusal; readonly leaderId: NodeId; readonly message: string };

/** A message as role code writes it: `from` is always this node, `term` only for elections. */
export type OutgoingMessage = Omit<Partial<Message>, 'from'> & Pick<Message, 'type' | 'to'>;

export type RequestResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: Refusal; readonly leaderId: NodeId; readonly message: string };

export class Raft {
  readonly id: NodeId;
  readonly config: ResolvedRaftConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  readonly readOnly: ReadOnlyQueue;
  term = 0;
  vote: NodeId = NO_NODE;
  leaderId: NodeId = NO_NODE;
  role: RoleName = 'follower';
  isLearner = false;
  /** Outgoing messages, drained by each Ready. */
  messages: Message[] = [];
  readStates: ReadState[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NO_NODE;
  /** Index of the latest conf change this leader proposed; no other until it is applied. */
  pendingConfIndex = 0;
  uncommittedBytes = 0;
  /** Every conf change at or below this index is reflected in the tracker's configuration. */
  configIndex = 0;
  /** Read requests that arrived before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];

  constructor(config: RaftConfig) {
    this.config = resolveRaftConfig(config);
    this.id = this.config.id;
    this.log = new RaftLog(this.config.storage);
    this.tracker = new ProgressTracker(this.config.inflightMessagesMax, this.config.inflightBytesMax);
    this.readOnly = new ReadOnlyQueue(this.config.readIndexRequestsMax);
    const { hardState, confState } = this.config.storage.initialState();
    switchToConfig(this, restoreConfig(this.tracker, confState, this.log.lastIndex()));
    this.loadHardState(hardState);
    this.restoreAppliedIndex(this.config.appliedIndex);
    this.becomeFollower(this.term, NO_NODE);
  }

  private loadHardState(state: HardState): void {
    assert(state.commit <= this.log.lastIndex(), `persisted commit ${state.commit} is beyond the last index ${this.log.lastIndex()}`);
    this.log.commitTo(state.commit);
    this.term = state.term;
    this.vote = state.vote;
  }

  /**
   * The application kept its state up to `applied`: entries up to there are not handed out again,
   * so the conf changes among them (after the snapshot's membership) are replayed here.
   */
  private restoreAppliedIndex(applied: number): void {
    if (applied > 0 && applied < this.log.applied) {
      throw new RaftConfigError('appliedIndex', `${applied} is behind the latest snapshot at ${this.log.applied}; restore the application from that snapshot`);
    }
    this.configIndex = this.log.applied;
    if (applied > this.log.applied) {
      this.log.commitTo(applied);
      this.log.appliedTo(applied);
    }
    // The membership is that of the whole committed prefix, from the first moment: a restarted
    // node must never act, even briefly, under a configuration it had already left.
    this.applyCommittedConfChanges();
  }

  /** Applies the membership changes among committed entries not yet reflected in the configuration. */
  applyCommittedConfChanges(): void {
    if (this.log.committed <= this.configIndex) return;
    const entries = this.log.slice(this.configIndex + 1, this.log.committed + 1, Infinity);
    for (const entry of entries) applyConfChangeEntry(this, entry);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leaderId: this.leaderId, role: this.role };
  }

  /** Queues a message; the term is ours unless the message is about an election. */
  send(fields: OutgoingMessage): void {
    const type: MessageType = fields.type;
    const electionMessage = type === 'vote' || type === 'pre-vote' || type === 'vote-response' || type === 'pre-vote-response';
    assert(!electionMessage || fields.term !== undefined, `${type} needs an explicit term`);
    const term = electionMessage ? fields.term! : this.term;
    this.messages.push(makeMessage({ ...fields, from: this.id, term }));
  }

  // ---- roles ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.leaderId = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    const lastIndex = this.log.lastIndex();
    this.tracker.visit((id, progress) => {
      const fresh = this.tracker.newProgress(lastIndex + 1, progress.isLearner);
      if (id === this.id) fresh.match = this.stableLastIndex();
      this.tracker.progress.set(id, fresh);
    });
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly.clear();
    this.pendingReadIndexMessages = [];
  }

  /** The last index known to be persisted (entries beyond it are still in the unstable part). */
  stableLastIndex(): number {
    return Math.min(this.log.lastIndex(), this.log.unstable.offset - 1);
  }

  private resetRandomizedElectionTimeout(): void {
    const timeout = this.config.electionTimeoutTicks;
    const random = this.config.random();
    assert(random >= 0 && random < 1, `random() returned ${random}, outside [0, 1)`);
    this.randomizedElectionTimeout = timeout + Math.floor(random * timeout);
  }

  becomeFollower(term: number, leaderId: NodeId): void {
    this.reset(term);
    this.leaderId = leaderId;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // Pre-candidates do not change term or vote: a pre-vote that fails must leave no trace.
    this.tracker.resetVotes();
    this.leaderId = NO_NODE;
    this.role = 'pre-candidate';
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    assert(this.role === 'candidate', `only a candidate can become leader, not a ${this.role}`);
    this.reset(this.term);
    this.leaderId = this.id;
    this.role = 'leader';
    const self = this.tracker.progress.get(this.id)!;
    self.becomeReplicate();
    self.match = this.stableLastIndex();
    self.next = this.log.lastIndex() + 1;
    self.recentActive = true;
    // Conservative: entries of earlier terms may hold an unapplied conf change.
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op entry lets this leader commit (and so learn the commit index) in its own term.
    const appended = this.appendEntries([{ type: 'normal', data: new Uint8Array(0) }]);
    assert(appended, 'the leader could not append its empty entry');
    this.config.logger?.info(`node ${this.id} became leader at term ${this.term}`);
  }

  /** Whether this node may campaign: a voter of the current config with no snapshot pending. */
  promotable(): boolean {
    const progress = this.tracker.progress.get(this.id);
    return progress !== undefined && !progress.isLearner && !this.log.hasPendingSnapshot();
  }

  // ---- ticks ----

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) this.checkQuorum();
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === 'leader' && this.leadTransferee !== NO_NODE) this.abortLeaderTransfer();
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.config.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      bcastHeartbeat(this, this.readOnly.lastPendingContext());
    }
  }

  /** A leader that has not heard from a quorum in an election timeout steps down. */
  private checkQuorum(): void {
    if (!this.tracker.quorumActive()) {
      this.config.logger?.warn(`node ${this.id} stepped down at term ${this.term}: no quorum heard within an election timeout`);
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    this.tracker.visit((id, progress) => {
      if (id !== this.id) progress.recentActive = false;
    });
  }

  // ---- elections ----

  /** Starts an election if allowed (a timeout, or `transfer` when the leader asked us to). */
  hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    if (this.hasUnappliedConfChanges()) {
      this.config.logger?.warn(`node ${this.id} cannot campaign at term ${this.term}: unapplied conf changes`);
      return;
    }
    if (this.config.preVote && !transfer) this.campaign('pre-vote', false);
    else this.campaign('vote', transfer);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.configIndex) return false;
    const entries = this.log.slice(this.configIndex + 1, this.log.committed + 1, Infinity);
    return entries.some((entry) => entry.type === 'conf-change');
  }

  private campaign(kind: 'pre-vote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'pre-vote') {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter cluster wins at once.
      if (kind === 'pre-vote') this.campaign('vote', false);
      else this.becomeLeader();
      return;
    }
    for (const id of this.tracker.voterIds()) {
      if (id === this.id) continue;
      this.send({
        type: kind, to: id, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm(),
        context: transfer ? TRANSFER_CONTEXT : undefined,
      });
    }
  }

  private poll(id: NodeId, granted: boolean): VoteResult {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  // ---- stepping ----

  /** Handles a message from a peer. Messages for other nodes or with term 0 are programmer errors upstream. */
  step(message: Message): void {
    if (!this.stepTerm(message)) return;
    switch (message.type) {
      case 'vote':
      case 'pre-vote':
        this.handleVoteRequest(message);
        return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(message);
        return;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(message);
        return;
      case 'follower':
        this.stepFollower(message);
        return;
      default:
        unreachable(this.role, 'role');
    }
  }

  /** Reconciles terms (§5.1). Returns false when the message must not be processed further. */
  private stepTerm(message: Message): boolean {
    if (message.term > this.term) return this.stepHigherTerm(message);
    if (message.term < this.term) {
      this.stepLowerTerm(message);
      return false;
    }
    return true;
  }

  private stepHigherTerm(message: Message): boolean {
    if (message.type === 'vote' || message.type === 'pre-vote') {
      const transfer = message.context !== undefined && sameBytes(message.context, TRANSFER_CONTEXT);
      const inLease = this.config.checkQuorum && this.leaderId !== NO_NODE && this.electionElapsed < this.config.electionTimeoutTicks;
      // We heard from a live leader recently: a node that lost contact must not disrupt it.
      if (!transfer && inLease) return false;
    }
    if (message.type === 'pre-vote') return true; // never change term for a pre-vote
    if (message.type === 'pre-vote-response' && !message.reject) return true; // a future term we may win
    const fromLeader = message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot';
    this.becomeFollower(message.term, fromLeader ? message.from : NO_NODE);
    return true;
  }

  private stepLowerTerm(message: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (message.type === 'heartbeat' || message.type === 'append')) {
      // A stale leader (e.g. back from a partition) learns our term from this and steps down;
      // otherwise, with pre-vote, nobody would ever tell it.
      this.send({ type: 'append-response', to: message.from });
    } else if (message.type === 'pre-vote') {
      this.send({ type: 'pre-vote-response', to: message.from, term: this.term, reject: true });
    }
  }

  private handleVoteRequest(message: Message): void {
    const responseType = message.type === 'vote' ? 'vote-response' : 'pre-vote-response';
    const canVote =
      this.vote === message.from ||
      (this.vote === NO_NODE && this.leaderId === NO_NODE) ||
      (message.type === 'pre-vote' && message.term > this.term);
    if (canVote && this.log.isUpToDate(message.index, message.logTerm)) {
      // Pre-vote responses carry the requested term so the pre-candidate can count them.
      this.send({ type: responseType, to: message.from, term: message.term });
      if (message.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = message.from;
      }
    } else {
      this.send({ type: responseType, to: message.from, term: this.term, reject: true });
    }
  }

  private stepFollower(message: Message): void {
    switch (message.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.electionElapsed = 0;
        this.leaderId = message.from;
        if (message.type === 'append') handleAppendEntries(this, message);
        else if (message.type === 'heartbeat') handleHeartbeat(this, message);
        else handleSnapshot(this, message);
        return;
      case 'timeout-now':
        this.config.logger?.info(`node ${this.id} received timeout-now from ${message.from}: campaigning for a leader transfer`);
        this.hup(true);
        return;
      case 'read-index-response':
        handleReadIndexResponse(this, message);
        return;
      default:
        return; // responses meant for a leader we no longer are
    }
  }

  private stepCandidate(message: Message): void {
    const myResponse = this.role === 'pre-candidate' ? 'pre-vote-response' : 'vote-response';
    switch (message.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.becomeFollower(message.term, message.from);
        this.stepFollower(message);
        return;
      case myResponse: {
        const result = this.poll(message.from, !message.reject);
        if (result === 'won') {
          if (this.role === 'pre-candidate') this.campaign('vote', false);
          else {
            this.becomeLeader();
            bcastAppend(this);
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NO_NODE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepLeader(message: Message): void {
    const progress = this.tracker.progress.get(message.from);
    switch (message.type) {
      case 'append-response':
        if (progress !== undefined) handleAppendResponse(this, message, progress);
        return;
      case 'heartbeat-response':
        if (progress !== undefined) handleHeartbeatResponse(this, message, progress);
        return;
      case 'read-index':
        handleReadIndex(this, message);
        return;
      default:
        return;
    }
  }

  // ---- proposals ----

  /** Appends entries as the leader; false when the uncommitted-bytes limit refuses them. */
  appendEntries(entries: readonly Pick<Entry, 'type' | 'data'>[]): boolean {
    let bytes = 0;
    for (const entry of entries) bytes += entry.data.byteLength;
    if (this.uncommittedBytes > 0 && bytes > 0 && this.uncommittedBytes + bytes > this.config.uncommittedBytesMax) return false;
    this.uncommittedBytes += bytes;
    const lastIndex = this.log.lastIndex();
    const full: Entry[] = entries.map((entry, position) => ({ term: this.term, index: lastIndex + 1 + position, type: entry.type, data: entry.data }));
    this.log.append(full);
    // The leader acknowledges its own entries only once they are persisted (see advance()).
    return true;
  }

  propose(entries: readonly Pick<Entry, 'type' | 'data'>[]): ProposeResult {
    const refusal = this.refuseProposal();
    if (refusal !== undefined) return refusal;
    if (!this.appendEntries(entries)) {
      return this.refuse('uncommitted-limit', `more than ${this.config.uncommittedBytesMax} bytes are waiting to commit; retry later`);
    }
    bcastAppend(this);
    return { ok: true, index: this.log.lastIndex() - entries.length + 1, term: this.term };
  }

  refuseProposal(): (ProposeResult & { ok: false }) | undefined {
    if (this.role !== 'leader') return this.refuse(this.leaderId === NO_NODE ? 'no-leader' : 'not-leader', 'this node is not the leader');
    if (this.leadTransferee !== NO_NODE) {
      return this.refuse('transfer-in-progress', `leadership is being transferred to node ${this.leadTransferee}`);
    }
    return undefined;
  }

  refuse(reason: Refusal, message: string): ProposeResult & { ok: false } {
    return { ok: false, reason, leaderId: this.leaderId, message };
  }

  // ---- leader transfer ----

  transferLeader(target: NodeId): RequestResult {
    if (this.role !== 'leader') return this.refuse(this.leaderId === NO_NODE ? 'no-leader' : 'not-leader', 'only the leader can transfer leadership');
    if (target === this.id) return { ok: true };
    const progress = this.tracker.progress.get(target);
    if (progress === undefined || progress.isLearner) return this.refuse('not-a-voter', `node ${target} is not a voter`);
    if (this.leadTransferee === target) return { ok: true };
    this.abortLeaderTransfer();
    // The transfer must finish within one election timeout.
    this.electionElapsed = 0;
    this.leadTransferee = target;
    if (progress.match === this.log.lastIndex()) sendTimeoutNow(this, target);
    else sendAppend(this, target, true);
    return { ok: true };
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NO_NODE;
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let position = 0; position < a.byteLength; position++) if (a[position] !== b[position]) return false;
  return true;
}
