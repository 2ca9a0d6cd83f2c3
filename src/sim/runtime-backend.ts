// Runtime mode: every node is the real runtime (RaftNode) with the real WAL (FileStorage) on a
// simulated disk that loses unsynced writes at a crash, the real replicated state machine (KV
// module, memory store: rebuilt from snapshot + WAL after a crash), and the memory transport
// over simulated time. Only the clock, the disk's medium and the network are simulated.
import { RawNode } from '../core/index.ts';
import type { ConfChange, InjectedRaftBug } from '../core/index.ts';
import type { ElectionView, ObservedLog } from '../check/raft-safety.ts';
import { isNodeError } from '../runtime/errors.ts';
import { bootstrapStaticCluster } from '../runtime/bootstrap.ts';
import { RaftNode } from '../runtime/raft-node.ts';
import type { InjectedRuntimeBug } from '../runtime/ready-processor.ts';
import { compareAndSwap, encodeKvCommand } from '../state/kv/commands.ts';
import { encodeMembershipContext } from '../state/members/member-directory.ts';
import { openNodeState } from '../state/open.ts';
import type { NodeState } from '../state/open.ts';
import { FileStorage, SimulatedFileSystem } from '../storage/index.ts';
import type { DurableStorage, FileSystem } from '../storage/index.ts';
import { MemoryNetwork } from '../transport/index.ts';
import type { MemoryTransport } from '../transport/index.ts';
import type { Clock } from '../util/clock.ts';
import type { SeededRandom } from '../util/random.ts';
import type { ClusterObserver, NetworkControl, NodeBackend } from './cluster.ts';
import type { EventQueue } from './event-queue.ts';
import { CALM_NETWORK } from './network.ts';
import type { NetworkFaults } from './network.ts';
import type { RegisterCommand } from './register-store.ts';
import type { NodeView, ReadOutcome, SimulatedNode, WriteOutcome } from './simulated-node.ts';
import { ObservedState } from './observed-state.ts';
import { DurableStateImage } from './durable-state-store.ts';
import type { OrderedStore } from '../state/store.ts';

export interface RuntimeTimings {
  readonly tickMs: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly diskLatencyMaxMs: number;
  readonly snapshotEveryEntries: number;
  readonly entriesKeptAfterSnapshot: number;
  readonly segmentMaxBytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DATA_DIRECTORY = '/cairn';

/** Simulated time for everything a node schedules; a crash silences the timers of its past life. */
function lifeClock(events: EventQueue, alive: () => boolean): Clock {
  return {
    now: () => events.now,
    setTimer: (callback, delayMs) => {
      const handle = { cancelled: false };
      events.schedule(delayMs, () => {
        if (!handle.cancelled && alive()) callback();
      });
      return handle;
    },
    clearTimer: (handle) => {
      (handle as { cancelled: boolean }).cancelled = true;
    },
  };
}

/** The disk as one life of the node sees it: after a crash, the old life's file handles and calls fail. */
function fileSystemOfLife(disk: SimulatedFileSystem, alive: () => boolean): FileSystem {
  return new Proxy(disk, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (!alive()) return Promise.reject(new Error('this process died: its disk is gone'));
        return (value as (...parameters: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as FileSystem;
}

export class RuntimeNetwork implements NetworkControl {
  readonly faults: NetworkFaults = { ...CALM_NETWORK };
  readonly memory: MemoryNetwork;
  private readonly ids = new Set<number>();
  private readonly random: SeededRandom;

  constructor(events: EventQueue, random: SeededRandom) {
    this.random = random;
    this.memory = new MemoryNetwork({ clock: lifeClock(events, () => true), encodeMessages: true });
    this.memory.setDropFilter(() => this.faults.dropProbability > 0 && this.random.chance(this.faults.dropProbability));
  }

  addNode(id: number): void {
    this.ids.add(id);
    this.faultsChanged();
  }

  /** Links keep their order (like TCP); each gets its own latency from the current range. */
  faultsChanged(): void {
    for (const from of this.ids) {
      for (const to of this.ids) {
        if (from !== to) this.memory.setDelay(from, to, this.random.int(Math.max(1, this.faults.delayMinMs), Math.max(1, this.faults.delayMaxMs)));
      }
    }
  }

  partition(groups: readonly (readonly number[])[]): void {
    this.memory.partition(...groups);
  }

  cutLink(from: number, to: number): void {
    this.memory.setLinkDown(from, to, true);
  }

  heal(): void {
    this.memory.heal();
    // The memory network's heal also clears link delays; links keep their latency here.
    this.faultsChanged();
  }
}

export class RuntimeBackend implements NodeBackend {
  readonly network: RuntimeNetwork;
  private readonly events: EventQueue;
  private readonly random: SeededRandom;
  private readonly timings: RuntimeTimings;
  private readonly raftBugs: ReadonlySet<InjectedRaftBug>;
  private readonly runtimeBugs: ReadonlySet<InjectedRuntimeBug>;
  private readonly nodes = new Map<number, RuntimeSimNode>();

  constructor(events: EventQueue, random: SeededRandom, timings: RuntimeTimings, raftBugs: ReadonlySet<InjectedRaftBug>, runtimeBugs: ReadonlySet<InjectedRuntimeBug>) {
    this.events = events;
    this.random = random;
    this.timings = timings;
    this.raftBugs = raftBugs;
    this.runtimeBugs = runtimeBugs;
    this.network = new RuntimeNetwork(events, random.fork());
  }

  createNode(id: number, foundingVoters: readonly number[] | undefined, observer: ClusterObserver): SimulatedNode {
    this.network.addNode(id);
    const node = new RuntimeSimNode(id, {
      events: this.events, random: this.random.fork(), timings: this.timings, network: this.network.memory, observer,
      foundingVoters, raftBugs: this.raftBugs, runtimeBugs: this.runtimeBugs, knownIds: () => [...this.nodes.keys()],
    });
    this.nodes.set(id, node);
    return node;
  }
}

interface RuntimeNodeContext {
  readonly events: EventQueue;
  readonly random: SeededRandom;
  readonly timings: RuntimeTimings;
  readonly network: MemoryNetwork;
  readonly observer: ClusterObserver;
  readonly foundingVoters: readonly number[] | undefined;
  readonly raftBugs: ReadonlySet<InjectedRaftBug>;
  readonly runtimeBugs: ReadonlySet<InjectedRuntimeBug>;
  readonly knownIds: () => number[];
}

function addressesOf(id: number): { peer: string; client: string } {
  return { peer: `n${id}`, client: `c${id}` };
}

export class RuntimeSimNode implements SimulatedNode {
  readonly id: number;
  incarnation = 0;
  private running = false;
  private node: RaftNode | undefined;
  private state: NodeState | undefined;
  private observed: ObservedState | undefined;
  private transport: MemoryTransport | undefined;
  /** The log as it is on disk (recovered after each crash), for checks while the node is down. */
  private durable: DurableStorage | undefined;
  private readonly disk: SimulatedFileSystem;
  /**
   * Even-numbered nodes keep their state in a durable store (as lmdb does: the log is compacted
   * behind it), odd ones in memory (rebuilt from snapshot and log at each start): every cluster
   * runs both kinds of snapshot.
   */
  private readonly stateImage: DurableStateImage | undefined;
  private readonly context: RuntimeNodeContext;
  private digestCache: { index: number; digest: string } | undefined;
  /** WAL segment salts: distinct for the node's whole run (restarts included) and reproducible. */
  private saltsMade = 0;
  private readonly newSegmentSalt = (): Uint8Array => {
    const salt = new DataView(new ArrayBuffer(8));
    salt.setUint32(0, this.id);
    salt.setUint32(4, ++this.saltsMade);
    return new Uint8Array(salt.buffer);
  };

  constructor(id: number, context: RuntimeNodeContext) {
    this.id = id;
    this.context = context;
    const random = context.random;
    this.disk = new SimulatedFileSystem({
      random: () => random.next(),
      beforeOperation: () => this.diskDelay(),
    });
    this.stateImage = id % 2 === 0 ? new DurableStateImage() : undefined;
  }

  get up(): boolean {
    return this.running;
  }

  private diskDelay(): Promise<void> | undefined {
    const latency = this.context.random.int(0, this.context.timings.diskLatencyMaxMs);
    if (latency === 0) return undefined;
    return new Promise((resolve) => this.context.events.schedule(latency, () => resolve()));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const life = this.incarnation;
    void this.boot(life).catch((error: Error) => {
      // A boot that fails is a finding (e.g. recovery refusing the disk), unless the node died meanwhile.
      if (life === this.incarnation) this.context.observer.onFailure(this, `could not start: ${error.stack ?? error.message}`);
    });
  }

  private async boot(life: number): Promise<void> {
    const alive = () => life === this.incarnation;
    const storage = await FileStorage.open({ fileSystem: fileSystemOfLife(this.disk, alive), directory: DATA_DIRECTORY, segmentMaxBytes: this.context.timings.segmentMaxBytes, newSegmentSalt: this.newSegmentSalt });
    if (!alive()) return;
    const founding = this.context.foundingVoters;
    if (founding !== undefined && storage.lastIndex() === 0 && storage.initialState().hardState.term === 0) {
      await bootstrapStaticCluster(storage, founding.map((id) => ({ id, addresses: addressesOf(id) })));
    }
    if (!alive()) return;
    this.durable = storage;
    const state = openNodeState(this.stateImage === undefined ? {} : { openStore: (tableNames) => this.openDurableState(tableNames, alive) });
    this.state = state;
    this.observed = new ObservedState(state.state, (index, term, content) => this.context.observer.onApply(this, index, term, content));
    const transport = this.context.network.createTransport(this.id);
    await transport.start();
    if (!alive()) return void transport.stop();
    this.transport = transport;
    this.node = this.createRaftNode(storage, transport, life);
    this.node.onRole(({ role, term }) => {
      if (role === 'leader' && alive()) this.context.observer.onLeader(this, term);
    });
    this.node.start();
    this.watchForFailure(this.node, life);
  }

  /** Flushes land after a simulated disk delay, and never once this life has ended (a crash). */
  private openDurableState(tableNames: readonly string[], alive: () => boolean): OrderedStore {
    return this.stateImage!.open(tableNames, (flushDone) => {
      const latency = this.context.random.int(0, this.context.timings.diskLatencyMaxMs);
      this.context.events.schedule(latency, () => {
        if (alive()) flushDone();
      });
    });
  }

  /** A live node that stops by itself (storage failure, broken invariant) is a finding. */
  private watchForFailure(node: RaftNode, life: number): void {
    const check = (): void => {
      if (life !== this.incarnation) return;
      if (node.failure !== undefined) return this.context.observer.onFailure(this, `the node stopped: ${node.failure.stack ?? node.failure.message}`);
      this.context.events.schedule(50, check);
    };
    this.context.events.schedule(50, check);
  }

  private createRaftNode(storage: DurableStorage, transport: MemoryTransport, life: number): RaftNode {
    const { timings, random } = this.context;
    const seeds = new Map(this.context.knownIds().filter((id) => id !== this.id).map((id) => [id, addressesOf(id).peer]));
    return new RaftNode({
      id: this.id, storage, transport, state: this.observed!, members: this.state!.members,
      clock: lifeClock(this.context.events, () => life === this.incarnation), random: () => random.next(),
      tickMs: timings.tickMs, electionTimeoutTicks: timings.electionTimeoutTicks, heartbeatIntervalTicks: timings.heartbeatIntervalTicks,
      snapshotEveryEntries: timings.snapshotEveryEntries, entriesKeptAfterSnapshot: timings.entriesKeptAfterSnapshot,
      requestTimeoutMs: 1000, seedPeers: seeds, raftBugs: this.context.raftBugs, runtimeBugs: this.context.runtimeBugs,
    });
  }

  crash(): void {
    if (!this.running) return;
    this.running = false;
    this.incarnation++;
    const node = this.node;
    this.node = undefined;
    this.state = undefined;
    this.observed = undefined;
    this.digestCache = undefined;
    void this.transport?.stop();
    this.transport = undefined;
    this.disk.crash();
    // Requests in flight on the dead process end now, with unknown outcome.
    void node?.stop();
    // If the node restarts first, this view is simply abandoned.
    this.recoverDurableView(this.incarnation).catch(() => {});
  }

  /** Reads back what survived on disk, so checks while the node is down see its real log. */
  private async recoverDurableView(life: number): Promise<void> {
    const storage = await FileStorage.open({ fileSystem: fileSystemOfLife(this.disk, () => life === this.incarnation && !this.running), directory: DATA_DIRECTORY, segmentMaxBytes: this.context.timings.segmentMaxBytes, newSegmentSalt: this.newSegmentSalt });
    if (life === this.incarnation && !this.running) this.durable = storage;
  }

  write(command: RegisterCommand, resolve: (outcome: WriteOutcome) => void): void {
    const node = this.node;
    if (node === undefined) return resolve({ kind: 'refused', reason: 'node down', leaderId: 0 });
    const key = encoder.encode(command.key);
    const value = encoder.encode(command.value);
    const kvCommand = command.op === 'put'
      ? encodeKvCommand({ type: 'put', key, value })
      : encodeKvCommand(compareAndSwap(key, command.expected === null ? undefined : encoder.encode(command.expected), value));
    const observed = this.observed!;
    node.propose(kvCommand).then(
      (result) => {
        const entry = observed.entryOf(result);
        if (entry === undefined) return resolve({ kind: 'unknown', reason: 'no entry recorded for the result' });
        const swapped = (result as { succeeded?: boolean }).succeeded === true;
        resolve({ kind: 'applied', index: entry.index, term: entry.term, content: entry.content, result: command.op === 'put' ? { op: 'put' } : { op: 'cas', swapped } });
      },
      (error: unknown) => resolve(writeFailure(error)),
    );
  }

  read(key: string, resolve: (outcome: ReadOutcome) => void): void {
    const node = this.node;
    const state = this.state;
    if (node === undefined || state === undefined) return resolve({ kind: 'refused', reason: 'node down', leaderId: 0 });
    node.readBarrier().then(
      () => {
        if (this.state !== state) return resolve({ kind: 'unknown', reason: 'node crashed' });
        const result = state.kv.get(encoder.encode(key));
        if ('code' in result) return resolve({ kind: 'unknown', reason: result.message });
        resolve({ kind: 'read', value: result.kv === undefined ? null : decoder.decode(result.kv.value) });
      },
      (error: unknown) => resolve(isNodeError(error) && error.retryable
        ? { kind: 'refused', reason: error.code, leaderId: error.leaderId }
        : { kind: 'unknown', reason: (error as Error).message }),
    );
  }

  view(): NodeView | undefined {
    const core = this.node?.inspectCore();
    if (core === undefined) return undefined;
    const raft = core.raft;
    return { role: raft.role, term: raft.term, leaderId: raft.leaderId, vote: raft.vote, commit: raft.log.committed, config: raft.tracker.confState() };
  }

  proposeConfChange(change: ConfChange): string {
    const node = this.node;
    if (node === undefined) return 'node down';
    // New members carry their addresses, as `cairn cluster add-learner` would send them.
    const added = change.changes.filter((single) => single.action !== 'remove').map((single) => single.nodeId);
    const members = Object.fromEntries(added.map((id) => [String(id), addressesOf(id)]));
    const withContext: ConfChange = added.length > 0 ? { ...change, context: encodeMembershipContext({ members }) } : change;
    node.changeMembership(withContext).catch(() => {});
    return 'proposed';
  }

  transferLeader(target: number): string {
    if (this.node === undefined) return 'node down';
    this.node.transferLeadership(target).catch(() => {});
    return 'started';
  }

  compact(): number | undefined {
    return undefined; // the runtime takes its own snapshots (snapshotEveryEntries)
  }

  private coreForChecks(): RawNode | undefined {
    const live = this.node?.inspectCore();
    if (live !== undefined) return live;
    if (this.durable === undefined) return undefined;
    const restarted = new RawNode({ id: this.id, storage: this.durable, random: () => 0 });
    return restarted;
  }

  observedLog(): ObservedLog {
    const core = this.coreForChecks();
    const log = core?.raft.log;
    const entries = log === undefined ? [] : log.allEntries().map((entry) => ({ index: entry.index, term: entry.term, content: contentOf(entry.type, entry.data) }));
    return { nodeId: this.id, entries, snapshotIndex: (log?.firstIndex() ?? 1) - 1, termAt: (index) => log?.term(index) };
  }

  electionView(): ElectionView {
    const core = this.coreForChecks();
    if (core === undefined) {
      return { nodeId: this.id, lastIndex: 0, lastTerm: 0, snapshotIndex: 0, termAt: () => undefined, canCampaign: false, voterSets: [] };
    }
    const raft = core.raft;
    const lastIndex = raft.log.lastIndex();
    const config = raft.tracker.confState();
    const voterSets = [config.voters, config.votersOutgoing].filter((voters) => voters.length > 0);
    return {
      nodeId: this.id, lastIndex, lastTerm: raft.log.term(lastIndex) ?? 0, snapshotIndex: raft.log.firstIndex() - 1,
      termAt: (index) => raft.log.term(index), canCampaign: voterSets.some((voters) => voters.includes(this.id)), voterSets,
    };
  }

  appliedIndex(): number {
    return this.state?.state.appliedIndex() ?? 0;
  }

  digest(): string {
    const state = this.state;
    if (state === undefined) return 'down';
    const index = state.state.appliedIndex();
    if (this.digestCache?.index !== index) {
      const data = state.state.snapshot().data;
      this.digestCache = { index, digest: `${data.byteLength}:${hashBytes(data)}` };
    }
    return this.digestCache.digest;
  }

  describeProgress(): string {
    const progress = this.node?.raftStatus().progress ?? {};
    return Object.entries(progress)
      .map(([id, item]) => `${id}:${item.state}${item.paused ? '(paused)' : ''} m${item.match} n${item.next}`)
      .join(', ');
  }
}

export function contentOf(type: string, data: Uint8Array): string {
  let hex = '';
  for (const byte of data) hex += byte.toString(16).padStart(2, '0');
  return `${type}:${hex}`;
}

function hashBytes(data: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of data) hash = Math.imul(hash ^ byte, 0x01000193);
  return (hash >>> 0).toString(16);
}

function writeFailure(error: unknown): WriteOutcome {
  if (!isNodeError(error)) return { kind: 'unknown', reason: (error as Error)?.message ?? String(error) };
  if (error.code === 'proposal-lost') return { kind: 'lost', reason: error.message };
  if (error.retryable) return { kind: 'refused', reason: error.code, leaderId: error.leaderId };
  return { kind: 'unknown', reason: error.message };
}
