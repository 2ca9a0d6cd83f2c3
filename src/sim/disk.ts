// A node's simulated disk. What the Raft core reads lives in a MemoryLogStorage; on top of it we
// track what has been fsynced, so that a crash can take away exactly what a real machine would
// lose: hard-state updates written without sync, and the tail of a write cut short by the crash.
import { MemoryLogStorage } from '../core/index.ts';
import type { ConfState, Entry, HardState, Ready, Snapshot } from '../core/index.ts';
import { EMPTY_HARD_STATE } from '../core/index.ts';
import type { SeededRandom } from '../util/random.ts';

export class SimDisk {
  readonly storage = new MemoryLogStorage();
  private durableHardState: HardState = EMPTY_HARD_STATE;
  syncCount = 0;

  /** Starts the node as a founding member: a genesis snapshot holding the initial membership. */
  bootstrap(confState: ConfState, snapshotData: Uint8Array): void {
    this.storage.applySnapshot({ metadata: { index: 1, term: 1, confState }, data: snapshotData });
    this.writeHardState({ term: 1, vote: 0, commit: 1 }, true);
  }

  /** Writes a Ready's durable parts, in the order the contract gives (snapshot, entries, hard state). */
  persist(ready: Ready): void {
    if (ready.snapshot !== undefined) this.storage.applySnapshot(ready.snapshot);
    this.storage.append(ready.entries);
    if (ready.hardState !== undefined) this.writeHardState(ready.hardState, ready.mustSync);
    else if (ready.mustSync) this.sync();
  }

  /**
   * The machine died while a Ready was being written: maybe a prefix of its entries reached the
   * disk (sectors written in order), never its hard state.
   */
  tornWrite(ready: Ready, random: SeededRandom): void {
    if (ready.snapshot !== undefined || ready.entries.length === 0 || !random.chance(0.5)) return;
    const kept = random.int(0, ready.entries.length);
    const prefix: Entry[] = ready.entries.slice(0, kept);
    // Only entries that continue the log can land; a write replacing a suffix tears as a whole.
    if (prefix.length > 0 && prefix[0]!.index <= this.storage.lastIndex() + 1) this.storage.append(prefix);
  }

  /** Drops what was written without fsync. Entries are always synced with their Ready, so only hard state can be lost. */
  crash(): void {
    const durable = this.durableHardState;
    // Commit may roll back, but never past what is on disk; term and vote only move with a sync.
    this.storage.setHardState({ ...durable, commit: Math.min(durable.commit, this.storage.lastIndex()) });
  }

  /** The application took a snapshot at `index` and compacts the log up to `compactIndex` (durable at once). */
  compact(index: number, confState: ConfState, data: Uint8Array, compactIndex: number): Snapshot {
    const snapshot = this.storage.createSnapshot(index, confState, data);
    this.storage.compact(Math.min(compactIndex, index));
    return snapshot;
  }

  private writeHardState(state: HardState, sync: boolean): void {
    this.storage.setHardState(state);
    if (sync) this.sync();
  }

  private sync(): void {
    this.syncCount++;
    this.durableHardState = this.storage.initialState().hardState;
  }
}
