// Rebuilds the log from WAL records, in write order, with the same rules the live storage applied:
// entries replace the suffix from their first index, a snapshot install empties the log after it,
// a compact record moves the base. Then reconciles the result with the snapshot restored from disk.
import type { Entry, HardState, SnapshotMetadata } from '../../core/index.ts';
import { EMPTY_HARD_STATE } from '../../core/index.ts';
import { StorageError } from '../types.ts';
import type { RecoveredRecord } from './wal.ts';
import { corrupt } from './wal.ts';

export interface ReplayedLog {
  /** The entry before the first one kept (its term is known; it is never served). */
  readonly baseIndex: number;
  readonly baseTerm: number;
  /** Entries baseIndex + 1 ... in order, without gaps. */
  readonly entries: Entry[];
  readonly hardState: HardState;
}

class LogReplay {
  baseIndex = -1; // -1 until the first segment's prelude sets it
  baseTerm = 0;
  entries: Entry[] = [];
  hardState: HardState = EMPTY_HARD_STATE;

  private readonly originIndex: number;

  constructor(originIndex: number) {
    this.originIndex = originIndex;
  }

  get lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    return this.entries[index - this.baseIndex - 1]?.term;
  }

  apply(located: RecoveredRecord): void {
    const record = located.record;
    if (record.type === 'header') return;
    if (record.type === 'hard-state') {
      this.hardState = record.hardState;
      return;
    }
    if (record.type === 'compact') return this.compact(located, record.index, record.term);
    if (this.baseIndex < 0) throw corrupt(located.file, located.offset, `a ${record.type} record before the log base is known`);
    if (record.type === 'snapshot-install') {
      this.baseIndex = record.index;
      this.baseTerm = record.term;
      this.entries = [];
      return;
    }
    this.append(located, record.entries);
  }

  private compact(located: RecoveredRecord, index: number, term: number): void {
    if (this.baseIndex < 0) {
      this.baseIndex = index;
      this.baseTerm = term;
      return;
    }
    // Restoring from an older snapshot (the newest was corrupt): keep what it still needs.
    if (index <= this.baseIndex || index > this.originIndex) return;
    if (index > this.lastIndex || this.termAt(index) !== term) {
      throw corrupt(located.file, located.offset, `compaction to ${index} (term ${term}) does not match the log (last index ${this.lastIndex}, term there ${this.termAt(index)})`);
    }
    this.entries = this.entries.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.baseTerm = term;
  }

  private append(located: RecoveredRecord, batch: readonly Entry[]): void {
    const first = batch[0]!.index;
    if (first > this.lastIndex + 1) {
      throw corrupt(located.file, located.offset, `entries from ${first} leave a gap after the last index ${this.lastIndex}`);
    }
    const skip = Math.max(0, this.baseIndex + 1 - first);
    if (skip >= batch.length) return;
    this.entries.length = first + skip - this.baseIndex - 1;
    for (let position = skip; position < batch.length; position++) this.entries.push(batch[position]!);
  }
}

/**
 * Replays `records` and reconciles them with `snapshot` (the newest usable snapshot on disk, or
 * undefined for none). `skippedNewerSnapshot` names a corrupt newer snapshot that was passed over,
 * for the error when the WAL cannot make up for it.
 */
export function replayLog(records: readonly RecoveredRecord[], snapshot: SnapshotMetadata | undefined, skippedNewerSnapshot?: string): ReplayedLog {
  const originIndex = snapshot?.index ?? 0;
  const originTerm = snapshot?.term ?? 0;
  const replay = new LogReplay(originIndex);
  for (const record of records) replay.apply(record);
  if (replay.baseIndex < 0) {
    replay.baseIndex = 0;
    replay.baseTerm = 0;
  }
  if (replay.baseIndex > originIndex) {
    const why = skippedNewerSnapshot !== undefined
      ? `the newest snapshot ${skippedNewerSnapshot} is corrupt`
      : 'no snapshot file covers them';
    throw new StorageError('snapshot-corrupt',
      `entries ${originIndex + 1}..${replay.baseIndex} are neither in the WAL nor in a usable snapshot (${why}). ` +
        'Wipe this data directory and let the node catch up from the leader.', { file: skippedNewerSnapshot });
  }
  // The snapshot can be newer than the WAL knows: its file is made durable before the WAL record
  // saying it was installed. If the log does not hold the snapshot's own entry with its term, what
  // follows is a stale tail the install would have discarded.
  if (snapshot !== undefined && replay.termAt(originIndex) !== originTerm) {
    replay.baseIndex = originIndex;
    replay.baseTerm = originTerm;
    replay.entries = [];
  }
  return { baseIndex: replay.baseIndex, baseTerm: replay.baseTerm, entries: replay.entries, hardState: reconcileHardState(replay, originIndex) };
}

function reconcileHardState(replay: LogReplay, originIndex: number): HardState {
  const hardState = replay.hardState;
  if (hardState.commit > replay.lastIndex) {
    throw new StorageError('wal-corrupt',
      `the hard state's commit index ${hardState.commit} is beyond the last entry ${replay.lastIndex} in the WAL: committed entries are missing. ` +
        'Restore this data directory from a backup, or wipe it and let the node catch up from the leader.');
  }
  // A snapshot holds only committed state, so its index is committed (the hard state saying so
  // may have been lost with the install record that follows the snapshot file).
  return hardState.commit < originIndex ? { ...hardState, commit: originIndex } : hardState;
}
