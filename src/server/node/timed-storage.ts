// DurableStorage that times each synced save (the WAL write and its fdatasync for one Ready) for
// the fsync latency and entries-per-fsync metrics, and otherwise passes everything through.
import type { ConfState, Entry, HardState, Snapshot } from '../../core/index.ts';
import type { DurableStorage, StorageStats, StorageUpdate } from '../../storage/index.ts';

export type SyncObserver = (seconds: number, entries: number) => void;

export class TimedStorage implements DurableStorage {
  readonly inner: DurableStorage;
  readonly #observe: SyncObserver;

  constructor(inner: DurableStorage, observe: SyncObserver) {
    this.inner = inner;
    this.#observe = observe;
  }

  async save(update: StorageUpdate, sync: boolean): Promise<void> {
    if (!sync) return this.inner.save(update, sync);
    const startedAt = performance.now();
    await this.inner.save(update, sync);
    this.#observe((performance.now() - startedAt) / 1000, update.entries.length);
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.inner.saveSnapshot(snapshot);
  }

  compact(compactIndex: number): Promise<void> {
    return this.inner.compact(compactIndex);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  stats(): StorageStats {
    return this.inner.stats();
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.inner.initialState();
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    return this.inner.entries(low, high, maxBytes);
  }

  term(index: number): number | undefined {
    return this.inner.term(index);
  }

  firstIndex(): number {
    return this.inner.firstIndex();
  }

  lastIndex(): number {
    return this.inner.lastIndex();
  }

  snapshot(): Snapshot | undefined {
    return this.inner.snapshot();
  }
}
