// DurableStorage without files: every save is durable the moment it resolves. For tests and for
// components that need a storage but not a disk. `MemoryStorage.reopen()` models a restart.
import { MemoryLogStorage } from '../core/index.ts';
import type { ConfState, Entry, HardState, Snapshot } from '../core/index.ts';
import type { DurableStorage, StorageStats, StorageUpdate } from './types.ts';
import { StorageError } from './types.ts';
import { applyUpdate, checkApplicationSnapshot, checkCompaction, planUpdate } from './update.ts';

export class MemoryStorage implements DurableStorage {
  private readonly log: MemoryLogStorage;
  private closed = false;
  private counters = { saves: 0, syncedSaves: 0, entriesSaved: 0 };

  constructor(log: MemoryLogStorage = new MemoryLogStorage()) {
    this.log = log;
  }

  /** A new storage over the same (durable) state, as after a restart. */
  static reopen(previous: MemoryStorage): MemoryStorage {
    return new MemoryStorage(previous.log);
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.log.initialState();
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    return this.log.entries(low, high, maxBytes);
  }

  term(index: number): number | undefined {
    return this.log.term(index);
  }

  firstIndex(): number {
    return this.log.firstIndex();
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  snapshot(): Snapshot {
    return this.log.snapshot();
  }

  async save(update: StorageUpdate, sync: boolean): Promise<void> {
    this.checkOpen();
    const plan = planUpdate(this.log, update);
    applyUpdate(this.log, plan);
    this.counters.saves++;
    if (sync) this.counters.syncedSaves++;
    this.counters.entriesSaved += plan.entries.length;
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.checkOpen();
    if (!checkApplicationSnapshot(this.log, snapshot)) return;
    this.log.createSnapshot(snapshot.metadata.index, snapshot.metadata.confState, snapshot.data);
  }

  async compact(compactIndex: number): Promise<void> {
    this.checkOpen();
    if (checkCompaction(this.log, compactIndex)) this.log.compact(compactIndex);
  }

  async close(): Promise<void> {
    this.checkOpen();
    this.closed = true;
  }

  stats(): StorageStats {
    const snapshotIndex = this.log.snapshot().metadata.index;
    return {
      walBytes: 0,
      walFileBytes: 0,
      walSegmentsPrepared: 0,
      walSegmentsRecycled: 0,
      walSegments: 0,
      snapshotFiles: snapshotIndex > 0 ? 1 : 0,
      snapshotBytes: snapshotIndex > 0 ? this.log.snapshot().data.byteLength : 0,
      ...this.counters,
      fileSyncs: 0,
      directorySyncs: 0,
      bytesWritten: 0,
    };
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('closed', 'the storage is closed');
  }
}
