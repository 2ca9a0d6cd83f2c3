// Checks a StorageUpdate against the current log and works out what it changes. Shared by the
// file and memory storages so that both accept and refuse exactly the same updates.
import { assert } from '../core/index.ts';
import type { Entry, HardState, MemoryLogStorage, Snapshot } from '../core/index.ts';
import type { StorageUpdate } from './types.ts';

export interface PlannedUpdate {
  /** The snapshot to install, when it is newer than the current one (older ones are ignored). */
  readonly install: Snapshot | undefined;
  /** The entries to append, without those at or below the first index (already compacted). */
  readonly entries: readonly Entry[];
  readonly hardState: HardState | undefined;
}

export function planUpdate(log: MemoryLogStorage, update: StorageUpdate): PlannedUpdate {
  const snapshot = update.snapshot;
  const install = snapshot !== undefined && snapshot.metadata.index > log.snapshot().metadata.index ? snapshot : undefined;
  const firstIndex = install === undefined ? log.firstIndex() : install.metadata.index + 1;
  let lastIndex = install === undefined ? log.lastIndex() : install.metadata.index;
  const entries = update.entries;
  if (entries.length > 0) {
    const first = entries[0]!.index;
    for (let position = 1; position < entries.length; position++) {
      assert(entries[position]!.index === first + position, `entries to save are not consecutive: ${entries[position]!.index} follows ${entries[position - 1]!.index}`);
    }
    assert(first <= lastIndex + 1, `entries to save start at ${first}, leaving a gap after the last index ${lastIndex}`);
    checkCommittedUnchanged(log, entries, install === undefined ? firstIndex : Infinity);
    if (entries[entries.length - 1]!.index >= firstIndex) lastIndex = entries[entries.length - 1]!.index;
  }
  const hardState = update.hardState;
  if (hardState !== undefined) {
    assert(hardState.commit <= lastIndex, `the hard state commits ${hardState.commit}, beyond the last index ${lastIndex} after this update`);
  }
  const skip = entries.length === 0 ? 0 : Math.max(0, firstIndex - entries[0]!.index);
  return { install, entries: skip === 0 ? entries : entries.slice(skip), hardState };
}

/** Entries at or below the commit index may be saved again, but never replaced by different ones. */
function checkCommittedUnchanged(log: MemoryLogStorage, entries: readonly Entry[], firstIndex: number): void {
  const commit = log.initialState().hardState.commit;
  for (const entry of entries) {
    if (entry.index > commit || entry.index > log.lastIndex()) break;
    if (entry.index < firstIndex) continue;
    assert(log.term(entry.index) === entry.term, `saving entry ${entry.index} at term ${entry.term} would replace a committed entry (commit ${commit}) of term ${log.term(entry.index)}`);
  }
}

/** Applies a planned update to the in-memory log (after it is durable, for the file storage). */
export function applyUpdate(log: MemoryLogStorage, plan: PlannedUpdate): void {
  if (plan.install !== undefined) log.applySnapshot(plan.install);
  log.append(plan.entries);
  if (plan.hardState !== undefined) log.setHardState(plan.hardState);
}

/** Checks a snapshot the application took; returns false when it is not newer than the current one. */
export function checkApplicationSnapshot(log: MemoryLogStorage, snapshot: Snapshot): boolean {
  const { index, term } = snapshot.metadata;
  if (index <= log.snapshot().metadata.index) return false;
  assert(index <= log.lastIndex(), `a snapshot at ${index} is beyond the last index ${log.lastIndex()}`);
  assert(log.term(index) === term, `a snapshot at ${index} says term ${term}, the log has term ${log.term(index)}`);
  return true;
}

/** Checks a compaction request; returns false when there is nothing to drop. */
export function checkCompaction(log: MemoryLogStorage, compactIndex: number): boolean {
  if (compactIndex <= log.firstIndex() - 1) return false;
  const snapshotIndex = log.snapshot().metadata.index;
  assert(compactIndex <= snapshotIndex, `compaction to ${compactIndex} passes the latest snapshot at ${snapshotIndex}: take a snapshot first`);
  return true;
}
