// An in-memory OrderedStore for the simulator and fast tests: per table a sorted array of keys
// (binary search; inserts shift the array, fine for the sizes a simulated cluster holds) and an
// undo log that makes write() atomic exactly like an lmdb transaction. Everything is "durable"
// at once: a simulated crash drops the whole store and the node replays its WAL from index 0.
import { assert } from '../core/assert.ts';
import type { OrderedStore, RangeOptions, StoreEntry } from './store.ts';

interface Table {
  keys: Buffer[];
  values: Buffer[];
}

interface UndoRecord {
  table: Table;
  key: Buffer;
  previous: Buffer | undefined;
}

export class MemoryStore implements OrderedStore {
  readonly tableNames: readonly string[];
  readonly persistent = false;
  #tables = new Map<string, Table>();
  #undo: UndoRecord[] | undefined;
  #closed = false;

  constructor(tableNames: readonly string[]) {
    this.tableNames = [...new Set(tableNames)].sort();
    for (const name of this.tableNames) this.#tables.set(name, { keys: [], values: [] });
  }

  get(table: string, key: Uint8Array): Uint8Array | undefined {
    const t = this.#table(table);
    const position = search(t.keys, key);
    return position.found ? t.values[position.index] : undefined;
  }

  *range(table: string, options: RangeOptions = {}): Iterable<StoreEntry> {
    const t = this.#table(table);
    const low = options.start === undefined ? 0 : search(t.keys, options.start).index;
    const high = options.end === undefined ? t.keys.length : search(t.keys, options.end).index;
    const limit = options.limit ?? Infinity;
    let yielded = 0;
    if (options.reverse === true) {
      for (let index = high - 1; index >= low && yielded < limit; index--, yielded++) {
        yield { key: t.keys[index]!, value: t.values[index]! };
      }
    } else {
      for (let index = low; index < high && yielded < limit; index++, yielded++) {
        yield { key: t.keys[index]!, value: t.values[index]! };
      }
    }
  }

  put(table: string, key: Uint8Array, value: Uint8Array): void {
    const t = this.#writable(table);
    assert(key.length > 0, 'memory store: empty key');
    const ownKey = Buffer.from(key);
    const position = search(t.keys, ownKey);
    this.#undo!.push({ table: t, key: ownKey, previous: position.found ? t.values[position.index] : undefined });
    if (position.found) t.values[position.index] = Buffer.from(value);
    else {
      t.keys.splice(position.index, 0, ownKey);
      t.values.splice(position.index, 0, Buffer.from(value));
    }
  }

  delete(table: string, key: Uint8Array): void {
    const t = this.#writable(table);
    const position = search(t.keys, key);
    if (!position.found) return;
    this.#undo!.push({ table: t, key: t.keys[position.index]!, previous: t.values[position.index] });
    t.keys.splice(position.index, 1);
    t.values.splice(position.index, 1);
  }

  clearAll(): void {
    for (const name of this.tableNames) {
      const t = this.#writable(name);
      for (let index = t.keys.length - 1; index >= 0; index--) {
        this.#undo!.push({ table: t, key: t.keys[index]!, previous: t.values[index] });
      }
      t.keys = [];
      t.values = [];
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

  async close(): Promise<void> {
    this.#closed = true;
  }

  #rollBack(): void {
    const undo = this.#undo!;
    this.#undo = undefined;
    for (let index = undo.length - 1; index >= 0; index--) {
      const { table, key, previous } = undo[index]!;
      const position = search(table.keys, key);
      if (previous === undefined) {
        if (position.found) {
          table.keys.splice(position.index, 1);
          table.values.splice(position.index, 1);
        }
      } else if (position.found) {
        table.values[position.index] = previous;
      } else {
        table.keys.splice(position.index, 0, key);
        table.values.splice(position.index, 0, previous);
      }
    }
  }

  #table(name: string): Table {
    assert(!this.#closed, 'memory store used after close');
    const table = this.#tables.get(name);
    assert(table !== undefined, `unknown table ${name}`);
    return table;
  }

  #writable(name: string): Table {
    assert(this.#undo !== undefined, 'write outside a write transaction');
    return this.#table(name);
  }
}

/** The index of `key` if present, else the index where it would be inserted. */
function search(keys: readonly Buffer[], key: Uint8Array): { found: boolean; index: number } {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const order = Buffer.compare(keys[middle]!, key);
    if (order === 0) return { found: true, index: middle };
    if (order < 0) low = middle + 1;
    else high = middle;
  }
  return { found: false, index: low };
}
