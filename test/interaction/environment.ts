// The world an interaction script runs in: RawNodes over in-memory storage, a message queue per
// recipient delivered only when the script says so, and optional partitions.
import { MemoryLogStorage, RawNode } from '../../src/core/index.ts';
import type { ConfChangeSingle, ConfState, Entry, HardState, Message, RaftConfig, Ready } from '../../src/core/index.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { formatHardState, formatMessage, formatReady } from './format.ts';

export interface NodeSettings {
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly inflightMessagesMax: number;
  readonly appendBytesPerMessageMax: number;
  readonly inflightBytesMax: number;
  readonly uncommittedBytesMax: number;
}

export interface TestNode {
  readonly id: number;
  node: RawNode;
  readonly storage: MemoryLogStorage;
  readonly settings: NodeSettings;
  /** The application state: every applied entry's data, in order. */
  applied: string[];
  random: SeededRandom;
  /** A Ready taken with the `ready` command and not yet persisted (a crash loses it). */
  heldReady: Ready | undefined;
  /** The hard state as of the last synced write: a crash falls back to it. */
  durableHardState: HardState;
}

/** Which queued messages a delivery or a drop applies to. */
export interface MessageFilter {
  readonly to: readonly number[];
  readonly from: readonly number[];
  readonly type: string | undefined;
}

const decoder = new TextDecoder();

export class Environment {
  readonly nodes = new Map<number, TestNode>();
  /** Messages waiting for delivery, per recipient, in send order. */
  readonly inboxes = new Map<number, Message[]>();
  /** Groups of nodes that can talk among themselves; empty = no partition. */
  partition: number[][] = [];

  node(id: number): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  sortedIds(): number[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  addNode(id: number, confState: ConfState, snapshotIndex: number, settings: NodeSettings): string[] {
    const storage = new MemoryLogStorage();
    if (confState.voters.length > 0 || confState.learners.length > 0) {
      // MemoryLogStorage records a membership only through a snapshot, and only above index 0.
      if (snapshotIndex < 1) throw new Error('add-nodes with voters= or learners= needs index=1 or more');
    }
    if (snapshotIndex > 0) {
      storage.applySnapshot({ metadata: { index: snapshotIndex, term: snapshotIndex > 0 ? 1 : 0, confState }, data: encodeApplied([]) });
      storage.setHardState({ term: snapshotIndex > 0 ? 1 : 0, vote: 0, commit: snapshotIndex });
    }
    const testNode: TestNode = {
      id, storage, settings, applied: [], random: new SeededRandom(id), node: undefined as unknown as RawNode,
      heldReady: undefined, durableHardState: storage.initialState().hardState,
    };
    testNode.node = this.createRawNode(testNode, 0);
    this.nodes.set(id, testNode);
    this.inboxes.set(id, []);
    return [`${id}: created with snapshot at ${snapshotIndex}`];
  }

  createRawNode(testNode: TestNode, appliedIndex: number): RawNode {
    const config: RaftConfig = {
      id: testNode.id,
      storage: testNode.storage,
      random: () => testNode.random.next(),
      appliedIndex,
      ...testNode.settings,
    };
    return new RawNode(config);
  }

  /** Clean restart: the node keeps everything it persisted; the application state is rebuilt. */
  restart(id: number): string[] {
    const testNode = this.node(id);
    if (testNode.heldReady !== undefined) throw new Error(`node ${id} holds a Ready: persist it or crash`);
    return this.reboot(testNode);
  }

  /**
   * Crash and restart: a Ready taken but not persisted is lost, and so is a hard state written
   * without sync (Ready.mustSync false: only the commit index moved).
   */
  crash(id: number): string[] {
    const testNode = this.node(id);
    const lines: string[] = [];
    if (testNode.heldReady !== undefined) {
      lines.push(`${id}: lost an unpersisted Ready (${testNode.heldReady.entries.length} entries, hard state ${testNode.heldReady.hardState === undefined ? 'unchanged' : formatHardState(testNode.heldReady.hardState)})`);
      testNode.heldReady = undefined;
    }
    const written = testNode.storage.initialState().hardState;
    const durable = testNode.durableHardState;
    if (written.term !== durable.term || written.vote !== durable.vote || written.commit !== durable.commit) {
      lines.push(`${id}: lost unsynced hard state ${formatHardState(written)}, back to ${formatHardState(durable)}`);
      testNode.storage.setHardState(durable);
    }
    return [...lines, ...this.reboot(testNode)];
  }

  private reboot(testNode: TestNode): string[] {
    const id = testNode.id;
    testNode.applied = decodeApplied(testNode.storage.snapshot().data);
    testNode.node = this.createRawNode(testNode, 0);
    this.inboxes.set(id, []);
    return [`${id}: restarted at term ${testNode.storage.initialState().hardState.term}, log [${testNode.storage.firstIndex()}, ${testNode.storage.lastIndex()}]`];
  }

  /** Replaces a node's log with entries of the given terms (indexes follow the snapshot). */
  setLog(id: number, terms: number[], term: number, vote: number, commit: number): string[] {
    const testNode = this.node(id);
    const first = testNode.storage.firstIndex();
    const entries: Entry[] = terms.map((entryTerm, position) => ({
      term: entryTerm, index: first + position, type: 'normal', data: new TextEncoder().encode(`t${entryTerm}`),
    }));
    // Replaces everything after the snapshot (the storage keeps the snapshot's index and term).
    if (entries.length > 0) testNode.storage.append(entries);
    else if (testNode.storage.lastIndex() >= first) throw new Error('set-log with no terms cannot empty a log that has entries');
    testNode.storage.setHardState({ term, vote, commit });
    testNode.durableHardState = testNode.storage.initialState().hardState;
    testNode.node = this.createRawNode(testNode, 0);
    testNode.applied = decodeApplied(testNode.storage.snapshot().data);
    const described = terms.length === 0 ? 'empty' : `[${first}, ${first + terms.length - 1}] terms ${terms.join(' ')}`;
    return [`${id}: log ${described}; term=${term} vote=${vote} commit=${commit}`];
  }

  /** Takes, persists, sends, applies and advances one Ready (the runtime's loop, one turn). */
  processReady(id: number): string[] {
    const lines = this.takeReady(id);
    if (lines.length > 0) this.completeReady(id);
    return lines;
  }

  /** Takes a Ready and holds it: nothing is persisted or sent until completeReady (or a crash). */
  takeReady(id: number): string[] {
    const testNode = this.node(id);
    if (testNode.heldReady !== undefined) throw new Error(`node ${id} already holds a Ready`);
    if (!testNode.node.hasReady()) return [];
    const ready = testNode.node.ready();
    testNode.heldReady = ready;
    return formatReady(id, ready);
  }

  /** Persists the held Ready, queues its messages, applies its entries and calls advance(). */
  completeReady(id: number): string[] {
    const testNode = this.node(id);
    const ready = testNode.heldReady;
    if (ready === undefined) throw new Error(`node ${id} holds no Ready`);
    testNode.heldReady = undefined;
    this.persist(testNode, ready);
    for (const message of ready.messages) this.inboxes.get(message.to)?.push(message);
    const lines = this.apply(testNode, ready);
    testNode.node.advance();
    return lines;
  }

  private persist(testNode: TestNode, ready: Ready): void {
    if (ready.snapshot !== undefined) testNode.storage.applySnapshot(ready.snapshot);
    testNode.storage.append(ready.entries);
    if (ready.hardState !== undefined) testNode.storage.setHardState(ready.hardState);
    // Without mustSync the write may sit in the page cache: only a synced Ready is durable.
    if (ready.mustSync) testNode.durableHardState = testNode.storage.initialState().hardState;
  }

  private apply(testNode: TestNode, ready: Ready): string[] {
    if (ready.snapshot !== undefined) testNode.applied = decodeApplied(ready.snapshot.data);
    for (const entry of ready.committedEntries) {
      if (entry.type === 'normal' && entry.data.byteLength > 0) testNode.applied.push(decoder.decode(entry.data));
    }
    return [];
  }

  /** Removes and returns the queued messages matching `filter`, per recipient in send order. */
  private takeMessages(filter: MessageFilter): Message[] {
    const taken: Message[] = [];
    for (const id of filter.to.length > 0 ? filter.to : this.sortedIds()) {
      const kept: Message[] = [];
      for (const message of this.inboxes.get(id) ?? []) {
        const matches = (filter.type === undefined || message.type === filter.type) && (filter.from.length === 0 || filter.from.includes(message.from));
        (matches ? taken : kept).push(message);
      }
      this.inboxes.set(id, kept);
    }
    return taken;
  }

  /** Discards queued messages matching `filter` (message loss). */
  dropMessages(filter: MessageFilter): string[] {
    return this.takeMessages(filter).map((message) => `dropped: ${formatMessage(message)}`);
  }

  /** Delivers queued messages matching `filter`; messages to `drop` (or across a partition) are lost. */
  deliver(filter: MessageFilter, drop: Set<number>): string[] {
    const lines: string[] = [];
    for (const message of this.takeMessages(filter)) {
      if (drop.has(message.to) || !this.connected(message.from, message.to)) {
        lines.push(`dropped: ${formatMessage(message)}`);
        continue;
      }
      lines.push(formatMessage(message));
      this.nodes.get(message.to)?.node.step(message);
    }
    return lines;
  }

  pendingMessages(): number {
    let count = 0;
    for (const inbox of this.inboxes.values()) count += inbox.length;
    return count;
  }

  /**
   * Changes the partition (empty = healed). Messages still queued across the old partition were
   * sent into it and are lost: they are dropped here, not delivered late.
   */
  setPartition(groups: number[][]): string[] {
    const lines: string[] = [];
    for (const id of this.sortedIds()) {
      const kept: Message[] = [];
      for (const message of this.inboxes.get(id) ?? []) {
        if (this.connected(message.from, message.to)) kept.push(message);
        else lines.push(`dropped: ${formatMessage(message)}`);
      }
      this.inboxes.set(id, kept);
    }
    this.partition = groups;
    return lines;
  }

  connected(from: number, to: number): boolean {
    if (this.partition.length === 0) return true;
    return this.partition.some((group) => group.includes(from) && group.includes(to));
  }

  /**
   * Processes Readys and delivers messages until nothing moves (bounded). A node that holds a
   * Ready (its disk write is "in progress") is left alone until the script completes it.
   */
  stabilize(ids: number[]): string[] {
    const chosen = ids.length > 0 ? ids : this.sortedIds();
    const lines: string[] = [];
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const id of chosen) {
        if (this.node(id).heldReady !== undefined) continue;
        const ready = this.processReady(id);
        if (ready.length > 0) moved = true;
        lines.push(...ready);
      }
      for (const id of chosen) {
        if ((this.inboxes.get(id) ?? []).length === 0) continue;
        moved = true;
        lines.push(...this.deliver({ to: [id], from: [], type: undefined }, new Set()));
      }
      if (!moved) return lines;
    }
    throw new Error('stabilize did not settle within 1000 rounds');
  }

  /** Takes a snapshot at the node's applied index and compacts the log up to `compactIndex`. */
  compact(id: number, compactIndex: number): string[] {
    const testNode = this.node(id);
    const status = testNode.node.status();
    testNode.storage.createSnapshot(status.applied, status.config, encodeApplied(testNode.applied));
    testNode.storage.compact(Math.min(compactIndex, status.applied));
    return [`${id}: snapshot at ${status.applied}, log now [${testNode.storage.firstIndex()}, ${testNode.storage.lastIndex()}]`];
  }
}

export function parseConfChanges(tokens: readonly string[]): ConfChangeSingle[] {
  return tokens.map((token) => {
    const nodeId = Number(token.slice(1));
    switch (token[0]) {
      case 'v':
        return { action: 'add-voter', nodeId };
      case 'l':
        return { action: 'add-learner', nodeId };
      case 'r':
        return { action: 'remove', nodeId };
      default:
        throw new Error(`bad conf change "${token}": use v<id>, l<id> or r<id>`);
    }
  });
}

function encodeApplied(applied: string[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(applied));
}

function decodeApplied(data: Uint8Array): string[] {
  return data.byteLength === 0 ? [] : (JSON.parse(decoder.decode(data)) as string[]);
}
