// A write-behind OrderedStore over a persistent base store (lmdb on nodes), as etcd does over
// bbolt: write() applies to an in-memory delta and returns without touching the base; every
// flushIntervalMs (or once the delta holds flushBytesMax) the delta is frozen, a fresh one takes
// new writes, and the frozen one goes into the base in ONE base transaction (lmdb: committed on
// lmdb-js's write thread, off the event loop). Reads merge, newest first: the current delta, the
// frozen delta being flushed, the base; a deletion is a tombstone (a null value) that hides the
// key below it, and a clearAll() hides everything below until its flush clears the base.
//
// Why it is safe: ReplicatedState writes its applied index in the same write() as the data, so
// every delta, and therefore every flush, is a consistent cut of whole applies. A crash loses the
// deltas and the base reopens at its last flushed (machine crash) or committed (process crash)
// cut; the runtime replays the WAL after appliedIndex(). flushed() resolves only once the flush
// holding everything written before the call is durable in the base, so durableAppliedIndex()
// (which ReplicatedState derives from flushed()) never claims an apply that a crash could lose.
//
// Why it pays, measured on the 2-core dev machine while other work ran on it (load 5-7, so
// ranges over repeated runs, same time window, lmdb = LmdbStore per apply as before):
// Reproduce with `node src/state/bench-overlay.ts wal` and `... apply [--batch 10]`.
//   A synced WAL save of 10 entries with the apply of 10 KV puts of 300 B beside it (2000 rounds;
//   the save's time includes the synchronous apply, which runs while the fsync is in flight):
//     WAL save p50 / p90 / p99   lmdb 1.5-1.7 / 4.6-7.3 / 11-28 ms   overlay 0.66-0.95 / 3.2-3.7 / 9-17 ms
//                                (no state at all: 0.16-0.21 / 1.1-2.2 / 4.5-8.2 ms)
//     apply() time on the event loop for 20k puts: lmdb 3.2-4.3 s, overlay 0.83-1.04 s
//     whole run: lmdb 4.8-7.1 s, overlay 3.1-4.1 s
//   KV apply throughput as in kv/bench-apply.ts (200k puts of 128 B; 50k in batches of 10),
//   yielding between batches as a runtime does, puts/s wall:
//     batches of 100: lmdb 6.8k-9.7k, overlay 9.5k-20k, memory 13.9k-18.5k
//     batches of 10:  lmdb 2.0k-3.2k, overlay 10.6k-19.4k, memory 22.9k-32.7k
// Each lmdb commit waits for the previous transaction's flush, and those flushes compete with
// the WAL's fdatasync; one commit per 100 ms instead of one per apply removes both costs.
//
// Memory: the current delta triggers a flush at flushBytesMax; while a flush is in flight it may
// grow further, and writeWouldWait() tells the writer (ReplicatedState.applyWouldWait(), then
// the runtime) to hold back until the flush ends. A snapshot restore (clearAll + every entry)
// sits in memory until its flush, which is one synchronous base transaction (rare, and the
// restore already blocks while it parses).
import { assert } from '../core/assert.ts';
import { SYSTEM_CLOCK } from '../util/clock.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import { SortedChunks } from './sorted-chunks.ts';
import type { BatchEntry, BatchWritable, OrderedStore, PutOptions, RangeOptions, StoreEntry } from './store.ts';

export const OVERLAY_DEFAULTS = {
  flushIntervalMs: 100,
  flushBytesMax: 16 * 1024 * 1024,
} as const;

/** What an entry costs in memory besides its key and value bytes (objects, array slots). */
const ENTRY_OVERHEAD_BYTES = 96;

export interface OverlayStoreOptions {
  /** How long a write may stay in memory only; default 100 ms. */
  readonly flushIntervalMs?: number;
  /** A delta this big is flushed at once; past it writeWouldWait() is true. Default 16 MiB. */
  readonly flushBytesMax?: number;
  readonly clock?: Clock;
}

export class OverlayStoreError extends Error {
  readonly code = 'state-flush-failed';
}

/** A delta entry's value: bytes, or null for a deletion (a tombstone over the layers below). */
type DeltaValue = Buffer | null;

interface UndoRecord {
  readonly table: SortedChunks<DeltaValue>;
  readonly key: Buffer;
  readonly previous: DeltaValue | undefined;
}

/** The tables a delta replaced by clearAll(), to put back if the write rolls back. */
interface ClearUndo {
  readonly tables: Map<string, SortedChunks<DeltaValue>>;
  readonly cleared: boolean;
}

/** Changes not yet in the base, with an undo log that makes one write() atomic. */
class Delta {
  tables: Map<string, SortedChunks<DeltaValue>>;
  /** clearAll() ran: every layer below is hidden. */
  cleared = false;
  bytes = 0;
  #undo: (UndoRecord | ClearUndo)[] | undefined;
  #bytesAtBegin = 0;
  #durable: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;
  #settled: { error: Error | undefined } | undefined;

  constructor(tableNames: readonly string[]) {
    this.tables = new Map(tableNames.map((name) => [name, new SortedChunks<DeltaValue>()]));
  }

  get isEmpty(): boolean {
    if (this.cleared) return false;
    for (const table of this.tables.values()) if (table.size > 0) return false;
    return true;
  }

  get writing(): boolean {
    return this.#undo !== undefined;
  }

  begin(): void {
    this.#undo = [];
    this.#bytesAtBegin = this.bytes;
  }

  commit(): void {
    this.#undo = undefined;
  }

  rollBack(): void {
    const undo = this.#undo!;
    this.#undo = undefined;
    for (let index = undo.length - 1; index >= 0; index--) {
      const record = undo[index]!;
      if ('tables' in record) {
        this.tables = record.tables;
        this.cleared = record.cleared;
      } else if (record.previous === undefined) record.table.delete(record.key);
      else record.table.set(record.key, record.previous);
    }
    this.bytes = this.#bytesAtBegin;
  }

  set(table: SortedChunks<DeltaValue>, key: Uint8Array, value: Uint8Array | null, handedOver = false): void {
    const ownKey = Buffer.from(key);
    const previous = table.set(ownKey, value === null ? null : handedOver ? asBuffer(value) : Buffer.from(value));
    this.#undo!.push({ table, key: ownKey, previous });
    this.bytes += (value?.length ?? 0) - (previous?.length ?? 0) + (previous === undefined ? 2 * key.length + ENTRY_OVERHEAD_BYTES : 0);
  }

  clearAll(): void {
    this.#undo!.push({ tables: this.tables, cleared: this.cleared });
    this.tables = new Map([...this.tables.keys()].map((name) => [name, new SortedChunks<DeltaValue>()]));
    this.cleared = true;
    this.bytes = 0;
  }

  /** Resolves once this delta's flush is durable in the base. */
  durable(): Promise<void> {
    if (this.#durable === undefined) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((resolve_, reject_) => ((resolve = resolve_), (reject = reject_)));
      promise.catch(() => {}); // a failure is reported to whoever awaits, never as unhandled
      this.#durable = { promise, resolve, reject };
      if (this.#settled !== undefined) this.#settle(this.#settled);
    }
    return this.#durable.promise;
  }

  settleDurable(error?: Error): void {
    if (this.#settled !== undefined) return;
    this.#settled = { error };
    if (this.#durable !== undefined) this.#settle(this.#settled);
  }

  #settle(outcome: { error: Error | undefined }): void {
    if (outcome.error === undefined) this.#durable!.resolve();
    else this.#durable!.reject(outcome.error);
  }
}

export class OverlayStore implements OrderedStore {
  readonly tableNames: readonly string[];
  readonly persistent: boolean;
  readonly #base: OrderedStore & Partial<BatchWritable>;
  readonly #clock: Clock;
  readonly #flushIntervalMs: number;
  readonly #flushBytesMax: number;
  #current: Delta;
  /** The frozen delta whose base transaction has not committed yet: still read from memory. */
  #inFlight: Delta | undefined;
  /** A flush was due while another was in flight: start it as soon as that one commits. */
  #flushWanted = false;
  #timer: TimerHandle | undefined;
  /** The armed timer is the zero-delay one of a full delta. */
  #timerImmediate = false;
  /** The base's durability after the last committed flush. */
  #lastDurable: Promise<void>;
  #failure: OverlayStoreError | undefined;
  #closed = false;

  constructor(base: OrderedStore & Partial<BatchWritable>, options: OverlayStoreOptions = {}) {
    const flushIntervalMs = options.flushIntervalMs ?? OVERLAY_DEFAULTS.flushIntervalMs;
    const flushBytesMax = options.flushBytesMax ?? OVERLAY_DEFAULTS.flushBytesMax;
    assert(Number.isFinite(flushIntervalMs) && flushIntervalMs >= 0, 'overlay store: flushIntervalMs must be >= 0');
    assert(Number.isInteger(flushBytesMax) && flushBytesMax > 0, 'overlay store: flushBytesMax must be a positive integer');
    this.#base = base;
    this.tableNames = base.tableNames;
    this.persistent = base.persistent;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#flushIntervalMs = flushIntervalMs;
    this.#flushBytesMax = flushBytesMax;
    this.#current = new Delta(this.tableNames);
    this.#lastDurable = base.flushed();
    this.#lastDurable.catch(() => {});
  }

  /** Bytes held by the deltas (current and in flight), as counted for flushBytesMax. */
  get deltaBytes(): number {
    return this.#current.bytes + (this.#inFlight?.bytes ?? 0);
  }

  /** True while a frozen delta's base transaction has not committed yet. */
  get flushInFlight(): boolean {
    return this.#inFlight !== undefined;
  }

  get(table: string, key: Uint8Array): Uint8Array | undefined {
    this.#assertUsable(table);
    // The hottest read of every apply: no allocation, and a table with nothing in a delta is
    // not searched there.
    let delta: Delta | undefined = this.#current;
    while (delta !== undefined) {
      const sorted = delta.tables.get(table)!;
      if (sorted.size > 0) {
        const value = sorted.get(key);
        if (value !== undefined) return value ?? undefined;
      }
      if (delta.cleared) return undefined;
      delta = delta === this.#current ? this.#inFlight : undefined;
    }
    return this.#base.get(table, key);
  }

  *range(table: string, options: RangeOptions = {}): Iterable<StoreEntry> {
    this.#assertUsable(table);
    const limit = options.limit ?? Infinity;
    if (limit <= 0) return;
    const reverse = options.reverse === true;
    const sources: Iterator<{ key: Uint8Array; value: Uint8Array | null }>[] = [];
    let baseVisible = true;
    for (const delta of this.#deltas()) {
      const sorted = delta.tables.get(table)!;
      if (sorted.size > 0) sources.push(sorted.range(options.start, options.end, reverse));
      if (delta.cleared) {
        baseVisible = false;
        break;
      }
    }
    // Nothing of this table in memory: the base alone, at its own speed.
    if (sources.length === 0) {
      if (baseVisible) yield* this.#base.range(table, options);
      return;
    }
    const { limit: _limit, ...unlimited } = options;
    if (baseVisible) sources.push(this.#base.range(table, unlimited)[Symbol.iterator]());
    let yielded = 0;
    for (const entry of mergeNewestFirst(sources, reverse)) {
      if (entry.value === null) continue;
      yield entry as StoreEntry;
      if (++yielded >= limit) return;
    }
  }

  put(table: string, key: Uint8Array, value: Uint8Array, options?: PutOptions): void {
    const sorted = this.#writable(table);
    assert(key.length > 0, 'overlay store: empty key');
    this.#current.set(sorted, key, value, options?.handedOver === true);
  }

  delete(table: string, key: Uint8Array): void {
    const sorted = this.#writable(table);
    if (key.length === 0) return;
    this.#current.set(sorted, key, null);
  }

  clearAll(): void {
    assert(this.#current.writing, 'overlay store: clear outside a write transaction');
    this.#current.clearAll();
  }

  write<T>(body: () => T): T {
    assert(!this.#closed, 'overlay store used after close');
    assert(!this.#current.writing, 'overlay store: nested write transaction');
    if (this.#failure !== undefined) throw this.#failure;
    const delta = this.#current;
    delta.begin();
    let result: T;
    try {
      result = body();
    } catch (error) {
      delta.rollBack();
      throw error;
    }
    delta.commit();
    this.#scheduleFlush();
    return result;
  }

  /** Resolves once everything written before the call is durable in the base (at the next flush). */
  flushed(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (!this.#current.isEmpty) return this.#current.durable();
    if (this.#inFlight !== undefined) return this.#inFlight.durable();
    return this.#lastDurable;
  }

  writeWouldWait(): boolean {
    return this.#current.bytes >= this.#flushBytesMax;
  }

  /** Starts a flush now instead of at the next interval (tests, tools); flushed() tells when it is durable. */
  startFlush(): void {
    this.#startFlush();
  }

  /** Flushes everything still in memory, waits until it is durable, closes the base. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelTimer();
    try {
      while (this.#failure === undefined && (this.#inFlight !== undefined || !this.#current.isEmpty)) {
        if (this.#inFlight === undefined) this.#startFlush();
        await this.#inFlight?.durable().catch(() => {});
      }
      if (this.#failure === undefined) await this.#lastDurable;
    } finally {
      await this.#base.close();
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Newest first. */
  #deltas(): Delta[] {
    return this.#inFlight === undefined ? [this.#current] : [this.#current, this.#inFlight];
  }

  #scheduleFlush(): void {
    if (this.#current.isEmpty) return;
    if (this.#current.bytes < this.#flushBytesMax) {
      if (this.#timer === undefined) this.#armTimer(this.#flushIntervalMs, false);
    } else if (this.#inFlight !== undefined) {
      this.#flushWanted = true; // starts when the flush in flight commits
    } else if (!this.#timerImmediate) {
      this.#armTimer(0, true);
    }
  }

  #armTimer(delayMs: number, immediate: boolean): void {
    this.#cancelTimer();
    const timer = this.#clock.setTimer(() => {
      if (this.#timer !== timer) return;
      this.#timer = undefined;
      this.#timerImmediate = false;
      this.#startFlush();
    }, delayMs);
    // Unflushed writes keep the process alive until they are written (at most one interval);
    // the system clock's timers are unreferenced by default.
    (timer as { ref?: () => void } | undefined)?.ref?.();
    this.#timer = timer;
    this.#timerImmediate = immediate;
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerImmediate = false;
  }

  #startFlush(): void {
    if (this.#failure !== undefined || this.#current.writing) return;
    if (this.#inFlight !== undefined) {
      this.#flushWanted = true;
      return;
    }
    this.#flushWanted = false;
    this.#cancelTimer();
    if (this.#current.isEmpty) return;
    const frozen = this.#current;
    this.#current = new Delta(this.tableNames);
    this.#inFlight = frozen;
    let committed: Promise<void>;
    try {
      committed = this.#commitToBase(frozen);
    } catch (error) {
      committed = Promise.reject(error);
    }
    committed.then(
      () => this.#committed(frozen),
      (error: unknown) => this.#fail(error),
    );
  }

  /** One base transaction with everything in `delta`. */
  #commitToBase(delta: Delta): Promise<void> {
    const base = this.#base;
    if (delta.cleared || base.writeBatch === undefined) {
      // The rare clear (snapshot restore), or a base without batches: one synchronous transaction.
      base.write(() => {
        if (delta.cleared) base.clearAll();
        for (const [name, sorted] of delta.tables) {
          for (const { key, value } of sorted.range(undefined, undefined, false)) {
            if (value !== null) base.put(name, key, value);
            else if (!delta.cleared) base.delete(name, key);
          }
        }
      });
      return Promise.resolve();
    }
    const tables = new Map<string, Iterable<BatchEntry>>();
    for (const [name, sorted] of delta.tables) if (sorted.size > 0) tables.set(name, batchEntries(sorted));
    return base.writeBatch(tables);
  }

  #committed(frozen: Delta): void {
    assert(this.#inFlight === frozen, 'overlay store: flushes committed out of order');
    // The base now holds (and its reads show) everything of the frozen delta.
    this.#inFlight = undefined;
    const durable = this.#base.flushed();
    this.#lastDurable = durable;
    durable.then(
      () => frozen.settleDurable(),
      (error: unknown) => this.#fail(error, frozen),
    );
    if (this.#flushWanted || this.#current.bytes >= this.#flushBytesMax || (this.#closed && !this.#current.isEmpty)) this.#startFlush();
  }

  #fail(error: unknown, frozen = this.#inFlight): void {
    if (this.#failure === undefined) {
      const cause = error instanceof Error ? error.message : String(error);
      this.#failure = new OverlayStoreError(`writing the replicated state to disk failed (${cause}); the node must stop, and will replay its log on restart`, { cause: error });
      this.#cancelTimer();
    }
    this.#lastDurable = Promise.reject(this.#failure);
    this.#lastDurable.catch(() => {});
    frozen?.settleDurable(this.#failure);
    this.#current.settleDurable(this.#failure);
  }

  #assertUsable(table: string): void {
    assert(!this.#closed, 'overlay store used after close');
    assert(this.#current.tables.has(table), `overlay store: unknown table ${table}`);
  }

  #writable(table: string): SortedChunks<DeltaValue> {
    assert(this.#current.writing, 'overlay store: write outside a write transaction');
    this.#assertUsable(table);
    return this.#current.tables.get(table)!;
  }
}

function* batchEntries(sorted: SortedChunks<DeltaValue>): Generator<BatchEntry> {
  for (const { key, value } of sorted.range(undefined, undefined, false)) yield { key, value: value ?? undefined };
}

/**
 * Merges sorted sources (newest first) into one sorted stream: for a key in several sources the
 * newest source's entry wins (a null value is a tombstone the caller skips). Streams: it holds one
 * entry per source, and closes the sources when the consumer stops early.
 */
export function* mergeNewestFirst<Value>(
  sources: readonly Iterator<{ key: Uint8Array; value: Value }>[],
  reverse: boolean,
): Generator<{ key: Uint8Array; value: Value }> {
  const heads = sources.map((source) => nextOf(source));
  try {
    for (;;) {
      let best = -1;
      for (let index = 0; index < heads.length; index++) {
        const head = heads[index];
        if (head === undefined) continue;
        if (best < 0) {
          best = index;
          continue;
        }
        const order = Buffer.compare(head.key, heads[best]!.key);
        if (reverse ? order > 0 : order < 0) best = index;
      }
      if (best < 0) return;
      const chosen = heads[best]!;
      for (let index = best + 1; index < heads.length; index++) {
        const head = heads[index];
        if (head !== undefined && Buffer.compare(head.key, chosen.key) === 0) heads[index] = nextOf(sources[index]!);
      }
      heads[best] = nextOf(sources[best]!);
      yield chosen;
    }
  } finally {
    for (const source of sources) source.return?.();
  }
}

function nextOf<Entry>(source: Iterator<Entry>): Entry | undefined {
  const step = source.next();
  return step.done === true ? undefined : step.value;
}

/** The same memory as a Buffer (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
