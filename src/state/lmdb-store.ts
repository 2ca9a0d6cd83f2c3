// The OrderedStore on lmdb: one environment (a directory), one named lmdb database per table,
// byte keys and byte values.
//
// Durability (chosen deliberately): lmdb-js's `overlappingSync` mode, with each apply's
// transaction committed without waiting for its own flush (NO_SYNC_FLUSH). The commit makes the
// data visible at once; the flush to disk follows off the main thread, and lmdb-js updates the
// meta pages in several steps so that after a machine crash the environment opens at the last
// FLUSHED transaction (it compares the boot id), never a torn one, and after a process crash
// (same boot) at the last committed one. That is what a state machine fed from a WAL needs:
// crash-CONSISTENT (data and applied index are one transaction) without an fsync of its own per
// apply, since the WAL holds every entry and the runtime replays the suffix after appliedIndex()
// on restart. What IS durable is reported by flushed(), which replicated-state.ts turns into
// durableAppliedIndex(): the WAL may drop entries only at or below it.
// Cost, measured: a commit waits for the flush of the PREVIOUS transaction, so back-to-back
// applies run at one per disk flush (batches grow under load, which amortizes it). `noSync` was
// rejected although several times faster here: LMDB documents that a machine crash can then
// corrupt the environment, with no checksum to notice it.
// Nodes do not write through write() per apply any more: the OverlayStore (overlay-store.ts)
// keeps recent writes in memory and hands them over in one writeBatch() every 100 ms, which
// lmdb-js commits on its own write thread (async operations inside one `batch`, so one
// transaction), off the event loop.
//
// Long keys: lmdb keys are limited to 1978 bytes, while the KV accepts 4 KiB user keys (and
// encodes them with suffixes). Keys longer than INLINE_KEY_BYTES are stored under their first
// INLINE_KEY_BYTES bytes followed by the SHA-256 of the whole key, with the full key kept in the
// value. Such a "group" of long keys sharing a prefix sorts at the right place among all other
// keys; inside the group the hash order is wrong, so iteration collects the group and sorts it
// by the real keys. Only keys sharing their first 1900 bytes pay for this.
import { createHash } from 'node:crypto';
import { open } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import { assert } from '../core/assert.ts';
import type { BatchEntry, BatchWritable, OrderedStore, RangeOptions, StoreEntry } from './store.ts';

export const INLINE_KEY_BYTES = 1900;
/** lmdb-js TransactionFlags: ABORTABLE | SYNCHRONOUS_COMMIT | NO_SYNC_FLUSH (flush after returning). */
const TRANSACTION_FLAGS = 0x1 | 0x2 | 0x10000;
const HASH_BYTES = 32;
const BEYOND_GROUP = Buffer.alloc(HASH_BYTES + 1, 0xff);

export interface LmdbStoreOptions {
  readonly path: string;
  readonly tableNames: readonly string[];
  /** The largest the environment may grow to; lmdb reserves address space, not disk. */
  readonly mapSizeBytes?: number;
}

export class LmdbStore implements OrderedStore, BatchWritable {
  readonly tableNames: readonly string[];
  readonly persistent = true;
  #root: RootDatabase;
  #tables = new Map<string, Database<Buffer, Buffer>>();
  #writing = false;
  /** Committed transactions whose flush to disk has not completed yet. */
  #unflushedCommits = 0;
  /** A batch's transaction failed to commit (disk full, I/O error): the store is unusable. */
  #commitFailed = false;

  constructor(options: LmdbStoreOptions) {
    this.tableNames = [...new Set(options.tableNames)].sort();
    this.#root = open({
      path: options.path,
      maxDbs: this.tableNames.length + 2,
      mapSize: options.mapSizeBytes ?? 64 * 1024 ** 3,
      overlappingSync: true,
      // Every write of ours is in an explicit batch() (one transaction per overlay flush), so
      // lmdb-js's implicit batching of an event turn's writes adds nothing; and when a commit
      // fails it leaves that batch's promise rejected with no handler, which ends the process.
      eventTurnBatching: false,
      keyEncoding: 'binary',
      encoding: 'binary',
    });
    for (const name of this.tableNames) {
      this.#tables.set(name, this.#root.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }));
    }
  }

  get(table: string, key: Uint8Array): Uint8Array | undefined {
    const database = this.#table(table);
    if (key.length === 0) return undefined;
    if (key.length <= INLINE_KEY_BYTES) return database.get(Buffer.from(key.buffer, key.byteOffset, key.length));
    const stored = database.get(storedKeyOf(key));
    if (stored === undefined) return undefined;
    const entry = decodeLongEntry(stored);
    // A SHA-256 collision would be the only way to get here; refuse to return the wrong value.
    assert(Buffer.compare(entry.key, key) === 0, 'lmdb store: long key hash collision');
    return entry.value;
  }

  *range(table: string, options: RangeOptions = {}): Iterable<StoreEntry> {
    const database = this.#table(table);
    const reverse = options.reverse === true;
    const limit = options.limit ?? Infinity;
    if (limit <= 0) return;
    let yielded = 0;
    for (const entry of groupedEntries(database, rangeStart(options), reverse)) {
      if (options.start !== undefined && Buffer.compare(entry.key, options.start) < 0) {
        if (reverse) return;
        continue;
      }
      if (options.end !== undefined && Buffer.compare(entry.key, options.end) >= 0) {
        if (!reverse) return;
        continue;
      }
      yield entry;
      if (++yielded >= limit) return;
    }
  }

  put(table: string, key: Uint8Array, value: Uint8Array): void {
    assert(this.#writing, 'lmdb store: put outside a write transaction');
    assert(key.length > 0, 'lmdb store: empty key');
    const database = this.#table(table);
    if (key.length <= INLINE_KEY_BYTES) database.putSync(Buffer.from(key), Buffer.from(value));
    else database.putSync(storedKeyOf(key), encodeLongEntry(key, value));
  }

  delete(table: string, key: Uint8Array): void {
    assert(this.#writing, 'lmdb store: delete outside a write transaction');
    const database = this.#table(table);
    if (key.length === 0) return;
    database.removeSync(key.length <= INLINE_KEY_BYTES ? Buffer.from(key) : storedKeyOf(key));
  }

  clearAll(): void {
    assert(this.#writing, 'lmdb store: clear outside a write transaction');
    for (const database of this.#tables.values()) database.clearSync();
  }

  write<T>(body: () => T): T {
    assert(!this.#writing, 'lmdb store: nested write transaction');
    this.#writing = true;
    let result: T;
    try {
      result = this.#root.transactionSync(body, TRANSACTION_FLAGS);
    } finally {
      this.#writing = false;
    }
    this.#countUntilFlushed();
    return result;
  }

  writeBatch(tables: ReadonlyMap<string, Iterable<BatchEntry>>): Promise<void> {
    assert(!this.#writing, 'lmdb store: writeBatch inside a write transaction');
    // Resolve every table first: an unknown name must throw before anything is queued.
    const batches = [...tables].map(([name, entries]) => ({ database: this.#table(name), entries }));
    // lmdb-js runs the async operations queued inside one batch() in one transaction on its
    // write thread. The callback must not throw halfway (what was queued would commit), so it
    // only encodes entries that write() validated when they were made.
    const committed = this.#root.batch(() => {
      for (const { database, entries } of batches) {
        for (const { key, value } of entries) {
          assert(key.length > 0, 'lmdb store: empty key');
          const long = key.length > INLINE_KEY_BYTES;
          const storedKey = long ? storedKeyOf(key) : asBuffer(key);
          if (value === undefined) void database.remove(storedKey);
          else void database.put(storedKey, long ? encodeLongEntry(key, value) : asBuffer(value));
        }
      }
    });
    return committed.then(() => this.#countUntilFlushed(), (error: unknown) => {
      this.#commitFailed = true;
      return rejectWithCommitCause(error);
    });
  }

  async flushed(): Promise<void> {
    await this.#root.flushed;
  }

  writeWouldWait(): boolean {
    return this.#unflushedCommits > 0;
  }

  async close(): Promise<void> {
    if (!this.#commitFailed) {
      await this.#root.flushed;
      await this.#root.close();
      return;
    }
    // After a failed commit lmdb-js settles neither `flushed` nor close() (measured on a full
    // disk): a node stopping after the failure must not hang on it, or it never exits.
    await waitAtMost(this.#root.close().then(() => undefined, () => undefined), FAILED_COMMIT_WAIT_MS);
  }

  #countUntilFlushed(): void {
    this.#unflushedCommits++;
    void Promise.resolve(this.#root.flushed).then(() => this.#unflushedCommits--);
  }

  #table(name: string): Database<Buffer, Buffer> {
    const database = this.#tables.get(name);
    assert(database !== undefined, `lmdb store: unknown table ${name}`);
    return database;
  }
}

/** The same bytes as a Buffer, without a copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function storedKeyOf(key: Uint8Array): Buffer {
  const hash = createHash('sha256').update(key).digest();
  return Buffer.concat([key.subarray(0, INLINE_KEY_BYTES), hash]);
}

function encodeLongEntry(key: Uint8Array, value: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(key.length, 0);
  return Buffer.concat([header, key, value]);
}

function decodeLongEntry(stored: Buffer): StoreEntry {
  const keyLength = stored.readUInt32BE(0);
  return { key: stored.subarray(4, 4 + keyLength), value: stored.subarray(4 + keyLength) };
}

/** How long to wait for lmdb-js after a failed commit: for the cause, and to close. */
const FAILED_COMMIT_WAIT_MS = 1000;

/** The promise's value, or undefined once `ms` have passed first. */
async function waitAtMost<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * lmdb-js rejects a failed commit with "Commit failed (see commitError for details)" and puts
 * the operating-system or LMDB error in the `commitError` promise: reject with that cause.
 */
async function rejectWithCommitCause(error: unknown): Promise<never> {
  const commitError = (error as { commitError?: unknown } | null)?.commitError;
  if (!(commitError instanceof Promise)) throw error;
  const cause = await waitAtMost(commitError.then(() => undefined, (reason: unknown) => reason), FAILED_COMMIT_WAIT_MS);
  if (!(cause instanceof Error)) throw error;
  throw new Error(`lmdb could not commit: ${cause.message}`, { cause });
}

/** Where lmdb starts iterating: forward at the lower bound, reverse at the upper bound (inclusive). */
function rangeStart(options: RangeOptions): Buffer | undefined {
  const bound = options.reverse === true ? options.end : options.start;
  if (bound === undefined) return undefined;
  if (bound.length <= INLINE_KEY_BYTES) return Buffer.from(bound);
  const prefix = Buffer.from(bound.subarray(0, INLINE_KEY_BYTES));
  return options.reverse === true ? Buffer.concat([prefix, BEYOND_GROUP]) : prefix;
}

/** lmdb entries from `start` on, with every group of long keys resolved and sorted by real key. */
function* groupedEntries(database: Database<Buffer, Buffer>, start: Buffer | undefined, reverse: boolean): Generator<StoreEntry> {
  let group: StoreEntry[] = [];
  let groupPrefix: Buffer | undefined;
  const flush = function* (): Generator<StoreEntry> {
    group.sort((a, b) => (reverse ? -1 : 1) * Buffer.compare(a.key, b.key));
    yield* group;
    group = [];
    groupPrefix = undefined;
  };
  const options = start === undefined ? { reverse } : { start, reverse };
  for (const { key, value } of database.getRange(options)) {
    if (key.length <= INLINE_KEY_BYTES) {
      if (group.length > 0) yield* flush();
      yield { key, value };
      continue;
    }
    const prefix = key.subarray(0, INLINE_KEY_BYTES);
    if (groupPrefix !== undefined && Buffer.compare(prefix, groupPrefix) !== 0) yield* flush();
    groupPrefix = prefix;
    group.push(decodeLongEntry(value));
  }
  if (group.length > 0) yield* flush();
}
