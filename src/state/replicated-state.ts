// The node's one StateMachine: one OrderedStore (one lmdb environment), one applied index, and
// the modules that share them (the KV now; the Kafka log and cluster metadata later), each in its
// own tables. A command's first byte names its module. Every apply() call is one write
// transaction that also writes the applied index, so data and index never disagree.
//
// Snapshots are one buffer: magic, then every table in name order with every entry, then a
// CRC-32C. Limit: the whole state must fit in memory twice (the buffer and the store) and under
// Node's maximum buffer size (2^32 bytes today); a streaming form can reuse the same record
// layout chunk by chunk when states grow beyond a few hundred MB.
import { assert } from '../core/assert.ts';
import { crc32c } from '../util/crc32c.ts';
import type { OrderedStore } from './store.ts';
import type { AppliedEntry, StateError, StateMachine, StateSnapshot } from './types.ts';

export const META_TABLE = 'meta';
const APPLIED_INDEX_KEY = Uint8Array.of(1);
const APPLIED_TERM_KEY = Uint8Array.of(2);
const SNAPSHOT_MAGIC = Buffer.from('CAIRNSS1');

export interface StateModule<Result> {
  /** The first byte of this module's commands. */
  readonly tag: number;
  /** The tables this module owns (names unique across modules). */
  readonly tableNames: readonly string[];
  /** Called once, before anything else, with the shared store. */
  attach(store: OrderedStore): void;
  /** Inside the write transaction. Errors are results; throwing aborts the whole batch. */
  applyCommand(entry: AppliedEntry): Result;
  /** Inside the write transaction, for every entry (commands, noops, conf changes) after its command. */
  afterEntry(entry: AppliedEntry): void;
  /** The batch's transaction committed: publish what it changed (watch events, lease changes). */
  committed(): void;
  /** The batch's transaction was rolled back: forget what it changed, reload cached state. */
  aborted(): void;
  /** The store was replaced by a snapshot. */
  restored(): void;
}

export interface UnknownCommandResult {
  readonly type: 'error';
  readonly error: StateError<'malformed-command'>;
}

export class ReplicatedState<Result> implements StateMachine<Result | UnknownCommandResult> {
  readonly store: OrderedStore;
  #modules = new Map<number, StateModule<Result>>();
  #appliedIndex: number;
  #appliedTerm: number;
  #durableIndex: number;
  #closed = false;

  constructor(store: OrderedStore, modules: readonly StateModule<Result>[]) {
    this.store = store;
    const expected = new Set([META_TABLE, ...modules.flatMap((module) => module.tableNames)]);
    assert(expected.size === 1 + modules.reduce((sum, module) => sum + module.tableNames.length, 0), 'state modules share a table name');
    assert([...expected].every((name) => store.tableNames.includes(name)), 'the store was not opened with every module table');
    for (const module of modules) {
      assert(!this.#modules.has(module.tag), `two state modules use tag ${module.tag}`);
      this.#modules.set(module.tag, module);
      module.attach(store);
    }
    this.#appliedIndex = readNumber(store, APPLIED_INDEX_KEY);
    this.#appliedTerm = readNumber(store, APPLIED_TERM_KEY);
    this.#durableIndex = store.persistent ? this.#appliedIndex : 0;
  }

  /** Every table a ReplicatedState over these modules needs; open the store with them. */
  static tableNames(modules: readonly { tableNames: readonly string[] }[]): string[] {
    return [META_TABLE, ...modules.flatMap((module) => module.tableNames)];
  }

  appliedIndex(): number {
    return this.#appliedIndex;
  }

  appliedTerm(): number {
    return this.#appliedTerm;
  }

  apply(entries: readonly AppliedEntry[]): (Result | UnknownCommandResult | null)[] {
    assert(!this.#closed, 'apply after close');
    if (entries.length === 0) return [];
    let expectedIndex = this.#appliedIndex + 1;
    for (const entry of entries) {
      assert(entry.index === expectedIndex++, `apply expected index ${expectedIndex - 1}, got ${entry.index} (entries must be contiguous)`);
    }
    let results: (Result | UnknownCommandResult | null)[];
    try {
      results = this.store.write(() => this.#applyInTransaction(entries));
    } catch (error) {
      for (const module of this.#modules.values()) module.aborted();
      throw error;
    }
    const last = entries[entries.length - 1]!;
    this.#appliedIndex = last.index;
    this.#appliedTerm = last.term;
    this.#trackDurability(last.index);
    for (const module of this.#modules.values()) module.committed();
    return results;
  }

  #applyInTransaction(entries: readonly AppliedEntry[]): (Result | UnknownCommandResult | null)[] {
    const results: (Result | UnknownCommandResult | null)[] = [];
    for (const entry of entries) {
      results.push(entry.kind === 'command' ? this.#applyCommand(entry) : null);
      for (const module of this.#modules.values()) module.afterEntry(entry);
    }
    const last = entries[entries.length - 1]!;
    this.store.put(META_TABLE, APPLIED_INDEX_KEY, numberBytes(last.index));
    this.store.put(META_TABLE, APPLIED_TERM_KEY, numberBytes(last.term));
    return results;
  }

  #applyCommand(entry: AppliedEntry): Result | UnknownCommandResult {
    const module = entry.data.length > 0 ? this.#modules.get(entry.data[0]!) : undefined;
    if (module === undefined) {
      const tag = entry.data.length > 0 ? `tag ${entry.data[0]}` : 'no bytes';
      return { type: 'error', error: { code: 'malformed-command', message: `entry ${entry.index} is not a command of any state module (${tag})` } };
    }
    return module.applyCommand(entry);
  }

  #trackDurability(index: number): void {
    if (!this.store.persistent) return;
    void this.store.flushed().then(() => {
      if (index > this.#durableIndex) this.#durableIndex = index;
    });
  }

  durableAppliedIndex(): number {
    return this.#durableIndex;
  }

  async flushed(): Promise<void> {
    const index = this.#appliedIndex;
    await this.store.flushed();
    if (this.store.persistent && index > this.#durableIndex) this.#durableIndex = index;
  }

  snapshot(): StateSnapshot {
    const chunks: Buffer[] = [SNAPSHOT_MAGIC];
    for (const name of this.store.tableNames) {
      const nameBytes = Buffer.from(name, 'utf8');
      chunks.push(Buffer.from([1, nameBytes.length]), nameBytes);
      for (const { key, value } of this.store.range(name)) {
        const header = Buffer.alloc(9);
        header[0] = 2;
        header.writeUInt32BE(key.length, 1);
        header.writeUInt32BE(value.length, 5);
        chunks.push(header, Buffer.from(key), Buffer.from(value));
      }
    }
    chunks.push(Buffer.from([3]));
    const body = Buffer.concat(chunks);
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32BE(crc32c(body), 0);
    return { index: this.#appliedIndex, term: this.#appliedTerm, data: Buffer.concat([body, trailer]) };
  }

  restore(snapshot: StateSnapshot): void {
    assert(!this.#closed, 'restore after close');
    const tables = parseSnapshot(snapshot.data, this.store.tableNames);
    this.store.write(() => {
      this.store.clearAll();
      for (const [name, entries] of tables) for (const [key, value] of entries) this.store.put(name, key, value);
      this.store.put(META_TABLE, APPLIED_INDEX_KEY, numberBytes(snapshot.index));
      this.store.put(META_TABLE, APPLIED_TERM_KEY, numberBytes(snapshot.term));
    });
    this.#appliedIndex = snapshot.index;
    this.#appliedTerm = snapshot.term;
    // A memory store's state now equals a snapshot the runtime holds durably; lmdb's after a flush.
    if (this.store.persistent) this.#trackDurability(snapshot.index);
    else this.#durableIndex = snapshot.index;
    for (const module of this.#modules.values()) module.restored();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.store.close();
  }
}

/**
 * The tables in a snapshot buffer. A snapshot that fails its checksum or names an unknown table
 * is a corruption or a version mismatch: throw, the node must not run on it.
 */
function parseSnapshot(data: Uint8Array, tableNames: readonly string[]): Map<string, [Buffer, Buffer][]> {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length < SNAPSHOT_MAGIC.length + 5 || !bytes.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC)) {
    throw new Error('state snapshot: not a Cairn state snapshot (bad magic)');
  }
  const bodyLength = bytes.length - 4;
  if (crc32c(bytes.subarray(0, bodyLength)) !== bytes.readUInt32BE(bodyLength)) {
    throw new Error('state snapshot: checksum mismatch (the snapshot is corrupt)');
  }
  const tables = new Map<string, [Buffer, Buffer][]>();
  let current: [Buffer, Buffer][] | undefined;
  let offset = SNAPSHOT_MAGIC.length;
  for (;;) {
    const type = bytes[offset++];
    if (type === 3 && offset === bodyLength) return tables;
    if (type === 1) {
      const nameLength = bytes[offset++]!;
      const name = bytes.toString('utf8', offset, offset + nameLength);
      offset += nameLength;
      if (!tableNames.includes(name)) throw new Error(`state snapshot: unknown table "${name}" (made by another version?)`);
      current = [];
      tables.set(name, current);
    } else if (type === 2 && current !== undefined && offset + 8 <= bodyLength) {
      const keyLength = bytes.readUInt32BE(offset);
      const valueLength = bytes.readUInt32BE(offset + 4);
      offset += 8;
      if (offset + keyLength + valueLength > bodyLength) throw new Error('state snapshot: entry overruns the snapshot');
      current.push([bytes.subarray(offset, offset + keyLength), bytes.subarray(offset + keyLength, offset + keyLength + valueLength)]);
      offset += keyLength + valueLength;
    } else {
      throw new Error(`state snapshot: malformed record at offset ${offset - 1}`);
    }
  }
}

function numberBytes(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, Math.floor(value / 2 ** 32));
  view.setUint32(4, value >>> 0);
  return bytes;
}

function readNumber(store: OrderedStore, key: Uint8Array): number {
  const bytes = store.get(META_TABLE, key);
  if (bytes === undefined) return 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}
