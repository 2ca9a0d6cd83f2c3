// The node's one StateMachine: one OrderedStore (one lmdb environment), one applied index, and
// the modules that share them (the KV now; the Kafka log and cluster metadata later), each in its
// own tables. A command's first byte names its module. Every apply() call is one write
// transaction that also writes the applied index, so data and index never disagree.
//
// Snapshots (format in snapshot-format.ts) come in two forms. snapshot()/restore() use one
// buffer: the whole state must then fit in memory (twice, while restoring) and under Node's
// maximum buffer size (2^32 bytes). snapshotChunks()/restoreChunks() stream the same bytes in
// chunks of a chosen size, so memory stays bounded by the chunk size plus the largest entry:
// use them for big states (write the chunks to a file, send the file).
import { assert } from '../core/assert.ts';
import { SnapshotParser, snapshotChunks } from './snapshot-format.ts';
import type { OrderedStore } from './store.ts';
import type { AppliedEntry, StateError, StateMachine, StateSnapshot } from './types.ts';

export const META_TABLE = 'meta';
const APPLIED_INDEX_KEY = Uint8Array.of(1);
const APPLIED_TERM_KEY = Uint8Array.of(2);
const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

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
  /** Inside the write transaction, once, after the batch's last entry: write deferred metadata. */
  beforeCommit(): void;
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
    this.#durableIndex = 0;
    // What we found at open may be committed but not yet flushed (the process died before the
    // flush; lmdb reopens at the last COMMITTED transaction while the boot is the same). Commit
    // again and count it durable only once that flush is done: a machine crash now would roll
    // back to the last flushed transaction.
    if (store.persistent && this.#appliedIndex > 0) {
      store.write(() => store.put(META_TABLE, APPLIED_INDEX_KEY, numberBytes(this.#appliedIndex)));
      this.#trackDurability(this.#appliedIndex);
    }
  }

  /** Every table a ReplicatedState over these modules needs; open the store with them. */
  static tableNames(modules: readonly { tableNames: readonly string[] }[]): string[] {
    return [META_TABLE, ...modules.flatMap((module) => module.tableNames)];
  }

  get persistent(): boolean {
    return this.store.persistent;
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
    for (const module of this.#modules.values()) module.beforeCommit();
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
    // store.flushed() resolves once everything written so far (this apply included) is durable.
    // If the store fails to write, the durable index stays where it is; the failure itself
    // surfaces from the next apply().
    void this.store.flushed().then(
      () => {
        if (index > this.#durableIndex) this.#durableIndex = index;
      },
      () => {},
    );
  }

  /**
   * True while the store asks writers to hold back (store.writeWouldWait()): with lmdb the
   * previous transaction is still being flushed, so an apply() now would block the thread until
   * that flush ends; with the overlay store its in-memory delta is full while a flush runs. A
   * runtime under load may wait (entries stay committed in the log) and apply a bigger batch
   * then: group commit for the state machine.
   */
  applyWouldWait(): boolean {
    return this.store.writeWouldWait();
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
    const { index, term, chunks } = this.snapshotChunks(DEFAULT_SNAPSHOT_CHUNK_BYTES);
    return { index, term, data: Buffer.concat([...chunks]) };
  }

  /**
   * The state at appliedIndex() as chunks of about `maxChunkBytes`. An apply() between two
   * chunks would mix two states, so it makes the next step throw; the store's background
   * flushes between chunks change nothing (the overlay reads the same data from memory or base).
   */
  snapshotChunks(maxChunkBytes: number): { index: number; term: number; chunks: Generator<Uint8Array> } {
    assert(!this.#closed, 'snapshot after close');
    const index = this.#appliedIndex;
    const chunks = snapshotChunks(this.store, maxChunkBytes);
    const guarded = (function* (state: ReplicatedState<Result>): Generator<Uint8Array> {
      for (const chunk of chunks) {
        assert(state.appliedIndex() === index, 'state snapshot: entries were applied while the snapshot was being read');
        yield chunk;
      }
    })(this);
    return { index, term: this.#appliedTerm, chunks: guarded };
  }

  restore(snapshot: StateSnapshot): void {
    this.restoreChunks(snapshot, [snapshot.data]);
  }

  /**
   * Replaces everything with the snapshot read from `chunks` (a synchronous iterable, for
   * example reads of a file), in one write transaction: a corrupt or truncated snapshot throws
   * and leaves the state as it was.
   */
  restoreChunks(metadata: { index: number; term: number }, chunks: Iterable<Uint8Array>): void {
    assert(!this.#closed, 'restore after close');
    const store = this.store;
    let table: string | undefined;
    const parser = new SnapshotParser({
      table: (name) => {
        if (!store.tableNames.includes(name)) throw new Error(`state snapshot: unknown table "${name}" (made by another version?)`);
        table = name;
      },
      entry: (key, value) => store.put(table!, key, value),
    });
    store.write(() => {
      store.clearAll();
      for (const chunk of chunks) parser.push(chunk);
      parser.finish();
      store.put(META_TABLE, APPLIED_INDEX_KEY, numberBytes(metadata.index));
      store.put(META_TABLE, APPLIED_TERM_KEY, numberBytes(metadata.term));
    });
    this.#appliedIndex = metadata.index;
    this.#appliedTerm = metadata.term;
    // A memory store's state now equals a snapshot the runtime holds durably; lmdb's after a flush.
    if (store.persistent) this.#trackDurability(metadata.index);
    else this.#durableIndex = metadata.index;
    for (const module of this.#modules.values()) module.restored();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.store.close();
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
