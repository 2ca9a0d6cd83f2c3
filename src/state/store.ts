// The ordered key-value storage under the replicated state machines: named tables of byte keys
// sorted bytewise, synchronous reads and writes, atomic write transactions. Three implementations
// pass the same conformance tests: lmdb (lmdb-store.ts), memory (memory-store.ts) for the
// simulator and fast tests, and the write-behind overlay (overlay-store.ts) that nodes put over
// lmdb. The state machines are written once against this interface, so every backend has exactly
// the same semantics.

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

export interface PutOptions {
  /**
   * The caller gives `value` away: it never reads or writes that array again, so the store may
   * keep it as it is instead of copying it (a Kafka batch is already a fresh copy, 128 KiB and up).
   */
  readonly handedOver?: boolean;
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
  /** Only inside write(). The store keeps its own copy of `value` unless it is handed over. */
  put(table: string, key: Uint8Array, value: Uint8Array, options?: PutOptions): void;
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
  /**
   * True when writers should hold back for now: a write would block the thread (lmdb: the
   * previous transaction's flush is in flight) or grow memory past its bound (overlay: the delta
   * is full while a flush runs). Writing anyway is correct, only slower or bigger.
   */
  writeWouldWait(): boolean;
  close(): Promise<void>;
}

/** One change of a batch: `value` undefined deletes the key. */
export interface BatchEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array | undefined;
}

/** A store that can also commit a batch without blocking the calling thread (lmdb). */
export interface BatchWritable {
  /**
   * Writes every entry, table by table, in ONE transaction committed off the calling thread.
   * Resolves once committed (visible to reads); flushed() then tells when it is durable. The
   * entries are read synchronously, before this returns.
   */
  writeBatch(tables: ReadonlyMap<string, Iterable<BatchEntry>>): Promise<void>;
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
