// One simulated node: a RawNode driven through the Ready contract (persist, then send, then
// apply, then advance) with a simulated disk whose writes take time, a register state machine,
// and the client requests it is serving. Crashes lose what a real crash would lose.
import { RawNode } from '../core/index.ts';
import type { ConfChange, ConfState, Entry, InjectedRaftBug, Message, ProposeResult, Ready, RequestResult } from '../core/index.ts';
import type { ElectionView, ObservedEntry, ObservedLog } from '../check/raft-safety.ts';
import type { SeededRandom } from '../util/random.ts';
import { SimDisk } from './disk.ts';
import type { EventQueue } from './event-queue.ts';
import { decodeRegisterCommand, encodeRegisterCommand, RegisterStore } from './register-store.ts';
import type { RegisterCommand, RegisterResult } from './register-store.ts';
import type { NodeView, ReadOutcome, SimulatedNode, WriteOutcome } from './simulated-node.ts';

export interface NodeHooks {
  send(message: Message): void;
  /** `term` is the term the node led in when its Ready said so (it may have moved on since). */
  onLeader(node: SimNode, term: number): void;
  onApply(node: SimNode, entry: Entry): void;
}

/** Per-seed node settings: timings and flow-control limits (small limits split replication into many messages). */
export interface NodeTimings {
  readonly tickMs: number;
  readonly diskLatencyMaxMs: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly appendBytesPerMessageMax: number;
  readonly inflightMessagesMax: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly lazyCommitPropagation: boolean;
}

/** A client's write waiting for its entry to be applied. */
export interface PendingWrite {
  readonly term: number;
  readonly command: RegisterCommand;
  resolve(outcome: WriteOutcome): void;
}

interface PendingRead {
  readonly key: string;
  index: number | undefined;
  resolve(outcome: ReadOutcome): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function entryContent(entry: Pick<Entry, 'type' | 'data'>): string {
  return `${entry.type}:${decoder.decode(entry.data)}`;
}

export class SimNode implements SimulatedNode {
  readonly id: number;
  readonly disk = new SimDisk();
  readonly store = new RegisterStore();
  raw: RawNode | undefined;
  /** Changes at every crash, so events scheduled by an earlier life are ignored. */
  incarnation = 0;
  private persisting: Ready | undefined;
  private readonly writes = new Map<number, PendingWrite>();
  private readonly reads = new Map<string, PendingRead>();
  private readCounter = 0;
  private readonly events: EventQueue;
  private readonly random: SeededRandom;
  private readonly hooks: NodeHooks;
  private readonly timings: NodeTimings;
  private readonly bugs: ReadonlySet<InjectedRaftBug>;

  constructor(id: number, events: EventQueue, random: SeededRandom, hooks: NodeHooks, timings: NodeTimings, bugs: ReadonlySet<InjectedRaftBug>) {
    this.id = id;
    this.events = events;
    this.random = random;
    this.hooks = hooks;
    this.timings = timings;
    this.bugs = bugs;
  }

  get up(): boolean {
    return this.raw !== undefined;
  }

  bootstrap(confState: ConfState): void {
    this.disk.bootstrap(confState, this.store.snapshot());
  }

  /** Starts (or restarts) the node from what is on its disk. */
  start(): void {
    const snapshot = this.disk.storage.snapshot();
    this.store.restore(snapshot.metadata.index, snapshot.data);
    this.raw = new RawNode({
      id: this.id,
      storage: this.disk.storage,
      random: () => this.random.next(),
      electionTimeoutTicks: this.timings.electionTimeoutTicks,
      heartbeatIntervalTicks: this.timings.heartbeatIntervalTicks,
      appendBytesPerMessageMax: this.timings.appendBytesPerMessageMax,
      inflightMessagesMax: this.timings.inflightMessagesMax,
      inflightBytesMax: 0,
      preVote: this.timings.preVote,
      checkQuorum: this.timings.checkQuorum,
      lazyCommitPropagation: this.timings.lazyCommitPropagation,
      injectedBugs: this.bugs,
    });
    const life = this.incarnation;
    // Ticks start at a random phase so that nodes do not tick in lockstep.
    this.events.schedule(this.random.int(0, this.timings.tickMs), () => this.tickLoop(life));
  }

  private tickLoop(life: number): void {
    if (life !== this.incarnation || this.raw === undefined) return;
    this.raw.tick();
    this.drive();
    this.events.schedule(this.timings.tickMs, () => this.tickLoop(life));
  }

  /** Power failure: the node stops; unsynced writes are lost; in-flight requests end unknown. */
  crash(): void {
    if (this.raw === undefined) return;
    if (this.persisting !== undefined) this.disk.tornWrite(this.persisting, this.random);
    this.disk.crash();
    this.persisting = undefined;
    this.raw = undefined;
    this.incarnation++;
    for (const write of this.writes.values()) write.resolve({ kind: 'unknown', reason: 'node crashed' });
    for (const read of this.reads.values()) read.resolve({ kind: 'unknown', reason: 'node crashed' });
    this.writes.clear();
    this.reads.clear();
  }

  view(): NodeView | undefined {
    const raft = this.raw?.raft;
    if (raft === undefined) return undefined;
    return { role: raft.role, term: raft.term, leaderId: raft.leaderId, vote: raft.vote, commit: raft.log.committed, config: raft.tracker.confState() };
  }

  proposeConfChange(change: ConfChange): string {
    if (this.raw === undefined) return 'node down';
    const result = this.raw.proposeConfChange(change);
    this.drive();
    return result.ok ? `proposed at ${result.index}` : result.reason;
  }

  transferLeader(target: number): string {
    if (this.raw === undefined) return 'node down';
    const result = this.raw.transferLeader(target);
    this.drive();
    return result.ok ? 'started' : result.reason;
  }

  appliedIndex(): number {
    return this.store.appliedIndex;
  }

  digest(): string {
    return this.store.digest();
  }

  describeProgress(): string {
    const progress = this.raw?.status().progress ?? {};
    return Object.entries(progress)
      .map(([id, item]) => `${id}:${item.state}${item.paused ? '(paused)' : ''} m${item.match} n${item.next}${item.recentActive ? '' : ' inactive'}`)
      .join(', ');
  }

  /** Returns false when the node is down (the message is lost). */
  receive(message: Message): boolean {
    if (this.raw === undefined) return false;
    this.raw.step(message);
    this.drive();
    return true;
  }

  onSnapshotDelivered(to: number): void {
    if (this.raw === undefined) return;
    this.raw.reportSnapshot(to, true);
    this.drive();
  }

  /** What a real transport reports back: peers it cannot reach, snapshots it could not deliver. */
  onSendFailed(message: Message, cause: 'link-down' | 'lost'): void {
    if (this.raw === undefined) return;
    if (message.type === 'snapshot') this.raw.reportSnapshot(message.to, false);
    if (cause === 'link-down') this.raw.reportUnreachable(message.to);
    this.drive();
  }

  write(command: RegisterCommand, resolve: (outcome: WriteOutcome) => void): void {
    if (this.raw === undefined) return resolve({ kind: 'refused', reason: 'node down', leaderId: 0 });
    const result: ProposeResult = this.raw.propose(encodeRegisterCommand(command));
    if (!result.ok) return resolve({ kind: 'refused', reason: result.reason, leaderId: result.leaderId });
    this.writes.get(result.index)?.resolve({ kind: 'lost', reason: 'index reused' });
    this.writes.set(result.index, { term: result.term, command, resolve });
    this.drive();
  }

  read(key: string, resolve: (outcome: ReadOutcome) => void): void {
    if (this.raw === undefined) return resolve({ kind: 'refused', reason: 'node down', leaderId: 0 });
    const context = `${this.id}/${this.incarnation}/${this.readCounter++}`;
    const result: RequestResult = this.raw.readIndex(encoder.encode(context));
    if (!result.ok) return resolve({ kind: 'refused', reason: result.reason, leaderId: result.leaderId });
    this.reads.set(context, { key, index: undefined, resolve });
    this.drive();
  }

  /** Forgets a read that timed out (its answer would come too late to matter). */
  abandonRequests(): void {
    this.reads.clear();
  }

  /** Hands the next Ready to the disk; the rest happens when the write completes. */
  drive(): void {
    const raw = this.raw;
    if (raw === undefined || this.persisting !== undefined || !raw.hasReady()) return;
    const ready = raw.ready();
    const term = raw.raft.term;
    this.persisting = ready;
    const life = this.incarnation;
    const latency = this.random.int(0, this.timings.diskLatencyMaxMs);
    this.events.schedule(latency, () => this.finishReady(life, ready, term));
  }

  private finishReady(life: number, ready: Ready, term: number): void {
    if (life !== this.incarnation || this.raw === undefined) return;
    this.disk.persist(ready);
    this.persisting = undefined;
    if (ready.softState?.role === 'leader') this.hooks.onLeader(this, term);
    for (const message of ready.messages) this.hooks.send(message);
    this.applySnapshot(ready);
    for (const entry of ready.committedEntries) this.applyEntry(entry);
    for (const state of ready.readStates) this.readConfirmed(decoder.decode(state.context), state.index);
    this.serveReads();
    this.raw.advance();
    this.drive();
  }

  private applySnapshot(ready: Ready): void {
    if (ready.snapshot === undefined) return;
    const { index } = ready.snapshot.metadata;
    this.store.restore(index, ready.snapshot.data);
    // Writes whose entries were folded into the snapshot: we cannot tell whether they are in it.
    for (const [writeIndex, write] of this.writes) {
      if (writeIndex > index) continue;
      write.resolve({ kind: 'unknown', reason: 'covered by a snapshot' });
      this.writes.delete(writeIndex);
    }
  }

  private applyEntry(entry: Entry): void {
    this.hooks.onApply(this, entry);
    let result: RegisterResult | undefined;
    if (entry.type === 'normal' && entry.data.byteLength > 0) result = this.store.apply(entry.index, decodeRegisterCommand(entry.data));
    else this.store.skip(entry.index);
    const write = this.writes.get(entry.index);
    if (write === undefined) return;
    this.writes.delete(entry.index);
    if (write.term === entry.term && result !== undefined) write.resolve({ kind: 'applied', index: entry.index, term: entry.term, content: entryContent(entry), result });
    else write.resolve({ kind: 'lost', reason: `index ${entry.index} holds an entry of term ${entry.term}` });
  }

  private readConfirmed(context: string, index: number): void {
    const read = this.reads.get(context);
    if (read !== undefined) read.index = index;
  }

  private serveReads(): void {
    for (const [context, read] of this.reads) {
      if (read.index === undefined || read.index > this.store.appliedIndex) continue;
      this.reads.delete(context);
      read.resolve({ kind: 'read', value: this.store.get(read.key) });
    }
  }

  /** Takes a snapshot of the applied state and drops log entries up to `keepAfter` before it. */
  compact(keepEntries: number): number | undefined {
    const raw = this.raw;
    if (raw === undefined) return undefined;
    const status = raw.status();
    const index = this.store.appliedIndex;
    // Between ready() and advance() the membership may already include changes past the applied
    // index; a snapshot must carry the membership as of its own index.
    if (this.persisting !== undefined || index <= this.disk.storage.firstIndex()) return undefined;
    this.disk.compact(index, status.config, this.store.snapshot(), index - keepEntries);
    return index;
  }

  /**
   * The node's log and configuration as a candidate would use them. A node that is down is
   * viewed as it would restart: a throwaway RawNode over its durable state, once it has handed
   * out its committed entries (which re-applies their membership changes).
   */
  electionView(): ElectionView {
    const raft = this.raw?.raft ?? this.restartedRaft();
    const lastIndex = raft.log.lastIndex();
    const config = raft.tracker.confState();
    const voterSets = [config.voters, config.votersOutgoing].filter((voters) => voters.length > 0);
    return {
      nodeId: this.id,
      lastIndex,
      lastTerm: raft.log.term(lastIndex) ?? 0,
      snapshotIndex: raft.log.firstIndex() - 1,
      termAt: (index) => raft.log.term(index),
      canCampaign: voterSets.some((voters) => voters.includes(this.id)),
      voterSets,
    };
  }

  private restartedRaft(): RawNode['raft'] {
    const node = new RawNode({ id: this.id, storage: this.disk.storage, random: () => 0 });
    if (node.hasReady()) node.ready();
    return node.raft;
  }

  observedLog(): ObservedLog {
    const storage = this.disk.storage;
    const raw = this.raw;
    const entries: ObservedEntry[] = [];
    const first = raw?.raft.log.firstIndex() ?? storage.firstIndex();
    const source = raw !== undefined ? raw.raft.log.allEntries() : storage.lastIndex() >= first ? storage.entries(first, storage.lastIndex() + 1, Infinity) : [];
    for (const entry of source) entries.push({ index: entry.index, term: entry.term, content: entryContent(entry) });
    const snapshotIndex = first - 1;
    return {
      nodeId: this.id,
      entries,
      snapshotIndex,
      termAt: (index) => (raw !== undefined ? raw.raft.log.term(index) : storage.term(index)),
    };
  }
}
