// The world an interaction script runs in: RawNodes over in-memory storage, a message queue per
// recipient delivered only when the script says so, and optional partitions.
import { MemoryLogStorage, RawNode } from '../../src/core/index.ts';
import type { ConfChangeSingle, ConfState, Entry, Message, RaftConfig, Ready } from '../../src/core/index.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { formatMessage, formatReady } from './format.ts';

export interface NodeSettings {
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly inflightMessagesMax: number;
  readonly appendBytesPerMessageMax: number;
}

export interface TestNode {
  readonly id: number;
  node: RawNode;
  readonly storage: MemoryLogStorage;
  readonly settings: NodeSettings;
  /** The application state: every applied entry's data, in order. */
  applied: string[];
  random: SeededRandom;
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
    if (snapshotIndex > 0 || confState.voters.length > 0 || confState.learners.length > 0) {
      storage.applySnapshot({ metadata: { index: snapshotIndex, term: snapshotIndex > 0 ? 1 : 0, confState }, data: encodeApplied([]) });
      storage.setHardState({ term: snapshotIndex > 0 ? 1 : 0, vote: 0, commit: snapshotIndex });
    }
    const testNode: TestNode = { id, storage, settings, applied: [], random: new SeededRandom(id), node: undefined as unknown as RawNode };
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

  /** Crash and restart: the node keeps only what it persisted; the application state is rebuilt. */
  restart(id: number): string[] {
    const testNode = this.node(id);
    testNode.applied = decodeApplied(testNode.storage.snapshot().data);
    testNode.node = this.createRawNode(testNode, 0);
    this.inboxes.set(id, []);
    return [`${id}: restarted at term ${testNode.storage.initialState().hardState.term}, log [${testNode.storage.firstIndex()}, ${testNode.storage.lastIndex()}]`];
  }

  /** Replaces a node's log with entries of the given terms (indexes follow the snapshot). */
  setLog(id: number, terms: number[], term: number, commit: number): string[] {
    const testNode = this.node(id);
    const first = testNode.storage.firstIndex();
    const entries: Entry[] = terms.map((entryTerm, position) => ({
      term: entryTerm, index: first + position, type: 'normal', data: new TextEncoder().encode(`t${entryTerm}`),
    }));
    testNode.storage.append(entries);
    testNode.storage.setHardState({ term, vote: 0, commit });
    testNode.node = this.createRawNode(testNode, 0);
    return [`${id}: log ${terms.join(' ')} term=${term} commit=${commit}`];
  }

  processReady(id: number): string[] {
    const testNode = this.node(id);
    if (!testNode.node.hasReady()) return [];
    const ready = testNode.node.ready();
    const lines = formatReady(id, ready);
    this.persist(testNode, ready);
    for (const message of ready.messages) this.inboxes.get(message.to)?.push(message);
    lines.push(...this.apply(testNode, ready));
    testNode.node.advance();
    return lines;
  }

  private persist(testNode: TestNode, ready: Ready): void {
    if (ready.snapshot !== undefined) testNode.storage.applySnapshot(ready.snapshot);
    testNode.storage.append(ready.entries);
    if (ready.hardState !== undefined) testNode.storage.setHardState(ready.hardState);
  }

  private apply(testNode: TestNode, ready: Ready): string[] {
    if (ready.snapshot !== undefined) testNode.applied = decodeApplied(ready.snapshot.data);
    for (const entry of ready.committedEntries) {
      if (entry.type === 'normal' && entry.data.byteLength > 0) testNode.applied.push(decoder.decode(entry.data));
    }
    return [];
  }

  /** Delivers queued messages to `ids` (all nodes if empty); messages to `drop` are discarded. */
  deliver(ids: number[], drop: Set<number>, typeFilter: string | undefined): string[] {
    const lines: string[] = [];
    for (const id of ids.length > 0 ? ids : this.sortedIds()) {
      const inbox = this.inboxes.get(id) ?? [];
      const kept: Message[] = [];
      const delivering: Message[] = [];
      for (const message of inbox) {
        if (typeFilter !== undefined && message.type !== typeFilter) kept.push(message);
        else delivering.push(message);
      }
      this.inboxes.set(id, kept);
      for (const message of delivering) {
        if (drop.has(id) || !this.connected(message.from, message.to)) {
          lines.push(`dropped: ${formatMessage(message)}`);
          continue;
        }
        lines.push(formatMessage(message));
        this.nodes.get(id)?.node.step(message);
      }
    }
    return lines;
  }

  pendingMessages(): number {
    let count = 0;
    for (const inbox of this.inboxes.values()) count += inbox.length;
    return count;
  }

  connected(from: number, to: number): boolean {
    if (this.partition.length === 0) return true;
    return this.partition.some((group) => group.includes(from) && group.includes(to));
  }

  /** Processes Readys and delivers messages until nothing moves (bounded). */
  stabilize(ids: number[]): string[] {
    const chosen = ids.length > 0 ? ids : this.sortedIds();
    const lines: string[] = [];
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const id of chosen) {
        const ready = this.processReady(id);
        if (ready.length > 0) moved = true;
        lines.push(...ready);
      }
      for (const id of chosen) {
        if ((this.inboxes.get(id) ?? []).length === 0) continue;
        moved = true;
        lines.push(...this.deliver([id], new Set(), undefined));
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
