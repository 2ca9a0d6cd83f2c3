// A running Raft node (DESIGN.md "the node loop"): it ticks the core on a timer, steps messages
// from the transport, proposes client commands in batches, and turns each Ready into disk
// writes, messages and state machine applies (ready-processor.ts). Clock, randomness, storage,
// transport and state machine are injected, so the simulator runs exactly this code.
import { RawNode } from '../core/index.ts';
import type { ConfChange, ConfState, Entry, InjectedRaftBug, Message, RaftStatus, RoleName } from '../core/index.ts';
import type { MemberDirectory } from '../state/members/member-directory.ts';
import type { StateMachine } from '../state/types.ts';
import type { DurableStorage } from '../storage/index.ts';
import type { Transport } from '../transport/index.ts';
import { SYSTEM_CLOCK } from '../util/clock.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import { CommitPropagation } from './commit-propagation.ts';
import { NodeError } from './errors.ts';
import { Forwarder } from './forwarding.ts';
import type { NodeLogger } from './logger.ts';
import { SILENT_NODE_LOGGER } from './logger.ts';
import { PeerSync } from './peers.ts';
import { ProposalTracker } from './proposals.ts';
import type { Waiter } from './proposals.ts';
import { ReadBarrier } from './read-barrier.ts';
import { ReadyProcessor } from './ready-processor.ts';
import type { InjectedRuntimeBug } from './ready-processor.ts';
import { Snapshotter, isStateBacked } from './snapshotter.ts';

export interface RaftNodeOptions {
  readonly id: number;
  readonly storage: DurableStorage;
  readonly transport: Transport;
  readonly state: StateMachine<unknown>;
  readonly members: MemberDirectory;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly logger?: NodeLogger;
  /** Milliseconds per Raft tick. Election timeout = tickMs × electionTimeoutTicks (randomized up to 2×). */
  readonly tickMs?: number;
  readonly electionTimeoutTicks?: number;
  readonly heartbeatIntervalTicks?: number;
  /** Default deadline of proposals, reads and membership requests. */
  readonly requestTimeoutMs?: number;
  /** Take a snapshot and compact the log after this many applied entries... */
  readonly snapshotEveryEntries?: number;
  /** ...or after this many bytes of applied entries. */
  readonly snapshotEveryBytes?: number;
  /** Entries kept before the snapshot, so followers slightly behind catch up without one... */
  readonly entriesKeptAfterSnapshot?: number;
  /** ...at most this many bytes of them. */
  readonly bytesKeptAfterSnapshot?: number;
  readonly pendingRequestsMax?: number;
  readonly proposalBatchBytesMax?: number;
  /**
   * A follower learns a new commit index from the next append; only once the leader has proposed
   * nothing for this many milliseconds do idle followers get an empty append carrying it
   * (RaftConfig.lazyCommitPropagation). 0: an empty append after every commit (etcd's way).
   * Under load this halves the peer messages of a write, each of which woke a follower and came
   * back as an acknowledgement. Clients are answered by the leader, so their latency does not
   * depend on it; a follower applies the last writes of a burst up to about twice this later.
   */
  readonly commitPropagationDelayMs?: number;
  /** Peers to talk to before this node has a membership of its own (a node joining a cluster). */
  readonly seedPeers?: ReadonlyMap<number, string>;
  /** Addresses this node uses for some peers instead of the replicated ones (fault-injection proxies). */
  readonly peerAddressOverrides?: ReadonlyMap<number, string>;
  readonly raftBugs?: ReadonlySet<InjectedRaftBug>;
  readonly runtimeBugs?: ReadonlySet<InjectedRuntimeBug>;
}

// Elections after 400-800 ms without a leader (8 ticks of 50 ms, randomized up to twice), a
// heartbeat every 100 ms: a SIGKILLed leader is replaced in under a second (the chaos suite runs
// 10 ticks of 50 ms, also under 100 ms ± 50 of link latency). etcd's defaults (100 ms heartbeat,
// 1 s election) replace it in 1-2 s; pre-vote and check-quorum keep a slow node from disrupting.
export const RAFT_NODE_DEFAULTS = {
  tickMs: 50,
  electionTimeoutTicks: 8,
  heartbeatIntervalTicks: 2,
  requestTimeoutMs: 5_000,
  snapshotEveryEntries: 100_000,
  snapshotEveryBytes: 64 * 1024 * 1024,
  entriesKeptAfterSnapshot: 5_000,
  bytesKeptAfterSnapshot: 16 * 1024 * 1024,
  pendingRequestsMax: 100_000,
  proposalBatchBytesMax: 4 * 1024 * 1024,
  commitPropagationDelayMs: 10,
} as const;

export interface NodeCounters {
  proposalsCommitted: number;
  proposalsFailed: number;
  leaderChanges: number;
  readsServed: number;
  snapshotsTaken: number;
  snapshotsRestored: number;
  /** Snapshots this node (as leader) sent to a follower completely... */
  snapshotsSent: number;
  /** ...and those that failed on the way (dropped, or the connection broke); Raft sends them again. */
  snapshotsFailed: number;
}

type Listener<T> = (value: T) => void;

export class RaftNode {
  readonly id: number;
  readonly counters: NodeCounters = {
    proposalsCommitted: 0, proposalsFailed: 0, leaderChanges: 0, readsServed: 0, snapshotsTaken: 0, snapshotsRestored: 0, snapshotsSent: 0, snapshotsFailed: 0,
  };
  /** Followers whose last snapshot failed: the next failure is not logged again until one arrives. */
  private readonly snapshotFailing = new Set<number>();
  private raw!: RawNode;
  private readonly options: Required<Omit<RaftNodeOptions, 'seedPeers' | 'peerAddressOverrides' | 'raftBugs' | 'runtimeBugs'>> & RaftNodeOptions;
  private readonly clock: Clock;
  private readonly logger: NodeLogger;
  private readonly proposals: ProposalTracker;
  private readonly reads: ReadBarrier;
  private readonly processor: ReadyProcessor;
  private readonly peers: PeerSync;
  private readonly forwarder: Forwarder;
  private readonly snapshotter: Snapshotter;
  private readonly confChangeWaiters = new Map<number, { term: number; waiter: Waiter<ConfState> }>();
  private readonly transferWaiters: { target: number; waiter: Waiter<void> }[] = [];
  private readonly roleListeners = new Set<Listener<{ role: RoleName; leaderId: number; term: number }>>();
  private readonly appliedListeners = new Set<Listener<number>>();
  private tickTimer: TimerHandle | undefined;
  private readonly commitPropagation: CommitPropagation;
  private pumpScheduled = false;
  private pumping = false;
  private stopped = false;
  private fatal: Error | undefined;
  private lastLeaderId = 0;

  constructor(options: RaftNodeOptions) {
    this.options = { ...RAFT_NODE_DEFAULTS, clock: SYSTEM_CLOCK, random: Math.random, logger: SILENT_NODE_LOGGER, ...options };
    this.id = options.id;
    this.clock = this.options.clock;
    this.logger = this.options.logger;
    this.proposals = new ProposalTracker({ pendingMax: this.options.pendingRequestsMax, batchBytesMax: this.options.proposalBatchBytesMax });
    this.reads = new ReadBarrier(this.id, this.options.pendingRequestsMax);
    this.peers = new PeerSync(options.transport, this.id, options.seedPeers ?? new Map(), this.logger, options.peerAddressOverrides);
    this.forwarder = new Forwarder(options.transport, this, () => this.clock.now());
    this.snapshotter = new Snapshotter({
      storage: options.storage, state: options.state, logger: this.logger,
      limits: {
        everyEntries: this.options.snapshotEveryEntries, everyBytes: this.options.snapshotEveryBytes,
        keptEntries: this.options.entriesKeptAfterSnapshot, keptBytes: this.options.bytesKeptAfterSnapshot,
      },
      onWanted: () => this.schedulePump(),
      now: () => this.clock.now(),
    });
    this.commitPropagation = new CommitPropagation({
      clock: this.clock, delayMs: this.options.commitPropagationDelayMs,
      unpropagated: () => this.raw.commitUnpropagated(),
      propagate: () => this.withCore(() => this.raw.propagateCommit()),
    });
    this.processor = new ReadyProcessor({
      storage: options.storage, transport: options.transport, state: options.state, bugs: options.runtimeBugs ?? new Set(),
      now: () => this.clock.now(),
      hooks: {
        applied: (entry, result) => this.onApplied(entry, result),
        restoredSnapshot: (index) => this.onSnapshotRestored(index),
        readState: (context, index) => this.reads.confirmedAt(context, index),
      },
    });
  }

  // ---- lifecycle ----

  /** Opens the core over what storage and state machine hold, and starts ticking. */
  start(): void {
    const { storage, state, transport } = this.options;
    this.catchUpStateWithSnapshot();
    const coreStorage = this.snapshotter.coreStorage();
    this.raw = new RawNode({
      id: this.id, storage: coreStorage, random: this.options.random, appliedIndex: state.appliedIndex(),
      electionTimeoutTicks: this.options.electionTimeoutTicks, heartbeatIntervalTicks: this.options.heartbeatIntervalTicks,
      lazyCommitPropagation: this.options.commitPropagationDelayMs > 0,
      logger: {
        info: (message) => this.logger.info({ node: this.id }, message),
        warn: (message) => this.logger.warn({ node: this.id }, message),
        debug: (message) => this.logger.debug({ node: this.id }, message),
      },
      ...(this.options.raftBugs === undefined ? {} : { injectedBugs: this.options.raftBugs }),
    });
    coreStorage.sendable = true;
    this.snapshotter.lastSnapshotIndex = storage.snapshot()?.metadata.index ?? 0;
    transport.onMessage((message) => this.step(message));
    transport.onUnreachable((peer) => this.withCore(() => this.raw.reportUnreachable(peer)));
    transport.onSnapshotStatus((peer, status) => this.onSnapshotStatus(peer, status));
    transport.onRequest((payload, from) => this.forwarder.serve(payload, from));
    this.options.members.subscribe(() => this.syncPeers());
    this.syncPeers();
    this.scheduleTick();
    this.logger.info({ node: this.id, applied: state.appliedIndex(), lastIndex: storage.lastIndex(), term: this.raw.term }, 'raft node started');
  }

  /** The state machine may be behind the latest snapshot (a memory state, or one restored from elsewhere). */
  private catchUpStateWithSnapshot(): void {
    const { storage, state } = this.options;
    const snapshot = storage.snapshot();
    if (snapshot !== undefined && isStateBacked(snapshot) && snapshot.metadata.index > state.appliedIndex()) {
      throw new NodeError('stopped', `the log was compacted up to ${snapshot.metadata.index} behind the state store, but the state store has applied only up to ${state.appliedIndex()}: the state directory was lost or replaced. Wipe this node's data directory and add it to the cluster again (it then gets a snapshot)`);
    }
    if (snapshot !== undefined && !isStateBacked(snapshot) && snapshot.metadata.index > state.appliedIndex() && snapshot.data.byteLength > 0) {
      state.restore({ index: snapshot.metadata.index, term: snapshot.metadata.term, data: snapshot.data });
    }
    if (state.appliedIndex() > storage.lastIndex()) {
      throw new NodeError('stopped', `the state machine has applied up to ${state.appliedIndex()} but the log ends at ${storage.lastIndex()}: the Raft log lost entries. Restore this node from a backup or wipe it and re-add it`);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer !== undefined) this.clock.clearTimer(this.tickTimer);
    this.commitPropagation.stop();
    const error = new NodeError('stopped', 'the node is shutting down');
    this.proposals.failAll(error);
    this.reads.failAll(error);
    for (const { waiter } of this.confChangeWaiters.values()) waiter.reject(error);
    for (const { waiter } of this.transferWaiters) waiter.reject(error);
    this.confChangeWaiters.clear();
    while (this.pumping) await new Promise((resolve) => this.clock.setTimer(() => resolve(undefined), 5));
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Why the node stopped by itself (a storage failure, a broken invariant), if it did. */
  get failure(): Error | undefined {
    return this.fatal;
  }

  // ---- the loop ----

  private scheduleTick(): void {
    this.tickTimer = this.clock.setTimer(() => {
      if (this.stopped) return;
      this.withCore(() => {
        this.raw.tick();
        this.expireRequests();
        this.maybeAutoPromote();
        this.snapshotter.releaseIdle();
      });
      if (!this.stopped) this.scheduleTick();
    }, this.options.tickMs);
  }

  private onSnapshotStatus(peer: number, status: 'delivered' | 'failed'): void {
    if (status === 'delivered') {
      this.counters.snapshotsSent++;
      this.snapshotFailing.delete(peer);
      this.logger.info({ peer }, `a snapshot reached node ${peer}`);
    } else {
      this.counters.snapshotsFailed++;
      const first = !this.snapshotFailing.has(peer);
      this.snapshotFailing.add(peer);
      this.logger[first ? 'warn' : 'debug']({ peer }, `a snapshot to node ${peer} failed on the way; it is sent again (see the transport's log for why)`);
    }
    this.withCore(() => this.raw.reportSnapshot(peer, status === 'delivered'));
  }

  private step(message: Message): void {
    this.withCore(() => this.raw.step(message));
  }

  /** Runs an input against the core (if running) and lets the loop handle what it produced. */
  private withCore(action: () => void): void {
    if (this.stopped) return;
    try {
      action();
      this.commitPropagation.schedule();
      this.serveWhileBusy();
    } catch (error) {
      // A broken invariant (e.g. a leader claiming we hold entries we lost): stop, never limp on.
      this.fail(error as Error);
      return;
    }
    this.schedulePump();
  }

  /**
   * While the node loop waits (a Ready being written, a snapshot being read): messages that wait
   * for no write go out at once, and during a write an acknowledgement that commits more entries
   * has them applied (and their clients answered) now rather than after that write.
   * Measured on 3 nodes sharing one disk: a put otherwise often waited for two fsyncs in a row.
   */
  private serveWhileBusy(): void {
    if (!this.pumping) return;
    // Heartbeats (a leader's, and the answers to them) and a leader's appends leave now, even
    // while a write is slow or a snapshot is being read.
    for (const message of this.raw.takeMessagesNeedingNoWrite()) this.options.transport.send(message);
    if (!this.processor.writing || !this.processor.canApplyEarly()) return;
    const entries = this.raw.takeCommittedEntries();
    if (entries.length === 0) return;
    this.processor.applyEarly(entries);
    this.reads.appliedThrough(this.options.state.appliedIndex());
  }

  schedulePump(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  /** One Ready at a time; inputs that arrive meanwhile are stepped and picked up by the next one. */
  private async pump(): Promise<void> {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.stopped) break;
        if (this.snapshotter.buildWanting) await this.snapshotter.buildWanted(this.raw);
        this.proposeQueued();
        this.startReadRound();
        if (!this.raw.hasReady()) break;
        const ready = this.raw.ready();
        if (ready.softState !== undefined) this.onRoleChange();
        await this.processor.process(ready, this.raw.role === 'leader');
        this.raw.advance();
        this.commitPropagation.schedule();
        this.reads.appliedThrough(this.options.state.appliedIndex());
        (await this.snapshotter.maybeStart(this.raw))?.written.then(
          () => this.counters.snapshotsTaken++,
          (error: Error) => {
            if (!this.stopped) this.fail(error); // once stopping, the closed storage refuses the rest
          },
        );
      }
    } catch (error) {
      this.fail(error as Error);
    } finally {
      this.pumping = false;
    }
  }

  /** A storage failure or broken invariant: stop serving rather than continue on bad state. */
  private fail(error: Error): void {
    this.fatal = error;
    this.logger.error({ node: this.id, error: error.message, stack: error.stack }, 'raft node stopped after a fatal error');
    void this.stop();
  }

  private proposeQueued(): void {
    if (this.proposals.queued === 0) return;
    if (this.raw.role !== 'leader') {
      this.forwarder.forwardQueued(this.proposals, this.raw.leaderId);
      return;
    }
    const batch = this.proposals.takeBatch();
    const result = this.raw.proposeBatch(batch.map((proposal) => proposal.data));
    this.commitPropagation.proposed();
    if (result.ok) {
      this.proposals.proposedAt(batch, result.index, result.term);
    } else if (result.reason === 'uncommitted-limit') {
      this.proposals.requeue(batch);
    } else {
      const error = new NodeError(result.reason === 'transfer-in-progress' ? 'transfer-in-progress' : 'not-leader', result.message, result.leaderId);
      for (const proposal of batch) proposal.reject(error);
    }
  }

  private startReadRound(): void {
    const round = this.reads.nextRound(this.clock.now());
    if (round === undefined) return;
    if (!this.raw.readIndex(round.context).ok) this.reads.roundRefused();
  }

  private expireRequests(): void {
    const now = this.clock.now();
    this.proposals.expire(now);
    this.reads.expire(now, this.options.tickMs * this.options.electionTimeoutTicks);
    for (const [index, { waiter }] of this.confChangeWaiters) {
      if (waiter.deadline > now) continue;
      this.confChangeWaiters.delete(index);
      waiter.reject(new NodeError('timeout', `the membership change at index ${index} was not applied in time; check the cluster status`));
    }
    for (let position = this.transferWaiters.length - 1; position >= 0; position--) {
      const { target, waiter } = this.transferWaiters[position]!;
      if (waiter.deadline > now) continue;
      this.transferWaiters.splice(position, 1);
      waiter.reject(new NodeError('timeout', `leadership did not move to node ${target} in time; it may be behind or unreachable`));
    }
  }

  // ---- events from the Ready ----

  private onRoleChange(): void {
    const { role, leaderId, term } = this.raw;
    if (leaderId !== this.lastLeaderId && leaderId !== 0) this.counters.leaderChanges++;
    this.lastLeaderId = leaderId;
    this.logger.info({ node: this.id, role, leader: leaderId, term }, 'raft role changed');
    for (const listener of this.roleListeners) listener({ role, leaderId, term });
    for (let position = this.transferWaiters.length - 1; position >= 0; position--) {
      const { target, waiter } = this.transferWaiters[position]!;
      if (leaderId !== target) continue;
      this.transferWaiters.splice(position, 1);
      waiter.resolve();
    }
  }

  private onApplied(entry: Entry, result: unknown): void {
    this.snapshotter.recordApplied(entry.index, entry.data.byteLength);
    if (entry.type === 'conf-change') this.onConfChangeApplied(entry);
    else this.proposals.applied(entry.index, entry.term, result);
    if (result !== null && result !== undefined) this.counters.proposalsCommitted++;
    for (const listener of this.appliedListeners) listener(entry.index);
  }

  private onConfChangeApplied(entry: Entry): void {
    this.syncPeers();
    const pending = this.confChangeWaiters.get(entry.index);
    if (pending === undefined) return;
    this.confChangeWaiters.delete(entry.index);
    if (pending.term === entry.term) pending.waiter.resolve(this.raw.status().config);
    else pending.waiter.reject(new NodeError('proposal-lost', 'the membership change was replaced after a leader change; retry'));
  }

  private onSnapshotRestored(index: number): void {
    this.counters.snapshotsRestored++;
    this.proposals.coveredBySnapshot(index);
    this.syncPeers();
    this.logger.info({ node: this.id, index }, 'state restored from the leader\'s snapshot');
  }

  private syncPeers(): void {
    if (this.raw === undefined) return;
    this.peers.update(this.raw.status().config, this.options.members.members());
  }

  // ---- public API ----

  /** Proposes a state-machine command and resolves with its result once applied (forwarded to the leader if needed). */
  propose(data: Uint8Array, timeoutMs = this.options.requestTimeoutMs): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(this.fatal ?? new NodeError('stopped', 'the node is stopped'));
      const fail = (error: Error): void => {
        this.counters.proposalsFailed++;
        reject(error);
      };
      this.proposals.enqueue({ data, deadline: this.clock.now() + timeoutMs, resolve, reject: fail });
      this.schedulePump();
    });
  }

  /** Resolves once this node's state machine reflects every write committed before the call (linearizable). */
  readBarrier(timeoutMs = this.options.requestTimeoutMs): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(this.fatal ?? new NodeError('stopped', 'the node is stopped'));
      this.reads.add({
        deadline: this.clock.now() + timeoutMs,
        resolve: () => {
          this.counters.readsServed++;
          resolve();
        },
        reject,
      });
      this.schedulePump();
    });
  }

  /** Proposes a membership change on the leader (or forwards it) and resolves with the new membership once applied. */
  async changeMembership(change: ConfChange, timeoutMs = this.options.requestTimeoutMs): Promise<ConfState> {
    if (this.stopped) throw this.fatal ?? new NodeError('stopped', 'the node is stopped');
    if (this.raw.role !== 'leader') return this.forwarder.forwardConfChange(change, this.raw.leaderId, timeoutMs);
    const result = this.raw.proposeConfChange(change);
    if (!result.ok) {
      const code = result.reason === 'conf-change-pending' ? 'conf-change-pending' : result.reason === 'invalid-conf-change' ? 'invalid-conf-change'
        : result.reason === 'transfer-in-progress' ? 'transfer-in-progress' : 'not-leader';
      throw new NodeError(code, result.message, result.leaderId);
    }
    this.schedulePump();
    return new Promise((resolve, reject) => {
      this.confChangeWaiters.set(result.index, { term: result.term, waiter: { deadline: this.clock.now() + timeoutMs, resolve, reject } });
    });
  }

  /** Moves leadership to `target` and resolves once this node sees it lead. */
  async transferLeadership(target: number, timeoutMs = this.options.requestTimeoutMs): Promise<void> {
    if (this.stopped) throw this.fatal ?? new NodeError('stopped', 'the node is stopped');
    if (this.raw.leaderId === target) return;
    if (this.raw.role !== 'leader') return this.forwarder.forwardTransfer(target, this.raw.leaderId, timeoutMs);
    const result = this.raw.transferLeader(target);
    if (!result.ok) throw new NodeError(result.reason === 'not-a-voter' ? 'invalid-conf-change' : 'not-leader', result.message, result.leaderId);
    this.schedulePump();
    return new Promise((resolve, reject) => {
      this.transferWaiters.push({ target, waiter: { deadline: this.clock.now() + timeoutMs, resolve, reject } });
    });
  }

  /** Leader only: learners that asked to be promoted once caught up (see the member directory). */
  private maybeAutoPromote(): void {
    if (this.raw.role !== 'leader') return;
    const status = this.raw.status();
    if (status.config.votersOutgoing.length > 0 || this.confChangeWaiters.size > 0) return;
    for (const learner of status.config.learners) {
      const member = this.options.members.members().get(learner);
      const progress = status.progress?.[String(learner)];
      if (member?.autoPromote !== true || progress === undefined || progress.match < status.commit) continue;
      this.logger.info({ node: this.id, learner }, 'learner caught up: promoting it to voter');
      this.changeMembership({ changes: [{ action: 'add-voter', nodeId: learner }] }).catch((error: Error) =>
        this.logger.warn({ node: this.id, learner, error: error.message }, 'promoting the learner failed; will retry'));
      return;
    }
  }

  get role(): RoleName {
    return this.raw.role;
  }

  get leaderId(): number {
    return this.raw.leaderId;
  }

  get term(): number {
    return this.raw.term;
  }

  raftStatus(): RaftStatus {
    return this.raw.status();
  }

  /** The Raft core itself, for inspection only (the simulator's checkers, diagnostics). Never drive it. */
  inspectCore(): RawNode {
    return this.raw;
  }

  pendingRequests(): { proposals: number; reads: number } {
    return { proposals: this.proposals.pending, reads: this.reads.pending };
  }

  persistenceTimings(): ReadyProcessor['timings'] {
    return this.processor.timings;
  }

  onRole(listener: Listener<{ role: RoleName; leaderId: number; term: number }>): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  onAppliedIndex(listener: Listener<number>): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }
}
