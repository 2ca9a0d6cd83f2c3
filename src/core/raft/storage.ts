// The read side of the log as the core sees it (after etcd-io/raft's Storage). The runtime owns
// durability; the core only reads what has already been persisted. `MemoryLogStorage` is the
// reference implementation, used by tests, the simulator's disks and the durable storages' caches.
import { assert } from '../assert.ts';
import type { ConfState, Entry, HardState, Snapshot } from './types.ts';
import { EMPTY_CONF_STATE, EMPTY_HARD_STATE, entrySizeBytes } from './types.ts';

export interface LogStorage {
  /** The persisted hard state and the membership as of the latest snapshot (snapshot()'s index). */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [low, high), at most `maxBytes` in total but always at least one.
   * The caller guarantees firstIndex() <= low < high <= lastIndex() + 1.
   */
  entries(low: number, high: number, maxBytes: number): Entry[];
  /**
   * The term of the entry at `index`, for firstIndex() - 1 <= index <= lastIndex() (the entry
   * before firstIndex is the snapshot's). Undefined outside that range (compacted or not yet there).
   */
  term(index: number): number | undefined;
  /** The index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  /** The index of the last entry (the snapshot index when the log is empty). */
  lastIndex(): number;
  /** The latest snapshot, or undefined while none can be produced right now. */
  snapshot(): Snapshot | undefined;
}

/** Takes entries from the front of `entries` while their size fits in `maxBytes` (at least one). */
export function limitEntriesBySize(entries: readonly Entry[], maxBytes: number): Entry[] {
  if (entries.length === 0) return [];
  let total = entrySizeBytes(entries[0]!);
  let count = 1;
  while (count < entries.length) {
    total += entrySizeBytes(entries[count]!);
    if (total > maxBytes) break;
    count++;
  }
  return entries.slice(0, count);
}

/**
 * An in-memory log. `entries[0]` is a dummy carrying the snapshot's index and term, so that
 * term(firstIndex - 1) works after compaction exactly as before it.
 */
export class MemoryLogStorage implements LogStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private latestSnapshot: Snapshot = {
    metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
    data: new Uint8Array(0),
  };
  private log: Entry[] = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.latestSnapshot.metadata.confState };
  }

  setHardState(state: HardState): void {
    this.hardState = state;
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    const offset = this.log[0]!.index;
    assert(low > offset, `entries(${low}) below the first index ${offset + 1}`);
    assert(high <= this.lastIndex() + 1, `entries(..., ${high}) beyond the last index ${this.lastIndex()}`);
    return limitEntriesBySize(this.log.slice(low - offset, high - offset), maxBytes);
  }

  term(index: number): number | undefined {
    const offset = this.log[0]!.index;
    if (index < offset || index > this.lastIndex()) return undefined;
    return this.log[index - offset]!.term;
  }

  firstIndex(): number {
    return this.log[0]!.index + 1;
  }

  lastIndex(): number {
    return this.log[0]!.index + this.log.length - 1;
  }

  snapshot(): Snapshot {
    return this.latestSnapshot;
  }

  /** Replaces the whole state with a snapshot received from the leader. Older snapshots are ignored. */
  applySnapshot(snapshot: Snapshot): boolean {
    if (snapshot.metadata.index <= this.latestSnapshot.metadata.index) return false;
    this.latestSnapshot = snapshot;
    this.log = [{ term: snapshot.metadata.term, index: snapshot.metadata.index, type: 'normal', data: new Uint8Array(0) }];
    return true;
  }

  /**
   * Records a snapshot the application took at `index` (which must be in the log) without
   * dropping entries; call compact() to drop them.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.latestSnapshot.metadata.index) return this.latestSnapshot;
    const term = this.term(index);
    assert(term !== undefined, `snapshot index ${index} is beyond the last index ${this.lastIndex()}`);
    this.latestSnapshot = { metadata: { index, term, confState }, data };
    return this.latestSnapshot;
  }

  /** Drops every entry up to and including `compactIndex`. */
  compact(compactIndex: number): void {
    const offset = this.log[0]!.index;
    if (compactIndex <= offset) return;
    assert(compactIndex <= this.lastIndex(), `compact ${compactIndex} is beyond the last index ${this.lastIndex()}`);
    const kept = this.log.slice(compactIndex - offset);
    const head = kept[0]!;
    kept[0] = { term: head.term, index: head.index, type: 'normal', data: new Uint8Array(0) };
    this.log = kept;
  }

  /**
   * Appends entries, replacing any existing suffix they conflict with. The entries must
   * continue the log or overlap it; entries at or below the first index are ignored.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    const toAppend = entries[0]!.index < first ? entries.slice(first - entries[0]!.index) : entries;
    const offset = toAppend[0]!.index - this.log[0]!.index;
    assert(offset <= this.log.length, `missing log entries: last ${this.lastIndex()}, appending at ${toAppend[0]!.index}`);
    // In place: appends at the end are the common case and must not copy the whole log.
    this.log.length = offset;
    for (const entry of toAppend) this.log.push(entry);
  }
}
