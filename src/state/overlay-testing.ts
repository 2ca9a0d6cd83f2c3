// Test helpers for the overlay store: a clock whose timers fire only when the test advances it,
// and a base store (memory underneath) whose batch commits and flushes happen only when the test
// releases them, so every state of a flush (frozen, committed, durable) can be reached on purpose.
import type { Clock, TimerHandle } from '../util/clock.ts';
import { MemoryStore } from './memory-store.ts';
import type { BatchEntry, BatchWritable, OrderedStore, RangeOptions, StoreEntry } from './store.ts';

export class ManualClock implements Clock {
  #now = 0;
  #nextId = 1;
  #timers = new Map<number, { dueMs: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { dueMs: this.#now + delayMs, callback });
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward, firing due timers in order of their due time. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { dueMs: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].dueMs <= target && (next === undefined || entry[1].dueMs < next[1].dueMs)) next = entry;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].dueMs;
      next[1].callback();
    }
    this.#now = target;
  }
}

interface PendingBatch {
  readonly tables: [string, BatchEntry[]][];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * A persistent-looking base over a MemoryStore: writeBatch() queues the batch (read at once, as
 * the contract says) and applies it at commit(); flushed() waits for makeDurable(). Counts the
 * calls a test wants to bound.
 */
export class ControlledBase implements OrderedStore, BatchWritable {
  readonly inner: MemoryStore;
  readonly tableNames: readonly string[];
  readonly persistent = true;
  readonly pending: PendingBatch[] = [];
  #durableWaiters: (() => void)[] = [];
  #committedSinceDurable = false;
  counts = { get: 0, rangeEntries: 0, writes: 0, batches: 0 };
  closed = false;
  /** The next writeBatch() rejects at commit with this error. */
  failNextCommit: Error | undefined;

  constructor(tableNames: readonly string[]) {
    this.inner = new MemoryStore(tableNames);
    this.tableNames = this.inner.tableNames;
  }

  get(table: string, key: Uint8Array): Uint8Array | undefined {
    this.counts.get++;
    return this.inner.get(table, key);
  }

  *range(table: string, options?: RangeOptions): Iterable<StoreEntry> {
    for (const entry of this.inner.range(table, options)) {
      this.counts.rangeEntries++;
      yield entry;
    }
  }

  put(table: string, key: Uint8Array, value: Uint8Array): void {
    this.inner.put(table, key, value);
  }

  delete(table: string, key: Uint8Array): void {
    this.inner.delete(table, key);
  }

  clearAll(): void {
    this.inner.clearAll();
  }

  write<T>(body: () => T): T {
    this.counts.writes++;
    const result = this.inner.write(body);
    this.#committedSinceDurable = true;
    return result;
  }

  writeBatch(tables: ReadonlyMap<string, Iterable<BatchEntry>>): Promise<void> {
    this.counts.batches++;
    const copied: [string, BatchEntry[]][] = [...tables].map(([name, entries]) => [name, [...entries]]);
    return new Promise((resolve, reject) => this.pending.push({ tables: copied, resolve, reject }));
  }

  /** Commits the oldest queued batch (one transaction); false if none was queued. */
  commit(): boolean {
    const batch = this.pending.shift();
    if (batch === undefined) return false;
    const failure = this.failNextCommit;
    if (failure !== undefined) {
      this.failNextCommit = undefined;
      batch.reject(failure);
      return true;
    }
    this.inner.write(() => {
      for (const [name, entries] of batch.tables) {
        for (const { key, value } of entries) {
          if (value === undefined) this.inner.delete(name, key);
          else this.inner.put(name, key, value);
        }
      }
    });
    this.#committedSinceDurable = true;
    batch.resolve();
    return true;
  }

  /** Everything committed so far becomes durable. */
  makeDurable(): void {
    this.#committedSinceDurable = false;
    const waiters = this.#durableWaiters;
    this.#durableWaiters = [];
    for (const resolve of waiters) resolve();
  }

  flushed(): Promise<void> {
    if (!this.#committedSinceDurable) return Promise.resolve();
    return new Promise((resolve) => this.#durableWaiters.push(resolve));
  }

  writeWouldWait(): boolean {
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Lets promise callbacks (microtasks) and one macrotask turn run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
