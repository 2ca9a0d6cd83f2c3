// A persistent state store for the runtime simulator, standing in for lmdb: write transactions
// commit in memory and become durable only when a flush completes, a simulated disk delay after
// it starts; a crash keeps exactly what completed flushes wrote (lmdb after a machine crash).
// With it the simulator runs the runtime's state-backed compaction (snapshotter.ts): the log is
// dropped behind the store's durable applied index, and a crash must never lose what was dropped.
import { MemoryStore } from '../state/memory-store.ts';
import type { OrderedStore, RangeOptions, StoreEntry } from '../state/store.ts';

type Change = { readonly table: string; readonly key: Uint8Array; readonly value: Uint8Array | undefined } | 'clear';

/** Schedules `flushDone` after a simulated disk delay, and never calls it if the process died first. */
export type FlushScheduler = (flushDone: () => void) => void;

/** What the simulated disk holds of a node's state: it outlives the processes that open it. */
export class DurableStateImage {
  private readonly tables = new Map<string, Map<string, StoreEntry>>();

  /** A store over what is durable now (a process starting after a crash or a clean stop). */
  open(tableNames: readonly string[], scheduleFlush: FlushScheduler): SimulatedDurableStore {
    const live = new MemoryStore(tableNames);
    live.write(() => {
      for (const [table, entries] of this.tables) for (const entry of entries.values()) live.put(table, entry.key, entry.value);
    });
    return new SimulatedDurableStore(live, this, scheduleFlush);
  }

  write(changes: readonly Change[]): void {
    for (const change of changes) {
      if (change === 'clear') {
        this.tables.clear();
        continue;
      }
      let table = this.tables.get(change.table);
      if (table === undefined) this.tables.set(change.table, (table = new Map()));
      const id = Buffer.from(change.key).toString('latin1');
      if (change.value === undefined) table.delete(id);
      else table.set(id, { key: change.key, value: change.value });
    }
  }
}

export class SimulatedDurableStore implements OrderedStore {
  readonly persistent = true;
  readonly tableNames: readonly string[];
  private readonly live: MemoryStore;
  private readonly image: DurableStateImage;
  private readonly scheduleFlush: FlushScheduler;
  /** Changes of the transaction being written. */
  private transaction: Change[] = [];
  /** Changes of committed transactions not yet in a flush. */
  private unflushed: Change[] = [];
  /** Callers of flushed() waiting for the next flush to start and complete. */
  private waiting: (() => void)[] = [];
  private flushing = false;

  constructor(live: MemoryStore, image: DurableStateImage, scheduleFlush: FlushScheduler) {
    this.live = live;
    this.tableNames = live.tableNames;
    this.image = image;
    this.scheduleFlush = scheduleFlush;
  }

  get(table: string, key: Uint8Array): Uint8Array | undefined {
    return this.live.get(table, key);
  }

  range(table: string, options?: RangeOptions): Iterable<StoreEntry> {
    return this.live.range(table, options);
  }

  put(table: string, key: Uint8Array, value: Uint8Array): void {
    this.live.put(table, key, value);
    this.transaction.push({ table, key: key.slice(), value: value.slice() });
  }

  delete(table: string, key: Uint8Array): void {
    this.live.delete(table, key);
    this.transaction.push({ table, key: key.slice(), value: undefined });
  }

  clearAll(): void {
    this.live.clearAll();
    this.transaction.push('clear');
  }

  write<T>(body: () => T): T {
    this.transaction = [];
    try {
      const result = this.live.write(body);
      this.unflushed.push(...this.transaction);
      return result;
    } finally {
      this.transaction = [];
    }
  }

  /** Resolves once every transaction committed before the call is in the image. */
  flushed(): Promise<void> {
    if (this.unflushed.length === 0 && !this.flushing) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.flushing) this.startFlush();
    });
  }

  private startFlush(): void {
    this.flushing = true;
    const changes = this.unflushed;
    const waiters = this.waiting;
    this.unflushed = [];
    this.waiting = [];
    this.scheduleFlush(() => {
      this.image.write(changes);
      this.flushing = false;
      for (const resolve of waiters) resolve();
      if (this.waiting.length > 0) this.startFlush();
    });
  }

  writeWouldWait(): boolean {
    return false;
  }

  async close(): Promise<void> {}
}
