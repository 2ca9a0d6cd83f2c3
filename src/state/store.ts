// The ordered key-value storage under the replicated state machines: named tables of byte keys
// sorted bytewise, synchronous reads and writes, atomic write transactions. Two implementations
// pass the same conformance tests: lmdb (lmdb-store.ts) for nodes and memory (memory-store.ts)
// for the simulator and fast tests. The state machines are written once against this interface,
// so both backends have exactly the same semantics.

export interface StoreEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface RangeOptions {
  /** Inclusive lower bound; omitted = from the first key. */
  readonly start?: Uint8Array;
  /** Exclusive upper bound; omitted = to the last key. */
  readonly end?: Uint8Array;
  /** Iterate from the highest key down (still within [start, end)). */
  readonly reverse?: boolean;
  readonly limit?: number;
}

/** Keys are never empty (lmdb refuses them); range bounds may be. */
export interface OrderedStore {
  /** The table names this store was opened with, sorted. */
  readonly tableNames: readonly string[];
  /**
   * True when committed writes survive a process restart (lmdb). False for memory: a crash loses
   * everything, so only a snapshot the runtime stored itself counts as durable.
   */
  readonly persistent: boolean;
  get(table: string, key: Uint8Array): Uint8Array | undefined;
  /**
   * Entries of [start, end) in key order. Callers must not write to the table while iterating:
   * collect first, then write.
   */
  range(table: string, options?: RangeOptions): Iterable<StoreEntry>;
  /** Only inside write(). */
  put(table: string, key: Uint8Array, value: Uint8Array): void;
  /** Only inside write(). */
  delete(table: string, key: Uint8Array): void;
  /** Only inside write(): empties every table. */
  clearAll(): void;
  /**
   * Runs `body` in one atomic write transaction: everything it wrote becomes visible together,
   * or, if it throws, nothing does (and the exception propagates).
   */
  write<T>(body: () => T): T;
  /** Resolves once every committed write transaction is on stable storage. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

/** Bytewise comparison, the order of every table. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const difference = a[index]! - b[index]!;
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}
