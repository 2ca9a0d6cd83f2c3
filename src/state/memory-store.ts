// An in-memory OrderedStore for the simulator and fast tests: per table a SortedChunks map and an
// undo log that makes write() atomic exactly like an lmdb transaction. Nothing survives a crash:
// a simulated crash drops the whole store, and the node restores its last snapshot and replays
// the WAL after it.
import { assert } from '../core/assert.ts';
import { SortedChunks } from './sorted-chunks.ts';
import type { OrderedStore, RangeOptions, StoreEntry } from './store.ts';

interface UndoRecord {
  table: SortedChunks;
  key: Buffer;
  previous: Buffer | undefined;
}

export class MemoryStore implements OrderedStore {
  readonly tableNames: readonly string[];
  readonly persistent = false;
  #tables = new Map<string, SortedChunks>();
  #undo: UndoRecord[] | undefined;
  #closed = false;

  constructor(tableNames: readonly string[]) {
    this.tableNames = [...new Set(tableNames)].sort();
    for (const name of this.tableNames) this.#tables.set(name, new SortedChunks());
  }

  get(table: string, key: Uint8Array): Uint8Array | undefined {
    return this.#table(table).get(key);
  }

  *range(table: string, options: RangeOptions = {}): Iterable<StoreEntry> {
    const limit = options.limit ?? Infinity;
    if (limit <= 0) return;
    let yielded = 0;
    for (const entry of this.#table(table).range(options.start, options.end, options.reverse === true)) {
      yield entry;
      if (++yielded >= limit) return;
    }
  }

  put(table: string, key: Uint8Array, value: Uint8Array): void {
    const sorted = this.#writable(table);
    assert(key.length > 0, 'memory store: empty key');
    const ownKey = Buffer.from(key);
    const previous = sorted.set(ownKey, Buffer.from(value));
    this.#undo!.push({ table: sorted, key: ownKey, previous });
  }

  delete(table: string, key: Uint8Array): void {
    const sorted = this.#writable(table);
    const previous = sorted.delete(key);
    if (previous !== undefined) this.#undo!.push({ table: sorted, key: Buffer.from(key), previous });
  }

  clearAll(): void {
    for (const name of this.tableNames) {
      const sorted = this.#writable(name);
      for (const { key, value } of sorted.range(undefined, undefined, false)) this.#undo!.push({ table: sorted, key, previous: value });
      sorted.clear();
    }
  }

  write<T>(body: () => T): T {
    assert(!this.#closed, 'memory store used after close');
    assert(this.#undo === undefined, 'nested write transaction');
    this.#undo = [];
    try {
      const result = body();
      this.#undo = undefined;
      return result;
    } catch (error) {
      this.#rollBack();
      throw error;
    }
  }

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  writeWouldWait(): boolean {
    return false;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #rollBack(): void {
    const undo = this.#undo!;
    this.#undo = undefined;
    for (let index = undo.length - 1; index >= 0; index--) {
      const { table, key, previous } = undo[index]!;
      if (previous === undefined) table.delete(key);
      else table.set(key, previous);
    }
  }

  #table(name: string): SortedChunks {
    assert(!this.#closed, 'memory store used after close');
    const table = this.#tables.get(name);
    assert(table !== undefined, `unknown table ${name}`);
    return table;
  }

  #writable(name: string): SortedChunks {
    assert(this.#undo !== undefined, 'write outside a write transaction');
    return this.#table(name);
  }
}
